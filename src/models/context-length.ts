/**
 * A transformer with a shorter context: the same weights with `n_ctx` rows of W_pos (rotary
 * models need no change). Positions are 0 … P−1 of each sequence and masks are causal, so a model
 * cut to n_ctx = P computes exactly what the full model computes on sequences of P tokens; the
 * build sections the model at its n_ctx, so LM datasets with shorter sequences use this.
 */
import { UserError } from '../errors.js';
import type { Tensor } from '../io/tensor.js';
import { buildModel } from './index.js';
import type { Model } from './types.js';

export function withContextLength(model: Model, nCtx: number): Model {
  if (model.kind !== 'transformer') return model;
  const cur = model.config['n_ctx'] as number;
  if (nCtx === cur) return model;
  if (!Number.isInteger(nCtx) || nCtx < 1) throw new UserError(`n_ctx must be a positive integer, got ${nCtx}`);
  if (nCtx > cur) throw new UserError(`sequences of ${nCtx} tokens are longer than the model's context length n_ctx = ${cur}`);
  const d = model.config['d_model'] as number;
  const t = new Map<string, Tensor>();
  for (const [k, v] of model.tensors) {
    const shape = model.shapes.get(k)!;
    if (k === 'pos_embed.W_pos') t.set(k, { dtype: 'F64', shape: [nCtx, d], data: v.subarray(0, nCtx * d) });
    else t.set(k, { dtype: 'F64', shape, data: v });
  }
  return buildModel('transformer', { ...model.config, n_ctx: nCtx }, t);
}

/**
 * The model cut to the sequence length of the token datasets it will run on (all must share one
 * length ≤ n_ctx; a longer one is an error naming it).
 */
export function fitContextToData(model: Model, data: Array<{ key: string; seqLen: number } | null>): Model {
  if (model.kind !== 'transformer') return model;
  const nCtx = model.config['n_ctx'] as number;
  const given = data.filter((x): x is { key: string; seqLen: number } => x !== null);
  for (const x of given) {
    if (x.seqLen > nCtx) throw new UserError(`${x.key}: sequences of ${x.seqLen} tokens are longer than the model's context length n_ctx = ${nCtx}`);
  }
  if (!given.length) return model;
  const S = given[0]!.seqLen;
  const other = given.find((x) => x.seqLen !== S);
  if (other) {
    throw new UserError(`${other.key} has sequences of ${other.seqLen} tokens but ${given[0]!.key} has ${S}: one build runs at one sequence length`);
  }
  return withContextLength(model, S);
}

/**
 * Token datasets may be shorter than the model's context (rib: dataset n_ctx ≤ model n_ctx); the
 * build sections the model at each dataset's sequence length. Longer sequences are refused here,
 * before any work, with the dataset named.
 */
import { UserError } from '../errors.js';
import type { Model } from './types.js';

export function checkSequenceLengths(model: Model, data: Array<{ key: string; seqLen: number } | null>): void {
  if (model.kind !== 'transformer') return;
  const nCtx = model.config['n_ctx'] as number;
  for (const x of data) {
    if (x && x.seqLen > nCtx) throw new UserError(`${x.key}: sequences of ${x.seqLen} tokens are longer than the model's context length n_ctx = ${nCtx}`);
  }
}

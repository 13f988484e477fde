/**
 * `eval_type` before the build, as the reference logs it (spec §7): accuracy = fraction of argmax
 * == label; ce_loss = mean over batches (of `batch_size` samples) of the batch's summed per-token
 * cross-entropy divided by its tokens. Labels [N] are scored at the last position, per-position
 * labels [N, T] (language models) at every position.
 */
import { UserError } from '../errors.js';
import { sliceDataset } from '../data/index.js';
import type { Dataset } from '../data/types.js';
import { scoreLastPosition } from '../analysis/tasks.js';
import type { Model } from '../models/types.js';

export interface EvalResult {
  eval_type: 'accuracy' | 'ce_loss';
  value: number;
  n_samples: number;
  /** positions scored per sample */
  positions: number;
  dataset: string;
}

export function evaluateModel(
  model: Model,
  ds: Dataset,
  evalType: 'accuracy' | 'ce_loss',
  o: { nodeLayers: string[]; lastPosModuleType: 'add_resid1' | 'unembed' | null; batchSize: number },
): EvalResult {
  if (!ds.labels) throw new UserError(`eval_type ${evalType}: dataset ${ds.name} has no labels`);
  if (ds.labels instanceof Float64Array) throw new UserError(`eval_type ${evalType}: dataset ${ds.name} has float targets, not class labels`);
  const sm = model.sectioned(o.nodeLayers, { lastPosModuleType: o.lastPosModuleType, seqLen: ds.inputs.kind === 'tokens' ? ds.inputs.seqLen : undefined });
  const last = sm.sections[sm.sections.length - 1]!;
  const P = last.outPos;
  const V = last.outDim;
  const lw = ds.labelWidth ?? 1;
  if (lw > 1 && lw !== P) throw new UserError(`eval_type ${evalType}: labels have ${lw} positions but the logits have ${P} (last_pos_module_type keeps only the last position)`);
  for (let i = 0; i < ds.labels.length; i++) {
    const y = ds.labels[i]!;
    if (!(y >= 0 && y < V)) throw new UserError(`eval_type ${evalType}: label ${y} (flat index ${i}) is outside the ${V} logits`);
  }
  let correct = 0;
  let meanSum = 0;
  let batches = 0;
  // logits of at most ~4M values at a time (an LM batch's logits can be GBs)
  const chunk = Math.max(1, Math.floor(4_000_000 / (P * V)));
  for (let s = 0; s < ds.n; s += o.batchSize) {
    const e = Math.min(ds.n, s + o.batchSize);
    let ceSum = 0;
    for (let c = s; c < e; c += chunk) {
      const part = sliceDataset(ds, c, Math.min(e, c + chunk));
      const B = part.n;
      const logits = sm.logits(part.inputs);
      // per-position labels: every (sample, position) is scored as its own one-position row
      const r = lw > 1 ? scoreLastPosition(logits, B * P, 1, V, part.labels!, evalType === 'ce_loss') : scoreLastPosition(logits, B, P, V, part.labels!, evalType === 'ce_loss');
      correct += r.correct;
      ceSum += r.ceSum;
    }
    meanSum += ceSum / ((e - s) * lw);
    batches++;
  }
  const value = evalType === 'accuracy' ? correct / (ds.n * lw) : meanSum / batches;
  return { eval_type: evalType, value, n_samples: ds.n, positions: lw, dataset: ds.name };
}

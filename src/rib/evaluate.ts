/**
 * `eval_type` before the build, as the reference logs it (spec §7): accuracy = fraction of argmax
 * == label; ce_loss = mean over batches (of `batch_size` samples) of the batch's summed per-token
 * cross-entropy divided by its tokens. Labels [N] are scored at the last position, per-position
 * labels [N, T] (language models) at every position. The forward passes run on the worker pool in
 * fixed shards (inside batch boundaries) and are reduced in shard order.
 */
import { UserError } from '../errors.js';
import type { Dataset } from '../data/types.js';
import { scoreLastPosition } from '../analysis/tasks.js';
import { modelToSpec } from '../models/index.js';
import type { Inputs, Model } from '../models/types.js';
import { mapShards, toShared, type TaskPool } from '../parallel/pool.js';
import { sectionedFor, sliceInputs, type ModelCtx } from './context.js';

export interface EvalResult {
  eval_type: 'accuracy' | 'ce_loss';
  value: number;
  n_samples: number;
  /** positions scored per sample */
  positions: number;
  dataset: string;
}

export interface EvalShardPayload {
  model: ModelCtx;
  inputs: Inputs;
  labels: Int32Array;
  labelWidth: number;
  start: number;
  end: number;
  ce: boolean;
}

/** Correct predictions and summed cross-entropy of samples [start, end). */
export function evalShard(p: EvalShardPayload): { correct: number; ceSum: number } {
  const sm = sectionedFor(p.model);
  const last = sm.sections[sm.sections.length - 1]!;
  const P = last.outPos;
  const V = last.outDim;
  const B = p.end - p.start;
  const logits = sm.logits(sliceInputs(p.inputs, p.start, p.end));
  const lw = p.labelWidth;
  const y = p.labels.subarray(p.start * lw, p.end * lw);
  // per-position labels: every (sample, position) is scored as its own one-position row
  return lw > 1 ? scoreLastPosition(logits, B * P, 1, V, y, p.ce) : scoreLastPosition(logits, B, P, V, y, p.ce);
}

let evalCounter = 0;

export async function evaluateModel(
  model: Model,
  ds: Dataset,
  evalType: 'accuracy' | 'ce_loss',
  o: { nodeLayers: string[]; lastPosModuleType: 'add_resid1' | 'unembed' | null; batchSize: number; pool: TaskPool },
): Promise<EvalResult> {
  if (!ds.labels) throw new UserError(`eval_type ${evalType}: dataset ${ds.name} has no labels`);
  if (ds.labels instanceof Float64Array) throw new UserError(`eval_type ${evalType}: dataset ${ds.name} has float targets, not class labels`);
  const seqLen = ds.inputs.kind === 'tokens' ? ds.inputs.seqLen : undefined;
  const sm = model.sectioned(o.nodeLayers, { lastPosModuleType: o.lastPosModuleType, seqLen });
  const last = sm.sections[sm.sections.length - 1]!;
  const P = last.outPos;
  const V = last.outDim;
  const lw = ds.labelWidth ?? 1;
  if (lw > 1 && lw !== P) throw new UserError(`eval_type ${evalType}: labels have ${lw} positions but the logits have ${P} (last_pos_module_type keeps only the last position)`);
  for (let i = 0; i < ds.labels.length; i++) {
    const y = ds.labels[i]!;
    if (!(y >= 0 && y < V)) throw new UserError(`eval_type ${evalType}: label ${y} (flat index ${i}) is outside the ${V} logits`);
  }
  const spec = modelToSpec(model);
  for (const k of Object.keys(spec.tensors)) spec.tensors[k] = toShared(spec.tensors[k]!);
  const ctx: ModelCtx = { id: `eval-${++evalCounter}-${ds.n}`, spec, nodeLayers: o.nodeLayers, lastPosModuleType: o.lastPosModuleType, ...(seqLen !== undefined ? { seqLen } : {}) };
  const inputs: Inputs = ds.inputs.kind === 'tokens' ? { ...ds.inputs, data: toShared(ds.inputs.data) } : { ...ds.inputs, data: toShared(ds.inputs.data) };
  const labels = toShared(ds.labels);
  // shards of at most ~4M logits (an LM batch's logits can be GBs), never across a batch boundary
  const chunk = Math.max(1, Math.floor(4_000_000 / (P * V)));
  const payloads: EvalShardPayload[] = [];
  const batchOf: number[] = [];
  for (let s = 0, b = 0; s < ds.n; s += o.batchSize, b++) {
    const e = Math.min(ds.n, s + o.batchSize);
    for (let c = s; c < e; c += chunk) {
      payloads.push({ model: ctx, inputs, labels, labelWidth: lw, start: c, end: Math.min(e, c + chunk), ce: evalType === 'ce_loss' });
      batchOf.push(b);
    }
  }
  const parts = await mapShards<EvalShardPayload, { correct: number; ceSum: number }>(o.pool, 'rib.eval', payloads);
  let correct = 0;
  const batchCe: number[] = [];
  const batchN: number[] = [];
  parts.forEach((r, i) => {
    const b = batchOf[i]!;
    correct += r.correct;
    batchCe[b] = (batchCe[b] ?? 0) + r.ceSum;
    batchN[b] = (batchN[b] ?? 0) + (payloads[i]!.end - payloads[i]!.start) * lw;
  });
  let meanSum = 0;
  for (let b = 0; b < batchCe.length; b++) meanSum += batchCe[b]! / batchN[b]!;
  const value = evalType === 'accuracy' ? correct / (ds.n * lw) : meanSum / batchCe.length;
  return { eval_type: evalType, value, n_samples: ds.n, positions: lw, dataset: ds.name };
}

/**
 * `eval_type` before the build, as the reference logs it (spec §7): accuracy = fraction of argmax
 * == label; ce_loss = mean over batches (of `batch_size` samples) of the batch's summed per-token
 * cross-entropy divided by its tokens. Labels [N] are scored at the last position, per-position
 * labels [N, T] (language models) at every position.
 *
 * The scores are sums over fixed sample ranges (`scoreRange`: the correct count and one summed
 * cross-entropy per batch), folded in range order. The build scores the logits inside its
 * statistics forward pass when that pass runs over the evaluated dataset (`EvalSpec` in the
 * forward payload, src/rib/stats.ts), so the model runs once; `evaluateModel` runs the same ranges
 * on its own forward passes otherwise. Both give the same bits.
 */
import { UserError } from '../errors.js';
import type { Dataset } from '../data/types.js';
import { scoreLastPosition } from '../analysis/tasks.js';
import { modelToSpec } from '../models/index.js';
import type { Inputs, Model } from '../models/types.js';
import { mapReduceShards, toShared, type TaskPool } from '../parallel/pool.js';
import { shardRanges } from '../parallel/shards.js';
import { sectionedFor, sliceInputs, type ModelCtx } from './context.js';
import { forwardBlock } from './stages.js';

export interface EvalResult {
  eval_type: 'accuracy' | 'ce_loss';
  value: number;
  n_samples: number;
  /** positions scored per sample */
  positions: number;
  dataset: string;
}

/** What the scoring of one sample range needs (plain data: it travels to the workers). */
export interface EvalSpec {
  evalType: 'accuracy' | 'ce_loss';
  /** labels [N·labelWidth] (SharedArrayBuffer-backed when available) */
  labels: Int32Array;
  labelWidth: number;
  batchSize: number;
  nBatches: number;
  /** samples */
  n: number;
  /** positions and width of the logits */
  P: number;
  V: number;
  dataset: string;
  /** samples per scored range: the statistics forward's shard size unless the logits are too large; never a function of the workers */
  rangeSize: number;
}

/** Logits held at once by one scored range, at most (an LM batch's logits can be GBs). */
const MAX_RANGE_LOGITS = 4_000_000;

/** Checks the labels against the model's logits (UserError before any work) and fixes the ranges. */
export function prepareEval(
  model: Model,
  ds: Dataset,
  evalType: 'accuracy' | 'ce_loss',
  o: { nodeLayers: string[]; lastPosModuleType: 'add_resid1' | 'unembed' | null; batchSize: number },
): EvalSpec {
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
  const labels = toShared(ds.labels instanceof Int32Array ? ds.labels : Int32Array.from(ds.labels));
  return {
    evalType,
    labels,
    labelWidth: lw,
    batchSize: o.batchSize,
    nBatches: Math.ceil(ds.n / o.batchSize),
    n: ds.n,
    P,
    V,
    dataset: ds.name,
    rangeSize: Math.max(1, Math.min(forwardBlock(ds), Math.floor(MAX_RANGE_LOGITS / (P * V)))),
  };
}

/**
 * Scores the logits [end − start, P, V] of samples [start, end) into `out` [1 + nBatches]: out[0]
 * += correct predictions, out[1 + b] += summed cross-entropy of the samples in batch b (the range
 * is cut at batch boundaries).
 */
export function scoreRange(e: EvalSpec, logits: Float64Array, start: number, end: number, out: Float64Array): void {
  const { P, V, labelWidth: lw, batchSize: bs } = e;
  const ce = e.evalType === 'ce_loss';
  if (logits.length !== (end - start) * P * V) throw new Error(`eval: logits have ${logits.length} values, expected [${end - start}, ${P}, ${V}]`);
  for (let b = Math.floor(start / bs); b * bs < end; b++) {
    const s0 = Math.max(start, b * bs);
    const s1 = Math.min(end, (b + 1) * bs);
    const x = logits.subarray((s0 - start) * P * V, (s1 - start) * P * V);
    const y = e.labels.subarray(s0 * lw, s1 * lw);
    // per-position labels: every (sample, position) is scored as its own one-position row
    const r = lw > 1 ? scoreLastPosition(x, (s1 - s0) * P, 1, V, y, ce) : scoreLastPosition(x, s1 - s0, P, V, y, ce);
    out[0]! += r.correct;
    out[1 + b]! += r.ceSum;
  }
}

/** The result from the folded scores [1 + nBatches]. */
export function evalResultOf(e: EvalSpec, acc: Float64Array): EvalResult {
  const lw = e.labelWidth;
  let meanSum = 0;
  for (let b = 0; b < e.nBatches; b++) {
    const nb = Math.min(e.n, (b + 1) * e.batchSize) - b * e.batchSize;
    meanSum += acc[1 + b]! / (nb * lw);
  }
  const value = e.evalType === 'accuracy' ? acc[0]! / (e.n * lw) : meanSum / e.nBatches;
  return { eval_type: e.evalType, value, n_samples: e.n, positions: lw, dataset: e.dataset };
}

export interface EvalShardPayload {
  model: ModelCtx;
  inputs: Inputs;
  spec: EvalSpec;
  start: number;
  end: number;
}

/** The scores [1 + nBatches] of samples [start, end) from their own forward pass. */
export function evalShard(p: EvalShardPayload): Float64Array {
  const sm = sectionedFor(p.model);
  const out = new Float64Array(1 + p.spec.nBatches);
  scoreRange(p.spec, sm.logits(sliceInputs(p.inputs, p.start, p.end)), p.start, p.end, out);
  return out;
}

let evalCounter = 0;

/** The evaluation on its own forward passes (fixed ranges on the pool, folded in range order). */
export async function evaluateModel(
  model: Model,
  ds: Dataset,
  evalType: 'accuracy' | 'ce_loss',
  o: { nodeLayers: string[]; lastPosModuleType: 'add_resid1' | 'unembed' | null; batchSize: number; pool: TaskPool },
  spec: EvalSpec = prepareEval(model, ds, evalType, o),
): Promise<EvalResult> {
  const seqLen = ds.inputs.kind === 'tokens' ? ds.inputs.seqLen : undefined;
  const mspec = modelToSpec(model);
  for (const k of Object.keys(mspec.tensors)) mspec.tensors[k] = toShared(mspec.tensors[k]!);
  const ctx: ModelCtx = { id: `eval-${++evalCounter}-${ds.n}`, spec: mspec, nodeLayers: o.nodeLayers, lastPosModuleType: o.lastPosModuleType, ...(seqLen !== undefined ? { seqLen } : {}) };
  const inputs: Inputs = ds.inputs.kind === 'tokens' ? { ...ds.inputs, data: toShared(ds.inputs.data) } : { ...ds.inputs, data: toShared(ds.inputs.data) };
  const payloads: EvalShardPayload[] = shardRanges(ds.n, spec.rangeSize).map(([start, end]) => ({ model: ctx, inputs, spec, start, end }));
  const acc = await mapReduceShards<EvalShardPayload, Float64Array, Float64Array>(
    o.pool,
    'rib.eval',
    payloads,
    (r) => r,
    (a, r) => {
      for (let i = 0; i < a.length; i++) a[i]! += r[i]!;
      return a;
    },
  );
  return evalResultOf(spec, acc);
}

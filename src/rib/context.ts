/**
 * What worker tasks receive to rebuild the sectioned model (cached per thread by id), and small
 * helpers shared by the shard functions.
 */
import { withContext } from '../parallel/context.js';
import { modelFromSpec, type ModelSpec } from '../models/index.js';
import type { Inputs, SectionedModel } from '../models/types.js';
import { sliceInputs as sliceModelInputs } from '../models/sections.js';

export interface ModelCtx {
  /** unique per build (the per-thread cache key) */
  id: string;
  spec: ModelSpec;
  nodeLayers: string[];
  lastPosModuleType: 'add_resid1' | 'unembed' | null;
  /** transformer sequence length (default: the model's n_ctx) */
  seqLen?: number;
}

/** The sectioned model for a context (built once per thread). */
export function sectionedFor(ctx: ModelCtx): SectionedModel {
  return withContext(`rib-model:${ctx.id}`, () =>
    modelFromSpec(ctx.spec).sectioned(ctx.nodeLayers, { lastPosModuleType: ctx.lastPosModuleType, seqLen: ctx.seqLen }),
  );
}

/**
 * Node layer `layer`'s activations of samples [start, end), recomputed by the model's own forward
 * pass from stored layer `src.baseLayer` (or from the inputs) — the same modules and row batches
 * as the forward that stores them, so the same bits.
 */
export function activationRows(ctx: ModelCtx, src: { inputs: Inputs; base: Float64Array | null; baseLayer: number }, layer: number, start: number, end: number): Float64Array {
  const sm = sectionedFor(ctx);
  const B = end - start;
  let x: Float64Array;
  let from: number;
  if (src.base && src.baseLayer >= 0) {
    const info = sm.nodeLayers[src.baseLayer]!;
    const n = info.positions * info.dim;
    x = src.base.subarray(start * n, end * n);
    from = src.baseLayer;
  } else {
    x = sm.pre(sliceInputs(src.inputs, start, end));
    from = 0;
  }
  for (let s = from; s < layer; s++) x = sm.sections[s]!.forward(x, B);
  return x;
}

/** Rows [start, end) of a dataset's inputs (views, no copy). */
export function sliceInputs(inputs: Inputs, start: number, end: number): Inputs {
  return sliceModelInputs(inputs, start, end - start);
}

export { scaled } from '../models/jacobian.js';

/** Identity matrix n×n. */
export function eye(n: number): Float64Array {
  const I = new Float64Array(n * n);
  for (let i = 0; i < n; i++) I[i * n + i] = 1;
  return I;
}

/**
 * Stream id for the Rng of one (purpose, layer, shard, probe chunk): never depends on the worker.
 * purpose 0 = basis sources, 1 = edge sources.
 */
export function streamId(purpose: number, layer: number, shard: number, probe: number): number {
  if (layer >= 1024 || shard >= 1 << 20 || probe >= 1 << 20) throw new Error('streamId: index out of range');
  return ((purpose * 1024 + layer) * 1048576 + shard) * 1048576 + probe;
}

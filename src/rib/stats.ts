/**
 * Data statistics (spec §3): node-layer activations, means and Gram matrices, over fixed shards.
 * Shard functions are pure and return unnormalised sums; the caller reduces them in shard order.
 */
import { syrk } from '../linalg/index.js';
import type { Inputs } from '../models/types.js';
import { sectionedFor, sliceInputs, type ModelCtx } from './context.js';
import { attnSectionForward, detectAttention, storeAttnForward, type AttnForwardAll } from './structures/attention-core.js';
import { scoreRange, type EvalSpec } from './evaluate.js';

export interface ForwardShardPayload {
  model: ModelCtx;
  inputs: Inputs;
  start: number;
  end: number;
  /** activations per stat layer, [N, P_l, d_l] (SharedArrayBuffer-backed: each shard writes its rows); null: not stored */
  outs: Array<Float64Array | null>;
  /** [P_l, d_l] per stat layer */
  dims: Array<[number, number]>;
  /** number of non-output node layers; a further entry in `outs` (if any) holds the logits */
  nNonOut: number;
  /** per section: shared attention cache to fill (attention sections whose M′ reads it), or null */
  attn?: Array<AttnForwardAll | null> | null;
  /** eval_type scoring of these rows' logits (the forward runs on to the logits); null: none */
  score?: EvalSpec | null;
}

/**
 * Runs the model on rows [start, end), writes every node layer's activation into `outs`, and
 * returns the per-layer sums over (sample, position) rows (for the means); with `score`, one more
 * entry: the rows' eval scores (`scoreRange`).
 */
export function forwardShard(p: ForwardShardPayload): Float64Array[] {
  const sums: Float64Array[] = [];
  const logits = forwardRows(p, p.outs.length, !!p.score, (l, x, B) => {
    const [P, d] = p.dims[l]!;
    p.outs[l]?.set(x, p.start * P * d);
    const s = new Float64Array(d);
    for (let r = 0; r < B * P; r++) {
      const o = r * d;
      for (let j = 0; j < d; j++) s[j]! += x[o + j]!;
    }
    sums.push(s);
  });
  if (p.score) {
    const sc = new Float64Array(1 + p.score.nBatches);
    scoreRange(p.score, logits!, p.start, p.end, sc);
    sums.push(sc);
  }
  return sums;
}

/**
 * The model on rows [start, end): `visit(l, x, B)` sees stat layer l's activations [B, P_l, d_l]
 * for l < nLayers (checked against `dims`); with `toLogits`, the pass runs on to the logits
 * (through the sections after the last stat layer, as `logits` runs them) and returns them.
 */
function forwardRows(
  p: { model: ModelCtx; inputs: Inputs; start: number; end: number; dims: Array<[number, number]>; attn?: Array<AttnForwardAll | null> | null },
  nLayers: number,
  toLogits: boolean,
  visit: (l: number, x: Float64Array, B: number) => void,
): Float64Array | null {
  const sm = sectionedFor(p.model);
  const B = p.end - p.start;
  let x = sm.pre(sliceInputs(p.inputs, p.start, p.end));
  for (let l = 0; l < nLayers; l++) {
    if (l > 0) {
      const sec = sm.sections[l - 1]!;
      const all = p.attn?.[l - 1] ?? null;
      const at = all ? detectAttention(sec) : null;
      if (all && !at) throw new Error(`forward: section ${l - 1} has an attention cache but is not an attention block`);
      if (at && all) {
        const r = attnSectionForward(at, x, B, sec.inPos);
        storeAttnForward(at, all, p.start, p.end, r.cache);
        x = r.y;
      } else x = sec.forward(x, B);
    }
    const [P, d] = p.dims[l]!;
    if (x.length !== B * P * d) throw new Error(`forward: layer ${l} has ${x.length} values, expected [${B}, ${P}, ${d}]`);
    visit(l, x, B);
  }
  if (!toLogits) return null;
  for (let l = nLayers - 1; l < sm.sections.length; l++) x = sm.sections[l]!.forward(x, B);
  return x;
}

/** One block of `gramStreamPlan`: the rows' forward pass and every stat layer's shifted Gram sums, concatenated. */
export interface GramStreamPayload {
  model: ModelCtx;
  inputs: Inputs;
  start: number;
  end: number;
  /** [P_l, d_l] per stat layer */
  dims: Array<[number, number]>;
  /** σ_l per stat layer (null = none) */
  shifts: Array<Float64Array | null>;
  /** Σ_l d_l² */
  total: number;
}

/** Σ_{rows, s} (x + σ)ᵀ(x + σ) of every stat layer from the rows' own forward pass (as `gramShard` on stored rows). */
export function gramStreamShard(p: GramStreamPayload): Float64Array {
  const out = new Float64Array(p.total);
  let o = 0;
  forwardRows(p, p.dims.length, false, (l, x, B) => {
    const [P, d] = p.dims[l]!;
    out.set(gramShard({ X: x, P, d, start: 0, end: B, shift: p.shifts[l]! }), o);
    o += d * d;
  });
  return out;
}

export interface GramShardPayload {
  X: Float64Array;
  P: number;
  d: number;
  start: number;
  end: number;
  /** σ added to every row before the outer product (null = none) */
  shift: Float64Array | null;
}

/** Σ_{b∈[start,end), s} (x_{b,s} + σ)ᵀ(x_{b,s} + σ), d×d. */
export function gramShard(p: GramShardPayload): Float64Array {
  const { X, P, d, start, end, shift } = p;
  const rows = (end - start) * P;
  let Xs = X.subarray(start * P * d, end * P * d);
  if (shift) {
    const Y = new Float64Array(rows * d);
    for (let r = 0; r < rows; r++) {
      const o = r * d;
      for (let j = 0; j < d; j++) Y[o + j] = Xs[o + j]! + shift[j]!;
    }
    Xs = Y;
  }
  return syrk(Xs, rows, d, new Float64Array(d * d), 1);
}

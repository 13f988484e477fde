/**
 * The linear structure: y = x·W per position (Identity, Split, Linear, AttnIn, Add runs, e.g.
 * `unembed → output`, `ln1.0 → attn_in.0`, `attn_in.0 → attn_out.0`, `ln2.0 → mlp_act.0`), or
 * with a last-position selection (lastPos: y = x_{P−1}·W).
 * - M′ (deterministic jacobian) needs no data: M′ = sw²·(W C)(W C)ᵀ·(P_out/P_in);
 * - squared edges: E[i, j] = (sw·(C⁺W C)[j, i])²·Σ f̂_j² (over the positions that reach the output);
 * - edge ablation: out_rib = u (K ⊙ maskᵀ) with K = C⁺ W C_out.
 */
import { gemm } from '../../linalg/index.js';
import type { Section, SectionStructure } from '../../models/types.js';
import { coutOrEye, sumW, genericMprimeShard, genericNodeAblated, shardRows } from './generic.js';
import { mm, type EdgeBasis } from './masks.js';
import type { EdgesShardPayload, Structure } from './types.js';

type Linear = Extract<SectionStructure, { type: 'linear' }>;

function linOf(sec: Section): Linear {
  const st = sec.structure;
  if (!st || st.type !== 'linear') throw new Error(`${sec.name}: not a linear section`);
  return st;
}

/** Rows of x [B, P, d] that reach the output: all, or the last position of each sample. */
function reaching(x: Float64Array, B: number, P: number, d: number, lastPos: boolean | undefined): { rows: number; x: Float64Array } {
  if (!lastPos || P === 1) return { rows: B * P, x };
  const out = new Float64Array(B * d);
  for (let b = 0; b < B; b++) out.set(x.subarray((b * P + P - 1) * d, (b * P + P) * d), b * d);
  return { rows: B, x: out };
}

function linearEdges(sec: Section, p: EdgesShardPayload): Float64Array {
  const st = linOf(sec);
  const { x: x0, B } = shardRows(sec, p);
  const d = sec.inDim;
  const outDim = sec.outDim;
  const { rows, x } = reaching(x0, B, sec.inPos, d, st.lastPos);
  const fhat = gemm(false, false, rows, p.rin, d, x, p.Cin, new Float64Array(rows * p.rin));
  const { rin, rout } = p;
  const sw = sumW(p.weights);
  const Cout = coutOrEye(p.Cout, outDim);
  const CW = gemm(false, false, rin, outDim, d, p.Cinp, st.W, new Float64Array(rin * outDim));
  const K = gemm(false, false, rin, rout, outDim, CW, Cout, new Float64Array(rin * rout));
  const s2 = new Float64Array(rin);
  for (let r = 0; r < rows; r++) {
    const o = r * rin;
    for (let j = 0; j < rin; j++) s2[j]! += fhat[o + j]! * fhat[o + j]!;
  }
  const E = new Float64Array(rout * rin);
  for (let i = 0; i < rout; i++) {
    for (let j = 0; j < rin; j++) {
      const k = sw * K[j * rout + i]!;
      E[i * rin + j] = k * k * s2[j]!;
    }
  }
  return E;
}

function linearEdgeAblated(sec: Section, x0: Float64Array, B: number, eb: EdgeBasis, mask: Uint8Array): Float64Array {
  const st = linOf(sec);
  const { dIn, rIn, dOut, rOut } = eb;
  const { rows, x } = reaching(x0, B, sec.inPos, dIn, st.lastPos);
  const u = mm(x, eb.Cin, rows, dIn, rIn);
  const outRib = new Float64Array(rows * rOut);
  // out_rib = u (K ⊙ maskᵀ), K = C_in⁺ W C_out
  const K = mm(mm(eb.CinPinv, st.W, rIn, dIn, dOut), eb.Cout, rIn, dOut, rOut);
  for (let j = 0; j < rIn; j++) for (let o = 0; o < rOut; o++) if (!mask[o * rIn + j]) K[j * rOut + o] = 0;
  gemm(false, false, rows, rOut, rIn, u, K, outRib, 1, 0);
  return mm(outRib, eb.CoutPinv, rows, rOut, dOut);
}

export const linear: Structure = {
  name: 'linear',
  shards: { mprime: 128, edges: 128 },
  mprimeWithoutData(sec, Cout, r, weights) {
    const st = linOf(sec);
    const sw = sumW(weights);
    const C = coutOrEye(Cout, sec.outDim);
    const WC = gemm(false, false, sec.inDim, r, sec.outDim, st.W, C, new Float64Array(sec.inDim * r));
    const f = st.lastPos ? sec.outPos / sec.inPos : 1;
    return gemm(false, true, sec.inDim, sec.inDim, r, WC, WC, new Float64Array(sec.inDim * sec.inDim), sw * sw * f);
  },
  mprimeShard: genericMprimeShard,
  mprimeAssemble: (_sec, acc) => acc,
  edgesShard: linearEdges,
  edgeAblated: (sec, x, B, eb, mask) => linearEdgeAblated(sec, x, B, eb, mask),
  nodeAblated: (sec, x, B, T) => genericNodeAblated(sec, x, B, T),
};

/**
 * M′ and Λ′ accumulation in the neuron basis (spec §5.4) over one shard of samples.
 * Returns unnormalised sums (the caller reduces shards in order and divides by N·P_in·R).
 *
 * - jacobian, deterministic: one probe per output (t, i); closed form for `mlp` sections
 *   (models' accumulateMlpM), generic batched VJPs (models' accumulateJacobianM) otherwise;
 * - jacobian, stochastic: ±1 probes drawn from Rng(seed, stream(layer, shard, probe));
 * - (1-0)*alpha and (1-alpha)^2: one VJP per integration point with cotangent f̂¹ or 2(f̂¹ − f̂(αx)).
 */
import { gemm, syrk } from '../linalg/index.js';
import { accumulateJacobianM, accumulateMlpM } from '../models/index.js';
import type { Section } from '../models/types.js';
import { Rng } from '../rng.js';
import { attnForwardSlice, cotRows, detectAttention, type AttnForwardAll } from './attention.js';
import { attnMprimeAcc } from './attention-mprime.js';
import { eye, scaled, sectionedFor, streamId, type ModelCtx } from './context.js';

export interface MprimeShardPayload {
  model: ModelCtx;
  /** section index l (node layer l → l+1) */
  layer: number;
  /** activations at node layer l, [N, P_in, d] */
  X: Float64Array;
  start: number;
  end: number;
  /** d_out × r (null = identity, r = d_out) */
  Cout: Float64Array | null;
  r: number;
  formula: 'jacobian' | '(1-0)*alpha' | '(1-alpha)^2';
  alphas: number[];
  weights: number[];
  /** stochastic sources (jacobian only) */
  nPos: number | null;
  nHidden: number | null;
  seed: number;
  shard: number;
  /** use the closed form of `mlp` sections (default true) */
  closedForm?: boolean;
  /** attention sections: the section's forward cache at X for all samples (see AttnForwardAll) */
  attnFw?: AttnForwardAll | null;
}

export interface MprimeShardResult {
  /** unnormalised M′ [d × d], or (attn) the packed accumulators of `attnMprimeAcc` */
  M: Float64Array;
  Lp: Float64Array | null;
  /** M holds attention accumulators; the caller assembles M′ with `attnMprimeAssemble` */
  attn?: boolean;
}

const PROBE_CHUNK = 32;

export function mprimeShard(p: MprimeShardPayload): MprimeShardResult {
  const sec = sectionedFor(p.model).sections[p.layer]!;
  const B = p.end - p.start;
  const { inPos, inDim } = sec;
  const x = p.X.subarray(p.start * inPos * inDim, p.end * inPos * inDim);
  if (p.formula !== 'jacobian') return igShard(sec, x, B, p);
  const M = new Float64Array(inDim * inDim);
  if (p.nPos === null && p.nHidden === null) {
    const st = sec.structure;
    if (st && st.type === 'mlp' && p.closedForm !== false && inPos === sec.outPos) {
      const Cout = p.Cout ?? eye(sec.outDim);
      return { M: accumulateMlpM(st, x, B * inPos, Cout, p.alphas, p.weights), Lp: null };
    }
    const at = p.closedForm !== false ? detectAttention(sec) : null;
    if (at) {
      const cached = p.attnFw ? attnForwardSlice(at, p.attnFw, p.start, p.end) : null;
      return { M: attnMprimeAcc(at, x, B, inPos, cotRows(p.Cout, inDim, p.r), p.r, p.alphas, p.weights, cached), Lp: null, attn: true };
    }
    accumulateJacobianM(sec, x, B, p.Cout, p.r, p.alphas, p.weights, M, 32);
    return { M, Lp: null };
  }
  stochasticShard(sec, x, B, p, M);
  return { M, Lp: null };
}

/** Output-space cotangent for a probe: u[b, t, :] = Σ_i φ[b,t,i] Cout[:, i]. */
function stochasticShard(sec: Section, x: Float64Array, B: number, p: MprimeShardPayload, M: Float64Array): void {
  const { inPos, inDim, outPos, outDim } = sec;
  const r = p.r;
  const Cout = p.Cout;
  const nT = p.nPos ?? outPos;
  const nI = p.nHidden ?? r;
  const nProbes = nT * nI;
  const rowOut = outPos * outDim;
  for (let k0 = 0; k0 < nProbes; k0 += PROBE_CHUNK) {
    const K = Math.min(PROBE_CHUNK, nProbes - k0);
    const cot = new Float64Array(K * B * rowOut);
    for (let kk = 0; kk < K; kk++) {
      const probe = k0 + kk;
      const tIdx = Math.floor(probe / nI);
      const iIdx = probe % nI;
      const rng = new Rng(p.seed, streamId(0, p.layer, p.shard, probe));
      const phi = new Float64Array(r);
      for (let b = 0; b < B; b++) {
        for (let t = 0; t < outPos; t++) {
          // which (t, i) entries of φ are nonzero for this probe
          if (p.nPos === null && t !== tIdx) continue;
          phi.fill(0);
          if (p.nHidden === null) phi[iIdx] = rng.sign();
          else rng.fillSigns(phi);
          const o = ((kk * B + b) * outPos + t) * outDim;
          if (Cout) {
            for (let j = 0; j < outDim; j++) {
              let s = 0;
              for (let i = 0; i < r; i++) s += Cout[j * r + i]! * phi[i]!;
              cot[o + j] = s;
            }
          } else for (let j = 0; j < outDim; j++) cot[o + j] = phi[j]!;
        }
      }
    }
    const g = integratedVjp(sec, x, B, cot, K, p.alphas, p.weights);
    syrk(g, K * B * inPos, inDim, M, 1);
  }
}

/** Σ_k w_k VJP(α_k x; cot) → [K, B, P_in, d]. */
export function integratedVjp(sec: Section, x: Float64Array, B: number, cot: Float64Array, K: number, alphas: number[], weights: number[]): Float64Array {
  let g: Float64Array | null = null;
  for (let q = 0; q < alphas.length; q++) {
    const gq = sec.vjp(scaled(x, alphas[q]!), B, cot, K);
    const w = weights[q]!;
    if (!g) {
      g = gq === cot ? gq.slice() : gq;
      if (w !== 1) for (let i = 0; i < g.length; i++) g[i]! *= w;
    } else for (let i = 0; i < g.length; i++) g[i]! += w * gq[i]!;
  }
  return g!;
}

/** f̂ = y·Cout for y [rows, d_out] (or y itself). */
function project(y: Float64Array, rows: number, outDim: number, Cout: Float64Array | null, r: number): Float64Array {
  if (!Cout) return y;
  return gemm(false, false, rows, r, outDim, y, Cout, new Float64Array(rows * r));
}

/** (1-0)*alpha and (1-alpha)^2 (§5.4b, c): g per sample, M′ += Σ g gᵀ, Λ′ += Σ gᵀ x. */
function igShard(sec: Section, x: Float64Array, B: number, p: MprimeShardPayload): MprimeShardResult {
  const { inPos, inDim, outPos, outDim } = sec;
  const r = p.r;
  const rows = B * outPos;
  const f1 = project(sec.forward(x, B), rows, outDim, p.Cout, r); // [B, P_out, r]
  let g: Float64Array | null = null;
  for (let q = 0; q < p.alphas.length; q++) {
    const a = p.alphas[q]!;
    let u: Float64Array; // cotangent in f̂ space [B, P_out, r]
    if (p.formula === '(1-0)*alpha') u = f1;
    else {
      const fa = project(sec.forward(scaled(x, a), B), rows, outDim, p.Cout, r);
      u = new Float64Array(f1.length);
      for (let i = 0; i < u.length; i++) u[i] = 2 * (f1[i]! - fa[i]!);
    }
    // to output space: u Coutᵀ [rows, d_out]
    const cot = p.Cout ? gemm(false, true, rows, outDim, r, u, p.Cout, new Float64Array(rows * outDim)) : u;
    const gq = sec.vjp(scaled(x, a), B, cot, 1);
    const w = p.weights[q]!;
    if (!g) {
      g = gq === cot ? gq.slice() : gq;
      if (w !== 1) for (let i = 0; i < g.length; i++) g[i]! *= w;
    } else for (let i = 0; i < g.length; i++) g[i]! += w * gq[i]!;
  }
  const n = B * inPos;
  const M = syrk(g!, n, inDim, new Float64Array(inDim * inDim), 1);
  const Lp = gemm(true, false, inDim, inDim, n, g!, x, new Float64Array(inDim * inDim));
  return { M, Lp };
}

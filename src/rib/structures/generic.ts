/**
 * The generic structure: any section, through its batched VJPs (`Section.vjp`, the modules' own
 * backward passes). It is the oracle the other structures are tested against, and the path of
 * the stochastic-source and integrated-gradient formulas.
 *
 * - M′, jacobian, deterministic: one probe per output (t, i) (models' accumulateJacobianM);
 * - M′, jacobian, stochastic: ±1 probes drawn from Rng(seed, stream(layer, shard, probe));
 * - M′, (1-0)*alpha and (1-alpha)^2: one VJP per integration point with cotangent f̂¹ or 2(f̂¹ − f̂(αx));
 * - edges, squared: one probe per output (t, i), or R stochastic sources per output node;
 * - edges, functional: signed, cotangent 2(F̂¹ − F̂(α f̂)) per output node;
 * - ablations: one forward per distinct mask row pattern.
 */
import { gemm, syrk } from '../../linalg/index.js';
import { accumulateJacobianM } from '../../models/index.js';
import type { Section } from '../../models/types.js';
import { Rng } from '../../rng.js';
import { activationRows, eye, scaled, streamId, type ModelCtx } from '../context.js';
import { gatherCols, groupPatterns, maskedProduct, mm, scatterCols, type EdgeBasis } from './masks.js';
import type { ActSource, EdgesShardPayload, MprimeShardPayload, MprimeShardResult, Structure } from './types.js';

const PROBE_CHUNK_M = 32;
const PROBE_CHUNK_E = 16;
/** rows (probe × sample × position) and attention cells (× position) of one batched VJP at most */
const VJP_ROWS = 1 << 14;
const VJP_CELLS = 1 << 20;

/**
 * Probes per batched VJP: `max`, fewer for long sequences so that the batch (K·B·P rows, and
 * K·B·P² attention cells) stays bounded. A function of the shard's shape only (fixed bits); every
 * sequence of ≤ 4 positions keeps `max`.
 */
export function probeChunk(max: number, B: number, P: number): number {
  return Math.max(1, Math.min(max, Math.floor(VJP_ROWS / (B * P)), Math.floor(VJP_CELLS / (B * P * P))));
}

/** Samples [p.start, p.end) of the payload's activations (stored or recomputed) and the shard's batch size. */
export function shardRows(sec: Section, p: { X: ActSource; start: number; end: number; model: ModelCtx; layer: number }): { x: Float64Array; B: number } {
  const n = sec.inPos * sec.inDim;
  const x = p.X instanceof Float64Array ? p.X.subarray(p.start * n, p.end * n) : activationRows(p.model, p.X, p.layer, p.start, p.end);
  if (x.length !== (p.end - p.start) * n) throw new Error(`section ${p.layer}: ${x.length} activation values for samples ${p.start}–${p.end}, expected [${p.end - p.start}, ${sec.inPos}, ${sec.inDim}]`);
  return { x, B: p.end - p.start };
}

/** The generic M′ shard (any formula). */
export function genericMprimeShard(sec: Section, p: MprimeShardPayload): MprimeShardResult {
  const { x, B } = shardRows(sec, p);
  if (p.formula !== 'jacobian') return igShard(sec, x, B, p);
  const M = new Float64Array(sec.inDim * sec.inDim);
  if (p.nPos === null && p.nHidden === null) accumulateJacobianM(sec, x, B, p.Cout, p.r, p.alphas, p.weights, M, 32);
  else stochasticShard(sec, x, B, p, M);
  return { M, Lp: null };
}

/** The generic edges shard (squared, stochastic squared, functional). */
export function genericEdgesShard(sec: Section, p: EdgesShardPayload): Float64Array {
  const { x, B } = shardRows(sec, p);
  const rows = B * sec.inPos;
  const d = sec.inDim;
  const fhat = gemm(false, false, rows, p.rin, d, x, p.Cin, new Float64Array(rows * p.rin));
  const xt = gemm(false, false, rows, d, p.rin, fhat, p.Cinp, new Float64Array(rows * d));
  if (p.formula === 'functional') return functionalEdges(sec, fhat, xt, B, p);
  return vjpEdges(sec, fhat, xt, B, p);
}

/** Identity [n × n] when C is null. */
export function coutOrEye(C: Float64Array | null, n: number): Float64Array {
  return C ?? eye(n);
}

/** Σ_k w_k of an integration rule. */
export const sumW = (w: readonly number[]): number => w.reduce((a, b) => a + b, 0);

/** Edge-ablated output by one forward per distinct mask row pattern (spec §8.4). */
export function genericEdgeAblated(sec: Section, x: Float64Array, B: number, eb: EdgeBasis, mask: Uint8Array): Float64Array {
  const { dIn, rIn, dOut, rOut } = eb;
  const nIn = B * sec.inPos;
  const nOut = B * sec.outPos;
  const u = mm(x, eb.Cin, nIn, dIn, rIn);
  const outRib = new Float64Array(nOut * rOut);
  for (const g of groupPatterns(mask, rOut, rIn)) {
    const xp = maskedProduct(u, nIn, rIn, eb.CinPinv, dIn, g.keep);
    const y = sec.forward(xp, B);
    const Y = mm(y, gatherCols(eb.Cout, dOut, rOut, g.rows), nOut, dOut, g.rows.length);
    scatterCols(outRib, nOut, rOut, g.rows, Y);
  }
  return mm(outRib, eb.CoutPinv, nOut, rOut, dOut);
}

/** Node-ablated output: the section's forward at x·T. */
export function genericNodeAblated(sec: Section, x: Float64Array, B: number, T: Float64Array): Float64Array {
  const rows = B * sec.inPos;
  const d = sec.inDim;
  return sec.forward(gemm(false, false, rows, d, d, x, T, new Float64Array(rows * d), 1, 0), B);
}

export const generic: Structure = {
  name: 'generic',
  shards: { mprime: 128, edges: 128 },
  mprimeWithoutData: () => null,
  mprimeShard: genericMprimeShard,
  mprimeAssemble: (_sec, acc) => acc,
  edgesShard: genericEdgesShard,
  edgeAblated: (sec, x, B, eb, mask) => genericEdgeAblated(sec, x, B, eb, mask),
  nodeAblated: (sec, x, B, T) => genericNodeAblated(sec, x, B, T),
};

/** Output-space cotangent for a probe: u[b, t, :] = Σ_i φ[b,t,i] Cout[:, i]. */
function stochasticShard(sec: Section, x: Float64Array, B: number, p: MprimeShardPayload, M: Float64Array): void {
  const { inPos, inDim, outPos, outDim } = sec;
  const r = p.r;
  const Cout = p.Cout;
  const nT = p.nPos ?? outPos;
  const nI = p.nHidden ?? r;
  const nProbes = nT * nI;
  const rowOut = outPos * outDim;
  const chunk = probeChunk(PROBE_CHUNK_M, B, Math.max(inPos, outPos));
  const vjp = integratedVjpAt(sec, x, B, p.alphas, p.weights);
  const phi = new Float64Array(r); // hidden sources: every entry redrawn per (sample, position)
  for (let k0 = 0; k0 < nProbes; k0 += chunk) {
    const K = Math.min(chunk, nProbes - k0);
    const cot = new Float64Array(K * B * rowOut);
    for (let kk = 0; kk < K; kk++) {
      const probe = k0 + kk;
      const tIdx = Math.floor(probe / nI);
      const iIdx = probe % nI;
      const rng = new Rng(p.seed, streamId(0, p.layer, p.shard, probe));
      for (let b = 0; b < B; b++) {
        for (let t = 0; t < outPos; t++) {
          // which (t, i) entries of φ are nonzero for this probe
          if (p.nPos === null && t !== tIdx) continue;
          const o = ((kk * B + b) * outPos + t) * outDim;
          if (p.nHidden === null) {
            // φ = sign·e_i: u = sign·Cout[:, i] (0 + …: the +0 that the full sum Σ_i Cout·φ gives for a zero)
            const sg = rng.sign();
            if (Cout) for (let j = 0; j < outDim; j++) cot[o + j] = 0 + Cout[j * r + iIdx]! * sg;
            else cot[o + iIdx] = sg;
            continue;
          }
          rng.fillSigns(phi);
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
    const g = vjp(cot, K);
    syrk(g, K * B * inPos, inDim, M, 1);
  }
}

/** Σ_k w_k VJP(α_k x; cot) → [K, B, P_in, d]. */
export function integratedVjp(sec: Section, x: Float64Array, B: number, cot: Float64Array, K: number, alphas: number[], weights: number[]): Float64Array {
  return integratedVjpAt(sec, x, B, alphas, weights)(cot, K);
}

/** `integratedVjp` with the forwards at α_k x run once, for any number of cotangent batches. */
export function integratedVjpAt(sec: Section, x: Float64Array, B: number, alphas: number[], weights: number[]): (cot: Float64Array, K: number) => Float64Array {
  const at = alphas.map((a) => sec.vjpAt(scaled(x, a), B));
  return (cot, K) => {
    let g: Float64Array | null = null;
    for (let q = 0; q < alphas.length; q++) {
      const gq = at[q]!(cot, K);
      const w = weights[q]!;
      if (!g) {
        g = gq === cot ? gq.slice() : gq;
        if (w !== 1) for (let i = 0; i < g.length; i++) g[i]! *= w;
      } else for (let i = 0; i < g.length; i++) g[i]! += w * gq[i]!;
    }
    return g!;
  };
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
/**
 * Generic squared edges via VJPs (deterministic probes (t, i), or R stochastic sources per i).
 * A[probe, b, j] = −Σ_s (g·C⁺ᵀ)[probe, b, s, j]·f̂[b, s, j]; E[i, j] += A².
 */
function vjpEdges(sec: Section, fhat: Float64Array, xt: Float64Array, B: number, p: EdgesShardPayload): Float64Array {
  const { inPos, inDim, outPos, outDim } = sec;
  const { rin, rout } = p;
  const Cout = coutOrEye(p.Cout, outDim);
  const R = p.nSources;
  const perI = R ?? outPos; // probes per output node
  const nProbes = rout * perI;
  const E = new Float64Array(rout * rin);
  const rowOut = outPos * outDim;
  // stochastic φ[b, r, t], drawn once per shard (stream = shard)
  let phi: Float64Array | null = null;
  if (R !== null) {
    phi = new Float64Array(B * R * outPos);
    new Rng(p.seed, streamId(1, p.layer, p.shard, 0)).fillSigns(phi);
  }
  const chunk = probeChunk(PROBE_CHUNK_E, B, Math.max(inPos, outPos));
  const vjp = integratedVjpAt(sec, xt, B, p.alphas, p.weights);
  for (let k0 = 0; k0 < nProbes; k0 += chunk) {
    const K = Math.min(chunk, nProbes - k0);
    const cot = new Float64Array(K * B * rowOut);
    for (let kk = 0; kk < K; kk++) {
      const probe = k0 + kk;
      const i = Math.floor(probe / perI);
      const q = probe % perI;
      for (let b = 0; b < B; b++) {
        for (let t = 0; t < outPos; t++) {
          let c: number;
          if (R === null) {
            if (t !== q) continue;
            c = 1;
          } else c = phi![(b * R + q) * outPos + t]!;
          const o = ((kk * B + b) * outPos + t) * outDim;
          for (let j = 0; j < outDim; j++) cot[o + j] = c * Cout[j * rout + i]!;
        }
      }
    }
    const g = vjp(cot, K); // [K, B, P_in, d]
    const gz = gemm(false, true, K * B * inPos, rin, inDim, g, p.Cinp, new Float64Array(K * B * inPos * rin));
    for (let kk = 0; kk < K; kk++) {
      const i = Math.floor((k0 + kk) / perI);
      const Ei = i * rin;
      for (let b = 0; b < B; b++) {
        for (let j = 0; j < rin; j++) {
          let A = 0;
          for (let s = 0; s < inPos; s++) A -= gz[((kk * B + b) * inPos + s) * rin + j]! * fhat[(b * inPos + s) * rin + j]!;
          E[Ei + j]! += A * A;
        }
      }
    }
  }
  return E;
}

/** Functional edges (§6.4), signed: E[i,j] = 2 Σ_k w_k Σ_{b,s,t} (F̂¹ − F̂(α_k f̂))_{b,t,i} ∂F̂_{b,t,i}/∂z_{b,s,j} f̂_{b,s,j}. */
function functionalEdges(sec: Section, fhat: Float64Array, xt: Float64Array, B: number, p: EdgesShardPayload): Float64Array {
  const { inPos, inDim, outPos, outDim } = sec;
  const { rin, rout } = p;
  const Cout = coutOrEye(p.Cout, outDim);
  const rowsOut = B * outPos;
  const F1 = gemm(false, false, rowsOut, rout, outDim, sec.forward(xt, B), Cout, new Float64Array(rowsOut * rout));
  const E = new Float64Array(rout * rin);
  for (let q = 0; q < p.alphas.length; q++) {
    const a = p.alphas[q]!;
    const xa = scaled(xt, a);
    const Fa = gemm(false, false, rowsOut, rout, outDim, sec.forward(xa, B), Cout, new Float64Array(rowsOut * rout));
    const vjp = sec.vjpAt(xa, B);
    for (let i0 = 0; i0 < rout; i0 += PROBE_CHUNK_E) {
      const K = Math.min(PROBE_CHUNK_E, rout - i0);
      const cot = new Float64Array(K * rowsOut * outDim);
      for (let kk = 0; kk < K; kk++) {
        const i = i0 + kk;
        for (let bt = 0; bt < rowsOut; bt++) {
          const c = 2 * (F1[bt * rout + i]! - Fa[bt * rout + i]!);
          const o = (kk * rowsOut + bt) * outDim;
          for (let j = 0; j < outDim; j++) cot[o + j] = c * Cout[j * rout + i]!;
        }
      }
      const g = vjp(cot, K);
      const gz = gemm(false, true, K * B * inPos, rin, inDim, g, p.Cinp, new Float64Array(K * B * inPos * rin));
      const w = p.weights[q]!;
      for (let kk = 0; kk < K; kk++) {
        const Ei = (i0 + kk) * rin;
        for (let bs = 0; bs < B * inPos; bs++) {
          const go = (kk * B * inPos + bs) * rin;
          const fo = bs * rin;
          for (let j = 0; j < rin; j++) E[Ei + j]! += w * gz[go + j]! * fhat[fo + j]!;
        }
      }
    }
  }
  return E;
}

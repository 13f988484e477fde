/**
 * Edges between adjacent node layers (spec §6) over one shard of samples: unnormalised E [r_out × r_in]
 * (the caller reduces shards in order and divides by N·P_in (·R for stochastic sources)).
 *
 * The section is evaluated at α·x̃ with x̃ = f̂·C_in⁺ (the input projected onto the kept RIB
 * subspace, as the reference does); f̂ = x·C_in.
 * - squared, deterministic: closed forms for `linear` sections (E[i,j] = (sw·(C⁺WC)[j,i])²·Σ f̂_j²)
 *   and `mlp` sections (per row, C⁺J C_out = sw·C⁺C_out + (C⁺Win)·diag(m)·(Wout C_out) over the
 *   active hidden units only); batched VJPs through F̂ otherwise;
 * - squared, stochastic (R sources): ±1 over output positions per (sample, source);
 * - functional: signed, cotangent 2(F̂¹ − F̂(α f̂)) per output node.
 */
import { gemm, lowRankSqAccGather, nearestChain } from '../linalg/index.js';
import { actDeriv } from '../models/activations.js';
import type { Section, SectionStructure } from '../models/types.js';
import { Rng } from '../rng.js';
import { scaled, sectionedFor, streamId, type ModelCtx } from './context.js';
import { integratedVjp } from './mprime.js';
import { attnEdges, detectAttention } from './attention.js';

export interface EdgesShardPayload {
  model: ModelCtx;
  layer: number;
  /** activations at node layer l, [N, P_in, d] */
  X: Float64Array;
  start: number;
  end: number;
  /** d × r_in */
  Cin: Float64Array;
  /** r_in × d */
  Cinp: Float64Array;
  rin: number;
  /** d_out × r_out (null = identity) */
  Cout: Float64Array | null;
  rout: number;
  formula: 'squared' | 'functional';
  alphas: number[];
  weights: number[];
  nSources: number | null;
  seed: number;
  shard: number;
  closedForm?: boolean;
}

const PROBE_CHUNK = 16;

export function edgesShard(p: EdgesShardPayload): Float64Array {
  const sec = sectionedFor(p.model).sections[p.layer]!;
  const B = p.end - p.start;
  const { inPos, inDim } = sec;
  const d = inDim;
  const rows = B * inPos;
  const x = p.X.subarray(p.start * inPos * d, p.end * inPos * d);
  const fhat = gemm(false, false, rows, p.rin, d, x, p.Cin, new Float64Array(rows * p.rin));
  const st = sec.structure;
  const closed = p.closedForm !== false && p.formula === 'squared' && p.nSources === null && st && sec.inPos === sec.outPos;
  if (closed && st!.type === 'linear') return linearEdges(st!, fhat, rows, p, d, sec.outDim);
  const xt = gemm(false, false, rows, d, p.rin, fhat, p.Cinp, new Float64Array(rows * d));
  if (closed && st!.type === 'mlp') return mlpEdges(st!, fhat, xt, rows, p, d, sec.outDim);
  if (p.closedForm !== false && p.formula === 'squared' && p.nSources === null) {
    const at = detectAttention(sec);
    if (at) return attnEdges(at, fhat, xt, B, inPos, p.Cinp, p.rin, p.Cout, p.rout, p.alphas, p.weights);
  }
  if (p.formula === 'functional') return functionalEdges(sec, fhat, xt, B, p);
  return vjpEdges(sec, fhat, xt, B, p);
}

function sumW(w: number[]): number {
  return w.reduce((a, b) => a + b, 0);
}

function coutOrEye(p: EdgesShardPayload, outDim: number): Float64Array {
  if (p.Cout) return p.Cout;
  const I = new Float64Array(outDim * outDim);
  for (let i = 0; i < outDim; i++) I[i * outDim + i] = 1;
  return I;
}

function linearEdges(st: Extract<SectionStructure, { type: 'linear' }>, fhat: Float64Array, rows: number, p: EdgesShardPayload, d: number, outDim: number): Float64Array {
  const { rin, rout } = p;
  const sw = sumW(p.weights);
  const Cout = coutOrEye(p, outDim);
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

function mlpEdges(
  st: Extract<SectionStructure, { type: 'mlp' }>,
  fhat: Float64Array,
  xt: Float64Array,
  rows: number,
  p: EdgesShardPayload,
  d: number,
  outDim: number,
): Float64Array {
  const { rin, rout } = p;
  const H = st.hidden;
  const sw = sumW(p.weights);
  const Cout = coutOrEye(p, outDim);
  // aT = (C⁺ Win)ᵀ [H × rin], bm = Wout C_out [H × rout], K0 = sw·C⁺ C_out [rin × rout]
  const a = gemm(false, false, rin, H, d, p.Cinp, st.Win, new Float64Array(rin * H));
  const aT = new Float64Array(H * rin);
  for (let j = 0; j < rin; j++) for (let h = 0; h < H; h++) aT[h * rin + j] = a[j * H + h]!;
  const bm = gemm(false, false, H, rout, outDim, st.Wout, Cout, new Float64Array(H * rout));
  const K0 = new Float64Array(rin * rout);
  if (st.residual) gemm(false, false, rin, rout, d, p.Cinp, Cout, K0, sw, 0);
  // pre-activations of x̃ and the integrated derivative m per row
  const pre = gemm(false, false, rows, H, d, xt, st.Win, new Float64Array(rows * H));
  const m = new Float64Array(rows * H);
  const tmp = new Float64Array(rows * H);
  for (let q = 0; q < p.alphas.length; q++) {
    const al = p.alphas[q]!;
    for (let i = 0; i < tmp.length; i++) tmp[i] = al * pre[i]!;
    actDeriv(st.act, tmp, tmp);
    const w = p.weights[q]!;
    for (let i = 0; i < m.length; i++) m[i]! += w * tmp[i]!;
  }
  const Et = new Float64Array(rin * rout); // transposed accumulator
  const aAct = new Float64Array(H * rin);
  const bAct = new Float64Array(H * rout);
  // baseline m̄_h: the unit's first non-zero value when more than half of the rows hold it (e.g.
  // ReLU units that are mostly on), folded into K0 once; per row only the units whose m differs
  // from the baseline enter the GEMM (fewer than the active units for most trained MLPs)
  const mbar = new Float64Array(H);
  const first = new Float64Array(H);
  const cnt = new Int32Array(H);
  for (let r = 0; r < rows; r++) {
    const o = r * H;
    for (let h = 0; h < H; h++) if (first[h] === 0) first[h] = m[o + h]!;
  }
  for (let r = 0; r < rows; r++) {
    const o = r * H;
    for (let h = 0; h < H; h++) if (m[o + h] === first[h]) cnt[h]!++;
  }
  for (let h = 0; h < H; h++) if (first[h] !== 0 && cnt[h]! * 2 > rows) mbar[h] = first[h]!;
  let nb = 0;
  for (let h = 0; h < H; h++) {
    if (mbar[h] === 0) continue;
    aAct.set(aT.subarray(h * rin, (h + 1) * rin), nb * rin);
    for (let i = 0; i < rout; i++) bAct[nb * rout + i] = mbar[h]! * bm[h * rout + i]!;
    nb++;
  }
  const K0b = K0.slice();
  if (nb > 0) gemm(true, false, rin, rout, nb, aAct.subarray(0, nb * rin), bAct.subarray(0, nb * rout), K0b, 1, 1);
  // Row order: a greedy nearest-neighbour chain over the patterns "m differs from the baseline"
  // (Hamming distance on bitsets). Each row then starts from the baseline, T = K0b + Σ_h (m − m̄)_h
  // a_h b_hᵀ, or — when fewer units differ — from the previous row's T, T = T_prev + Σ_h Δm_h a_h b_hᵀ.
  // The rank of the per-row update drops (mod-add: ~200 → ~90 of 513 units); one Wasm call does all
  // rows: GEMM update, then Et += T² f̂².
  const order = chainOrder(m, mbar, rows, H);
  const counts = new Int32Array(rows);
  const base = new Int32Array(rows);
  let tot = 0;
  for (let k = 0; k < rows; k++) {
    const r = order[k]!;
    const ro = r * H;
    let cb = 0;
    let cp = Infinity;
    if (k > 0) {
      const po = order[k - 1]! * H;
      let c = 0;
      for (let h = 0; h < H; h++) {
        const v = m[ro + h]!;
        if (v !== mbar[h]!) cb++;
        if (v !== m[po + h]!) c++;
      }
      cp = c;
    } else for (let h = 0; h < H; h++) if (m[ro + h]! !== mbar[h]!) cb++;
    base[k] = cp < cb ? 0 : 1;
    counts[k] = cp < cb ? cp : cb;
    tot += counts[k]!;
  }
  const idx = new Int32Array(tot);
  const scl = new Float64Array(tot);
  const f2 = new Float64Array(rows * rin);
  let n = 0;
  for (let k = 0; k < rows; k++) {
    const r = order[k]!;
    const ro = base[k] ? -1 : order[k - 1]! * H;
    for (let h = 0; h < H; h++) {
      const mh = m[r * H + h]! - (ro < 0 ? mbar[h]! : m[ro + h]!);
      if (mh === 0) continue;
      idx[n] = h;
      scl[n] = mh;
      n++;
    }
    for (let j = 0; j < rin; j++) f2[k * rin + j] = fhat[r * rin + j]! * fhat[r * rin + j]!;
  }
  lowRankSqAccGather(rows, rin, rout, K0b, aT, bm, H, idx, scl, counts, f2, Et, base);
  const E = new Float64Array(rout * rin);
  for (let j = 0; j < rin; j++) for (let i = 0; i < rout; i++) E[i * rin + j] = Et[j * rout + i]!;
  return E;
}

/** Greedy nearest-neighbour order of rows by the Hamming distance of "m ≠ m̄" (ties: lowest row). */
function chainOrder(m: Float64Array, mbar: Float64Array, rows: number, H: number): Int32Array {
  const W = 2 * ((H + 63) >> 6); // whole 64-bit words per row
  const bits = new Int32Array(rows * W);
  for (let r = 0; r < rows; r++) {
    const o = r * H;
    for (let h = 0; h < H; h++) if (m[o + h]! !== mbar[h]!) bits[r * W + (h >> 5)]! |= 1 << (h & 31);
  }
  return nearestChain(bits, rows, W);
}

/**
 * Generic squared edges via VJPs (deterministic probes (t, i), or R stochastic sources per i).
 * A[probe, b, j] = −Σ_s (g·C⁺ᵀ)[probe, b, s, j]·f̂[b, s, j]; E[i, j] += A².
 */
function vjpEdges(sec: Section, fhat: Float64Array, xt: Float64Array, B: number, p: EdgesShardPayload): Float64Array {
  const { inPos, inDim, outPos, outDim } = sec;
  const { rin, rout } = p;
  const Cout = coutOrEye(p, outDim);
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
  for (let k0 = 0; k0 < nProbes; k0 += PROBE_CHUNK) {
    const K = Math.min(PROBE_CHUNK, nProbes - k0);
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
    const g = integratedVjp(sec, xt, B, cot, K, p.alphas, p.weights); // [K, B, P_in, d]
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
  const Cout = coutOrEye(p, outDim);
  const rowsOut = B * outPos;
  const F1 = gemm(false, false, rowsOut, rout, outDim, sec.forward(xt, B), Cout, new Float64Array(rowsOut * rout));
  const E = new Float64Array(rout * rin);
  for (let q = 0; q < p.alphas.length; q++) {
    const a = p.alphas[q]!;
    const xa = scaled(xt, a);
    const Fa = gemm(false, false, rowsOut, rout, outDim, sec.forward(xa, B), Cout, new Float64Array(rowsOut * rout));
    for (let i0 = 0; i0 < rout; i0 += PROBE_CHUNK) {
      const K = Math.min(PROBE_CHUNK, rout - i0);
      const cot = new Float64Array(K * rowsOut * outDim);
      for (let kk = 0; kk < K; kk++) {
        const i = i0 + kk;
        for (let bt = 0; bt < rowsOut; bt++) {
          const c = 2 * (F1[bt * rout + i]! - Fa[bt * rout + i]!);
          const o = (kk * rowsOut + bt) * outDim;
          for (let j = 0; j < outDim; j++) cot[o + j] = c * Cout[j * rout + i]!;
        }
      }
      const g = sec.vjp(xa, B, cot, K);
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

/**
 * Fast input cotangents for a (no-LayerNorm) attention section
 * [ln1 (identity), ln1_out (split), attn_in, attn_out, add_resid1 (optionally last position)],
 * for K cotangents shared by every sample (the columns of C_out placed at output position t).
 *
 * For output position t, the cotangent rows U [K × d] give, per sample (spec App. B):
 *   X̄[s] = δ_{st}·U + Σ_h A_h[t,s]·OV_h + Σ_h S̄_h[:,s] ⊗ qk_h + δ_{st}·Σ_{h,j≤t} S̄_h[:,j] ⊗ kq_{h,j}
 * with the sample-independent OV_h = U·Wo_hᵀ·Wv_hᵀ, ZO_h = U·Wo_hᵀ, and per sample
 * Ā_h[:,j] = ZO_h·v_h[j], S̄_h[:,j] = scale·A_h[t,j]·(Ā_h[:,j] − Σ_j' Ā_h[:,j']A_h[t,j']),
 * qk_h = q_h[t]·Wk_hᵀ, kq_{h,j} = k_h[j]·Wq_hᵀ. So X̄[s] = (scaled sums of OV_h) + Coef_s·Basis_s,
 * one small GEMM per (sample, s) instead of K full backward passes. Checked against the modules'
 * own VJPs in the tests.
 */
import { gemm } from '../linalg/index.js';
import type { Module } from '../models/modules.js';
import { splitTup } from '../models/tuple.js';
import type { Section } from '../models/types.js';

export interface AttnStruct {
  mods: Module[];
  Wq: Float64Array; // [d, H·dh]
  Wk: Float64Array;
  Wv: Float64Array; // [d, H·dv]
  Wo: Float64Array; // [H·dv, d]
  H: number;
  dh: number;
  dv: number;
  d: number;
  scale: number;
  lastPos: boolean;
}

/** The attention structure of a section, or null if it is not exactly a no-LN attention block. */
export function detectAttention(sec: Section): AttnStruct | null {
  const mods = (sec as unknown as { mods?: Module[] }).mods;
  if (!Array.isArray(mods)) return null;
  let core = mods.filter((m) => m.kind !== 'identity');
  const kinds = core.map((m) => m.kind).join(',');
  if (kinds === 'split,attn_fused,add') {
    const f = core[1] as unknown as { attnIn: Module; attnOut: Module };
    core = [core[0]!, f.attnIn, f.attnOut, core[2]!];
  } else if (kinds !== 'split,attn_in,attn_out,add') return null;
  const ai = core[1] as unknown as { Wq: Float64Array; Wk: Float64Array; Wv: Float64Array; din: number; dqk: number; dv: number };
  const ao = core[2] as unknown as { Wo: Float64Array; H: number; dh: number; dv: number; dout: number; scale: number };
  const add = core[3] as unknown as { lastPos: boolean };
  if (ao.dout !== ai.din || sec.inDim !== ai.din || sec.outDim !== ai.din) return null;
  return { mods, Wq: ai.Wq, Wk: ai.Wk, Wv: ai.Wv, Wo: ao.Wo, H: ao.H, dh: ao.dh, dv: ao.dv, d: ai.din, scale: ao.scale, lastPos: add.lastPos };
}

export interface AttnPre {
  K: number;
  U: Float64Array; // [K, d]
  ZO: Float64Array[]; // per head [K, dv]
  OV: Float64Array[]; // per head [K, d]
}

/** Sample-independent products for cotangent rows U [K × d]. */
export function attnPrecompute(st: AttnStruct, U: Float64Array, K: number): AttnPre {
  const { H, dv, d, Wo, Wv } = st;
  const ZO: Float64Array[] = [];
  const OV: Float64Array[] = [];
  const Wo_h = new Float64Array(dv * d);
  const Wv_h = new Float64Array(d * dv);
  for (let h = 0; h < H; h++) {
    Wo_h.set(Wo.subarray(h * dv * d, (h + 1) * dv * d));
    for (let c = 0; c < d; c++) for (let e = 0; e < dv; e++) Wv_h[c * dv + e] = Wv[c * H * dv + h * dv + e]!;
    const zo = gemm(false, true, K, dv, d, U, Wo_h, new Float64Array(K * dv));
    ZO.push(zo);
    OV.push(gemm(false, true, K, d, dv, zo, Wv_h, new Float64Array(K * d)));
  }
  return { K, U, ZO, OV };
}

export interface AttnForward {
  P: number;
  q: Float64Array; // [B, P, H·dh]
  k: Float64Array;
  v: Float64Array; // [B, P, H·dv]
  A: Float64Array; // [B, H, P, P]
}

/** Runs the section's own modules on x [B, P, d] and keeps the attention cache. */
export function attnForward(st: AttnStruct, x: Float64Array, B: number, P: number): AttnForward {
  let t = splitTup(x, B, P, [st.d]);
  let cache: AttnForward | null = null;
  for (const m of st.mods) {
    const r = m.forward(t, B);
    if (m.kind === 'attn_out' || m.kind === 'attn_fused') {
      const c = (m.kind === 'attn_fused' ? (r.cache as { outCache: unknown }).outCache : r.cache) as {
        q: Float64Array;
        k: Float64Array;
        v: Float64Array;
        A: Float64Array;
        P: number;
      };
      cache = { P: c.P, q: c.q, k: c.k, v: c.v, A: c.A };
      break;
    }
    t = r.y;
  }
  if (!cache) throw new Error('attention fast path: no attn_out module');
  return cache;
}

/**
 * Per-sample, per-output-position structure: X̄[s] = δ_{st}U + Σ_h a[h,s]·OV_h + Coef_s·Basis_s.
 * Coef_s is [K × m_s] and Basis_s [m_s × d]; m_s = H (+ H·(t+1) at s = t).
 */
export interface AttnCotStructure {
  /** a[h·P + s] = A_h[t, s] (0 for s > t) */
  a: Float64Array;
  coef: Float64Array[]; // per s, [K, m_s]
  basis: Float64Array[]; // per s, [m_s, d]
  m: number[];
}

/** The structure for sample b and output position t (fills scratch buffers sized for K). */
export function attnCotStructure(st: AttnStruct, pre: AttnPre, f: AttnForward, b: number, t: number): AttnCotStructure {
  const { H, dh, dv, d, scale, Wq, Wk } = st;
  const P = f.P;
  const K = pre.K;
  const dqk = H * dh;
  const dvv = H * dv;
  const a = new Float64Array(H * P);
  const mS = Array.from({ length: P }, (_, s) => (s <= t ? H + (s === t ? H * (t + 1) : 0) : 0));
  const coef = mS.map((m) => new Float64Array(K * m));
  const basis = mS.map((m) => new Float64Array(m * d));
  const Abar = new Float64Array(K * (t + 1));
  const rs = new Float64Array(K);
  for (let h = 0; h < H; h++) {
    const ab = (b * H + h) * P * P + t * P;
    for (let s = 0; s <= t; s++) a[h * P + s] = f.A[ab + s]!;
    // Ā[k, j] = ZO_h[k,:]·v_h[j]
    const zo = pre.ZO[h]!;
    for (let j = 0; j <= t; j++) {
      const vo = (b * P + j) * dvv + h * dv;
      for (let k = 0; k < K; k++) {
        let s = 0;
        const zk = k * dv;
        for (let e = 0; e < dv; e++) s += zo[zk + e]! * f.v[vo + e]!;
        Abar[k * (t + 1) + j] = s;
      }
    }
    for (let k = 0; k < K; k++) {
      let r = 0;
      for (let j = 0; j <= t; j++) r += Abar[k * (t + 1) + j]! * f.A[ab + j]!;
      rs[k] = r;
    }
    // qk_h = q_h[t]·Wk_hᵀ  → basis row h of every s ≤ t
    const qo = (b * P + t) * dqk + h * dh;
    const qk = new Float64Array(d);
    for (let c = 0; c < d; c++) {
      let s = 0;
      const wo = c * dqk + h * dh;
      for (let e = 0; e < dh; e++) s += f.q[qo + e]! * Wk[wo + e]!;
      qk[c] = s;
    }
    for (let s = 0; s <= t; s++) {
      basis[s]!.set(qk, h * d);
      const m = mS[s]!;
      const cs = coef[s]!;
      const Ats = f.A[ab + s]!;
      for (let k = 0; k < K; k++) cs[k * m + h] = scale * Ats * (Abar[k * (t + 1) + s]! - rs[k]!);
    }
    // kq_{h,j} = k_h[j]·Wq_hᵀ → basis rows H + h·(t+1) + j of s = t, coefficient S̄_h[:, j]
    const mt = mS[t]!;
    const ct = coef[t]!;
    const bt = basis[t]!;
    for (let j = 0; j <= t; j++) {
      const ko = (b * P + j) * dqk + h * dh;
      const row = H + h * (t + 1) + j;
      for (let c = 0; c < d; c++) {
        let s = 0;
        const wo = c * dqk + h * dh;
        for (let e = 0; e < dh; e++) s += f.k[ko + e]! * Wq[wo + e]!;
        bt[row * d + c] = s;
      }
      const Atj = f.A[ab + j]!;
      for (let k = 0; k < K; k++) ct[k * mt + row] = scale * Atj * (Abar[k * (t + 1) + j]! - rs[k]!);
    }
  }
  return { a, coef, basis, m: mS };
}

/** X̄[s] for all s: out [P, K, d] (overwritten), weighted by w and added if `accumulate`. */
export function attnInputCotangents(st: AttnStruct, pre: AttnPre, cs: AttnCotStructure, t: number, P: number, out: Float64Array, w = 1, accumulate = false): void {
  const { H, d } = st;
  const K = pre.K;
  if (!accumulate) out.fill(0);
  for (let s = 0; s < P; s++) {
    const o = s * K * d;
    const X = out.subarray(o, o + K * d);
    if (s === t) for (let i = 0; i < K * d; i++) X[i]! += w * pre.U[i]!;
    for (let h = 0; h < H; h++) {
      const c = w * cs.a[h * P + s]!;
      if (c === 0) continue;
      const ov = pre.OV[h]!;
      for (let i = 0; i < K * d; i++) X[i]! += c * ov[i]!;
    }
    const m = cs.m[s]!;
    if (m > 0) gemm(false, false, K, d, m, cs.coef[s]!, cs.basis[s]!, X, w, 1);
  }
}

/** The output positions probed and their count: only P−1 with a last-position add. */
export function outputPositions(st: AttnStruct, P: number): number[] {
  return st.lastPos ? [P - 1] : Array.from({ length: P }, (_, i) => i);
}

/** Cotangent rows U = C_outᵀ [r × d] (identity rows when C_out is null). */
export function cotRows(Cout: Float64Array | null, d: number, r: number): Float64Array {
  const U = new Float64Array(r * d);
  if (!Cout) {
    for (let i = 0; i < r; i++) U[i * d + i] = 1;
    return U;
  }
  for (let c = 0; c < d; c++) for (let i = 0; i < r; i++) U[i * d + c] = Cout[c * r + i]!;
  return U;
}

/**
 * Unnormalised jacobian M′ [d × d] over samples x [B, P, d]: Σ_{b, t, s} X̄[s]ᵀ X̄[s] with
 * X̄ = Σ_k w_k X̄(α_k x) for probes (t, i).
 */
export function attnMprime(st: AttnStruct, x: Float64Array, B: number, P: number, Cout: Float64Array | null, r: number, alphas: number[], weights: number[], syrk: (X: Float64Array, n: number, d: number, G: Float64Array) => void): Float64Array {
  const d = st.d;
  const pre = attnPrecompute(st, cotRows(Cout, d, r), r);
  const fw = alphas.map((a) => attnForward(st, a === 1 ? x : x.map((v) => a * v), B, P));
  const M = new Float64Array(d * d);
  const T = outputPositions(st, P);
  const per = P * r * d;
  const nb = Math.max(1, Math.floor(8192 / (P * r)));
  const buf = new Float64Array(nb * T.length * per);
  let filled = 0;
  for (let b = 0; b < B; b++) {
    for (const t of T) {
      const out = buf.subarray(filled * per, (filled + 1) * per);
      fw.forEach((f, q) => attnInputCotangents(st, pre, attnCotStructure(st, pre, f, b, t), t, P, out, weights[q]!, q > 0));
      filled++;
    }
    if (filled + T.length > nb * T.length || b === B - 1) {
      syrk(buf.subarray(0, filled * per), filled * P * r, d, M);
      filled = 0;
    }
  }
  return M;
}

/**
 * Unnormalised squared edges E [r_out × r_in] over samples with RIB activations f̂ [B, P, r_in]
 * and projected inputs x̃ = f̂ C⁺ [B, P, d] (deterministic probes).
 */
export function attnEdges(st: AttnStruct, fhat: Float64Array, xt: Float64Array, B: number, P: number, Cinp: Float64Array, rin: number, Cout: Float64Array | null, rout: number, alphas: number[], weights: number[]): Float64Array {
  const d = st.d;
  const H = st.H;
  const K = rout;
  const pre = attnPrecompute(st, cotRows(Cout, d, rout), rout);
  const UC = gemm(false, true, K, rin, d, pre.U, Cinp, new Float64Array(K * rin));
  const OVC = pre.OV.map((ov) => gemm(false, true, K, rin, d, ov, Cinp, new Float64Array(K * rin)));
  const fw = alphas.map((a) => attnForward(st, a === 1 ? xt : xt.map((v) => a * v), B, P));
  const T = outputPositions(st, P);
  const E = new Float64Array(K * rin);
  const A = new Float64Array(K * rin);
  for (let b = 0; b < B; b++) {
    const fb = fhat.subarray(b * P * rin, (b + 1) * P * rin);
    for (const t of T) {
      A.fill(0);
      fw.forEach((f, q) => {
        const w = weights[q]!;
        const cs = attnCotStructure(st, pre, f, b, t);
        // f̂[t,j]·UC[k,j]
        const ft = fb.subarray(t * rin, (t + 1) * rin);
        for (let k = 0; k < K; k++) {
          const o = k * rin;
          for (let j = 0; j < rin; j++) A[o + j]! += w * ft[j]! * UC[o + j]!;
        }
        // Σ_h a_h[j]·OVC_h[k,j],  a_h[j] = Σ_s A_h[t,s] f̂[s,j]
        const ah = new Float64Array(rin);
        for (let h = 0; h < H; h++) {
          ah.fill(0);
          for (let s = 0; s <= t; s++) {
            const c = cs.a[h * P + s]!;
            if (c === 0) continue;
            for (let j = 0; j < rin; j++) ah[j]! += c * fb[s * rin + j]!;
          }
          const ovc = OVC[h]!;
          for (let k = 0; k < K; k++) {
            const o = k * rin;
            for (let j = 0; j < rin; j++) A[o + j]! += w * ah[j]! * ovc[o + j]!;
          }
        }
        // Σ_s Coef_s · (Basis_s C⁺ᵀ ⊙ f̂[s,:])
        for (let s = 0; s <= t; s++) {
          const m = cs.m[s]!;
          if (m === 0) continue;
          const BC = gemm(false, true, m, rin, d, cs.basis[s]!, Cinp, new Float64Array(m * rin));
          for (let n = 0; n < m; n++) for (let j = 0; j < rin; j++) BC[n * rin + j]! *= fb[s * rin + j]!;
          gemm(false, false, K, rin, m, cs.coef[s]!, BC, A, w, 1);
        }
      });
      for (let i = 0; i < K * rin; i++) E[i]! += A[i]! * A[i]!;
    }
  }
  return E;
}

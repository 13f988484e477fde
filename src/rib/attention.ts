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
import { gemm, lowRankSqAcc } from '../linalg/index.js';
import type { Module } from '../models/modules.js';
import { concatTup, splitTup, type Tup } from '../models/tuple.js';
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
  /** [U, OV_1..OV_H] interleaved per element (built on first use) */
  interleaved?: Float64Array;
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

function attnCacheOf(m: Module, c: unknown): AttnForward {
  const a = (m.kind === 'attn_fused' ? (c as { outCache: unknown }).outCache : c) as AttnForward;
  return { P: a.P, q: a.q, k: a.k, v: a.v, A: a.A };
}

/**
 * Runs the section's own modules on x [B, P, d] and keeps the attention cache; stops after the
 * attention module unless `full` (then `t` is the section's output tuple).
 */
function runAttnModules(st: AttnStruct, x: Float64Array, B: number, P: number, full: boolean): { t: Tup; cache: AttnForward } {
  let t = splitTup(x, B, P, [st.d]);
  let cache: AttnForward | null = null;
  for (const m of st.mods) {
    const r = m.forward(t, B);
    t = r.y;
    if (m.kind === 'attn_out' || m.kind === 'attn_fused') {
      cache = attnCacheOf(m, r.cache);
      if (!full) break;
    }
  }
  if (!cache) throw new Error('attention fast path: no attn_out module');
  return { t, cache };
}

/** The attention cache (q, k, v, pattern) of the section at x [B, P, d]. */
export function attnForward(st: AttnStruct, x: Float64Array, B: number, P: number): AttnForward {
  return runAttnModules(st, x, B, P, false).cache;
}

/**
 * The attention cache of `attnForward` for all N samples in shared memory (q, k [N, P, H·dh],
 * v [N, P, H·dv], A [N, H, P, P]), filled by the statistics forward (`attnSectionForward`), so the M′
 * shards read it instead of running the section forward again.
 */
export interface AttnForwardAll {
  P: number;
  q: Float64Array;
  k: Float64Array;
  v: Float64Array;
  A: Float64Array;
}

/** Shared zeroed buffers for N samples of section st with P positions. */
export function attnForwardAlloc(st: AttnStruct, N: number, P: number, alloc: (n: number) => Float64Array): AttnForwardAll {
  const { H, dh, dv } = st;
  return { P, q: alloc(N * P * H * dh), k: alloc(N * P * H * dh), v: alloc(N * P * H * dv), A: alloc(N * H * P * P) };
}

/** Samples [start, end) of the cache, as the AttnForward `attnForward` returns for that batch. */
export function attnForwardSlice(st: AttnStruct, all: AttnForwardAll, start: number, end: number): AttnForward {
  const { H, dh, dv } = st;
  const P = all.P;
  const qk = P * H * dh;
  return {
    P,
    q: all.q.subarray(start * qk, end * qk),
    k: all.k.subarray(start * qk, end * qk),
    v: all.v.subarray(start * P * H * dv, end * P * H * dv),
    A: all.A.subarray(start * H * P * P, end * H * P * P),
  };
}

/**
 * The section's forward (as `Section.forward`) on x [B, P, d] that also keeps the attention cache,
 * so the statistics pass fills `AttnForwardAll` for M′ without a second attention forward.
 */
export function attnSectionForward(st: AttnStruct, x: Float64Array, B: number, P: number): { y: Float64Array; cache: AttnForward } {
  if (x.length !== B * P * st.d) throw new Error(`attention section: input has ${x.length} values, expected [${B}, ${P}, ${st.d}]`);
  const { t, cache } = runAttnModules(st, x, B, P, true);
  const y = concatTup(t, B);
  return { y: y === x ? new Float64Array(x) : y, cache };
}

/** Stores the cache of samples [start, end) into `all`. */
export function storeAttnForward(st: AttnStruct, all: AttnForwardAll, start: number, end: number, f: AttnForward): void {
  if (f.P !== all.P) throw new Error(`attention forward cache: ${f.P} positions, expected ${all.P}`);
  const dst = attnForwardSlice(st, all, start, end);
  for (const key of ['q', 'k', 'v', 'A'] as const) {
    if (f[key].length !== dst[key].length) throw new Error(`attention forward cache: ${key} has ${f[key].length} values, expected ${dst[key].length}`);
    dst[key].set(f[key]);
  }
}

/**
 * Shard-level products: Abar[h] [B·P × K] = v_h·ZO_hᵀ (one GEMM per head instead of per-sample loops).
 */
export interface AttnShard {
  Abar: Float64Array[];
}

/** Columns [off, off + w) of a row-major rows × width matrix, as a new rows × w matrix. */
export function headBlock(x: Float64Array, rows: number, width: number, off: number, w: number): Float64Array {
  const out = new Float64Array(rows * w);
  for (let r = 0; r < rows; r++) out.set(x.subarray(r * width + off, r * width + off + w), r * w);
  return out;
}

export function attnShardPre(st: AttnStruct, pre: AttnPre, f: AttnForward, B: number): AttnShard {
  const { H, dv } = st;
  const rows = B * f.P;
  const K = pre.K;
  const Abar: Float64Array[] = [];
  for (let h = 0; h < H; h++) {
    const vh = headBlock(f.v, rows, H * dv, h * dv, dv);
    Abar.push(gemm(false, true, rows, K, dv, vh, pre.ZO[h]!, new Float64Array(rows * K)));
  }
  return { Abar };
}

/**
 * The score-path cotangent columns of sample b, output position t, one per (head h, key position
 * j ≤ t), h-major: S̄_h[:, j] = scale·A_h[t,j]·(Ā_h[:, j] − Σ_j' A_h[t,j'] Ā_h[:, j']) [K], written as
 * rows of `out` from row `row0` (rs: K scratch). They multiply qk_h at s = j and kq_{h,j} at s = t.
 */
export function attnScoreColumns(st: AttnStruct, f: AttnForward, sh: AttnShard, K: number, b: number, t: number, out: Float64Array, row0: number, rs: Float64Array): void {
  const { H, scale } = st;
  const P = f.P;
  let row = row0;
  for (let h = 0; h < H; h++) {
    const ab = (b * H + h) * P * P + t * P;
    const Ab = sh.Abar[h]!;
    rs.fill(0);
    for (let j = 0; j <= t; j++) {
      const Atj = f.A[ab + j]!;
      const o = (b * P + j) * K;
      for (let k = 0; k < K; k++) rs[k]! += Ab[o + k]! * Atj;
    }
    for (let j = 0; j <= t; j++) {
      const c = scale * f.A[ab + j]!;
      const o = (b * P + j) * K;
      const ro = row * K;
      for (let k = 0; k < K; k++) out[ro + k] = c * (Ab[o + k]! - rs[k]!);
      row++;
    }
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
  const shs = fw.map((f) => attnShardPre(st, pre, f, B));
  const rows = B * P;
  // basis rows in the RIB-input space: qk_h C⁺ᵀ = q_h (C⁺ Wk_h)ᵀ, kq_{h,j} C⁺ᵀ = k_h[j] (C⁺ Wq_h)ᵀ (B·P × r_in per head)
  const { dh } = st;
  const CW = (W: Float64Array, h: number) => gemm(false, false, rin, dh, d, Cinp, headBlock(W, d, H * dh, h * dh, dh), new Float64Array(rin * dh));
  const CWk = Array.from({ length: H }, (_, h) => CW(st.Wk, h));
  const CWq = Array.from({ length: H }, (_, h) => CW(st.Wq, h));
  const QKC = fw.map((f) => CWk.map((g, h) => gemm(false, true, rows, rin, dh, headBlock(f.q, rows, H * dh, h * dh, dh), g, new Float64Array(rows * rin))));
  const KQC = fw.map((f) => CWq.map((g, h) => gemm(false, true, rows, rin, dh, headBlock(f.k, rows, H * dh, h * dh, dh), g, new Float64Array(rows * rin))));
  const T = outputPositions(st, P);
  const nT = T.length;
  const M1 = H + 1;
  const Et = new Float64Array(rin * K);
  // constant-matrix part, formed in Wasm per (b, t): Aᵀ[j, :] = Σ_m CR[m, j]·T_m[j, :] with
  // T_0 = (U C⁺ᵀ)ᵀ, T_h = (OV_h C⁺ᵀ)ᵀ [r_in × K] and CR[0, j] = Σ_q w_q f̂[t,j],
  // CR[1+h, j] = Σ_q w_q Σ_s A_h[t,s] f̂[s,j]
  const Tm = new Float64Array(M1 * rin * K);
  for (let j = 0; j < rin; j++)
    for (let k = 0; k < K; k++) {
      Tm[j * K + k] = UC[k * rin + j]!;
      for (let h = 0; h < H; h++) Tm[((1 + h) * rin + j) * K + k] = OVC[h]![k * rin + j]!;
    }
  const CR = new Float64Array(B * nT * M1 * rin);
  fw.forEach((f, q) => {
    const w = weights[q]!;
    for (let b = 0; b < B; b++) {
      const fb = b * P * rin;
      for (let ti = 0; ti < nT; ti++) {
        const t = T[ti]!;
        const co = (b * nT + ti) * M1 * rin;
        for (let j = 0; j < rin; j++) CR[co + j]! += w * fhat[fb + t * rin + j]!;
        for (let h = 0; h < H; h++) {
          const ab = ((b * H + h) * P + t) * P;
          const ho = co + (1 + h) * rin;
          for (let s2 = 0; s2 <= t; s2++) {
            const a = w * f.A[ab + s2]!;
            const fo = fb + s2 * rin;
            for (let j = 0; j < rin; j++) CR[ho + j]! += a * fhat[fo + j]!;
          }
        }
      }
    }
  });
  // low-rank part per (b, t): Aᵀ += Σ_q w_q Σ_s (Basis_s C⁺ᵀ ⊙ f̂[s,:])ᵀ Coef_sᵀ. The Coef column of
  // head h at s = j (basis qk_h) equals the one of (h, j) at s = t (basis kq_{h,j}), so each (h, j ≤ t)
  // is one atom: R = that column, L = w·(qk_h C⁺ᵀ ⊙ f̂[j] + kq_{h,j} C⁺ᵀ ⊙ f̂[t]). One Wasm call
  // then forms every Aᵀ and accumulates Et += A².
  const nRows = B * nT;
  const counts = new Int32Array(nRows);
  let mAll = 0;
  for (let ti = 0; ti < nT; ti++) {
    const m = H * (T[ti]! + 1) * fw.length;
    for (let b = 0; b < B; b++) counts[b * nT + ti] = m;
    mAll += B * m;
  }
  const L = new Float64Array(mAll * rin);
  const R = new Float64Array(mAll * K);
  const rs = new Float64Array(K);
  let row = 0;
  for (let b = 0; b < B; b++) {
    const fb = fhat.subarray(b * P * rin, (b + 1) * P * rin);
    for (let ti = 0; ti < nT; ti++) {
      const t = T[ti]!;
      const ft = fb.subarray(t * rin, (t + 1) * rin);
      fw.forEach((f, q) => {
        const w = weights[q]!;
        attnScoreColumns(st, f, shs[q]!, K, b, t, R, row, rs);
        for (let h = 0; h < H; h++) {
          const qk = QKC[q]![h]!;
          const kq = KQC[q]![h]!;
          const qo = (b * P + t) * rin;
          for (let j2 = 0; j2 <= t; j2++) {
            const fj = fb.subarray(j2 * rin, (j2 + 1) * rin);
            const ko = (b * P + j2) * rin;
            const dst = row * rin;
            for (let j = 0; j < rin; j++) L[dst + j] = w * (qk[qo + j]! * fj[j]! + kq[ko + j]! * ft[j]!);
            row++;
          }
        }
      });
    }
  }
  lowRankSqAcc(nRows, rin, K, Tm, false, L, R, counts, null, Et, null, { count: M1, coef: CR });
  const E = new Float64Array(K * rin);
  for (let j = 0; j < rin; j++) for (let k = 0; k < K; k++) E[k * rin + j] = Et[j * K + k]!;
  return E;
}

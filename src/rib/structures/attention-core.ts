/**
 * The attention structure's shared pieces (src/rib/structures/attention.ts, attention-mprime.ts):
 * the structure of a section, its forward cache (the section's own modules up to AttnOut), and
 * fast input cotangents for K cotangents shared by every sample (the columns of C_out placed at
 * output position t).
 *
 * For output position t, the cotangent rows U [K × dOut] give, per sample (spec App. B):
 *   X̄[s] = δ_{st}·U·Rᵀ + Σ_h A_h[t,s]·OV_h + Σ_h S̄_h[:,s] ⊗ qk_h + δ_{st}·Σ_{h,j≤t} S̄_h[:,j] ⊗ kq_{h,j}
 * with the sample-independent OV_h = U·Wo_hᵀ·Wv_hᵀ, ZO_h = U·Wo_hᵀ, and per sample
 * Ā_h[:,j] = ZO_h·v_h[j], S̄_h[:,j] = scale·A_h[t,j]·(Ā_h[:,j] − Σ_j' Ā_h[:,j']A_h[t,j']) (`softmaxVjp`; in Wasm: assembly/attnedges.ts),
 * qk_h = q_h[t]·Wk_hᵀ, kq_{h,j} = k_h[j]·Wq_hᵀ (R = I for an identity residual). So X̄[s] =
 * (scaled sums of OV_h) + Coef_s·Basis_s, one small GEMM per (sample, s) instead of K full
 * backward passes. Checked against the modules' own VJPs in test/structures.test.ts.
 */
import { gemm } from '../../linalg/index.js';
import { AttnIn, AttnOut, type Module } from '../../models/modules.js';
import { concatTup, splitTup, type Tup } from '../../models/tuple.js';
import type { Section, SectionStructure } from '../../models/types.js';

/** The attention structure of a section (src/models/structure.ts) with the modules and input widths it runs. */
export type AttnStruct = Extract<SectionStructure, { type: 'attention' }> & { mods: readonly Module[]; inW: readonly number[] };

const attnCache = new WeakMap<Section, AttnStruct | null>();

/** The attention structure of a section, or null if it is not an attention section. */
export function detectAttention(sec: Section): AttnStruct | null {
  let a = attnCache.get(sec);
  if (a === undefined) {
    const st = sec.structure;
    a = st && st.type === 'attention' ? { ...st, mods: sec.modules, inW: sec.inWidths } : null;
    attnCache.set(sec, a);
  }
  return a;
}

export interface AttnPre {
  K: number;
  U: Float64Array; // [K, dOut]
  ZO: Float64Array[]; // per head [K, dv]
  OV: Float64Array[]; // per head [K, dIn]
  /** [U, OV_1..OV_H] interleaved per element (built on first use) */
  interleaved?: Float64Array;
}

/** Sample-independent products for cotangent rows U [K × d]. */
export function attnPrecompute(st: AttnStruct, U: Float64Array, K: number): AttnPre {
  const { H, dv, dIn, dOut, Wo, Wv } = st;
  const ZO: Float64Array[] = [];
  const OV: Float64Array[] = [];
  const Wo_h = new Float64Array(dv * dOut);
  const Wv_h = new Float64Array(dIn * dv);
  for (let h = 0; h < H; h++) {
    Wo_h.set(Wo.subarray(h * dv * dOut, (h + 1) * dv * dOut));
    for (let c = 0; c < dIn; c++) for (let e = 0; e < dv; e++) Wv_h[c * dv + e] = Wv[c * H * dv + h * dv + e]!;
    const zo = gemm(false, true, K, dv, dOut, U, Wo_h, new Float64Array(K * dv));
    ZO.push(zo);
    OV.push(gemm(false, true, K, dIn, dv, zo, Wv_h, new Float64Array(K * dIn)));
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

/**
 * Runs the section's own modules on x [B, P, dIn] and keeps the AttnOut cache; stops at the
 * attention module, before its output projection, unless `full` (then `t` is the section's output
 * tuple). A section that keeps the last position only (`st.lastPos`) asks for the last query only:
 * q, the pattern and the output are 0 at the other positions, which nothing reads (the structure
 * probes the output positions only, `outputPositions`).
 */
function runAttnModules(st: AttnStruct, x: Float64Array, B: number, P: number, full: boolean): { t: Tup; cache: AttnForward } {
  let t = splitTup(x, B, P, st.inW);
  let cache: AttnForward | null = null;
  const q0 = st.lastPos ? P - 1 : 0;
  for (const m of st.mods) {
    if (m instanceof AttnOut && !full) {
      cache = m.attend(t, B, true, q0).cache; // no output projection: only the cache is used
      break;
    }
    if (m instanceof AttnOut) {
      const r = m.forward(t, B, true, q0);
      t = r.y;
      cache = r.cache;
    } else if (m instanceof AttnIn) t = m.forward(t, B, true, q0).y;
    else t = m.forward(t, B).y;
  }
  if (!cache) throw new Error('attention structure: no attn_out module');
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
  if (x.length !== B * P * st.dIn) throw new Error(`attention section: input has ${x.length} values, expected [${B}, ${P}, ${st.dIn}]`);
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


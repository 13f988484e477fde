/**
 * Matrix functions of the ablation evaluators (spec §8.3–8.4), browser-safe: edge bases, the
 * distinct row patterns of an edge mask, gathers and masked products.
 */
import { gemm } from '../../linalg/index.js';

export interface EdgeBasis {
  /** C_in [dIn, rIn], C_in⁺ [rIn, dIn], C_out [dOut, rOut], C_out⁺ [rOut, dOut] (identity when unrotated). */
  Cin: Float64Array;
  CinPinv: Float64Array;
  Cout: Float64Array;
  CoutPinv: Float64Array;
  dIn: number;
  rIn: number;
  dOut: number;
  rOut: number;
}

export interface PatternGroup {
  /** Kept input nodes (sorted). */
  keep: number[];
  /** Output rows sharing this pattern (sorted). */
  rows: number[];
}

/** Distinct row patterns of a mask [rOut, rIn] (in order of first appearance). */
export function groupPatterns(mask: Uint8Array, rOut: number, rIn: number): PatternGroup[] {
  const byKey = new Map<string, PatternGroup>();
  const out: PatternGroup[] = [];
  for (let o = 0; o < rOut; o++) {
    const row = mask.subarray(o * rIn, (o + 1) * rIn);
    let key = '';
    const keep: number[] = [];
    for (let j = 0; j < rIn; j++) if (row[j]) keep.push(j);
    key = keep.join(',');
    let g = byKey.get(key);
    if (!g) {
      g = { keep, rows: [] };
      byKey.set(key, g);
      out.push(g);
    }
    g.rows.push(o);
  }
  return out;
}

/** A[:, idx] for A [n, c] → [n, idx.length]. */
export function gatherCols(A: Float64Array, n: number, c: number, idx: readonly number[]): Float64Array {
  const k = idx.length;
  const out = new Float64Array(n * k);
  for (let i = 0; i < n; i++) {
    const ro = i * c;
    const oo = i * k;
    for (let t = 0; t < k; t++) out[oo + t] = A[ro + idx[t]!]!;
  }
  return out;
}

/** A[idx, :] for A [r, c] → [idx.length, c]. */
export function gatherRows(A: Float64Array, c: number, idx: readonly number[]): Float64Array {
  const out = new Float64Array(idx.length * c);
  idx.forEach((r, t) => out.set(A.subarray(r * c, (r + 1) * c), t * c));
  return out;
}

export function complement(keep: readonly number[], r: number): number[] {
  const s = new Set(keep);
  const out: number[] = [];
  for (let j = 0; j < r; j++) if (!s.has(j)) out.push(j);
  return out;
}

/** out[:, cols] += Y [n, cols.length] (scatter into a [n, c] matrix). */
export function scatterCols(out: Float64Array, n: number, c: number, cols: readonly number[], Y: Float64Array): void {
  const k = cols.length;
  for (let i = 0; i < n; i++) for (let t = 0; t < k; t++) out[i * c + cols[t]!]! += Y[i * k + t]!;
}

/** u[:, keep] M[keep, :] for u [n, r], M [r, c]; exactly zero when keep is empty. */
export function maskedProduct(u: Float64Array, n: number, r: number, M: Float64Array, c: number, keep: readonly number[], full?: Float64Array): Float64Array {
  const out = new Float64Array(n * c);
  const k = keep.length;
  if (k === 0) return out;
  if (full && k > r - k) {
    const drop = complement(keep, r);
    out.set(full);
    if (drop.length) gemm(false, false, n, c, drop.length, gatherCols(u, n, r, drop), gatherRows(M, c, drop), out, -1, 1);
    return out;
  }
  gemm(false, false, n, c, k, gatherCols(u, n, r, keep), gatherRows(M, c, keep), out, 1, 0);
  return out;
}

/** Greedy nearest-neighbour order of the patterns (by symmetric difference), from the full set. */
export function chainOrder(groups: PatternGroup[], r: number): PatternGroup[] {
  const sets = groups.map((g) => {
    const b = new Uint8Array(r);
    for (const j of g.keep) b[j] = 1;
    return b;
  });
  const left = groups.map((_, i) => i);
  const out: PatternGroup[] = [];
  let cur = new Uint8Array(r).fill(1);
  while (left.length) {
    let best = 0;
    let bestD = Infinity;
    for (let t = 0; t < left.length; t++) {
      const s = sets[left[t]!]!;
      let d = 0;
      for (let j = 0; j < r; j++) d += s[j]! ^ cur[j]!;
      if (d < bestD) {
        bestD = d;
        best = t;
      }
    }
    const i = left.splice(best, 1)[0]!;
    out.push(groups[i]!);
    cur = sets[i]!;
  }
  return out;
}

/** A [m, k] · B [k, n] → new [m, n] (GEMM). */
export const mm = (A: Float64Array, B: Float64Array, m: number, k: number, n: number): Float64Array =>
  gemm(false, false, m, n, k, A, B, new Float64Array(m * n), 1, 0);


/**
 * Module tuples (spec §1.1): a node layer's activation is a tuple of tensors, each [R, P, w_i]
 * (R = batch B in the forward pass, K·B for K cotangents per sample; row r belongs to sample r mod B).
 * The node-layer vector is their concatenation along the last axis, in argument order.
 */
import { gemm } from '../linalg/index.js';

export interface Tup {
  /** Positions P (shared by every part). */
  P: number;
  /** Width of each part. */
  w: number[];
  /** Each part [R, P, w_i], row-major. Never mutated once built. */
  parts: Float64Array[];
}

export const sum = (w: readonly number[]): number => w.reduce((a, b) => a + b, 0);

/** [R, P, Σw] → parts [R, P, w_i] (no copy for a single part). */
export function splitTup(x: Float64Array, R: number, P: number, w: readonly number[]): Tup {
  if (w.length === 1) return { P, w: [...w], parts: [x] };
  const D = sum(w);
  const rows = R * P;
  const parts = w.map((wi) => new Float64Array(rows * wi));
  for (let r = 0; r < rows; r++) {
    let off = r * D;
    for (let i = 0; i < w.length; i++) {
      const wi = w[i]!;
      parts[i]!.set(x.subarray(off, off + wi), r * wi);
      off += wi;
    }
  }
  return { P, w: [...w], parts };
}

/** parts → [R, P, Σw] (no copy for a single part). */
export function concatTup(t: Tup, R: number): Float64Array {
  if (t.parts.length === 1) return t.parts[0]!;
  const D = sum(t.w);
  const rows = R * t.P;
  const out = new Float64Array(rows * D);
  for (let r = 0; r < rows; r++) {
    let off = r * D;
    for (let i = 0; i < t.w.length; i++) {
      const wi = t.w[i]!;
      out.set(t.parts[i]!.subarray(r * wi, (r + 1) * wi), off);
      off += wi;
    }
  }
  return out;
}

/** x [R, P, w] → x[:, P−1, :] as [R, 1, w]. */
export function takeLastPos(x: Float64Array, R: number, P: number, w: number): Float64Array {
  if (P === 1) return x;
  const out = new Float64Array(R * w);
  for (let r = 0; r < R; r++) out.set(x.subarray((r * P + P - 1) * w, (r * P + P) * w), r * w);
  return out;
}

/** Backward of takeLastPos: g [R, 1, w] → [R, P, w] with zeros at positions < P−1. */
export function expandLastPos(g: Float64Array, R: number, P: number, w: number): Float64Array {
  if (P === 1) return g;
  const out = new Float64Array(R * P * w);
  for (let r = 0; r < R; r++) out.set(g.subarray(r * w, (r + 1) * w), (r * P + P - 1) * w);
  return out;
}

/** a + b elementwise, new array. */
export function addArrays(a: Float64Array, b: Float64Array): Float64Array {
  const out = new Float64Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i]! + b[i]!;
  return out;
}

/** X [rows, k] · W [k, n] → new [rows, n] (GEMM). */
export function matMul(X: Float64Array, rows: number, k: number, W: Float64Array, n: number): Float64Array {
  const C = new Float64Array(rows * n);
  if (rows > 0 && n > 0 && k > 0) gemm(false, false, rows, n, k, X, W, C, 1, 0);
  return C;
}

/**
 * X [B, P, k] · W [k, n] at positions ≥ p0 only → new [B, P, n], 0 at the positions before p0.
 * p0 = 0 is `matMul`. A GEMM's rows do not depend on the other rows, so the rows computed are the
 * same bits as in the full product.
 */
export function matMulFrom(X: Float64Array, B: number, P: number, p0: number, k: number, W: Float64Array, n: number): Float64Array {
  if (p0 === 0) return matMul(X, B * P, k, W, n);
  const m = P - p0;
  const Xs = new Float64Array(B * m * k);
  for (let b = 0; b < B; b++) Xs.set(X.subarray((b * P + p0) * k, (b + 1) * P * k), b * m * k);
  const Ys = matMul(Xs, B * m, k, W, n);
  const Y = new Float64Array(B * P * n);
  for (let b = 0; b < B; b++) Y.set(Ys.subarray(b * m * n, (b + 1) * m * n), (b * P + p0) * n);
  return Y;
}

/**
 * G [rows, n] · Wᵀ (W [k, n]) → new [rows, k], or accumulated into `into` (GEMM). Rows of G that
 * are entirely zero (e.g. cotangents at positions a last-position selection dropped) are skipped:
 * when at least a quarter of them are zero, the non-zero rows are packed, multiplied and scattered.
 */
export function matMulT(G: Float64Array, rows: number, n: number, W: Float64Array, k: number, into?: Float64Array): Float64Array {
  const C = into ?? new Float64Array(rows * k);
  if (rows === 0 || n === 0 || k === 0) return C;
  const nz: number[] = [];
  for (let r = 0; r < rows; r++) {
    const o = r * n;
    for (let j = 0; j < n; j++) {
      if (G[o + j] !== 0) {
        nz.push(r);
        break;
      }
    }
  }
  if (nz.length === rows || nz.length > 0.75 * rows) {
    gemm(false, true, rows, k, n, G, W, C, 1, into ? 1 : 0);
    return C;
  }
  if (nz.length === 0) return C;
  const Gp = new Float64Array(nz.length * n);
  nz.forEach((r, i) => Gp.set(G.subarray(r * n, (r + 1) * n), i * n));
  const Cp = new Float64Array(nz.length * k);
  gemm(false, true, nz.length, k, n, Gp, W, Cp, 1, 0);
  nz.forEach((r, i) => {
    const o = r * k;
    for (let j = 0; j < k; j++) C[o + j]! += Cp[i * k + j]!;
  });
  return C;
}

/**
 * Discrete Fourier transforms for the mod-add labels (browser-safe).
 *
 * The modulus (113) is prime, so instead of a radix-2 FFT we use the exact DFT as two matrix
 * products with cos/sin tables (Wasm cos/sin from src/linalg, arguments reduced mod n first):
 *   F[kx, ky, :] = Σ_x Σ_y e^{-2πi (kx·x + ky·y)/n} X[x, y, :]
 * which is what numpy/torch `fft2(X, axes=(0, 1))` returns.
 */
import { cos, sin, gemm } from '../linalg/index.js';

/** cos and sin tables [n, n]: C[k, t] = cos(2π·(k·t mod n)/n), S likewise. */
export function dftTables(n: number): { C: Float64Array; S: Float64Array } {
  const C = new Float64Array(n * n);
  const S = new Float64Array(n * n);
  const c1 = new Float64Array(n);
  const s1 = new Float64Array(n);
  for (let m = 0; m < n; m++) {
    const ang = (2 * Math.PI * m) / n;
    c1[m] = cos(ang);
    s1[m] = sin(ang);
  }
  for (let k = 0; k < n; k++) {
    for (let t = 0; t < n; t++) {
      const m = (k * t) % n;
      C[k * n + t] = c1[m]!;
      S[k * n + t] = s1[m]!;
    }
  }
  return { C, S };
}

/**
 * 2-D DFT over the first two axes of a real array X [n, n, r] (row-major).
 * Returns re, im [n, n, r].
 */
export function dft2Real(X: Float64Array, n: number, r: number): { re: Float64Array; im: Float64Array } {
  if (X.length !== n * n * r) throw new Error(`dft2Real: expected ${n}×${n}×${r} values, got ${X.length}`);
  const { C, S } = dftTables(n);
  const cols = n * r;
  // over x: Z = W X, W = C − iS  (X real) → Zre = C X, Zim = −S X
  const Zre = gemm(false, false, n, cols, n, C, X, new Float64Array(n * cols), 1, 0);
  const Zim = gemm(false, false, n, cols, n, S, X, new Float64Array(n * cols), -1, 0);
  // over y for every kx: F[kx] = W Z[kx]  → Fre = C Zre + S Zim, Fim = C Zim − S Zre
  const re = new Float64Array(n * cols);
  const im = new Float64Array(n * cols);
  for (let kx = 0; kx < n; kx++) {
    const o = kx * cols;
    const zr = Zre.subarray(o, o + cols);
    const zi = Zim.subarray(o, o + cols);
    const fr = re.subarray(o, o + cols);
    const fi = im.subarray(o, o + cols);
    gemm(false, false, n, r, n, C, zr, fr, 1, 0);
    gemm(false, false, n, r, n, S, zi, fr, 1, 1);
    gemm(false, false, n, r, n, C, zi, fi, 1, 0);
    gemm(false, false, n, r, n, S, zr, fi, -1, 1);
  }
  return { re, im };
}

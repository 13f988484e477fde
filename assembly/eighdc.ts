// Symmetric eigendecomposition, Level-3 path: blocked Householder tridiagonalisation
// (tridiag.ts), divide and conquer on the tridiagonal (dc.ts), and the back-transformation of the
// eigenvectors with the reflectors in blocks (compact WY form, three GEMMs per block).
import { tridiagBlocked, tridiagWork } from './tridiag';
import { tridiagDC, dcWork } from './dc';
import { buildVT } from './householder';
import { gemm, gemmWork } from './gemm';
import { maxAbs, scaleExp, scalePow2 } from './vec';

/** Reflectors per block in the back-transformation. */
export const NBQ: i32 = 32;

function backWork(n: i32): i32 {
  return NBQ * n + NBQ * NBQ + 2 * NBQ * n + gemmWork(n, n) + 64;
}

/** Scratch (f64 entries) of eighDC for order n. */
export function eighDCWork(n: i32): i32 {
  return 2 * n + 16 + max(tridiagWork(n), max(dcWork(n), backWork(n)));
}

/**
 * A[n×n] symmetric (both triangles given; overwritten). On return d[n] holds the eigenvalues
 * ascending and row i of Vt[n×n] the unit eigenvector of d[i]. Returns 0, or −1 if a QL leaf of
 * the divide and conquer did not converge.
 */
export function eighDC(pA: usize, n: i32, pD: usize, pVt: usize, work: usize): i32 {
  const nn = <usize>n * <usize>n;
  const amax = maxAbs(pA, <i32>nn);
  if (amax == 0.0) {
    memory.fill(pD, 0, <usize>n << 3);
    memory.fill(pVt, 0, nn << 3);
    for (let i = 0; i < n; i++) store<f64>(pVt + ((<usize>i * <usize>n + <usize>i) << 3), 1.0);
    return 0;
  }
  const k = scaleExp(amax);
  scalePow2(pA, <i32>nn, k);
  const pE = work;
  const pTau = pE + (<usize>n << 3);
  const ws = pTau + (<usize>(n + 16) << 3);
  tridiagBlocked(pA, n, pD, pE, pTau, ws);
  const rc = tridiagDC(n, pD, pE, pVt, ws);
  if (rc != 0) return rc;
  backTransform(pA, n, pTau, pVt, ws);
  scalePow2(pD, n, -k);
  return 0;
}

/**
 * Eigenpairs of the symmetric tridiagonal (d[n], e[n]; e[k] couples k and k+1, e[n−1] unused) by
 * divide and conquer, scaled by a power of two first. d: eigenvalues ascending, row i of Vt the
 * eigenvector of d[i]; e destroyed. work: dcWork(n). Returns 0, or −1 (a leaf did not converge).
 */
export function eighTridiag(n: i32, pD: usize, pE: usize, pVt: usize, work: usize): i32 {
  const amax = max(maxAbs(pD, n), maxAbs(pE, n - 1));
  if (amax == 0.0) return tridiagDC(n, pD, pE, pVt, work);
  const k = scaleExp(amax);
  scalePow2(pD, n, k);
  scalePow2(pE, n - 1, k);
  const rc = tridiagDC(n, pD, pE, pVt, work);
  scalePow2(pD, n, -k);
  return rc;
}

/**
 * Blocked tridiagonalisation alone (see tridiagBlocked), with the same power-of-two scaling as
 * eighDC so that entries near the float64 limits neither overflow nor underflow; work:
 * tridiagWork(n).
 */
export function tridiagonalize(pA: usize, n: i32, pD: usize, pE: usize, pTau: usize, work: usize): void {
  const nn = n * n;
  const amax = maxAbs(pA, nn);
  const k = amax > 0 ? scaleExp(amax) : 0;
  scalePow2(pA, nn, k);
  tridiagBlocked(pA, n, pD, pE, pTau, work);
  scalePow2(pD, n, -k);
  scalePow2(pE, n, -k);
}

/**
 * Vt ← Vt·Qᵀ, Q = H_0 ⋯ H_{n−3} (reflectors in the rows of A as tridiagBlocked leaves them): the
 * rows of Vt, eigenvectors of T, become eigenvectors of A. Blocks of NBQ reflectors from the last
 * one: with B = I − V T Vᵀ, Vt·Bᵀ = Vt − ((Vt V) Tᵀ) Vᵀ.
 */
function backTransform(pA: usize, n: i32, pTau: usize, pVt: usize, work: usize): void {
  const nref = n - 2;
  if (nref <= 0) return;
  const m = n - 1;
  const Vh = work;
  const T = Vh + (<usize>NBQ * <usize>n << 3);
  const Y = T + (<usize>(NBQ * NBQ) << 3);
  const Z = Y + (<usize>NBQ * <usize>n << 3);
  const gw = Z + (<usize>NBQ * <usize>n << 3);
  const nblk = (nref + NBQ - 1) / NBQ;
  for (let b = nblk - 1; b >= 0; b--) {
    const j0 = b * NBQ;
    const nb = min(NBQ, nref - j0);
    const mm = m - j0;
    buildVT(pA + 8, n, m, j0, nb, pTau, Vh, T);
    const X = pVt + (<usize>(j0 + 1) << 3);
    gemm(false, true, n, nb, mm, X, n, false, Vh, mm, false, Y, nb, 1.0, 0.0, gw);
    gemm(false, true, n, nb, nb, Y, nb, false, T, nb, false, Z, nb, 1.0, 0.0, gw);
    gemm(false, false, n, mm, nb, Z, nb, false, Vh, mm, false, X, n, -1.0, 1.0, gw);
  }
}

// Thin SVD by one-sided Jacobi with Householder QR preconditioning (Drmač–Veselić style: Jacobi on
// the rows of R, i.e. the columns of Rᵀ), f64.
import { dot, axpy, rot, maxAbs, scaleExp, scalePow2 } from './vec';
import { gemm, gemmWork } from './gemm';
import { eighDC, eighDCWork } from './eighdc';
import { buildVT, NB } from './householder';

const EPS: f64 = 2.220446049250313e-16;

// @ts-ignore: decorator
@inline function at(p: usize, ld: i32, i: i32, j: i32): usize {
  return p + ((<usize>i * <usize>ld + <usize>j) << 3);
}

/** Workspace in f64 for svd(m, n). */
export function svdWork(m: i32, n: i32): i32 {
  const mx = max(m, n);
  return m * n /*At*/ + 3 * n * n /*X, W, G*/ + 9 * n + gemmWork(mx, mx) + NB * m + NB * NB + 2 * NB * mx + eighDCWork(n) + 256;
}

/**
 * A[m×n] (m ≥ n ≥ 1), overwritten. Outputs: U[m×n] (row-major), S[n] descending, V[n×n]
 * (row-major, column k = right singular vector k). Returns sweeps used, or -1 if not converged.
 */
export function svd(pA: usize, m: i32, n: i32, pU: usize, pS: usize, pV: usize, work: usize): i32 {
  const At = work;
  const X = At + (<usize>m * <usize>n << 3);
  const W = X + (<usize>n * <usize>n << 3);
  const tau = W + (<usize>n * <usize>n << 3);
  const nrm = tau + (<usize>n << 3);
  const perm = nrm + (<usize>n << 3); // stored as f64 indices
  const tmp = perm + (<usize>n << 3);
  const G = tmp + (<usize>n << 3); // n×n
  const stamp = G + (<usize>n * <usize>n << 3); // n (f64)
  const ew = stamp + (<usize>n << 3); // 3n scratch for eigh (tau n, p 2n)
  const gw = ew + (<usize>(3 * n + 32) << 3); // gemm work
  const Vt = gw + (<usize>gemmWork(max(n, m), max(n, m)) << 3); // NB × m
  const T = Vt + (<usize>NB * <usize>m << 3); // NB × NB
  const Y = T + (<usize>NB * NB << 3); // max(n, m) × NB
  const Z = Y + (<usize>NB * <usize>max(n, m) << 3); // max(n, m) × NB
  const eighWork = Z + (<usize>NB * <usize>max(n, m) << 3); // eighDCWork(n)
  // transpose A → At (n×m): row j of At = column j of A
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) store<f64>(at(At, m, j, i), load<f64>(at(pA, n, i, j)));
  const amax = maxAbs(At, m * n);
  let k = 0;
  if (amax > 0) { k = scaleExp(amax); scalePow2(At, m * n, k); }
  // Householder QR on the rows of At (= columns of A), blocked: panels of NB reflectors are
  // factorised row by row, the trailing rows are updated with the compact WY form via GEMM.
  for (let j0 = 0; j0 < n; j0 += NB) {
    const j1 = min(n, j0 + NB);
    for (let j = j0; j < j1; j++) {
      const px = at(At, m, j, j);
      const L = m - j;
      const alpha = load<f64>(px);
      let xn2: f64 = 0;
      for (let i = 1; i < L; i++) { const v = load<f64>(px + (<usize>i << 3)); xn2 += v * v; }
      let t: f64 = 0;
      if (xn2 != 0.0) {
        const nr = Math.sqrt(alpha * alpha + xn2);
        const beta = alpha >= 0 ? -nr : nr;
        t = (beta - alpha) / beta;
        const sc = 1.0 / (alpha - beta);
        for (let i = 1; i < L; i++) { const o = px + (<usize>i << 3); store<f64>(o, load<f64>(o) * sc); }
        store<f64>(px, 1.0);
        for (let r = j + 1; r < j1; r++) {
          const py = at(At, m, r, j);
          const s = dot(px, py, L);
          axpy(-t * s, px, py, L);
        }
        store<f64>(px, beta);
      }
      store<f64>(tau + (<usize>j << 3), t);
    }
    if (j1 < n) {
      // A_tr ← Q_bᵀ A_tr with Q_b = H_j0 ⋯ H_j1−1 = I − V T Vᵀ; on the rows of At (= A_trᵀ) this is
      // At_tr ← At_tr·Q_b = At_tr − ((At_tr·V)·T)·Vᵀ
      const nb = j1 - j0;
      const mm = m - j0;
      buildVT(At, m, m, j0, nb, tau, Vt, T);
      const rows = n - j1;
      const Atr = at(At, m, j1, j0);
      // Y[rows×nb] = At_tr · Vtᵀ
      gemm(false, true, rows, nb, mm, Atr, m, false, Vt, mm, false, Y, nb, 1.0, 0.0, gw);
      // Z = Y · T
      gemm(false, false, rows, nb, nb, Y, nb, false, T, nb, false, Z, nb, 1.0, 0.0, gw);
      gemm(false, false, rows, mm, nb, Z, nb, false, Vt, mm, false, Atr, m, -1.0, 1.0, gw);
    }
  }
  // X = R (upper triangular): R[j][i] = At[i][j] for i ≥ j
  memory.fill(X, 0, <usize>n * <usize>n << 3);
  for (let j = 0; j < n; j++) for (let i = j; i < n; i++) store<f64>(at(X, n, j, i), load<f64>(at(At, m, i, j)));
  // Precondition: W0 = eigenvectors of X·Xᵀ (rows), X ← W0·X makes the rows nearly orthogonal so
  // that the Jacobi sweeps below start in their quadratically convergent regime. W starts at W0.
  let precond = n >= 16;
  if (precond) {
    gemm(false, true, n, n, n, X, n, false, X, n, false, G, n, 1.0, 0.0, gw);
    if (eighDC(G, n, tmp, W, eighWork) != 0) precond = false;
  }
  if (precond) {
    gemm(false, false, n, n, n, W, n, false, X, n, false, G, n, 1.0, 0.0, gw);
    memory.copy(X, G, <usize>n * <usize>n << 3);
  } else {
    memory.fill(W, 0, <usize>n * <usize>n << 3);
    for (let i = 0; i < n; i++) store<f64>(at(W, n, i, i), 1.0);
  }
  // one-sided Jacobi on the rows of X, accumulating the same rotations in W
  const tol: f64 = min(EPS * max(<f64>n, 8.0), 1e-13);
  const tiny: f64 = 1e-300;
  for (let i = 0; i < n; i++) {
    store<f64>(nrm + (<usize>i << 3), dot(at(X, n, i, 0), at(X, n, i, 0), n));
    store<f64>(stamp + (<usize>i << 3), 0);
  }
  let sweeps = 0;
  let converged = false;
  while (sweeps < 80) {
    sweeps++;
    const old = <f64>(sweeps - 1);
    const now = <f64>sweeps;
    let rotated = 0;
    for (let p = 0; p < n - 1; p++) {
      const xp = at(X, n, p, 0);
      for (let q = p + 1; q < n; q++) {
        // both rows unchanged since this pair was last found orthogonal: skip
        if (load<f64>(stamp + (<usize>p << 3)) < old && load<f64>(stamp + (<usize>q << 3)) < old) continue;
        const a = load<f64>(nrm + (<usize>p << 3));
        const b = load<f64>(nrm + (<usize>q << 3));
        if (a < tiny || b < tiny) continue;
        const xq = at(X, n, q, 0);
        const c = dot(xp, xq, n);
        if (Math.abs(c) <= tol * Math.sqrt(a) * Math.sqrt(b)) continue;
        rotated++;
        const zeta = (b - a) / (2.0 * c);
        const t = (zeta >= 0 ? 1.0 : -1.0) / (Math.abs(zeta) + Math.sqrt(1.0 + zeta * zeta));
        const cs = 1.0 / Math.sqrt(1.0 + t * t);
        const sn = cs * t;
        rot(xp, xq, n, cs, sn);
        rot(at(W, n, p, 0), at(W, n, q, 0), n, cs, sn);
        store<f64>(nrm + (<usize>p << 3), max(0.0, a - t * c));
        store<f64>(nrm + (<usize>q << 3), b + t * c);
        store<f64>(stamp + (<usize>p << 3), now);
        store<f64>(stamp + (<usize>q << 3), now);
      }
    }
    // refresh norms exactly to stop drift
    for (let i = 0; i < n; i++) store<f64>(nrm + (<usize>i << 3), dot(at(X, n, i, 0), at(X, n, i, 0), n));
    if (rotated == 0) { converged = true; break; }
  }
  // singular values and ordering (descending, stable)
  for (let i = 0; i < n; i++) {
    store<f64>(tmp + (<usize>i << 3), Math.sqrt(load<f64>(nrm + (<usize>i << 3))));
    store<f64>(perm + (<usize>i << 3), <f64>i);
  }
  for (let i = 1; i < n; i++) { // insertion sort on indices
    const pi = load<f64>(perm + (<usize>i << 3));
    const v = load<f64>(tmp + (<usize>(<i32>pi) << 3));
    let j = i - 1;
    while (j >= 0 && load<f64>(tmp + (<usize>(<i32>load<f64>(perm + (<usize>j << 3))) << 3)) < v) {
      store<f64>(perm + (<usize>(j + 1) << 3), load<f64>(perm + (<usize>j << 3)));
      j--;
    }
    store<f64>(perm + (<usize>(j + 1) << 3), pi);
  }
  const smax = load<f64>(tmp + (<usize>(<i32>load<f64>(perm)) << 3));
  const zeroTol = smax * 1e-200 + 1e-290;
  // V (n×n): column kk = X[perm kk] / σ, written transposed (as rows) into pV first; zero rows are
  // completed to an orthonormal basis, then pV is transposed in place.
  let nz = 0;
  for (let kk = 0; kk < n; kk++) {
    const p = <i32>load<f64>(perm + (<usize>kk << 3));
    const s = load<f64>(tmp + (<usize>p << 3));
    const dst = at(pV, n, kk, 0);
    if (s > zeroTol) {
      const inv = 1.0 / s;
      for (let i = 0; i < n; i++) store<f64>(dst + (<usize>i << 3), load<f64>(at(X, n, p, i)) * inv);
      store<f64>(pS + (<usize>kk << 3), s);
      nz = kk + 1;
    } else {
      store<f64>(pS + (<usize>kk << 3), 0);
      memory.fill(dst, 0, <usize>n << 3);
    }
  }
  // complete rows nz..n-1 of Vt with unit vectors orthogonalised against the previous rows
  let cand = 0;
  for (let kk = nz; kk < n; kk++) {
    const dst = at(pV, n, kk, 0);
    while (cand < n) {
      memory.fill(dst, 0, <usize>n << 3);
      store<f64>(dst + (<usize>cand << 3), 1.0);
      cand++;
      for (let pass = 0; pass < 2; pass++) {
        for (let r = 0; r < kk; r++) {
          const pr = at(pV, n, r, 0);
          axpy(-dot(pr, dst, n), pr, dst, n);
        }
      }
      const nn = Math.sqrt(dot(dst, dst, n));
      if (nn > 0.5) {
        for (let i = 0; i < n; i++) store<f64>(dst + (<usize>i << 3), load<f64>(dst + (<usize>i << 3)) / nn);
        break;
      }
    }
  }
  // transpose pV in place → column kk = right vector kk
  for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) {
    const a = at(pV, n, i, j), b = at(pV, n, j, i);
    const t = load<f64>(a); store<f64>(a, load<f64>(b)); store<f64>(b, t);
  }
  // U = Q · [Wpᵀ; 0], Wp = rows of W in perm order. U row-major m×n.
  memory.fill(pU, 0, <usize>m * <usize>n << 3);
  for (let kk = 0; kk < n; kk++) {
    const p = <i32>load<f64>(perm + (<usize>kk << 3));
    for (let r = 0; r < n; r++) store<f64>(at(pU, n, r, kk), load<f64>(at(W, n, p, r)));
  }
  applyQ(At, m, n, tau, pU, Vt, T, Y, Z, gw);
  // undo scaling
  if (amax > 0) scalePow2(pS, n, -k);
  return converged ? sweeps : -1;
}

/**
 * U[m×n] ← H_0 ⋯ H_{n−1} U, reflector j in row j of At (v[j] = 1, v[i] = At[j][i] for i > j),
 * applied in blocks of NB backwards with the compact WY form (U_b −= V·(T·(Vᵀ·U_b))).
 */
function applyQ(At: usize, m: i32, n: i32, tau: usize, pU: usize, Vt: usize, T: usize, Y: usize, Z: usize, gw: usize): void {
  const nblk = (n + NB - 1) / NB;
  for (let b = nblk - 1; b >= 0; b--) {
    const j0 = b * NB;
    const nb = min(NB, n - j0);
    const mm = m - j0;
    buildVT(At, m, m, j0, nb, tau, Vt, T);
    const Ub = pU + (<usize>j0 * <usize>n << 3);
    gemm(false, false, nb, n, mm, Vt, mm, false, Ub, n, false, Y, n, 1.0, 0.0, gw); // Y = Vᵀ U_b
    gemm(false, false, nb, n, nb, T, nb, false, Y, n, false, Z, n, 1.0, 0.0, gw); // Z = T Y
    gemm(true, false, mm, n, nb, Vt, mm, false, Z, n, false, Ub, n, -1.0, 1.0, gw); // U_b −= V Z
  }
}

// Thin SVD by one-sided Jacobi with Householder QR preconditioning (Drmač–Veselić style: Jacobi on
// the rows of R, i.e. the columns of Rᵀ), f64.
import { dot, axpy, rot, maxAbs, scaleExp, scalePow2 } from './vec';

const EPS: f64 = 2.220446049250313e-16;

// @ts-ignore: decorator
@inline function at(p: usize, ld: i32, i: i32, j: i32): usize {
  return p + ((<usize>i * <usize>ld + <usize>j) << 3);
}

/** Workspace in f64 for svd(m, n). */
export function svdWork(m: i32, n: i32): i32 {
  return m * n /*At*/ + 2 * n * n /*X, W*/ + 4 * n + 16 * m + 64;
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
  const slab = tmp + (<usize>n << 3); // 16·m
  // transpose A → At (n×m): row j of At = column j of A
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) store<f64>(at(At, m, j, i), load<f64>(at(pA, n, i, j)));
  const amax = maxAbs(At, m * n);
  let k = 0;
  if (amax > 0) { k = scaleExp(amax); scalePow2(At, m * n, k); }
  // Householder QR on the rows of At (= columns of A)
  for (let j = 0; j < n; j++) {
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
      for (let r = j + 1; r < n; r++) {
        const py = at(At, m, r, j);
        const s = dot(px, py, L);
        axpy(-t * s, px, py, L);
      }
      store<f64>(px, beta);
    }
    store<f64>(tau + (<usize>j << 3), t);
  }
  // X = R (upper triangular): R[j][i] = At[i][j] for i ≥ j
  memory.fill(X, 0, <usize>n * <usize>n << 3);
  for (let j = 0; j < n; j++) for (let i = j; i < n; i++) store<f64>(at(X, n, j, i), load<f64>(at(At, m, i, j)));
  memory.fill(W, 0, <usize>n * <usize>n << 3);
  for (let i = 0; i < n; i++) store<f64>(at(W, n, i, i), 1.0);
  // one-sided Jacobi on the rows of X, accumulating the same rotations in W
  const tol: f64 = EPS * max(<f64>n, 8.0);
  const tiny: f64 = 1e-300;
  for (let i = 0; i < n; i++) store<f64>(nrm + (<usize>i << 3), dot(at(X, n, i, 0), at(X, n, i, 0), n));
  let sweeps = 0;
  let converged = false;
  while (sweeps < 80) {
    sweeps++;
    let rotated = 0;
    for (let p = 0; p < n - 1; p++) {
      const xp = at(X, n, p, 0);
      for (let q = p + 1; q < n; q++) {
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
  // V (n×n): column kk = X[perm kk] / σ; zero rows are completed to an orthonormal basis below.
  // Build Vt (rows = right vectors) in X's rows order, reuse At? Write rows into W2 = tmp area is small,
  // so write V transposed directly into pV as rows then transpose at the end.
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
  applyQ(At, m, n, tau, pU, slab);
  // undo scaling
  if (amax > 0) scalePow2(pS, n, -k);
  return converged ? sweeps : -1;
}

/** U[m×n] ← H_0 ⋯ H_{n−1} U, reflector j in row j of At (v[j] = 1 implicit, v[i] = At[j][i], i > j). */
function applyQ(At: usize, m: i32, n: i32, tau: usize, pU: usize, slab: usize): void {
  const SW = 16;
  for (let c0 = 0; c0 < n; c0 += SW) {
    const w = min(SW, n - c0);
    for (let j = n - 1; j >= 0; j--) {
      const t = load<f64>(tau + (<usize>j << 3));
      if (t == 0.0) continue;
      const pv = at(At, m, j, 0);
      memory.fill(slab, 0, <usize>w << 3);
      axpy(1.0, at(pU, n, j, c0), slab, w);
      for (let i = j + 1; i < m; i++) axpy(load<f64>(pv + (<usize>i << 3)), at(pU, n, i, c0), slab, w);
      axpy(-t, slab, at(pU, n, j, c0), w);
      for (let i = j + 1; i < m; i++) axpy(-t * load<f64>(pv + (<usize>i << 3)), slab, at(pU, n, i, c0), w);
    }
  }
}

// Cyclic two-sided Jacobi eigensolver with the relative off-diagonal test
// |a_pq| ≤ ε·sqrt(|a_pp·a_qq|) (Demmel–Veselić), f64. Unlike tridiagonal QL (eigh), which resolves
// eigenvalues only to ~ε·‖A‖ absolute, it resolves the small eigenvalues of graded (near-)semidefinite
// matrices to high relative accuracy. Every rotation uses the same scalar operations as a plain
// scalar implementation (the SIMD row updates are lane-wise c·x − s·y, s·x + c·y, no fused ops), so
// results do not depend on vectorisation.

import { rot } from './vec';

const EPS: f64 = 2.220446049250313e-16;

/**
 * A[n×n] symmetric, full storage (overwritten: its diagonal holds the eigenvalues, unsorted).
 * Vt[n×n] is set to the identity and receives the eigenvectors as rows (row k ↔ A[k,k]).
 * Returns the number of sweeps used (≥ 1), or -1 when it did not converge in maxSweeps.
 */
export function eighJacobi(pA: usize, n: i32, pVt: usize, maxSweeps: i32): i32 {
  const nn = <usize>n * <usize>n;
  memory.fill(pVt, 0, nn << 3);
  for (let i = 0; i < n; i++) store<f64>(pVt + ((<usize>i * <usize>n + <usize>i) << 3), 1.0);
  const rowBytes = <usize>n << 3;
  for (let sweep = 0; sweep < maxSweeps; sweep++) {
    let rotated = false;
    for (let p = 0; p < n - 1; p++) {
      const pr = pA + <usize>p * rowBytes;
      for (let q = p + 1; q < n; q++) {
        const qr = pA + <usize>q * rowBytes;
        const apq = load<f64>(pr + (<usize>q << 3));
        if (apq == 0.0) continue;
        const app = load<f64>(pr + (<usize>p << 3));
        const aqq = load<f64>(qr + (<usize>q << 3));
        if (Math.abs(apq) <= EPS * Math.sqrt(Math.abs(app * aqq))) continue;
        rotated = true;
        const theta = (aqq - app) / (2 * apq);
        const t = (theta >= 0 ? 1.0 : -1.0) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        // A ← Jᵀ A J: rows p, q, then mirror them into columns p, q. Rows above p are not read
        // again in this sweep, so they are skipped here and refreshed from the (current) lower
        // triangle at the end of the sweep: the same values as mirroring into every row.
        rot(pr, qr, n, c, s);
        for (let k = p; k < n; k++) {
          const rk = pA + <usize>k * rowBytes;
          store<f64>(rk + (<usize>p << 3), load<f64>(pr + (<usize>k << 3)));
          store<f64>(rk + (<usize>q << 3), load<f64>(qr + (<usize>k << 3)));
        }
        store<f64>(pr + (<usize>p << 3), app - t * apq);
        store<f64>(qr + (<usize>q << 3), aqq + t * apq);
        store<f64>(pr + (<usize>q << 3), 0);
        store<f64>(qr + (<usize>p << 3), 0);
        rot(pVt + <usize>p * rowBytes, pVt + <usize>q * rowBytes, n, c, s);
      }
    }
    for (let k = 0; k < n - 1; k++) {
      const rk = pA + <usize>k * rowBytes;
      for (let j = k + 1; j < n; j++) store<f64>(rk + (<usize>j << 3), load<f64>(pA + <usize>j * rowBytes + (<usize>k << 3)));
    }
    if (!rotated) return sweep + 1;
  }
  return -1;
}

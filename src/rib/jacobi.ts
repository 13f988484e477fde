/**
 * Cyclic two-sided Jacobi eigensolver with the relative off-diagonal test
 * |a_pq| ≤ ε·sqrt(|a_pp·a_qq|) (Demmel–Veselić). Unlike tridiagonal QL, which only resolves
 * eigenvalues to ~ε·‖A‖ absolute, it resolves the small eigenvalues of graded (near-)semidefinite
 * matrices — the Grams and M matrices of the LIB build, whose spectra span 20+ orders of magnitude
 * and are truncated at 1e-15 — to high relative accuracy, as LAPACK does on the reference's side.
 *
 * Returns values in descending (signed) order, vectors n×n row-major with eigenvector k in column k
 * (the same contract as src/linalg eigh).
 */
const EPS = 2.220446049250313e-16;

export function jacobiEighPrecise(A: Float64Array, n: number, maxSweeps = 60): { values: Float64Array; vectors: Float64Array } {
  const a = Float64Array.from(A);
  for (let i = 0; i < a.length; i++) {
    if (!Number.isFinite(a[i]!)) throw new Error(`eigendecompose: non-finite entry at [${Math.floor(i / n)}, ${i % n}]`);
  }
  // V stored transposed (row k = eigenvector k) so rotations touch contiguous rows
  const vt = new Float64Array(n * n);
  for (let i = 0; i < n; i++) vt[i * n + i] = 1;
  for (let sweep = 0; sweep < maxSweeps; sweep++) {
    let rotated = false;
    for (let p = 0; p < n - 1; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = a[p * n + q]!;
        if (apq === 0) continue;
        const app = a[p * n + p]!;
        const aqq = a[q * n + q]!;
        if (Math.abs(apq) <= EPS * Math.sqrt(Math.abs(app * aqq))) {
          // negligible relative to both diagonal entries
          continue;
        }
        rotated = true;
        const theta = (aqq - app) / (2 * apq);
        const t = (theta >= 0 ? 1 : -1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        // A ← Jᵀ A J on rows/cols p, q (A symmetric: update rows, mirror to columns)
        const pr = p * n;
        const qr = q * n;
        for (let k = 0; k < n; k++) {
          const akp = a[pr + k]!;
          const akq = a[qr + k]!;
          a[pr + k] = c * akp - s * akq;
          a[qr + k] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          a[k * n + p] = a[pr + k]!;
          a[k * n + q] = a[qr + k]!;
        }
        a[pr + p] = app - t * apq;
        a[qr + q] = aqq + t * apq;
        a[pr + q] = 0;
        a[qr + p] = 0;
        for (let k = 0; k < n; k++) {
          const vp = vt[pr + k]!;
          const vq = vt[qr + k]!;
          vt[pr + k] = c * vp - s * vq;
          vt[qr + k] = s * vp + c * vq;
        }
      }
    }
    if (!rotated) break;
    if (sweep === maxSweeps - 1) throw new Error(`eigendecompose: Jacobi did not converge in ${maxSweeps} sweeps (n=${n})`);
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((x, y) => a[y * n + y]! - a[x * n + x]! || x - y);
  const values = new Float64Array(n);
  const vectors = new Float64Array(n * n);
  for (let k = 0; k < n; k++) {
    const src = order[k]!;
    values[k] = a[src * n + src]!;
    for (let r = 0; r < n; r++) vectors[r * n + k] = vt[src * n + r]!;
  }
  return { values, vectors };
}

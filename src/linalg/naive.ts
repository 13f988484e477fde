// Plain-TS reference implementations (tests and benchmark baselines). Straightforward loops, no
// blocking: correct and deliberately simple.

/** C[m×n] = beta·C + alpha·op(A)·op(B) (row-major; A is k×m when transA, B is n×k when transB). */
export function naiveGemm(
  transA: boolean, transB: boolean, m: number, n: number, k: number,
  A: ArrayLike<number>, B: ArrayLike<number>, C: Float64Array, alpha = 1, beta = 1,
): Float64Array {
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) {
        const a = transA ? A[p * m + i]! : A[i * k + p]!;
        const b = transB ? B[j * k + p]! : B[p * n + j]!;
        s += a * b;
      }
      C[i * n + j] = beta * C[i * n + j]! + alpha * s;
    }
  }
  return C;
}

/** G[d×d] += alpha·XᵀX for X[n×d]; row-streaming i-k-j loop order (the usual naive TS Gram). */
export function naiveSyrk(X: ArrayLike<number>, n: number, d: number, G?: Float64Array, alpha = 1): Float64Array {
  const out = G ?? new Float64Array(d * d);
  const acc = new Float64Array(d * d);
  for (let r = 0; r < n; r++) {
    const o = r * d;
    for (let i = 0; i < d; i++) {
      const xi = X[o + i]!;
      if (xi === 0) continue;
      const row = i * d;
      for (let j = i; j < d; j++) acc[row + j] += xi * X[o + j]!;
    }
  }
  for (let i = 0; i < d; i++) {
    for (let j = i; j < d; j++) {
      const v = alpha * acc[i * d + j]!;
      out[i * d + j] += v;
      if (j !== i) out[j * d + i] += v;
    }
  }
  return out;
}

/**
 * Cyclic two-sided Jacobi eigendecomposition of a symmetric A[n×n]: values descending, vectors
 * column-wise (row-major n×n). Slow (O(n³) per sweep) but simple and accurate.
 */
export function jacobiEigh(A: ArrayLike<number>, n: number): { values: Float64Array; vectors: Float64Array } {
  const a = Float64Array.from(A as ArrayLike<number>);
  const v = new Float64Array(n * n);
  for (let i = 0; i < n; i++) v[i * n + i] = 1;
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    let tot = 0;
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
      const x = a[i * n + j]! * a[i * n + j]!;
      tot += x;
      if (i !== j) off += x;
    }
    if (off <= 1e-30 * tot || off === 0) break;
    for (let p = 0; p < n - 1; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = a[p * n + q]!;
        if (apq === 0) continue;
        const app = a[p * n + p]!;
        const aqq = a[q * n + q]!;
        const theta = (aqq - app) / (2 * apq);
        const t = (theta >= 0 ? 1 : -1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) { // columns p, q
          const akp = a[k * n + p]!, akq = a[k * n + q]!;
          a[k * n + p] = c * akp - s * akq;
          a[k * n + q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) { // rows p, q
          const apk = a[p * n + k]!, aqk = a[q * n + k]!;
          a[p * n + k] = c * apk - s * aqk;
          a[q * n + k] = s * apk + c * aqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = v[k * n + p]!, vkq = v[k * n + q]!;
          v[k * n + p] = c * vkp - s * vkq;
          v[k * n + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((x, y) => a[y * n + y]! - a[x * n + x]!);
  const values = new Float64Array(n);
  const vectors = new Float64Array(n * n);
  order.forEach((src, k) => {
    values[k] = a[src * n + src]!;
    for (let r = 0; r < n; r++) vectors[r * n + k] = v[r * n + src]!;
  });
  return { values, vectors };
}

/**
 * Reference SVD via one-sided Jacobi on the columns of A (m ≥ n required; thin U, S, V), plain TS
 * without preconditioning. For tests and baselines.
 */
export function naiveSvd(A: ArrayLike<number>, m: number, n: number): { U: Float64Array; S: Float64Array; V: Float64Array } {
  if (m < n) {
    const At = new Float64Array(n * m);
    for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) At[j * m + i] = A[i * n + j]!;
    const r = naiveSvd(At, n, m);
    return { U: r.V, S: r.S, V: r.U };
  }
  // work on columns stored as rows (transpose) for contiguous access
  const X = new Float64Array(n * m);
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) X[j * m + i] = A[i * n + j]!;
  const W = new Float64Array(n * n);
  for (let i = 0; i < n; i++) W[i * n + i] = 1;
  const tol = 1e-15 * Math.max(n, 8);
  for (let sweep = 0; sweep < 100; sweep++) {
    let rotated = 0;
    for (let p = 0; p < n - 1; p++) for (let q = p + 1; q < n; q++) {
      let a = 0, b = 0, c = 0;
      for (let i = 0; i < m; i++) {
        const xp = X[p * m + i]!, xq = X[q * m + i]!;
        a += xp * xp; b += xq * xq; c += xp * xq;
      }
      if (a === 0 || b === 0 || Math.abs(c) <= tol * Math.sqrt(a * b)) continue;
      rotated++;
      const zeta = (b - a) / (2 * c);
      const t = (zeta >= 0 ? 1 : -1) / (Math.abs(zeta) + Math.sqrt(1 + zeta * zeta));
      const cs = 1 / Math.sqrt(1 + t * t), sn = cs * t;
      for (let i = 0; i < m; i++) {
        const xp = X[p * m + i]!, xq = X[q * m + i]!;
        X[p * m + i] = cs * xp - sn * xq;
        X[q * m + i] = sn * xp + cs * xq;
      }
      for (let i = 0; i < n; i++) {
        const wp = W[p * n + i]!, wq = W[q * n + i]!;
        W[p * n + i] = cs * wp - sn * wq;
        W[q * n + i] = sn * wp + cs * wq;
      }
    }
    if (rotated === 0) break;
  }
  const norms = Array.from({ length: n }, (_, j) => {
    let s = 0;
    for (let i = 0; i < m; i++) s += X[j * m + i]! ** 2;
    return Math.sqrt(s);
  });
  const order = norms.map((_, i) => i).sort((x, y) => norms[y]! - norms[x]!);
  const U = new Float64Array(m * n), S = new Float64Array(n), V = new Float64Array(n * n);
  order.forEach((src, k) => {
    S[k] = norms[src]!;
    for (let i = 0; i < m; i++) U[i * n + k] = S[k]! > 0 ? X[src * m + i]! / S[k]! : 0;
    for (let i = 0; i < n; i++) V[i * n + k] = W[src * n + i]!;
  });
  return { U, S, V };
}

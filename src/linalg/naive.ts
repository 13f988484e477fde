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

/** Aᵀ [cols×rows] of a row-major A [rows×cols] (a new array). */
export function transpose(A: ArrayLike<number>, rows: number, cols: number): Float64Array {
  const T = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) T[j * rows + i] = A[i * cols + j]!;
  return T;
}

/**
 * Plane (Givens) rotation of two strided vectors of M, x = M[px + k·step], y = M[qx + k·step] for
 * k < len: (x, y) ← (c·x − s·y, s·x + c·y).
 */
function rotate(M: Float64Array, px: number, qx: number, step: number, len: number, c: number, s: number): void {
  for (let k = 0; k < len; k++) {
    const x = M[px + k * step]!, y = M[qx + k * step]!;
    M[px + k * step] = c * x - s * y;
    M[qx + k * step] = s * x + c * y;
  }
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
        rotate(a, p, q, n, n, c, s); // columns p, q
        rotate(a, p * n, q * n, 1, n, c, s); // rows p, q
        rotate(v, p, q, n, n, c, s);
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
    const r = naiveSvd(transpose(A, m, n), n, m);
    return { U: r.V, S: r.S, V: r.U };
  }
  // work on columns stored as rows (transpose) for contiguous access
  const X = transpose(A, m, n);
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
      rotate(X, p * m, q * m, 1, m, cs, sn);
      rotate(W, p * n, q * n, 1, n, cs, sn);
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

/**
 * Plain-TS Householder tridiagonalisation + implicit QL (the textbook tred2/tql2 algorithm on flat
 * row-major arrays, no SIMD, no scaling). Values descending, eigenvectors as columns. Used as the
 * naive baseline for large n where Jacobi would take minutes.
 */
export function naiveEigh(A: ArrayLike<number>, n: number): { values: Float64Array; vectors: Float64Array } {
  const a = Float64Array.from(A as ArrayLike<number>);
  const d = new Float64Array(n), e = new Float64Array(n), tau = new Float64Array(n), p = new Float64Array(n);
  for (let k = 0; k < n - 2; k++) {
    d[k] = a[k * n + k]!;
    const L = n - k - 1, o = k * n + k + 1;
    const alpha = a[o]!;
    let xn2 = 0;
    for (let i = 1; i < L; i++) xn2 += a[o + i]! * a[o + i]!;
    if (xn2 === 0) { e[k] = alpha; continue; }
    const nrm = Math.sqrt(alpha * alpha + xn2);
    const beta = alpha >= 0 ? -nrm : nrm;
    const t = (beta - alpha) / beta, sc = 1 / (alpha - beta);
    a[o] = 1;
    for (let i = 1; i < L; i++) a[o + i] *= sc;
    e[k] = beta; tau[k] = t;
    for (let i = 0; i < L; i++) {
      let s = 0;
      const r = (k + 1 + i) * n + k + 1;
      for (let j = 0; j < L; j++) s += a[r + j]! * a[o + j]!;
      p[i] = t * s;
    }
    let pv = 0;
    for (let i = 0; i < L; i++) pv += p[i]! * a[o + i]!;
    const K = 0.5 * t * pv;
    for (let i = 0; i < L; i++) p[i] -= K * a[o + i]!;
    for (let i = 0; i < L; i++) {
      const r = (k + 1 + i) * n + k + 1, vi = a[o + i]!, wi = p[i]!;
      for (let j = 0; j < L; j++) a[r + j] -= vi * p[j]! + wi * a[o + j]!;
    }
  }
  if (n >= 2) { d[n - 2] = a[(n - 2) * n + n - 2]!; e[n - 2] = a[(n - 2) * n + n - 1]!; }
  d[n - 1] = a[n * n - 1]!;
  e[n - 1] = 0;
  // W = Qᵀ (rows = current eigenvector estimates)
  const W = new Float64Array(n * n);
  for (let i = 0; i < n; i++) W[i * n + i] = 1;
  const s = new Float64Array(n);
  for (let k = n - 3; k >= 0; k--) {
    const t = tau[k]!;
    if (t === 0) continue;
    const L = n - k - 1, o = k * n + k + 1;
    s.fill(0, 0, L);
    for (let i = 0; i < L; i++) { const r = (k + 1 + i) * n + k + 1, vi = a[o + i]!; for (let j = 0; j < L; j++) s[j] += vi * W[r + j]!; }
    for (let i = 0; i < L; i++) { const r = (k + 1 + i) * n + k + 1, f = t * a[o + i]!; for (let j = 0; j < L; j++) W[r + j] -= f * s[j]!; }
  }
  for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) { const x = W[i * n + j]!; W[i * n + j] = W[j * n + i]!; W[j * n + i] = x; }
  const EPS = 2 ** -52;
  let f = 0, tst1 = 0;
  for (let l = 0; l < n; l++) {
    tst1 = Math.max(tst1, Math.abs(d[l]!) + Math.abs(e[l]!));
    let m = l;
    while (m < n - 1 && Math.abs(e[m]!) > EPS * tst1) m++;
    if (m > l) {
      let iter = 0;
      do {
        if (++iter > 200) throw new Error('naiveEigh: no convergence');
        let g = d[l]!;
        let pp = (d[l + 1]! - g) / (2 * e[l]!);
        let r = Math.hypot(pp, 1);
        if (pp < 0) r = -r;
        d[l] = e[l]! / (pp + r);
        d[l + 1] = e[l]! * (pp + r);
        const dl1 = d[l + 1]!;
        let h = g - d[l]!;
        for (let i = l + 2; i < n; i++) d[i] -= h;
        f += h;
        pp = d[m]!;
        let c = 1, c2 = 1, c3 = 1, sn = 0, s2 = 0;
        const el1 = e[l + 1]!;
        for (let i = m - 1; i >= l; i--) {
          c3 = c2; c2 = c; s2 = sn;
          g = c * e[i]!; h = c * pp;
          r = Math.hypot(pp, e[i]!);
          e[i + 1] = sn * r;
          sn = e[i]! / r; c = pp / r;
          pp = c * d[i]! - sn * g;
          d[i + 1] = h + sn * (c * g + sn * d[i]!);
          const ri = i * n, rj = (i + 1) * n;
          for (let k = 0; k < n; k++) {
            const x = W[ri + k]!, y = W[rj + k]!;
            W[ri + k] = c * x - sn * y;
            W[rj + k] = sn * x + c * y;
          }
        }
        pp = (-sn * s2 * c3 * el1 * e[l]!) / dl1;
        e[l] = sn * pp;
        d[l] = c * pp;
      } while (Math.abs(e[l]!) > EPS * tst1);
    }
    d[l] = d[l]! + f;
    e[l] = 0;
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((x, y) => d[y]! - d[x]! || x - y);
  const values = new Float64Array(n), vectors = new Float64Array(n * n);
  order.forEach((src, k) => {
    values[k] = d[src]!;
    for (let r = 0; r < n; r++) vectors[r * n + k] = W[src * n + r]!;
  });
  return { values, vectors };
}

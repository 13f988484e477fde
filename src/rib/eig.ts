/**
 * Eigendecomposition and truncation conventions of the reference (spec §3.4, §3.5, §4).
 * All matrices are row-major Float64Array; an n×n eigenvector matrix has eigenvector k in column k.
 */
import { eighJacobi } from '../linalg/index.js';

export interface Eig {
  /** n values */
  values: Float64Array;
  /** n×n, column k = eigenvector of values[k] */
  vectors: Float64Array;
  n: number;
}

/**
 * §4.1: symmetric eigendecomposition, absolute values, sorted descending by |value| (stable: exact
 * ties keep the solver's order). Only the lower triangle of X is read (as LAPACK's UPLO='L').
 */
export function eigendecompose(X: Float64Array, n: number): Eig {
  const S = symmetrizeLower(X, n);
  // Jacobi (relative off-diagonal test): the tiny eigenvalues of these graded matrices keep their
  // relative accuracy, which QL (~ε·‖A‖) would not give near the 1e-15 cut
  const { values, vectors } = eighJacobi(S, n);
  const abs = Array.from(values, (v) => Math.abs(v));
  const order = abs.map((_, i) => i).sort((a, b) => abs[b]! - abs[a]! || a - b);
  return permuteEig(Float64Array.from(order, (i) => abs[i]!), vectors, n, order);
}

/** A copy of X with the strict upper triangle replaced by the lower one. */
export function symmetrizeLower(X: Float64Array, n: number): Float64Array {
  const S = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      const v = X[i * n + j]!;
      S[i * n + j] = v;
      S[j * n + i] = v;
    }
  }
  return S;
}

function permuteEig(values: Float64Array, vectors: Float64Array, n: number, order: number[]): Eig {
  const V = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    const row = i * n;
    for (let k = 0; k < n; k++) V[row + k] = vectors[row + order[k]!]!;
  }
  return { values, vectors: V, n };
}

/**
 * §4.2: eigendecompose only X[m:, m:]; the first m coordinates are kept as their own basis vectors
 * with "eigenvalue" diag(X)[0:m] (the coupling X[0:m, m:] is ignored, as in the reference).
 */
export function maskedEigendecompose(X: Float64Array, n: number, m: number): Eig {
  if (m === 0) return eigendecompose(X, n);
  const k = n - m;
  const sub = new Float64Array(k * k);
  for (let i = 0; i < k; i++) for (let j = 0; j < k; j++) sub[i * k + j] = X[(i + m) * n + (j + m)]!;
  const e = eigendecompose(sub, k);
  const values = new Float64Array(n);
  const vectors = new Float64Array(n * n);
  for (let i = 0; i < m; i++) {
    values[i] = X[i * n + i]!;
    vectors[i * n + i] = 1;
  }
  for (let i = 0; i < k; i++) {
    values[m + i] = e.values[i]!;
    for (let j = 0; j < k; j++) vectors[(m + i) * n + (m + j)] = e.vectors[i * k + j]!;
  }
  return { values, vectors, n };
}

/**
 * §3.5: move the unique column with |U[n-1,k]| > 1e-6 and |D[k]| > 1e-6 (the constant direction) to
 * position 0, keeping the order of the others.
 */
export function moveConstDirFirst(e: Eig, nodeLayer = ''): Eig {
  const { n, values, vectors } = e;
  const cands: number[] = [];
  for (let k = 0; k < n; k++) {
    if (Math.abs(vectors[(n - 1) * n + k]!) > 1e-6 && Math.abs(values[k]!) > 1e-6) cands.push(k);
  }
  const where = nodeLayer ? ` at node layer ${nodeLayer}` : '';
  if (cands.length === 0) {
    throw new Error(`move_const_dir_first: no const direction${where} (is the last coordinate the folded constant 1?)`);
  }
  if (cands.length > 1) throw new Error(`move_const_dir_first: more than one const direction${where}`);
  const c = cands[0]!;
  const order = [c, ...Array.from({ length: n }, (_, i) => i).filter((i) => i !== c)];
  return permuteEig(Float64Array.from(order, (i) => values[i]!), vectors, n, order);
}

/** §4.3: indices k with values[k] > thr (strict). */
export function keepAbove(values: Float64Array, thr: number): number[] {
  const kept: number[] = [];
  for (let k = 0; k < values.length; k++) if (values[k]! > thr) kept.push(k);
  return kept;
}

/** Columns `cols` of an n×m row-major matrix → n×cols.length. */
export function selectColumns(A: Float64Array, n: number, m: number, cols: number[]): Float64Array {
  const r = cols.length;
  const out = new Float64Array(n * r);
  for (let i = 0; i < n; i++) for (let c = 0; c < r; c++) out[i * r + c] = A[i * m + cols[c]!]!;
  return out;
}

/**
 * §3.4: centring matrix Y (n×n): identity except the last row, Y[n-1, 0:n-1] = −μ[0:n-1]
 * (inverse: +μ). μ[n-1] must be ±1 (tolerance 1e-6).
 */
export function centeringMatrix(mu: Float64Array, inverse = false, nodeLayer = ''): Float64Array {
  const n = mu.length;
  if (Math.abs(Math.abs(mu[n - 1]!) - 1) > 1e-6) {
    throw new Error(
      `centering matrix${nodeLayer ? ` at ${nodeLayer}` : ''}: the last entry of the mean must be ±1 (the folded constant), got ${mu[n - 1]}`,
    );
  }
  const Y = new Float64Array(n * n);
  for (let i = 0; i < n; i++) Y[i * n + i] = 1;
  const s = inverse ? 1 : -1;
  for (let j = 0; j < n - 1; j++) Y[(n - 1) * n + j] = s * mu[j]!;
  return Y;
}

export interface SortedLambda {
  /** kept indices into Λ, in C-column order (masked first, then descending Λ) */
  kept: number[];
  /** number of Λ entries < thr over all entries (including masked) */
  nSmall: number;
}

/**
 * §4.4 build_sorted_lambda_matrices: order = masked first, then the rest by Λ descending (stable);
 * count Λ < thr over all entries and drop that many trailing entries of the order (the reference's
 * quirk: a small masked entry drops a trailing sorted entry instead of itself).
 */
export function buildSortedLambda(lambda: Float64Array, thr: number, nFirst: number): SortedLambda {
  const r = lambda.length;
  const rest = Array.from({ length: r - nFirst }, (_, i) => i + nFirst).sort(
    (a, b) => lambda[b]! - lambda[a]! || a - b,
  );
  const order = [...Array.from({ length: nFirst }, (_, i) => i), ...rest];
  let nSmall = 0;
  for (let k = 0; k < r; k++) if (lambda[k]! < thr) nSmall++;
  const kept = order.slice(0, r - nSmall);
  for (const k of kept) {
    const v = 1 / Math.sqrt(lambda[k]!);
    if (!Number.isFinite(v)) {
      throw new Error(
        `build_sorted_lambda_matrices: Λ[${k}] = ${lambda[k]} gives a non-finite 1/sqrt(Λ) (raise truncation_threshold above 0)`,
      );
    }
  }
  return { kept, nSmall };
}

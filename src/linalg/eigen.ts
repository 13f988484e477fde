// Decompositions: symmetric eigendecomposition (divide and conquer, tridiagonal QL, Jacobi) and the
// thin SVD.
import { alloc, arenaFree, f64view, withArena } from './wasm.js';
import { checkArray, checkDim, nonFiniteError } from './operands.js';

// ---------------------------------------------------------------- eigh

/** Relative asymmetry tolerated by eigh (the input is symmetrised as (A + Aᵀ)/2). */
export const EIGH_SYMMETRY_TOL = 1e-10;

/**
 * Symmetric eigendecomposition of A[n×n]: values descending, vectors n×n row-major with column k
 * the unit eigenvector of values[k]. Default method 'dc' (see EighOptions).
 */
export function eigh(A: Float64Array, n: number, opts: EighOptions = {}): { values: Float64Array; vectors: Float64Array } {
  const method = opts.method ?? 'dc';
  if (method === 'jacobi') return eighJacobi(A, n, opts);
  if (method === 'ql') return eighQL(A, n);
  if (method !== 'dc') throw new RangeError(`eigh: unknown method "${String(opts.method)}" (use "dc", "ql" or "jacobi")`);
  const fn = 'eigh';
  const amax = checkSymmetricInput(fn, A, n);
  return withArena((K) => {
    const need = (2 * n * n + n + K.eighDCWork(n)) * 8 + 256;
    if (need > arenaFree()) {
      const mib = (b: number) => (b / 2 ** 20).toFixed(1);
      throw new RangeError(
        `${fn}: needs ${mib(need)} MiB of Wasm memory, more than the ${(arenaFree() / 2 ** 20).toFixed(0)} MiB limit of one instance ` +
          `(n=${n}, divide and conquer ≈ 5n² values; eigh(A, n, { method: 'ql' }) needs ${mib((K.eighRotCap(n) + 2 * n * n + 5 * n) * 8)} MiB)`,
      );
    }
    const pA = symmetricOperand(fn, A, n, amax);
    const pD = alloc(n, 8, fn);
    const pVt = alloc(n * n, 8, fn);
    const work = alloc(K.eighDCWork(n), 8, fn);
    const rc = K.eighDC(pA, n, pD, pVt, work);
    if (rc !== 0) throw new Error(`${fn}: QL iteration of a divide-and-conquer leaf did not converge (n=${n})`);
    const d = f64view(pD, n);
    return sortedEigenpairs(fn, n, amax, (i) => d[i]!, f64view(pVt, n * n));
  });
}

/**
 * The tridiagonal form T = QᵀAQ of the symmetric A[n×n] from the blocked Householder reduction
 * that `eigh` uses: diagonal d[n] and off-diagonal e[n−1] (e[k] = T[k, k+1]; signs as the
 * reflectors leave them). Same input checks as `eigh`.
 */
export function tridiagonalize(A: Float64Array, n: number): { d: Float64Array; e: Float64Array } {
  const fn = 'tridiagonalize';
  const amax = checkSymmetricInput(fn, A, n);
  return withArena((K) => {
    const pA = symmetricOperand(fn, A, n, amax);
    const pD = alloc(n, 8, fn);
    const pE = alloc(n, 8, fn);
    const pTau = alloc(n, 8, fn);
    K.tridiagonalize(pA, n, pD, pE, pTau, alloc(K.tridiagWork(n), 8, fn));
    return { d: f64view(pD, n).slice(), e: f64view(pE, n).slice(0, n - 1) };
  });
}

/**
 * Eigenpairs of the symmetric tridiagonal matrix with diagonal d[n] and off-diagonal e[n−1], by
 * divide and conquer (the solver inside `eigh`). Same result contract as `eigh`: values
 * descending, column k of `vectors` [n×n] the unit eigenvector of values[k].
 */
export function eighTridiagonal(d: Float64Array, e: Float64Array): { values: Float64Array; vectors: Float64Array } {
  const fn = 'eighTridiagonal';
  const n = d.length;
  checkDim(fn, 'd.length', n);
  checkArray(fn, 'd', d, n, `[n=${n}]`, false);
  checkArray(fn, 'e', e, n - 1, `[n−1=${n - 1}]`, false);
  let amax = 0;
  for (const [name, a] of [['d', d], ['e', e]] as const) {
    for (let i = 0; i < a.length; i++) {
      if (!Number.isFinite(a[i]!)) throw new RangeError(`${fn}: input ${name} contains a non-finite value (${a[i]}) at [${i}]`);
      amax = Math.max(amax, Math.abs(a[i]!));
    }
  }
  return withArena((K) => {
    const pD = alloc(n, 8, fn);
    const pE = alloc(n, 8, fn);
    f64view(pD, n).set(d);
    f64view(pE, n).set(e);
    f64view(pE, n)[n - 1] = 0;
    const pVt = alloc(n * n, 8, fn);
    const rc = K.eighTridiag(n, pD, pE, pVt, alloc(K.dcWork(n), 8, fn));
    if (rc !== 0) throw new Error(`${fn}: QL iteration of a divide-and-conquer leaf did not converge (n=${n})`);
    const dv = f64view(pD, n);
    return sortedEigenpairs(fn, n, amax, (i) => dv[i]!, f64view(pVt, n * n));
  });
}

/**
 * Symmetric eigendecomposition by Householder tridiagonalisation (unblocked, fused rank-2 update
 * and matrix–vector product) and implicit QL (EISPACK tql2). Same contract as `eigh`; the same as
 * `eigh(A, n, { method: 'ql' })`.
 */
export function eighQL(A: Float64Array, n: number): { values: Float64Array; vectors: Float64Array } {
  const fn = 'eighQL';
  const amax = checkSymmetricInput(fn, A, n);
  return withArena((K) => {
    const pA = symmetricOperand(fn, A, n, amax);
    const pD = alloc(n, 8, fn);
    const pE = alloc(n, 8, fn);
    const pW = alloc(n * n, 8, fn);
    const pTau = alloc(n, 8, fn);
    const pP = alloc(2 * n, 8, fn);
    const pRot = alloc(K.eighRotCap(n), 8, fn);
    const rc = K.eigh(pA, n, pD, pE, pW, pTau, pP, pRot);
    if (rc !== 0) throw new Error(`${fn}: QL iteration did not converge (n=${n})`);
    const d = f64view(pD, n);
    return sortedEigenpairs(fn, n, amax, (i) => d[i]!, f64view(pW, n * n));
  });
}

export interface EighOptions {
  /**
   * 'dc' (default): blocked (Level-3) Householder tridiagonalisation, divide and conquer on the
   * tridiagonal, blocked back-transformation; eigenvalues accurate to ~ε·‖A‖. 'ql': unblocked
   * tridiagonalisation + implicit QL, same accuracy class, slower for large n. 'jacobi': cyclic
   * two-sided Jacobi with the relative off-diagonal test, slower, but small eigenvalues of graded
   * (near-)semidefinite matrices keep high relative accuracy.
   */
  method?: 'dc' | 'ql' | 'jacobi';
  /** Jacobi only: sweep limit (default 60); not converging within it is an error. */
  maxSweeps?: number;
}

/**
 * Symmetric eigendecomposition of A[n×n] by the cyclic Jacobi method (Demmel–Veselić relative
 * off-diagonal test |a_pq| ≤ ε·sqrt(|a_pp·a_qq|)), in Wasm. Same contract as `eigh`: values
 * descending (signed, exact ties keep index order), column k of `vectors` the unit eigenvector of
 * values[k]. A must be symmetric (the same check and symmetrisation as `eigh`).
 */
export function eighJacobi(A: Float64Array, n: number, opts: { maxSweeps?: number } = {}): { values: Float64Array; vectors: Float64Array } {
  const fn = 'eighJacobi';
  checkDim(fn, 'n', n);
  checkArray(fn, 'A', A, n * n, `[n=${n} × n=${n}]`, false);
  const maxSweeps = opts.maxSweeps ?? 60;
  if (!Number.isInteger(maxSweeps) || maxSweeps < 1) throw new RangeError(`${fn}: maxSweeps must be a positive integer, got ${maxSweeps}`);
  const amax = maxAbsFinite(fn, A, n);
  return withArena((K) => {
    const pA = alloc(n * n, 8, `${fn}: operand A [${n}×${n}]`);
    const Aw = f64view(pA, n * n);
    symmetrizeInto(fn, A, n, amax, Aw);
    const pV = alloc(n * n, 8, fn);
    const rc = K.eighJacobi(pA, n, pV, maxSweeps);
    if (rc < 0) throw new Error(`${fn}: Jacobi did not converge in ${maxSweeps} sweeps (n=${n})`);
    const a = f64view(pA, n * n);
    return sortedEigenpairs(fn, n, amax, (i) => a[i * n + i]!, f64view(pV, n * n));
  });
}

/** max |A| over n×n entries; refuses NaN/Inf naming the entry. */
/** The checks every symmetric solver makes on A[n×n]; returns max |A_ij| (see maxAbsFinite). */
function checkSymmetricInput(fn: string, A: Float64Array, n: number): number {
  checkDim(fn, 'n', n);
  checkArray(fn, 'A', A, n * n, `[n=${n} × n=${n}]`, false);
  return maxAbsFinite(fn, A, n);
}

/** A symmetrised copy of A in the arena (inside withArena): its pointer. */
function symmetricOperand(fn: string, A: Float64Array, n: number, amax: number): number {
  const pA = alloc(n * n, 8, `${fn}: operand A [${n}×${n}]`);
  symmetrizeInto(fn, A, n, amax, f64view(pA, n * n));
  return pA;
}

function maxAbsFinite(fn: string, A: Float64Array, n: number): number {
  let amax = 0;
  for (let i = 0; i < n * n; i++) {
    const v = A[i]!;
    if (!Number.isFinite(v)) throw nonFiniteError(fn, 'A', i, n, v);
    const a = Math.abs(v);
    if (a > amax) amax = a;
  }
  return amax;
}

/**
 * Eigenvalues value(i) with eigenvectors as rows of Vt [n×n] (in Wasm memory) → values sorted
 * descending (exact ties keep index order) and vectors [n×n] with column k ↔ values[k].
 */
function sortedEigenpairs(
  fn: string,
  n: number,
  amax: number,
  value: (i: number) => number,
  Vt: Float64Array,
): { values: Float64Array; vectors: Float64Array } {
  const d = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    d[i] = value(i);
    if (!Number.isFinite(d[i]!)) throw new RangeError(`${fn}: an eigenvalue of A overflows the float64 range (max |A| = ${amax.toExponential(3)})`);
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((x, y) => d[y]! - d[x]! || x - y);
  const values = new Float64Array(n);
  const vectors = new Float64Array(n * n);
  for (let k = 0; k < n; k++) {
    const src = order[k]!;
    values[k] = d[src]!;
    const row = src * n;
    for (let r = 0; r < n; r++) vectors[r * n + k] = Vt[row + r]!;
  }
  return { values, vectors };
}

/** Aw ← (A + Aᵀ)/2 (exactly A where it is symmetric); refuses asymmetry above EIGH_SYMMETRY_TOL·max|A|. */
function symmetrizeInto(fn: string, A: Float64Array, n: number, amax: number, Aw: Float64Array): void {
  for (let i = 0; i < n; i++) {
    Aw[i * n + i] = A[i * n + i]!;
    for (let j = i + 1; j < n; j++) {
      const a = A[i * n + j]!;
      const b = A[j * n + i]!;
      if (a !== b) {
        const diff = Math.abs(a - b);
        if (diff > EIGH_SYMMETRY_TOL * amax) {
          throw new RangeError(
            `${fn}: input A is not symmetric (|A[${i},${j}] − A[${j},${i}]| = ${diff.toExponential(3)}, max |A| = ${amax.toExponential(3)})`,
          );
        }
      }
      const s = a === b ? a : 0.5 * a + 0.5 * b;
      Aw[i * n + j] = s;
      Aw[j * n + i] = s;
    }
  }
}

// ---------------------------------------------------------------- SVD

/**
 * Thin SVD of A[m×n] (row-major): k = min(m, n), U[m×k], S[k] descending, V[n×k], A = U·diag(S)·Vᵀ.
 * One-sided Jacobi after a Householder QR.
 */
export function svd(A: Float64Array, m: number, n: number): { U: Float64Array; S: Float64Array; V: Float64Array } {
  const fn = 'svd';
  checkDim(fn, 'm', m); checkDim(fn, 'n', n);
  checkArray(fn, 'A', A, m * n, `[m=${m} × n=${n}]`, false);
  for (let i = 0; i < m * n; i++) if (!Number.isFinite(A[i]!)) throw nonFiniteError(fn, 'A', i, n, A[i]!);
  return withArena((K) => {
    const tall = m >= n;
    const M = tall ? m : n;
    const N = tall ? n : m;
    const pA = alloc(M * N, 8, `${fn}: operand A [${m}×${n}]`);
    const Aw = f64view(pA, M * N);
    if (tall) Aw.set(A);
    else for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) Aw[j * m + i] = A[i * n + j]!;
    const pU = alloc(M * N, 8, fn);
    const pS = alloc(N, 8, fn);
    const pV = alloc(N * N, 8, fn);
    const work = alloc(K.svdWork(M, N), 8, fn);
    const rc = K.svd(pA, M, N, pU, pS, pV, work);
    if (rc < 0) throw new Error(`${fn}: Jacobi sweeps did not converge (m=${m}, n=${n})`);
    const Uw = f64view(pU, M * N).slice();
    const S = f64view(pS, N).slice();
    if (!S.every(Number.isFinite)) throw new RangeError(`${fn}: a singular value of A overflows the float64 range`);
    const Vw = f64view(pV, N * N).slice();
    return tall ? { U: Uw, S, V: Vw } : { U: Vw, S, V: Uw };
  });
}

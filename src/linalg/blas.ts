// BLAS-style kernels: GEMM, SYRK (Gram) and JᵀJ accumulation.
import { alloc, arenaFree, arenaMark, arenaRelease, f32view, f64view, withArena } from './wasm.js';
import { Resident, checkArray, checkDim, copyIn, isF32, nonFiniteError, residentPtr, screening, type FloatArray } from './operands.js';

// ---------------------------------------------------------------- GEMM

/**
 * C[m×n] = beta·C + alpha·op(A)·op(B), row-major; op(A) is m×k (A stored k×m when transA),
 * op(B) is k×n (B stored n×k when transB). A and B may be Float32Array (converted exactly).
 * Returns C.
 */
export function gemm(
  transA: boolean, transB: boolean, m: number, n: number, k: number,
  A: FloatArray | Resident, B: FloatArray | Resident, C: Float64Array, alpha = 1, beta = 1,
): Float64Array {
  const fn = 'gemm';
  checkDim(fn, 'm', m, 0); checkDim(fn, 'n', n, 0); checkDim(fn, 'k', k, 0);
  checkArray(fn, 'A', A, m * k, transA ? `[k=${k} × m=${m}] (transA)` : `[m=${m} × k=${k}]`, true, true);
  checkArray(fn, 'B', B, k * n, transB ? `[n=${n} × k=${k}] (transB)` : `[k=${k} × n=${n}]`, true, true);
  checkArray(fn, 'C', C, m * n, `[m=${m} × n=${n}]`, false);
  if (!Number.isFinite(alpha) || !Number.isFinite(beta)) throw new RangeError(`${fn}: alpha and beta must be finite`);
  if (m === 0 || n === 0) return C;
  return withArena((K) => {
    const pB = B instanceof Resident ? residentPtr(fn, 'B', B) : copyIn(fn, 'B', B, transB ? k : n);
    const aF32 = isF32(A);
    // rows of C per chunk, so that A-chunk + C-chunk + work fit the arena
    const bytesPerRow = (A instanceof Resident ? 0 : k * (aF32 ? 4 : 8)) + n * 8 + 256 * 8 + 64;
    const fixed = K.gemmWork(0, n) * 8 + 256;
    const rowsFit = Math.floor((arenaFree() - fixed) / bytesPerRow);
    if (rowsFit < 4) throw new RangeError(`${fn}: operand B [${transB ? `${n}×${k}` : `${k}×${n}`}] leaves too little Wasm memory for A and C`);
    const chunk = Math.min(m, Math.max(4, rowsFit - (rowsFit % 4)));
    const mark = arenaMark();
    for (let i0 = 0; i0 < m; i0 += chunk) {
      const mc = Math.min(chunk, m - i0);
      arenaRelease(mark);
      let pA: number;
      let lda = transA ? mc : k;
      if (A instanceof Resident) {
        const bpe = aF32 ? 4 : 8;
        pA = residentPtr(fn, 'A', A) + (transA ? i0 : i0 * k) * bpe;
        lda = transA ? m : k;
      } else if (!transA) {
        pA = copyIn(fn, 'A', A.subarray(i0 * k, (i0 + mc) * k), k, i0 * k);
      } else if (mc === m) {
        pA = copyIn(fn, 'A', A, m);
      } else {
        const sub = A instanceof Float32Array ? new Float32Array(k * mc) : new Float64Array(k * mc);
        for (let r = 0; r < k; r++) sub.set(A.subarray(r * m + i0, r * m + i0 + mc), r * mc);
        try {
          pA = copyIn(fn, 'A', sub, mc);
        } catch (e) {
          // report the position in A, not in the column block
          for (let r = 0; r < k; r++) for (let c = 0; c < mc; c++) {
            const v = sub[r * mc + c]!;
            if (!Number.isFinite(v)) throw nonFiniteError(fn, 'A', r * m + i0 + c, m, v);
          }
          throw e;
        }
      }
      const Cv = C.subarray(i0 * n, (i0 + mc) * n);
      const pC = beta !== 0 ? copyIn(fn, 'C', Cv, n, i0 * n) : alloc(mc * n, 8, fn);
      if (beta === 0) f64view(pC, mc * n).set(Cv);
      const work = alloc(K.gemmWork(mc, n), 8, fn);
      K.gemm(transA ? 1 : 0, transB ? 1 : 0, mc, n, k, pA, lda, aF32 ? 1 : 0,
        pB, transB ? k : n, isF32(B) ? 1 : 0, pC, n, alpha, beta, work);
      Cv.set(f64view(pC, mc * n));
    }
    return C;
  });
}

/** New C[m×n] = A[m×k]·B[k×n]. */
export function matmul(A: Float64Array, B: Float64Array, m: number, k: number, n: number): Float64Array {
  return gemm(false, false, m, n, k, A, B, new Float64Array(m * n), 1, 0);
}

// ---------------------------------------------------------------- SYRK / Gram

const SYRK_CHUNK_BYTES = 8 * 2 ** 20;

/**
 * G[d×d] += alpha · XᵀX for X[n×d] (row-major, f32 or f64; f64 accumulation). The full symmetric G
 * is filled. X is streamed through Wasm memory in row blocks, so n is not limited by memory.
 */
export function syrk(X: FloatArray, n: number, d: number, G?: Float64Array, alpha = 1): Float64Array {
  const fn = 'syrk';
  checkDim(fn, 'n', n, 0); checkDim(fn, 'd', d);
  checkArray(fn, 'X', X, n * d, `[n=${n} × d=${d}]`);
  const out = G ?? new Float64Array(d * d);
  checkArray(fn, 'G', out, d * d, `[d=${d} × d=${d}]`, false);
  if (!Number.isFinite(alpha)) throw new RangeError(`${fn}: alpha must be finite`);
  return syrkInto(fn, 'X', X, n, d, out, alpha);
}

/**
 * G[d×d] += XᵀX for X [n × d] whose entries are all exactly 0 or 1 (ReLU derivative patterns): the
 * co-occurrence counts, with bitsets in Wasm. The counts are exact integers, so G gets the same
 * values as `syrk(X, n, d, G)`, at a fraction of the cost. Throws if an entry is neither 0 nor 1.
 */
export function binaryGram(X: Float64Array, n: number, d: number, G: Float64Array): Float64Array {
  const fn = 'binaryGram';
  checkDim(fn, 'n', n, 0); checkDim(fn, 'd', d);
  checkArray(fn, 'X', X, n * d, `[n=${n} × d=${d}]`, false);
  checkArray(fn, 'G', G, d * d, `[d=${d} × d=${d}]`, false);
  if (n === 0) return G;
  return withArena((K) => {
    const pX = alloc(n * d, 8, fn);
    f64view(pX, n * d).set(X.subarray(0, n * d));
    const pG = alloc(d * d, 8, fn);
    f64view(pG, d * d).set(G);
    const work = alloc(d * Math.ceil(n / 64), 8, fn);
    const bad = K.binaryGram(pX, n, d, pG, work);
    if (bad >= 0) throw new RangeError(`${fn}: X[${Math.floor(bad / d)}, ${bad % d}] = ${X[bad]} is neither 0 nor 1`);
    G.set(f64view(pG, d * d));
    return G;
  });
}

function syrkInto(fn: string, name: string, X: FloatArray, n: number, d: number, G: Float64Array, alpha: number): Float64Array {
  return withArena((K) => {
    const d4 = (d + 3) & ~3;
    const kc = K.syrkKc(d);
    const pGu = alloc(d4 * d4, 8, fn);
    f64view(pGu, d4 * d4).fill(0);
    const work = alloc(kc * d4, 8, fn);
    const isF32 = X instanceof Float32Array;
    const bpe = isF32 ? 4 : 8;
    const budget = Math.min(SYRK_CHUNK_BYTES, arenaFree() - d * d * 8 - 256);
    let rows = Math.max(kc, Math.floor(budget / (d * bpe)));
    rows -= rows % kc;
    rows = Math.min(rows, Math.max(n, 1));
    const pX = alloc(rows * d, bpe, fn);
    for (let r0 = 0; r0 < n; r0 += rows) {
      const rc = Math.min(rows, n - r0);
      const src = X.subarray(r0 * d, (r0 + rc) * d);
      if (isF32) f32view(pX, rc * d).set(src);
      else f64view(pX, rc * d).set(src);
      const bad = screening() ? K.firstNonFinite(pX, rc * d, isF32 ? 1 : 0) : -1;
      if (bad >= 0) throw nonFiniteError(fn, name, r0 * d + bad, d, src[bad]!);
      K.syrkAcc(pX, isF32 ? 1 : 0, rc, d, pGu, work);
    }
    const pG = alloc(d * d, 8, fn);
    f64view(pG, d * d).set(G);
    K.syrkFinish(pGu, d, pG, alpha);
    G.set(f64view(pG, d * d));
    return G;
  });
}

/** M[d×d] += Σ_s J_sᵀ J_s for J = [blocks × rows × d] (a SYRK over the stacked rows). */
export function jtjAccumulate(J: Float64Array, blocks: number, rows: number, d: number, M: Float64Array): Float64Array {
  const fn = 'jtjAccumulate';
  checkDim(fn, 'blocks', blocks, 0); checkDim(fn, 'rows', rows, 0); checkDim(fn, 'd', d);
  checkArray(fn, 'J', J, blocks * rows * d, `[blocks=${blocks} × rows=${rows} × d=${d}]`);
  checkArray(fn, 'M', M, d * d, `[d=${d} × d=${d}]`, false);
  return syrkInto(fn, 'J', J, blocks * rows, d, M, 1);
}

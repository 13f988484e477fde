// Typed TS API over the SIMD Wasm kernels (browser-safe). See docs/kernels.md.
import type { Rng } from '../rng.js';
import {
  alloc, f32view, f64view, instantiateKernels, isReady, kernels, resetArena, setInstance, arenaFree, arenaMark, arenaRelease,
  residentAlloc, residentFree, type ResidentSlot,
} from './wasm.js';

export type FloatArray = Float64Array | Float32Array;

/**
 * A read-only operand kept in Wasm memory across calls (e.g. model weights used by many GEMMs), so
 * it is copied and screened for NaN/Inf once. Pass it to `gemm` in place of A or B; call `free()`
 * when done (later residents are compacted). The source array is not referenced after creation.
 */
export class Resident {
  readonly length: number;
  readonly isF32: boolean;
  /** @internal */
  slot: ResidentSlot | null;
  constructor(slot: ResidentSlot, length: number, isF32: boolean) {
    this.slot = slot;
    this.length = length;
    this.isF32 = isF32;
  }
  get freed(): boolean {
    return this.slot === null;
  }
  free(): void {
    if (this.slot) residentFree(this.slot);
    this.slot = null;
  }
}

/** Copy `a` into Wasm memory for reuse across calls (see Resident). Throws on NaN/Inf. */
export function resident(a: FloatArray, name = 'operand'): Resident {
  if (!(a instanceof Float64Array) && !(a instanceof Float32Array)) {
    throw new TypeError(`resident: ${name} must be a Float64Array or Float32Array`);
  }
  const K = kernels();
  resetArena();
  const isF32 = a instanceof Float32Array;
  const slot = residentAlloc(a.length * (isF32 ? 4 : 8));
  if (isF32) f32view(slot.ptr, a.length).set(a);
  else f64view(slot.ptr, a.length).set(a);
  const bad = K.firstNonFinite(slot.ptr, a.length, isF32 ? 1 : 0);
  if (bad >= 0) {
    residentFree(slot);
    throw new RangeError(`resident: ${name} contains a non-finite value (${a[bad]}) at index ${bad}`);
  }
  return new Resident(slot, a.length, isF32);
}

function isF32(a: FloatArray | Resident): boolean {
  return a instanceof Resident ? a.isF32 : a instanceof Float32Array;
}

function residentPtr(fn: string, name: string, r: Resident): number {
  if (!r.slot) throw new RangeError(`${fn}: resident operand ${name} has been freed`);
  return r.slot.ptr;
}

let initPromise: Promise<void> | null = null;

/**
 * Load and instantiate the kernels (idempotent). In Node with no argument, reads build/kernels.wasm;
 * in a browser pass the bytes or a compiled WebAssembly.Module.
 */
export async function initKernels(wasm?: BufferSource | WebAssembly.Module): Promise<void> {
  if (isReady()) return;
  if (!initPromise) {
    initPromise = (async () => {
      let src = wasm;
      if (src === undefined) {
        const isNode = typeof process !== 'undefined' && !!process.versions?.node;
        if (!isNode) throw new Error('initKernels: in a browser, pass the kernels.wasm bytes or a WebAssembly.Module');
        const spec = './load-node.js';
        const mod = (await import(/* @vite-ignore */ spec)) as { readKernelsWasm(): Promise<Uint8Array> };
        src = await mod.readKernelsWasm();
      }
      setInstance(await instantiateKernels(src));
    })();
    initPromise.catch(() => {
      initPromise = null;
    });
  }
  return initPromise;
}

export function kernelsReady(): boolean {
  return isReady();
}

// ---------------------------------------------------------------- validation helpers

function checkDim(fn: string, name: string, v: number, min = 1): void {
  if (!Number.isInteger(v) || v < min) throw new RangeError(`${fn}: ${name} must be an integer ≥ ${min}, got ${v}`);
}

function checkArray(fn: string, name: string, a: unknown, len: number, shape: string, allowF32 = true, allowResident = false): void {
  if (allowResident && a instanceof Resident) {
    if (a.length !== len) throw new RangeError(`${fn}: ${name} has length ${a.length}, expected ${len} for shape ${shape}`);
    residentPtr(fn, name, a);
    return;
  }
  if (!(a instanceof Float64Array) && !(allowF32 && a instanceof Float32Array)) {
    throw new TypeError(`${fn}: ${name} must be a Float64Array${allowF32 ? ' or Float32Array' : ''}`);
  }
  if ((a as FloatArray).length !== len) {
    throw new RangeError(`${fn}: ${name} has length ${(a as FloatArray).length}, expected ${len} for shape ${shape}`);
  }
}

function nonFiniteError(fn: string, name: string, idx: number, cols: number, value: number): RangeError {
  const r = Math.floor(idx / cols);
  const c = idx % cols;
  return new RangeError(`${fn}: input ${name} contains a non-finite value (${value}) at [${r},${c}]`);
}

let screenOperands = true;

/**
 * Runs `f` (synchronously) with the NaN/Inf screen of the operands copied into Wasm memory switched
 * off, for callers whose operands they produced themselves (e.g. the build's shards, which check
 * their outputs instead). Everything else, and every call outside `f`, stays screened.
 */
export function withoutOperandScreen<T>(f: () => T): T {
  const prev = screenOperands;
  screenOperands = false;
  try {
    return f();
  } finally {
    screenOperands = prev;
  }
}

/** Copy a (sub)array into the arena and check it for NaN/Inf there. Returns the pointer. */
function copyIn(fn: string, name: string, a: FloatArray, cols: number, offsetElems = 0): number {
  const K = kernels();
  const isF32 = a instanceof Float32Array;
  const p = alloc(a.length, isF32 ? 4 : 8, `${fn}: operand ${name} (${a.length} values)`);
  if (isF32) f32view(p, a.length).set(a);
  else f64view(p, a.length).set(a);
  if (!screenOperands) return p;
  const bad = K.firstNonFinite(p, a.length, isF32 ? 1 : 0);
  if (bad >= 0) throw nonFiniteError(fn, name, bad + offsetElems, cols, a[bad]!);
  return p;
}

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
  const K = kernels();
  resetArena();
  try {
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
  } finally {
    resetArena();
  }
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

function syrkInto(fn: string, name: string, X: FloatArray, n: number, d: number, G: Float64Array, alpha: number): Float64Array {
  const K = kernels();
  resetArena();
  try {
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
      const bad = screenOperands ? K.firstNonFinite(pX, rc * d, isF32 ? 1 : 0) : -1;
      if (bad >= 0) throw nonFiniteError(fn, name, r0 * d + bad, d, src[bad]!);
      K.syrkAcc(pX, isF32 ? 1 : 0, rc, d, pGu, work);
    }
    const pG = alloc(d * d, 8, fn);
    f64view(pG, d * d).set(G);
    K.syrkFinish(pGu, d, pG, alpha);
    G.set(f64view(pG, d * d));
    return G;
  } finally {
    resetArena();
  }
}

/** M[d×d] += Σ_s J_sᵀ J_s for J = [blocks × rows × d] (a SYRK over the stacked rows). */
export function jtjAccumulate(J: Float64Array, blocks: number, rows: number, d: number, M: Float64Array): Float64Array {
  const fn = 'jtjAccumulate';
  checkDim(fn, 'blocks', blocks, 0); checkDim(fn, 'rows', rows, 0); checkDim(fn, 'd', d);
  checkArray(fn, 'J', J, blocks * rows * d, `[blocks=${blocks} × rows=${rows} × d=${d}]`);
  checkArray(fn, 'M', M, d * d, `[d=${d} × d=${d}]`, false);
  return syrkInto(fn, 'J', J, blocks * rows, d, M, 1);
}

// ---------------------------------------------------------------- low-rank squared accumulation

/**
 * For each of nRows rows b: T = K0_b + L_bᵀ·R_b (m×n) and E += T ⊙ T ⊙ f_b (f_b[p] scales row p of
 * T; f null = 1). K0 is one shared m×n matrix (`k0PerRow` false) or nRows of them stacked. Row b's
 * factors L_b [k_b × m] and R_b [k_b × n] are stacked after the previous rows' in L and R, with
 * k_b = counts[b] (0 allowed). E [m×n] is accumulated in place and returned. One Wasm call for
 * all rows: the per-row GEMM is the `gemm` kernel (alpha 1, beta 1 onto a copy of K0_b).
 * `base` (optional, one entry per row): 0 chains row b onto row b−1, i.e. T_b = T_{b−1} + L_bᵀR_b
 * (for rows whose difference from the previous row is of lower rank); row 0 always starts at K0.
 * `diag` (optional): K0 holds `count` shared m×n matrices K0_d and every row starts from
 * T = Σ_d diag(coef_{b,d})·K0_d (coef: nRows × count × m; k0PerRow and base must be off).
 */
export function lowRankSqAcc(
  nRows: number, m: number, n: number, K0: Float64Array, k0PerRow: boolean,
  L: Float64Array, R: Float64Array, counts: Int32Array, f: Float64Array | null, E: Float64Array,
  base: Int32Array | null = null,
  diag: { count: number; coef: Float64Array } | null = null,
): Float64Array {
  const fn = 'lowRankSqAcc';
  checkDim(fn, 'm', m);
  checkDim(fn, 'n', n);
  if (!Number.isInteger(nRows) || nRows < 0) throw new RangeError(`${fn}: nRows must be a non-negative integer, got ${nRows}`);
  if (diag && (k0PerRow || base || !Number.isInteger(diag.count) || diag.count < 1)) throw new RangeError(`${fn}: diag needs a positive integer count, and neither k0PerRow nor base`);
  const nK0 = diag ? diag.count : k0PerRow ? nRows : 1;
  checkArray(fn, 'K0', K0, nK0 * m * n, `[${nK0 > 1 ? `${nK0} × ` : ''}${m} × ${n}]`, false);
  if (diag && diag.coef.length < nRows * diag.count * m) throw new RangeError(`${fn}: diag.coef has length ${diag.coef.length}, expected ${nRows * diag.count * m}`);
  checkArray(fn, 'E', E, m * n, `[${m} × ${n}]`, false);
  if (counts.length < nRows) throw new RangeError(`${fn}: counts has ${counts.length} entries, expected ${nRows}`);
  let kt = 0;
  for (let b = 0; b < nRows; b++) {
    const k = counts[b]!;
    if (!Number.isInteger(k) || k < 0) throw new RangeError(`${fn}: counts[${b}] = ${k} is not a non-negative integer`);
    kt += k;
  }
  if (L.length < kt * m) throw new RangeError(`${fn}: L has length ${L.length}, expected at least ${kt * m} (Σ counts × m)`);
  if (R.length < kt * n) throw new RangeError(`${fn}: R has length ${R.length}, expected at least ${kt * n} (Σ counts × n)`);
  if (f && f.length < nRows * m) throw new RangeError(`${fn}: f has length ${f.length}, expected ${nRows * m}`);
  if (base && base.length < nRows) throw new RangeError(`${fn}: base has ${base.length} entries, expected ${nRows}`);
  if (nRows === 0) return E;
  const K = kernels();
  resetArena();
  try {
    const pK0 = copyIn(fn, 'K0', K0.subarray(0, nK0 * m * n), n);
    const pCoef = diag ? copyIn(fn, 'diag.coef', diag.coef.subarray(0, nRows * diag.count * m), m) : 0;
    const pL = copyIn(fn, 'L', L.subarray(0, kt * m), m);
    const pR = copyIn(fn, 'R', R.subarray(0, kt * n), n);
    const pF = f ? copyIn(fn, 'f', f.subarray(0, nRows * m), m) : 0;
    const pE = copyIn(fn, 'E', E, n);
    const pK = alloc(nRows, 4, fn);
    new Int32Array(kernels().memory.buffer, pK, nRows).set(counts.subarray(0, nRows));
    let pBase = 0;
    if (base) {
      pBase = alloc(nRows, 4, fn);
      new Int32Array(kernels().memory.buffer, pBase, nRows).set(base.subarray(0, nRows));
    }
    const pT = alloc(m * n, 8, fn);
    const work = alloc(K.gemmWork(m, n), 8, fn);
    K.lowRankSqAcc(nRows, m, n, pK0, k0PerRow ? m * n : 0, pL, pR, pK, pBase, pF, pE, pT, work, diag ? diag.count : 0, pCoef);
    E.set(f64view(pE, m * n));
    return E;
  } finally {
    resetArena();
  }
}

/**
 * `lowRankSqAcc` with a shared K0 and the factors gathered in Wasm from fixed matrices: the a-th
 * stacked atom uses row idx[a] of L0 [h × m] and scale[a]·(row idx[a] of R0 [h × n]); row b takes
 * the next counts[b] atoms. Saves building L and R in JS when the atoms are rows of fixed matrices
 * (e.g. the hidden units of an MLP). base and f as in lowRankSqAcc.
 */
export function lowRankSqAccGather(
  nRows: number, m: number, n: number, K0: Float64Array, L0: Float64Array, R0: Float64Array, h: number,
  idx: Int32Array, scale: Float64Array, counts: Int32Array, f: Float64Array | null, E: Float64Array,
  base: Int32Array | null = null,
): Float64Array {
  const fn = 'lowRankSqAccGather';
  checkDim(fn, 'm', m);
  checkDim(fn, 'n', n);
  checkDim(fn, 'h', h);
  if (!Number.isInteger(nRows) || nRows < 0) throw new RangeError(`${fn}: nRows must be a non-negative integer, got ${nRows}`);
  checkArray(fn, 'K0', K0, m * n, `[${m} × ${n}]`, false);
  checkArray(fn, 'L0', L0, h * m, `[${h} × ${m}]`, false);
  checkArray(fn, 'R0', R0, h * n, `[${h} × ${n}]`, false);
  checkArray(fn, 'E', E, m * n, `[${m} × ${n}]`, false);
  if (counts.length < nRows) throw new RangeError(`${fn}: counts has ${counts.length} entries, expected ${nRows}`);
  let kt = 0;
  let kmax = 0;
  for (let b = 0; b < nRows; b++) {
    const k = counts[b]!;
    if (!Number.isInteger(k) || k < 0) throw new RangeError(`${fn}: counts[${b}] = ${k} is not a non-negative integer`);
    kt += k;
    kmax = Math.max(kmax, k);
  }
  if (idx.length < kt || scale.length < kt) throw new RangeError(`${fn}: idx/scale have ${Math.min(idx.length, scale.length)} entries, expected at least ${kt} (Σ counts)`);
  for (let a = 0; a < kt; a++) {
    const i = idx[a]!;
    if (!(i >= 0 && i < h)) throw new RangeError(`${fn}: idx[${a}] = ${i} is outside [0, ${h})`);
  }
  if (f && f.length < nRows * m) throw new RangeError(`${fn}: f has length ${f.length}, expected ${nRows * m}`);
  if (base && base.length < nRows) throw new RangeError(`${fn}: base has ${base.length} entries, expected ${nRows}`);
  if (nRows === 0) return E;
  const K = kernels();
  resetArena();
  try {
    const pK0 = copyIn(fn, 'K0', K0, n);
    const pL0 = copyIn(fn, 'L0', L0, m);
    const pR0 = copyIn(fn, 'R0', R0, n);
    const pS = copyIn(fn, 'scale', scale.subarray(0, kt), 1);
    const pF = f ? copyIn(fn, 'f', f.subarray(0, nRows * m), m) : 0;
    const pE = copyIn(fn, 'E', E, n);
    const pIdx = alloc(Math.max(1, kt), 4, fn);
    const pK = alloc(nRows, 4, fn);
    const pBase = base ? alloc(nRows, 4, fn) : 0;
    const pT = alloc(m * n, 8, fn);
    const pLs = alloc(Math.max(1, kmax) * m, 8, fn);
    const pRs = alloc(Math.max(1, kmax) * n, 8, fn);
    const work = alloc(K.gemmWork(m, n), 8, fn);
    const buf = kernels().memory.buffer;
    new Int32Array(buf, pIdx, kt).set(idx.subarray(0, kt));
    new Int32Array(buf, pK, nRows).set(counts.subarray(0, nRows));
    if (base) new Int32Array(buf, pBase, nRows).set(base.subarray(0, nRows));
    K.lowRankSqAccGather(nRows, m, n, pK0, pL0, pR0, pIdx, pS, pK, pBase, pF, pE, pT, pLs, pRs, work);
    E.set(f64view(pE, m * n));
    return E;
  } finally {
    resetArena();
  }
}

/**
 * Pairwise accumulation within groups of atoms: for each group [start[g], start[g+1]) and atoms
 * α, β in it, Z[α, blk[β]·dh : +dh] += (u_α · W[β, (blk[α] >> 1)·dv : +dv]) · y_β.
 * u [n × dv], W [n × ldw], y [n × dh], Z [n × ldz] (accumulated in place and returned; null = start
 * from zeros in a new array); blk[a] ≥ 0
 * with (blk[a] >> 1)·dv + dv ≤ ldw and blk[a]·dh + dh ≤ ldz. (The atom Gram K_αβ = u_αᵀΩu_β and
 * Z = K·Y of the attention M′, with W = rows of (Ω u_β)ᵀ.)
 */
export function groupPairs(
  start: Int32Array, blk: Int32Array, u: Float64Array, dv: number, W: Float64Array, ldw: number,
  y: Float64Array, dh: number, Z: Float64Array | null, ldz: number,
): Float64Array {
  const fn = 'groupPairs';
  const g = start.length - 1;
  if (g < 0) throw new RangeError(`${fn}: start needs at least one entry`);
  const n = start[g]!;
  if (start[0] !== 0) throw new RangeError(`${fn}: start[0] must be 0, got ${start[0]}`);
  for (let i = 0; i < g; i++) if (!(start[i + 1]! >= start[i]!)) throw new RangeError(`${fn}: start must be non-decreasing (start[${i + 1}] = ${start[i + 1]} < ${start[i]})`);
  if (blk.length < n) throw new RangeError(`${fn}: blk has ${blk.length} entries, expected ${n}`);
  for (let a = 0; a < n; a++) {
    const b = blk[a]!;
    if (!(b >= 0 && (b >> 1) * dv + dv <= ldw && b * dh + dh <= ldz)) throw new RangeError(`${fn}: blk[${a}] = ${b} is out of range for ldw ${ldw}, ldz ${ldz}`);
  }
  checkArray(fn, 'u', u, n * dv, `[${n} × ${dv}]`, false);
  checkArray(fn, 'W', W, n * ldw, `[${n} × ${ldw}]`, false);
  checkArray(fn, 'y', y, n * dh, `[${n} × ${dh}]`, false);
  if (Z) checkArray(fn, 'Z', Z, n * ldz, `[${n} × ${ldz}]`, false);
  const out = Z ?? new Float64Array(n * ldz);
  if (n === 0) return out;
  const K = kernels();
  resetArena();
  try {
    const pU = copyIn(fn, 'u', u, dv);
    const pW = copyIn(fn, 'W', W, ldw);
    const pY = copyIn(fn, 'y', y, dh);
    let pZ: number;
    if (Z) pZ = copyIn(fn, 'Z', Z, ldz);
    else {
      pZ = alloc(n * ldz, 8, fn);
      f64view(pZ, n * ldz).fill(0);
    }
    const pS = alloc(g + 1, 4, fn);
    const pB = alloc(n, 4, fn);
    const buf = kernels().memory.buffer;
    new Int32Array(buf, pS, g + 1).set(start);
    new Int32Array(buf, pB, n).set(blk.subarray(0, n));
    K.groupPairs(g, pS, pB, pU, pW, ldw, pY, pZ, ldz, dv, dh);
    out.set(f64view(pZ, n * ldz));
    return out;
  } finally {
    resetArena();
  }
}

/**
 * Greedy nearest-neighbour chain over `rows` bitsets of `words` 32-bit words each (row-major in
 * `bits`; `words` even, so each row is whole 64-bit words): the order starts at row 0 and always
 * continues with the unused row nearest in Hamming distance to the current one, ties going to the
 * lowest row index. O(rows² · words) popcounts, in Wasm.
 */
export function nearestChain(bits: Int32Array, rows: number, words: number): Int32Array {
  const fn = 'nearestChain';
  checkDim(fn, 'rows', rows, 0);
  checkDim(fn, 'words', words);
  if (words % 2 !== 0) throw new RangeError(`${fn}: words must be even (whole 64-bit words per row), got ${words}`);
  if (bits.length < rows * words) throw new RangeError(`${fn}: bits has ${bits.length} entries, expected ${rows * words} ([${rows} × ${words}])`);
  const order = new Int32Array(rows);
  if (rows === 0) return order;
  const K = kernels();
  resetArena();
  try {
    const pBits = alloc(rows * words, 4, fn);
    const pOrder = alloc(rows, 4, fn);
    const pRem = alloc(rows, 4, fn);
    new Int32Array(kernels().memory.buffer, pBits, rows * words).set(bits.subarray(0, rows * words));
    K.nearestChain(rows, words >> 1, pBits, pOrder, pRem);
    order.set(new Int32Array(kernels().memory.buffer, pOrder, rows));
    return order;
  } finally {
    resetArena();
  }
}

// ---------------------------------------------------------------- eigh

/** Relative asymmetry tolerated by eigh (the input is symmetrised as (A + Aᵀ)/2). */
export const EIGH_SYMMETRY_TOL = 1e-10;

/**
 * Symmetric eigendecomposition of A[n×n]: values descending, vectors n×n row-major with column k
 * the unit eigenvector of values[k].
 */
export function eigh(A: Float64Array, n: number, opts: EighOptions = {}): { values: Float64Array; vectors: Float64Array } {
  if (opts.method === 'jacobi') return eighJacobi(A, n, opts);
  if (opts.method !== undefined && opts.method !== 'ql') throw new RangeError(`eigh: unknown method "${String(opts.method)}" (use "ql" or "jacobi")`);
  const fn = 'eigh';
  checkDim(fn, 'n', n);
  checkArray(fn, 'A', A, n * n, `[n=${n} × n=${n}]`, false);
  const amax = maxAbsFinite(fn, A, n);
  const K = kernels();
  resetArena();
  try {
    const pA = alloc(n * n, 8, `${fn}: operand A [${n}×${n}]`);
    symmetrizeInto(fn, A, n, amax, f64view(pA, n * n));
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
  } finally {
    resetArena();
  }
}

export interface EighOptions {
  /**
   * 'ql' (default): Householder tridiagonalisation + implicit QL, fast, eigenvalues accurate to
   * ~ε·‖A‖. 'jacobi': cyclic two-sided Jacobi with the relative off-diagonal test, slower, but small
   * eigenvalues of graded (near-)semidefinite matrices keep high relative accuracy.
   */
  method?: 'ql' | 'jacobi';
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
  const K = kernels();
  resetArena();
  try {
    const pA = alloc(n * n, 8, `${fn}: operand A [${n}×${n}]`);
    const Aw = f64view(pA, n * n);
    symmetrizeInto(fn, A, n, amax, Aw);
    const pV = alloc(n * n, 8, fn);
    const rc = K.eighJacobi(pA, n, pV, maxSweeps);
    if (rc < 0) throw new Error(`${fn}: Jacobi did not converge in ${maxSweeps} sweeps (n=${n})`);
    const a = f64view(pA, n * n);
    return sortedEigenpairs(fn, n, amax, (i) => a[i * n + i]!, f64view(pV, n * n));
  } finally {
    resetArena();
  }
}

/** max |A| over n×n entries; refuses NaN/Inf naming the entry. */
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
  const K = kernels();
  resetArena();
  try {
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
  } finally {
    resetArena();
  }
}

// ---------------------------------------------------------------- math

export function exp(x: number): number { return kernels().exp(x); }
export function log(x: number): number { return kernels().log(x); }
export function tanh(x: number): number { return kernels().tanh(x); }
export function erf(x: number): number { return kernels().erf(x); }
export function cos(x: number): number { return kernels().cos(x); }
export function sin(x: number): number { return kernels().sin(x); }
export function pow(x: number, y: number): number { return kernels().pow(x, y); }

const VCHUNK = 1 << 16;

function vapply(op: number, fn: string, x: Float64Array, out?: Float64Array): Float64Array {
  if (!(x instanceof Float64Array)) throw new TypeError(`${fn}: x must be a Float64Array`);
  const o = out ?? x;
  if (!(o instanceof Float64Array) || o.length !== x.length) {
    throw new RangeError(`${fn}: out must be a Float64Array of length ${x.length}`);
  }
  const K = kernels();
  resetArena();
  try {
    const p = alloc(Math.min(VCHUNK, x.length), 8, fn);
    for (let i0 = 0; i0 < x.length; i0 += VCHUNK) {
      const c = Math.min(VCHUNK, x.length - i0);
      const v = f64view(p, c);
      v.set(x.subarray(i0, i0 + c));
      K.vmath(op, p, c);
      o.set(f64view(p, c), i0);
    }
    return o;
  } finally {
    resetArena();
  }
}

/** Elementwise exp; writes into `out` (default: in place into x). Same for vlog … vsin. */
export function vexp(x: Float64Array, out?: Float64Array): Float64Array { return vapply(0, 'vexp', x, out); }
export function vlog(x: Float64Array, out?: Float64Array): Float64Array { return vapply(1, 'vlog', x, out); }
export function vtanh(x: Float64Array, out?: Float64Array): Float64Array { return vapply(2, 'vtanh', x, out); }
export function verf(x: Float64Array, out?: Float64Array): Float64Array { return vapply(3, 'verf', x, out); }
export function vcos(x: Float64Array, out?: Float64Array): Float64Array { return vapply(4, 'vcos', x, out); }
export function vsin(x: Float64Array, out?: Float64Array): Float64Array { return vapply(5, 'vsin', x, out); }

/**
 * Fill `out` with standard normals by Box–Muller: pair (u1, u2) of rng.uniform() draws gives
 * r·cos(2πu2), r·sin(2πu2), r = sqrt(−2·log(1 − u1)) (Wasm log/cos/sin, deterministic). An odd
 * length draws one extra pair and drops its second normal.
 */
export function normals(rng: Rng, out: Float64Array): Float64Array {
  if (!(out instanceof Float64Array)) throw new TypeError('normals: out must be a Float64Array');
  const K = kernels();
  resetArena();
  try {
    const p = alloc(VCHUNK, 8, 'normals');
    for (let i0 = 0; i0 < out.length; i0 += VCHUNK) {
      const c = Math.min(VCHUNK, out.length - i0);
      const c2 = c + (c & 1);
      const v = f64view(p, c2);
      for (let i = 0; i < c2; i++) v[i] = rng.uniform();
      K.boxMuller(p, c2);
      out.set(f64view(p, c), i0);
    }
    return out;
  } finally {
    resetArena();
  }
}

// Wasm instance and its memory arena. Operands are copied into a bump arena above the module's
// heap base; every public kernel call resets the arena first, so repeated calls never leak. The
// memory grows on demand up to ARENA_MAX_BYTES; larger inputs are streamed in chunks by the
// callers (syrk) or refused with a RangeError.
import { instantiate, instantiateSync } from '@assemblyscript/loader';

export interface KernelExports {
  memory: WebAssembly.Memory;
  heapBase(): number;
  exp(x: number): number;
  log(x: number): number;
  tanh(x: number): number;
  erf(x: number): number;
  cos(x: number): number;
  sin(x: number): number;
  pow(x: number, y: number): number;
  vmath(op: number, p: number, n: number): void;
  boxMuller(p: number, n: number): void;
  gemm(
    transA: number, transB: number, m: number, n: number, k: number,
    pA: number, lda: number, aF32: number, pB: number, ldb: number, bF32: number,
    pC: number, ldc: number, alpha: number, beta: number, work: number,
  ): void;
  gemmWork(m: number, n: number): number;
  syrkAcc(pX: number, isF32: number, rows: number, d: number, pGu: number, work: number): void;
  syrkFinish(pGu: number, d: number, pG: number, alpha: number): void;
  syrkKc(d: number): number;
  binaryGram(pX: number, rows: number, d: number, pG: number, work: number): number;
  eigh(pA: number, n: number, pD: number, pE: number, pW: number, pTau: number, pP: number, pRot: number): number;
  eighRotCap(n: number): number;
  lowRankSqAccGather(nRows: number, m: number, n: number, pK0: number, pL0: number, pR0: number, pIdx: number, pS: number, pK: number, pBase: number, pF: number, pE: number, pT: number, pLs: number, pRs: number, work: number): void;
  groupPairs(g: number, pStart: number, pBlk: number, pU: number, pW: number, ldw: number, pY: number, pZ: number, ldz: number, dv: number, dh: number, pWRow: number, pZRow: number): void;
  nearestChain(rows: number, w: number, pBits: number, pOrder: number, pRem: number): void;
  eighJacobi(pA: number, n: number, pVt: number, maxSweeps: number): number;
  eighDC(pA: number, n: number, pD: number, pVt: number, work: number): number;
  eighDCWork(n: number): number;
  eighTridiag(n: number, pD: number, pE: number, pVt: number, work: number): number;
  tridiagonalize(pA: number, n: number, pD: number, pE: number, pTau: number, work: number): void;
  tridiagWork(n: number): number;
  dcWork(n: number): number;
  lowRankSqAcc(nRows: number, m: number, n: number, pK0: number, k0Stride: number, pL: number, pR: number, pK: number, pBase: number, pF: number, pE: number, pT: number, work: number, nDiag: number, pCoef: number): void;
  svd(pA: number, m: number, n: number, pU: number, pS: number, pV: number, work: number): number;
  svdWork(m: number, n: number): number;
  firstNonFinite(p: number, n: number, isF32: number): number;
  attnForward(P: number, H: number, dh: number, dv: number, h0: number, h1: number, win: number, scale: number, pQ: number, pK: number, pV: number, pA: number, pZ: number, pKT: number, i0: number): void;
  attnForwardSamples(nb: number, P: number, H: number, dh: number, dv: number, win: number, scale: number, pQ: number, pK: number, pV: number, pA: number, pZ: number, pKT: number, i0: number): void;
  attnMprimeWork(B: number, P: number, H: number, dh: number, dv: number, nQ: number, nT: number, pT: number): number;
  attnMprimeAcc(B: number, P: number, H: number, dh: number, dv: number, scale: number, nQ: number, nT: number, pT: number, pW: number, pFw: number, pOm: number, pAcc: number, work: number): void;
  attnEdgesWork(H: number, nQ: number, nT: number, pT: number, rin: number, K: number): number;
  attnEdgesAcc(B: number, P: number, H: number, nQ: number, nT: number, pT: number, rin: number, K: number, scale: number, pW: number, pF: number, pA: number, pAbar: number, pQK: number, pKQ: number, pTm: number, pE: number, work: number): void;
  mlpEdgesWork(rows: number, H: number, rin: number, rout: number): number;
  mlpEdgesAcc(rows: number, H: number, rin: number, rout: number, pM: number, pF: number, pAT: number, pBm: number, pK0: number, pE: number, work: number): void;
  attnBackward(P: number, H: number, dh: number, dv: number, h0: number, h1: number, nr: number, scale: number, pQ: number, pK: number, pV: number, pA: number, pGZ: number, pGQ: number, pGK: number, pGV: number, pW: number): void;
}

/** Default largest arena (bytes) a single call may use. */
export const ARENA_MAX_BYTES = 2 ** 31;
let arenaLimit = ARENA_MAX_BYTES;

/** Change the per-call arena limit (tests use a small one to exercise chunking/refusal). */
export function setArenaLimit(bytes: number): void {
  arenaLimit = Math.min(ARENA_MAX_BYTES, Math.max(2 ** 20, bytes));
}

let K: KernelExports | null = null;
let base = 0;
let top = 0;

export function setInstance(exports: KernelExports): void {
  K = exports;
  base = exports.heapBase();
  top = base;
}

/** A block of Wasm memory that outlives calls (see `resident()` in operands.ts). */
export interface ResidentSlot {
  ptr: number;
  bytes: number;
}

const residents: ResidentSlot[] = [];

/**
 * Reserve `bytes` below the arena for a resident operand. Residents sit between the heap base and
 * the arena; the arena base moves up. Only valid between calls (the arena is empty then).
 */
export function residentAlloc(bytes: number): ResidentSlot {
  const aligned = Math.ceil(bytes / 64) * 64;
  const slot: ResidentSlot = { ptr: base, bytes: aligned };
  const mem = kernels().memory;
  const need = base + aligned + 64;
  const have = mem.buffer.byteLength;
  if (need > have) {
    try {
      mem.grow(Math.ceil((need - have) / 65536));
    } catch {
      throw new RangeError(`resident: cannot grow Wasm memory to ${(need / 2 ** 20).toFixed(0)} MiB`);
    }
  }
  base += aligned;
  top = base;
  residents.push(slot);
  return slot;
}

/** Release a resident block; later residents are moved down (their slots are updated). */
export function residentFree(slot: ResidentSlot): boolean {
  const i = residents.indexOf(slot);
  if (i < 0) return false;
  residents.splice(i, 1);
  const bytes = new Uint8Array(kernels().memory.buffer);
  let p = slot.ptr;
  for (let j = i; j < residents.length; j++) {
    const r = residents[j]!;
    bytes.copyWithin(p, r.ptr, r.ptr + r.bytes);
    r.ptr = p;
    p += r.bytes;
  }
  base = p;
  top = base;
  return true;
}

/** Bytes held by resident operands. */
export function residentBytes(): number {
  return residents.reduce((s, r) => s + r.bytes, 0);
}

export function kernels(): KernelExports {
  if (!K) throw new Error('interbasis kernels are not initialised: call `await initKernels()` first');
  return K;
}

export function isReady(): boolean {
  return K !== null;
}

export async function instantiateKernels(source: BufferSource | WebAssembly.Module): Promise<KernelExports> {
  const imports = {
    env: {
      abort(_msg: number, _file: number, line: number, col: number): never {
        throw new Error(`kernels.wasm aborted at ${line}:${col}`);
      },
      seed(): number {
        return 0;
      },
    },
  };
  // In Node, the loader's async instantiate() first probes `typeof Response`, which loads Node's
  // whole fetch implementation (20-80 ms per thread): compile, then instantiate directly.
  const isNode = typeof process !== 'undefined' && !!process.versions?.node;
  const res = isNode
    ? instantiateSync<Record<string, unknown>>(source instanceof WebAssembly.Module ? source : await WebAssembly.compile(source), imports)
    : await instantiate<Record<string, unknown>>(source as never, imports);
  return res.exports as unknown as KernelExports;
}

/** Start a new call: everything allocated by the previous call is released. */
export function resetArena(): void {
  top = base;
}

/**
 * The one arena discipline of every kernel call: the arena is reset, `body` allocates its operands
 * and scratch with `alloc` and runs the kernel, and everything is released when it returns or
 * throws.
 */
export function withArena<T>(body: (K: KernelExports) => T): T {
  const k = kernels();
  resetArena();
  try {
    return body(k);
  } finally {
    resetArena();
  }
}

/** Current arena position; allocations after it can be dropped with arenaRelease(mark). */
export function arenaMark(): number {
  return top;
}

export function arenaRelease(mark: number): void {
  top = mark;
}

/** Size of the Wasm linear memory (bytes). */
export function kernelMemoryBytes(): number {
  return kernels().memory.buffer.byteLength;
}

/** Bytes currently reserved in the arena (0 between calls). */
export function arenaUsedBytes(): number {
  return top - base;
}

/** Bytes still allocatable in this call. */
export function arenaFree(): number {
  return arenaLimit - (top - base);
}

/** Reserve `count` elements of `bytesPer` bytes (64-byte aligned); grows memory if needed. */
export function alloc(count: number, bytesPer: number, what: string): number {
  const bytes = Math.ceil((count * bytesPer) / 64) * 64;
  if (top - base + bytes > arenaLimit) {
    const need = top - base + bytes;
    top = base; // the failing call is abandoned: release everything
    throw new RangeError(
      `${what}: needs ${(need / 2 ** 20).toFixed(1)}+ MiB of Wasm memory, more than the ${(arenaLimit / 2 ** 20).toFixed(0)} MiB limit of one instance`,
    );
  }
  const p = top;
  top += bytes;
  const mem = kernels().memory;
  const have = mem.buffer.byteLength;
  if (top > have) {
    try {
      mem.grow(Math.ceil((top - have) / 65536));
    } catch {
      top = base;
      throw new RangeError(`${what}: cannot grow Wasm memory to ${(top / 2 ** 20).toFixed(0)} MiB (engine limit)`);
    }
  }
  return p;
}

export function f64view(p: number, n: number): Float64Array {
  return new Float64Array(kernels().memory.buffer, p, n);
}

export function f32view(p: number, n: number): Float32Array {
  return new Float32Array(kernels().memory.buffer, p, n);
}

export function i32view(p: number, n: number): Int32Array {
  return new Int32Array(kernels().memory.buffer, p, n);
}

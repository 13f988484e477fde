// Operands of the kernel calls: argument checks, copying into the Wasm arena with the NaN/Inf
// screen, and resident operands kept in Wasm memory across calls. Browser-safe.
import { f32view, f64view, alloc, kernels, resetArena, residentAlloc, residentFree, type ResidentSlot } from './wasm.js';

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

export function isF32(a: FloatArray | Resident): boolean {
  return a instanceof Resident ? a.isF32 : a instanceof Float32Array;
}

export function residentPtr(fn: string, name: string, r: Resident): number {
  if (!r.slot) throw new RangeError(`${fn}: resident operand ${name} has been freed`);
  return r.slot.ptr;
}

export function checkDim(fn: string, name: string, v: number, min = 1): void {
  if (!Number.isInteger(v) || v < min) throw new RangeError(`${fn}: ${name} must be an integer ≥ ${min}, got ${v}`);
}

export function checkArray(fn: string, name: string, a: unknown, len: number, shape: string, allowF32 = true, allowResident = false): void {
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

export function nonFiniteError(fn: string, name: string, idx: number, cols: number, value: number): RangeError {
  const r = Math.floor(idx / cols);
  const c = idx % cols;
  return new RangeError(`${fn}: input ${name} contains a non-finite value (${value}) at [${r},${c}]`);
}

let screenOperands = true;

/** Whether operands copied in are screened for NaN/Inf (off inside `withoutOperandScreen`). */
export function screening(): boolean {
  return screenOperands;
}

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
export function copyIn(fn: string, name: string, a: FloatArray, cols: number, offsetElems = 0): number {
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

// Deterministic math from the Wasm module (musl/msun ports): scalars, arrays, normals.
import type { Rng } from '../rng.js';
import { alloc, f64view, kernels, withArena } from './wasm.js';

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
  return withArena((K) => {
    const p = alloc(Math.min(VCHUNK, x.length), 8, fn);
    for (let i0 = 0; i0 < x.length; i0 += VCHUNK) {
      const c = Math.min(VCHUNK, x.length - i0);
      const v = f64view(p, c);
      v.set(x.subarray(i0, i0 + c));
      K.vmath(op, p, c);
      o.set(f64view(p, c), i0);
    }
    return o;
  });
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
  return withArena((K) => {
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
  });
}

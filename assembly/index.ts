// Wasm kernel exports. Memory is owned by the TS side (src/linalg/wasm.ts): it places operands
// above heapBase() and grows the memory as needed; nothing here allocates.
import { erf as erfImpl } from './math';
export { gemm, gemmWork, syrkAcc, syrkFinish, syrkKc, binaryGram } from './gemm';
export { eigh, eighRotCap } from './eigh';
export { eighJacobi } from './jacobi';
export { eighDC, eighDCWork, eighTridiag, tridiagonalize } from './eighdc';
export { tridiagWork } from './tridiag';
export { dcWork } from './dc';
export { lowRankSqAcc, lowRankSqAccGather } from './sqacc';
export { groupPairs } from './pairs';
export { nearestChain } from './chain';
export { svd, svdWork } from './svd';
export { attnForward, attnForwardSamples, attnBackward } from './attention';
export { attnMprimeAcc, attnMprimeWork } from './attnmprime';
export { attnEdgesAcc, attnEdgesWork } from './attnedges';
export { mlpEdgesAcc, mlpEdgesWork } from './mlpedges';

export function heapBase(): usize {
  return (__heap_base + 63) & ~63;
}

export function exp(x: f64): f64 { return Math.exp(x); }
export function log(x: f64): f64 { return Math.log(x); }
export function tanh(x: f64): f64 { return Math.tanh(x); }
export function erf(x: f64): f64 { return erfImpl(x); }
export function cos(x: f64): f64 { return Math.cos(x); }
export function sin(x: f64): f64 { return Math.sin(x); }
export function pow(x: f64, y: f64): f64 { return Math.pow(x, y); }

/** In-place elementwise function on n f64 at p: op 0 exp, 1 log, 2 tanh, 3 erf, 4 cos, 5 sin. */
export function vmath(op: i32, p: usize, n: i32): void {
  for (let i = 0; i < n; i++) {
    const o = p + (<usize>i << 3);
    const x = load<f64>(o);
    let y: f64;
    switch (op) {
      case 0: y = Math.exp(x); break;
      case 1: y = Math.log(x); break;
      case 2: y = Math.tanh(x); break;
      case 3: y = erfImpl(x); break;
      case 4: y = Math.cos(x); break;
      default: y = Math.sin(x); break;
    }
    store<f64>(o, y);
  }
}

/**
 * Box–Muller in place: n uniforms in [0,1) at p (n even) become n standard normals. Pair
 * (u1, u2) → r = sqrt(−2 log(1 − u1)), (r cos 2πu2, r sin 2πu2).
 */
export function boxMuller(p: usize, n: i32): void {
  const TWO_PI: f64 = 6.283185307179586;
  for (let i = 0; i + 1 < n; i += 2) {
    const o = p + (<usize>i << 3);
    const u1 = load<f64>(o), u2 = load<f64>(o, 8);
    const r = Math.sqrt(-2.0 * Math.log(1.0 - u1));
    const th = TWO_PI * u2;
    store<f64>(o, r * Math.cos(th));
    store<f64>(o, r * Math.sin(th), 8);
  }
}

/** Index of the first NaN/±Inf among n values at p (f64, or f32 if isF32), or -1. */
export function firstNonFinite(p: usize, n: i32, isF32: bool): i32 {
  if (isF32) {
    for (let i = 0; i < n; i++) if ((load<u32>(p + (<usize>i << 2)) & 0x7f800000) == 0x7f800000) return i;
    return -1;
  }
  // fast SIMD screen: Σ x·0 is NaN iff some x is NaN or ±Inf
  const z = f64x2.splat(0);
  let acc0 = z, acc1 = z;
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = p + (<usize>i << 3);
    acc0 = f64x2.add(acc0, f64x2.mul(v128.load(o), z));
    acc1 = f64x2.add(acc1, f64x2.mul(v128.load(o, 16), z));
  }
  for (; i < n; i++) acc0 = f64x2.add(acc0, f64x2.splat(load<f64>(p + (<usize>i << 3)) * 0.0));
  acc0 = f64x2.add(acc0, acc1);
  const s = f64x2.extract_lane(acc0, 0) + f64x2.extract_lane(acc0, 1);
  if (s == s) return -1;
  for (let j = 0; j < n; j++) if ((load<u64>(p + (<usize>j << 3)) & 0x7ff0000000000000) == 0x7ff0000000000000) return j;
  return -1;
}

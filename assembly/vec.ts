// Small SIMD helpers on contiguous f64 vectors.

// @ts-ignore: decorator
@inline
export function dot(px: usize, py: usize, n: i32): f64 {
  let s0 = f64x2.splat(0), s1 = f64x2.splat(0);
  let k = 0;
  for (; k + 4 <= n; k += 4) {
    const o = <usize>k << 3;
    s0 = f64x2.add(s0, f64x2.mul(v128.load(px + o), v128.load(py + o)));
    s1 = f64x2.add(s1, f64x2.mul(v128.load(px + o, 16), v128.load(py + o, 16)));
  }
  s0 = f64x2.add(s0, s1);
  let s = f64x2.extract_lane(s0, 0) + f64x2.extract_lane(s0, 1);
  for (; k < n; k++) s += load<f64>(px + (<usize>k << 3)) * load<f64>(py + (<usize>k << 3));
  return s;
}

/** y += a·x */
// @ts-ignore: decorator
@inline
export function axpy(a: f64, px: usize, py: usize, n: i32): void {
  const av = f64x2.splat(a);
  let k = 0;
  for (; k + 4 <= n; k += 4) {
    const o = <usize>k << 3;
    v128.store(py + o, f64x2.add(v128.load(py + o), f64x2.mul(av, v128.load(px + o))));
    v128.store(py + o, f64x2.add(v128.load(py + o, 16), f64x2.mul(av, v128.load(px + o, 16))), 16);
  }
  for (; k < n; k++) {
    const o = <usize>k << 3;
    store<f64>(py + o, load<f64>(py + o) + a * load<f64>(px + o));
  }
}

/** x' = c·x − s·y, y' = s·x + c·y */
// @ts-ignore: decorator
@inline
export function rot(px: usize, py: usize, n: i32, c: f64, s: f64): void {
  const cv = f64x2.splat(c), sv = f64x2.splat(s);
  let k = 0;
  for (; k + 2 <= n; k += 2) {
    const o = <usize>k << 3;
    const x = v128.load(px + o), y = v128.load(py + o);
    v128.store(px + o, f64x2.sub(f64x2.mul(cv, x), f64x2.mul(sv, y)));
    v128.store(py + o, f64x2.add(f64x2.mul(sv, x), f64x2.mul(cv, y)));
  }
  for (; k < n; k++) {
    const o = <usize>k << 3;
    const x = load<f64>(px + o), y = load<f64>(py + o);
    store<f64>(px + o, c * x - s * y);
    store<f64>(py + o, s * x + c * y);
  }
}

/** Largest |x| over n values (NaN-propagating is not needed: inputs are validated). */
export function maxAbs(p: usize, n: i32): f64 {
  let m: f64 = 0;
  for (let k = 0; k < n; k++) m = max(m, Math.abs(load<f64>(p + (<usize>k << 3))));
  return m;
}

/** Exponent k such that 2^k · m is in [0.5, 1) (m > 0, finite). */
export function scaleExp(m: f64): i32 {
  let k = 0;
  while (m >= 1.0) { m *= 0.5; k--; if (m >= 1e10) { m *= 7.888609052210118e-31; k -= 100; } }
  while (m < 0.5) { m *= 2.0; k++; if (m < 1e-10) { m *= 1.2676506002282294e+30; k += 100; } }
  return k;
}

/** x *= 2^k exactly (two steps so that |k| up to 2000 works). */
export function scalePow2(p: usize, n: i32, k: i32): void {
  const k1 = k >> 1;
  const k2 = k - k1;
  const f1 = pow2(k1), f2 = pow2(k2);
  for (let i = 0; i < n; i++) {
    const o = p + (<usize>i << 3);
    store<f64>(o, load<f64>(o) * f1 * f2);
  }
}

export function pow2(k: i32): f64 {
  return reinterpret<f64>(<u64>(k + 1023) << 52);
}

/** y += a·x1 + b·x2 (one pass over y). */
// @ts-ignore: decorator
@inline
export function axpy2(a: f64, px1: usize, b: f64, px2: usize, py: usize, n: i32): void {
  const av = f64x2.splat(a), bv = f64x2.splat(b);
  let k = 0;
  for (; k + 4 <= n; k += 4) {
    const o = <usize>k << 3;
    v128.store(py + o, f64x2.add(v128.load(py + o), f64x2.add(f64x2.mul(av, v128.load(px1 + o)), f64x2.mul(bv, v128.load(px2 + o)))));
    v128.store(py + o, f64x2.add(v128.load(py + o, 16), f64x2.add(f64x2.mul(av, v128.load(px1 + o, 16)), f64x2.mul(bv, v128.load(px2 + o, 16)))), 16);
  }
  for (; k < n; k++) {
    const o = <usize>k << 3;
    store<f64>(py + o, load<f64>(py + o) + (a * load<f64>(px1 + o) + b * load<f64>(px2 + o)));
  }
}

/**
 * y[0..n) += a·x1 + b·x2 and return Σ_{t≥1} y'[t]·v[t−1] (the updated y, shifted by one, dotted
 * with v), in one pass.
 */
// @ts-ignore: decorator
@inline
export function axpy2dot(a: f64, px1: usize, b: f64, px2: usize, py: usize, n: i32, pv: usize): f64 {
  store<f64>(py, load<f64>(py) + (a * load<f64>(px1) + b * load<f64>(px2)));
  const av = f64x2.splat(a), bv = f64x2.splat(b);
  let acc0 = f64x2.splat(0), acc1 = f64x2.splat(0);
  let k = 1;
  for (; k + 4 <= n; k += 4) {
    const o = <usize>k << 3;
    const y0 = f64x2.add(v128.load(py + o), f64x2.add(f64x2.mul(av, v128.load(px1 + o)), f64x2.mul(bv, v128.load(px2 + o))));
    const y1 = f64x2.add(v128.load(py + o, 16), f64x2.add(f64x2.mul(av, v128.load(px1 + o, 16)), f64x2.mul(bv, v128.load(px2 + o, 16))));
    v128.store(py + o, y0);
    v128.store(py + o, y1, 16);
    acc0 = f64x2.add(acc0, f64x2.mul(y0, v128.load(pv + o - 8)));
    acc1 = f64x2.add(acc1, f64x2.mul(y1, v128.load(pv + o + 8)));
  }
  acc0 = f64x2.add(acc0, acc1);
  let s = f64x2.extract_lane(acc0, 0) + f64x2.extract_lane(acc0, 1);
  for (; k < n; k++) {
    const o = <usize>k << 3;
    const y = load<f64>(py + o) + (a * load<f64>(px1 + o) + b * load<f64>(px2 + o));
    store<f64>(py + o, y);
    s += y * load<f64>(pv + o - 8);
  }
  return s;
}

/** bytes rounded up to a multiple of 64 (the work-memory regions of the per-shard kernels). */
// @ts-ignore: decorator
@inline
export function align64(bytes: u64): u64 {
  return (bytes + 63) & ~(<u64>63);
}

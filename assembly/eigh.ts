// Symmetric eigendecomposition: Householder tridiagonalisation + implicit QL (tql2), f64.
import { gemm, gemmWork } from './gemm';
import { buildVT, NB } from './householder';
import { dot, axpy, axpy2, axpy2dot, maxAbs, scaleExp, scalePow2 } from './vec';

const EPS: f64 = 2.220446049250313e-16;

/**
 * A[n×n] symmetric (overwritten). On return d[n] holds eigenvalues (unsorted), W[n×n] row i the
 * eigenvector of d[i]. Scratch: e[n], tau[n], p[2n], rot[eighRotCap(n)]. Returns 0, or -1 when QL failed to converge.
 */
/** Capacity (f64 entries) of the rotation buffer eigh needs for order n. */
export function eighRotCap(n: i32): i32 {
  const rot = stripScratch(n) + <i32>min(<i64>4 * <i64>n * <i64>n + 1024, <i64>(1 << 23));
  return max(rot, formQWork(n));
}

/** Scratch (f64) of the blocked Q formation: Vt, Y, Z (NB×n each), T (NB×NB), gemm work. */
function formQWork(n: i32): i32 {
  return 3 * NB * n + NB * NB + gemmWork(n, n) + 64;
}

/** f64 entries of the strip-major copy of W used by applyRotations. */
function stripScratch(n: i32): i32 {
  return (n & ~7) * n + 64;
}

export function eigh(pA: usize, n: i32, pD: usize, pE: usize, pW: usize, pTau: usize, pP: usize, pRot: usize): i32 {
  const nn = n * n;
  // identity for trivial cases
  memory.fill(pW, 0, <usize>nn << 3);
  for (let i = 0; i < n; i++) store<f64>(pW + ((<usize>i * <usize>n + <usize>i) << 3), 1.0);
  const amax = maxAbs(pA, nn);
  if (amax == 0.0) {
    memory.fill(pD, 0, <usize>n << 3);
    return 0;
  }
  const k = scaleExp(amax);
  scalePow2(pA, nn, k);
  tridiagonalize(pA, n, pD, pE, pTau, pP);
  formQtBlocked(pA, n, pW, pTau, pRot);
  const rc = tql(n, pD, pE, pW, pRot + (<usize>stripScratch(n) << 3), eighRotCap(n) - stripScratch(n), pRot);
  scalePow2(pD, n, -k);
  return rc;
}

// @ts-ignore: decorator
@inline function at(p: usize, n: i32, i: i32, j: i32): usize {
  return p + ((<usize>i * <usize>n + <usize>j) << 3);
}

export let houseBeta: f64 = 0;

/**
 * Householder reflector for x = px[0..L): on return px holds v (v[0] = 1), houseBeta = β with
 * (I − τvvᵀ)x = βe₁; returns τ (0 when x[1..] = 0, then v is not written and β = x[0]).
 */
export function makeReflector(px: usize, L: i32): f64 {
  const alpha = load<f64>(px);
  let xn2: f64 = 0;
  for (let i = 1; i < L; i++) { const v = load<f64>(px + (<usize>i << 3)); xn2 += v * v; }
  if (xn2 == 0.0) { houseBeta = alpha; return 0; }
  const nrm = Math.sqrt(alpha * alpha + xn2);
  const beta = alpha >= 0 ? -nrm : nrm;
  const sc = 1.0 / (alpha - beta);
  store<f64>(px, 1.0);
  for (let i = 1; i < L; i++) { const o = px + (<usize>i << 3); store<f64>(o, load<f64>(o) * sc); }
  houseBeta = beta;
  return (beta - alpha) / beta;
}

/**
 * Householder tridiagonalisation of the full symmetric A (both triangles kept). Reflector k is
 * stored in row k from column k+1. The matrix-vector product of step k+1 is fused into the rank-2
 * update of step k (each trailing row is updated and immediately dotted with the next v while it is
 * in L1), so every step streams the trailing matrix once. pP needs 2n entries.
 */
function tridiagonalize(pA: usize, n: i32, pD: usize, pE: usize, pTau: usize, pP: usize): void {
  for (let k = 0; k < n; k++) { store<f64>(pE + (<usize>k << 3), 0); store<f64>(pTau + (<usize>k << 3), 0); }
  let p = pP;
  let pNext = pP + (<usize>n << 3);
  let pending = false;
  let tau: f64 = 0, beta: f64 = 0;
  for (let k = 0; k < n - 2; k++) {
    store<f64>(pD + (<usize>k << 3), load<f64>(at(pA, n, k, k)));
    const L = n - k - 1;
    const px = at(pA, n, k, k + 1);
    if (!pending) {
      tau = makeReflector(px, L);
      beta = houseBeta;
      if (tau != 0.0) {
        for (let i = 0; i < L; i++) store<f64>(p + (<usize>i << 3), tau * dot(at(pA, n, k + 1 + i, k + 1), px, L));
      }
    }
    pending = false;
    store<f64>(pE + (<usize>k << 3), beta);
    store<f64>(pTau + (<usize>k << 3), tau);
    if (tau == 0.0) continue;
    const K = 0.5 * tau * dot(p, px, L);
    axpy(-K, px, p, L); // w = p − K v
    // row k+1 first
    let row = at(pA, n, k + 1, k + 1);
    axpy2(-load<f64>(px), p, -load<f64>(p), px, row, L);
    let tauN: f64 = 0;
    const fuse = k + 1 < n - 2;
    let pv: usize = 0;
    if (fuse) {
      pv = at(pA, n, k + 1, k + 2);
      tauN = makeReflector(pv, L - 1);
      beta = houseBeta;
      pending = true;
    }
    for (let i = 1; i < L; i++) {
      row = at(pA, n, k + 1 + i, k + 1);
      const a = -load<f64>(px + (<usize>i << 3)), b = -load<f64>(p + (<usize>i << 3));
      if (fuse && tauN != 0.0) {
        store<f64>(pNext + (<usize>(i - 1) << 3), tauN * axpy2dot(a, p, b, px, row, L, pv));
      } else {
        axpy2(a, p, b, px, row, L);
      }
    }
    if (fuse) {
      tau = tauN;
      const t = p; p = pNext; pNext = t;
    }
  }
  if (n >= 2) {
    store<f64>(pD + (<usize>(n - 2) << 3), load<f64>(at(pA, n, n - 2, n - 2)));
    store<f64>(pE + (<usize>(n - 2) << 3), load<f64>(at(pA, n, n - 2, n - 1)));
  }
  store<f64>(pD + (<usize>(n - 1) << 3), load<f64>(at(pA, n, n - 1, n - 1)));
  store<f64>(pE + (<usize>(n - 1) << 3), 0);
}

/**
 * W = Qᵀ (W = I on entry), Q = H_0 ⋯ H_{n−3} accumulated backwards in blocks of NB reflectors
 * with the compact WY form and GEMM. Reflector k lives in row k of A from column k+1, i.e. it is
 * row k of the (n−1)-column matrix starting at A + 8 (leading dimension n).
 */
function formQtBlocked(pA: usize, n: i32, pW: usize, pTau: usize, work: usize): void {
  const nref = n - 2;
  if (nref > 0) {
    const m = n - 1;
    const Vt = work;
    const T = Vt + (<usize>NB * <usize>n << 3);
    const Y = T + (<usize>NB * NB << 3);
    const Z = Y + (<usize>NB * <usize>n << 3);
    const gw = Z + (<usize>NB * <usize>n << 3);
    const W1 = at(pW, n, 1, 1);
    const nblk = (nref + NB - 1) / NB;
    for (let b = nblk - 1; b >= 0; b--) {
      const j0 = b * NB;
      const nb = min(NB, nref - j0);
      const mm = m - j0;
      buildVT(pA + 8, n, m, j0, nb, pTau, Vt, T);
      const Mb = at(W1, n, j0, j0);
      gemm(false, false, nb, mm, mm, Vt, mm, false, Mb, n, false, Y, mm, 1.0, 0.0, gw);
      gemm(false, false, nb, mm, nb, T, nb, false, Y, mm, false, Z, mm, 1.0, 0.0, gw);
      gemm(true, false, mm, mm, nb, Vt, mm, false, Z, mm, false, Mb, n, -1.0, 1.0, gw);
    }
  }
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const a = at(pW, n, i, j), b = at(pW, n, j, i);
      const t = load<f64>(a);
      store<f64>(a, load<f64>(b));
      store<f64>(b, t);
    }
  }
}

export function hyp(a: f64, b: f64): f64 {
  const r = Math.sqrt(a * a + b * b);
  if (r < 1e-150 || r > 1e150 || !isFinite(r)) return Math.hypot(a, b);
  return r;
}

/** Implicit QL with Wilkinson-like shifts on (d, e); rotations applied to the rows of W. */
export function tql(n: i32, pD: usize, pE: usize, pW: usize, pRot: usize, cap: i32, pStrip: usize): i32 {
  let f: f64 = 0, tst1: f64 = 0;
  let pos = 0; // entries used in the rotation buffer
  let iters = 0;
  const maxIters = 60 * n + 60;
  for (let l = 0; l < n; l++) {
    const el = Math.abs(load<f64>(pD + (<usize>l << 3))) + Math.abs(load<f64>(pE + (<usize>l << 3)));
    tst1 = max(tst1, el);
    let m = l;
    while (m < n) {
      if (Math.abs(load<f64>(pE + (<usize>m << 3))) <= EPS * tst1) break;
      m++;
    }
    if (m >= n) m = n - 1;
    if (m > l) {
      do {
        if (++iters > maxIters) return -1;
        if (pos + 2 * (m - l) + 2 > cap) { applyRotations(pRot, pos, pW, n, pStrip); pos = 0; }
        store<f64>(pRot + (<usize>pos << 3), <f64>m);
        store<f64>(pRot + (<usize>(pos + 1) << 3), <f64>l);
        pos += 2;
        let g = load<f64>(pD + (<usize>l << 3));
        const elv = load<f64>(pE + (<usize>l << 3));
        let p = (load<f64>(pD + (<usize>(l + 1) << 3)) - g) / (2.0 * elv);
        let r = hyp(p, 1.0);
        if (p < 0) r = -r;
        store<f64>(pD + (<usize>l << 3), elv / (p + r));
        store<f64>(pD + (<usize>(l + 1) << 3), elv * (p + r));
        const dl1 = load<f64>(pD + (<usize>(l + 1) << 3));
        let h = g - load<f64>(pD + (<usize>l << 3));
        for (let i = l + 2; i < n; i++) store<f64>(pD + (<usize>i << 3), load<f64>(pD + (<usize>i << 3)) - h);
        f += h;
        p = load<f64>(pD + (<usize>m << 3));
        let c: f64 = 1, c2: f64 = 1, c3: f64 = 1;
        const el1 = load<f64>(pE + (<usize>(l + 1) << 3));
        let s: f64 = 0, s2: f64 = 0;
        for (let i = m - 1; i >= l; i--) {
          c3 = c2; c2 = c; s2 = s;
          const ei = load<f64>(pE + (<usize>i << 3));
          const di = load<f64>(pD + (<usize>i << 3));
          g = c * ei;
          h = c * p;
          r = hyp(p, ei);
          store<f64>(pE + (<usize>(i + 1) << 3), s * r);
          s = ei / r;
          c = p / r;
          p = c * di - s * g;
          store<f64>(pD + (<usize>(i + 1) << 3), h + s * (c * g + s * di));
          store<f64>(pRot + (<usize>pos << 3), c);
          store<f64>(pRot + (<usize>(pos + 1) << 3), s);
          pos += 2;
        }
        p = (-s * s2 * c3 * el1 * load<f64>(pE + (<usize>l << 3))) / dl1;
        store<f64>(pE + (<usize>l << 3), s * p);
        store<f64>(pD + (<usize>l << 3), c * p);
      } while (Math.abs(load<f64>(pE + (<usize>l << 3))) > EPS * tst1);
    }
    store<f64>(pD + (<usize>l << 3), load<f64>(pD + (<usize>l << 3)) + f);
    store<f64>(pE + (<usize>l << 3), 0);
  }
  applyRotations(pRot, pos, pW, n, pStrip);
  return 0;
}

/**
 * Apply the recorded QL rotation sequences to the rows of W, in column strips of 8 so the strip
 * stays in L1 and the running row lives in registers. Record: m, l, then (c, s) for i = m−1 … l,
 * each rotating rows (i, i+1): row_i ← c·row_i − s·row_i+1, row_i+1 ← s·row_i + c·row_i+1.
 */
function applyRotations(pRot: usize, len: i32, pW: usize, n: i32, pStrip: usize): void {
  if (len == 0) return;
  const rowBytes = <usize>n << 3;
  const n8 = n & ~7;
  // W[:, 0:n8] → strip-major: strip s holds rows 0..n−1 of columns 8s..8s+7 contiguously
  for (let r = 0; r < n; r++) {
    const src = pW + <usize>r * rowBytes;
    for (let s = 0; s < (n8 >> 3); s++) {
      const d = pStrip + ((<usize>s * <usize>n + <usize>r) << 6);
      const o = <usize>s << 6;
      v128.store(d, v128.load(src + o)); v128.store(d, v128.load(src + o, 16), 16);
      v128.store(d, v128.load(src + o, 32), 32); v128.store(d, v128.load(src + o, 48), 48);
    }
  }
  let c0 = 0;
  for (; c0 + 8 <= n; c0 += 8) {
    const base = pStrip + (<usize>(c0 >> 3) * <usize>n << 6);
    const rowBytes: usize = 64;
    let q = 0;
    while (q < len) {
      const m = <i32>load<f64>(pRot + (<usize>q << 3));
      const l = <i32>load<f64>(pRot + (<usize>(q + 1) << 3));
      q += 2;
      let py = base + <usize>m * rowBytes;
      let y0 = v128.load(py), y1 = v128.load(py, 16), y2 = v128.load(py, 32), y3 = v128.load(py, 48);
      for (let i = m - 1; i >= l; i--) {
        const cs = pRot + (<usize>q << 3);
        const c = v128.load64_splat(cs), s = v128.load64_splat(cs, 8);
        q += 2;
        const px = py - rowBytes;
        const x0 = v128.load(px), x1 = v128.load(px, 16), x2 = v128.load(px, 32), x3 = v128.load(px, 48);
        v128.store(py, f64x2.add(f64x2.mul(s, x0), f64x2.mul(c, y0)));
        v128.store(py, f64x2.add(f64x2.mul(s, x1), f64x2.mul(c, y1)), 16);
        v128.store(py, f64x2.add(f64x2.mul(s, x2), f64x2.mul(c, y2)), 32);
        v128.store(py, f64x2.add(f64x2.mul(s, x3), f64x2.mul(c, y3)), 48);
        y0 = f64x2.sub(f64x2.mul(c, x0), f64x2.mul(s, y0));
        y1 = f64x2.sub(f64x2.mul(c, x1), f64x2.mul(s, y1));
        y2 = f64x2.sub(f64x2.mul(c, x2), f64x2.mul(s, y2));
        y3 = f64x2.sub(f64x2.mul(c, x3), f64x2.mul(s, y3));
        py = px;
      }
      v128.store(py, y0); v128.store(py, y1, 16); v128.store(py, y2, 32); v128.store(py, y3, 48);
    }
  }
  for (let r = 0; r < n; r++) {
    const dst = pW + <usize>r * rowBytes;
    for (let s = 0; s < (n8 >> 3); s++) {
      const src = pStrip + ((<usize>s * <usize>n + <usize>r) << 6);
      const o = <usize>s << 6;
      v128.store(dst + o, v128.load(src)); v128.store(dst + o, v128.load(src, 16), 16);
      v128.store(dst + o, v128.load(src, 32), 32); v128.store(dst + o, v128.load(src, 48), 48);
    }
  }
  for (; c0 < n; c0++) {
    const base = pW + (<usize>c0 << 3);
    let q = 0;
    while (q < len) {
      const m = <i32>load<f64>(pRot + (<usize>q << 3));
      const l = <i32>load<f64>(pRot + (<usize>(q + 1) << 3));
      q += 2;
      let py = base + <usize>m * rowBytes;
      let y = load<f64>(py);
      for (let i = m - 1; i >= l; i--) {
        const c = load<f64>(pRot + (<usize>q << 3)), s = load<f64>(pRot + (<usize>(q + 1) << 3));
        q += 2;
        const px = py - rowBytes;
        const x = load<f64>(px);
        store<f64>(py, s * x + c * y);
        y = c * x - s * y;
        py = px;
      }
      store<f64>(py, y);
    }
  }
}


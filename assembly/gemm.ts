// Packed, register-blocked f64 GEMM and SYRK kernels (SIMD128).
//
// Panel format ("P4"): a block of kc rows × (4·g) columns is stored as g groups, each group a
// contiguous kc×4 array (row k of group g holds columns 4g..4g+3). Both operands of the micro-kernel
// use this format: the "A side" supplies 4 rows of the output (splatted), the "B side" 4 columns.

import { axpy, dot } from './vec';

export const KC_MAX: i32 = 256;
export const NC: i32 = 128;
/** Target size (f64 entries) of the packed SYRK row block. */
export const SYRK_PANEL: i32 = 32768;

/** Micro-kernel: C[4×4] (row stride ldc, in f64) += alpha · Σ_k a[k][0..3]ᵀ b[k][0..3]. */
// @ts-ignore: decorator
@inline
export function kern4x4(pa: usize, pb: usize, kc: i32, pc: usize, ldc: usize, alpha: f64): void {
  let c00 = f64x2.splat(0), c01 = f64x2.splat(0);
  let c10 = f64x2.splat(0), c11 = f64x2.splat(0);
  let c20 = f64x2.splat(0), c21 = f64x2.splat(0);
  let c30 = f64x2.splat(0), c31 = f64x2.splat(0);
  for (let k = 0; k < kc; k++) {
    const b0 = v128.load(pb);
    const b1 = v128.load(pb, 16);
    let a = v128.load64_splat(pa);
    c00 = f64x2.add(c00, f64x2.mul(a, b0));
    c01 = f64x2.add(c01, f64x2.mul(a, b1));
    a = v128.load64_splat(pa, 8);
    c10 = f64x2.add(c10, f64x2.mul(a, b0));
    c11 = f64x2.add(c11, f64x2.mul(a, b1));
    a = v128.load64_splat(pa, 16);
    c20 = f64x2.add(c20, f64x2.mul(a, b0));
    c21 = f64x2.add(c21, f64x2.mul(a, b1));
    a = v128.load64_splat(pa, 24);
    c30 = f64x2.add(c30, f64x2.mul(a, b0));
    c31 = f64x2.add(c31, f64x2.mul(a, b1));
    pa += 32;
    pb += 32;
  }
  const al = f64x2.splat(alpha);
  const r = ldc << 3;
  let p = pc;
  v128.store(p, f64x2.add(v128.load(p), f64x2.mul(al, c00)));
  v128.store(p, f64x2.add(v128.load(p, 16), f64x2.mul(al, c01)), 16);
  p += r;
  v128.store(p, f64x2.add(v128.load(p), f64x2.mul(al, c10)));
  v128.store(p, f64x2.add(v128.load(p, 16), f64x2.mul(al, c11)), 16);
  p += r;
  v128.store(p, f64x2.add(v128.load(p), f64x2.mul(al, c20)));
  v128.store(p, f64x2.add(v128.load(p, 16), f64x2.mul(al, c21)), 16);
  p += r;
  v128.store(p, f64x2.add(v128.load(p), f64x2.mul(al, c30)));
  v128.store(p, f64x2.add(v128.load(p, 16), f64x2.mul(al, c31)), 16);
}

/**
 * Pack rows k0..k0+kc, columns j0..j0+nc of a row-major matrix M (leading dimension ld, f64 or f32
 * when isF32) into P4 format at dst (nc padded up to a multiple of 4 with zeros).
 * If trans, the logical matrix is Mᵀ: element (k, j) is read from M[j·ld + k].
 */
export function packP4(src: usize, ld: i32, trans: bool, isF32: bool, k0: i32, kc: i32, j0: i32, nc: i32, dst: usize): void {
  const groups = (nc + 3) >> 2;
  for (let g = 0; g < groups; g++) {
    const jb = j0 + (g << 2);
    const w = min(4, j0 + nc - jb);
    const base = dst + (<usize>g * <usize>kc << 5);
    if (!trans && !isF32 && w == 4) {
      for (let k = 0; k < kc; k++) {
        const s = src + ((<usize>(k0 + k) * <usize>ld + <usize>jb) << 3);
        const d = base + (<usize>k << 5);
        v128.store(d, v128.load(s));
        v128.store(d, v128.load(s, 16), 16);
      }
      continue;
    }
    if (trans && !isF32 && w == 4) {
      // 4 source rows (jb..jb+3), contiguous in k: 2×2 transposes with shuffles
      const r0 = src + ((<usize>jb * <usize>ld + <usize>k0) << 3);
      const ldb = <usize>ld << 3;
      let k = 0;
      for (; k + 2 <= kc; k += 2) {
        const o = <usize>k << 3;
        const a = v128.load(r0 + o), b = v128.load(r0 + ldb + o);
        const c = v128.load(r0 + 2 * ldb + o), e = v128.load(r0 + 3 * ldb + o);
        const d = base + (<usize>k << 5);
        v128.store(d, i64x2.shuffle(a, b, 0, 2));
        v128.store(d, i64x2.shuffle(c, e, 0, 2), 16);
        v128.store(d, i64x2.shuffle(a, b, 1, 3), 32);
        v128.store(d, i64x2.shuffle(c, e, 1, 3), 48);
      }
      for (; k < kc; k++) {
        const o = <usize>k << 3;
        const d = base + (<usize>k << 5);
        store<f64>(d, load<f64>(r0 + o));
        store<f64>(d, load<f64>(r0 + ldb + o), 8);
        store<f64>(d, load<f64>(r0 + 2 * ldb + o), 16);
        store<f64>(d, load<f64>(r0 + 3 * ldb + o), 24);
      }
      continue;
    }
    if (!trans && isF32 && w == 4) {
      for (let k = 0; k < kc; k++) {
        const s = src + ((<usize>(k0 + k) * <usize>ld + <usize>jb) << 2);
        const d = base + (<usize>k << 5);
        v128.store(d, f64x2.promote_low_f32x4(v128.load64_zero(s)));
        v128.store(d, f64x2.promote_low_f32x4(v128.load64_zero(s, 8)), 16);
      }
      continue;
    }
    for (let k = 0; k < kc; k++) {
      const d = base + (<usize>k << 5);
      for (let c = 0; c < 4; c++) {
        let v: f64 = 0;
        if (c < w) {
          const idx: usize = trans ? <usize>(jb + c) * <usize>ld + <usize>(k0 + k) : <usize>(k0 + k) * <usize>ld + <usize>(jb + c);
          v = isF32 ? <f64>load<f32>(src + (idx << 2)) : load<f64>(src + (idx << 3));
        }
        store<f64>(d + (<usize>c << 3), v);
      }
    }
  }
}

/**
 * C[m×n] (ldc) = beta·C + alpha·op(A)·op(B), op(A) m×k, op(B) k×n; A, B f64 (or f32 if the flags
 * say so), row-major with leading dimensions lda, ldb. work must hold
 * KC_MAX·(m4 + min(n4, NC)) + 16 f64 (m4, n4 = m, n rounded up to 4).
 */
export function gemm(transA: bool, transB: bool, m: i32, n: i32, k: i32,
  pA: usize, lda: i32, aF32: bool, pB: usize, ldb: i32, bF32: bool,
  pC: usize, ldc: i32, alpha: f64, beta: f64, work: usize): void {
  // scale C by beta
  if (beta != 1.0) {
    for (let i = 0; i < m; i++) {
      const row = pC + (<usize>i * <usize>ldc << 3);
      if (beta == 0.0) memory.fill(row, 0, <usize>n << 3);
      else for (let j = 0; j < n; j++) store<f64>(row + (<usize>j << 3), beta * load<f64>(row + (<usize>j << 3)));
    }
  }
  if (alpha == 0.0 || k == 0) return;
  if (m < 4 && !aF32 && !bF32) {
    gemmSmallM(transA, transB, m, n, k, pA, lda, pB, ldb, pC, ldc, alpha);
    return;
  }
  const m4 = (m + 3) & ~3;
  const n4 = (n + 3) & ~3;
  const nb = min(n4, NC);
  const Ap = work;
  const Bp = Ap + (<usize>KC_MAX * <usize>m4 << 3);
  const tile = Bp + (<usize>KC_MAX * <usize>nb << 3);
  for (let k0 = 0; k0 < k; k0 += KC_MAX) {
    const kc = min(KC_MAX, k - k0);
    // op(A) rows → P4 groups of 4 output rows: element (kk, i) = op(A)(i, kk)
    packP4(pA, lda, !transA, aF32, k0, kc, 0, m, Ap);
    for (let jb = 0; jb < n; jb += NC) {
      const nc = min(NC, n - jb);
      packP4(pB, ldb, transB, bF32, k0, kc, jb, nc, Bp);
      const ngj = (nc + 3) >> 2;
      for (let gi = 0; gi < (m4 >> 2); gi++) {
        const pa = Ap + (<usize>gi * <usize>kc << 5);
        const i0 = gi << 2;
        const mr = min(4, m - i0);
        for (let gj = 0; gj < ngj; gj++) {
          const pb = Bp + (<usize>gj * <usize>kc << 5);
          const j0 = jb + (gj << 2);
          const nr = min(4, n - j0);
          if (mr == 4 && nr == 4) {
            kern4x4(pa, pb, kc, pC + ((<usize>i0 * <usize>ldc + <usize>j0) << 3), ldc, alpha);
          } else {
            memory.fill(tile, 0, 128);
            kern4x4(pa, pb, kc, tile, 4, alpha);
            for (let r = 0; r < mr; r++) {
              for (let c = 0; c < nr; c++) {
                const p = pC + ((<usize>(i0 + r) * <usize>ldc + <usize>(j0 + c)) << 3);
                store<f64>(p, load<f64>(p) + load<f64>(tile + (<usize>(r * 4 + c) << 3)));
              }
            }
          }
        }
      }
    }
  }
}

/**
 * C += alpha·op(A)·op(B) for m < 4 rows (f64 operands), without packing: rows of C are built with
 * SIMD axpys over the rows of B (or dots with the rows of B when transB).
 */
function gemmSmallM(transA: bool, transB: bool, m: i32, n: i32, k: i32, pA: usize, lda: i32,
  pB: usize, ldb: i32, pC: usize, ldc: i32, alpha: f64): void {
  for (let i = 0; i < m; i++) {
    const crow = pC + (<usize>i * <usize>ldc << 3);
    if (!transB) {
      for (let p = 0; p < k; p++) {
        const a = transA ? load<f64>(pA + ((<usize>p * <usize>lda + <usize>i) << 3)) : load<f64>(pA + ((<usize>i * <usize>lda + <usize>p) << 3));
        if (a == 0.0) continue;
        axpy(alpha * a, pB + (<usize>p * <usize>ldb << 3), crow, n);
      }
    } else if (!transA) {
      const arow = pA + (<usize>i * <usize>lda << 3);
      for (let j = 0; j < n; j++) {
        const o = crow + (<usize>j << 3);
        store<f64>(o, load<f64>(o) + alpha * dot(arow, pB + (<usize>j * <usize>ldb << 3), k));
      }
    } else {
      for (let j = 0; j < n; j++) {
        const brow = pB + (<usize>j * <usize>ldb << 3);
        let s: f64 = 0;
        for (let p = 0; p < k; p++) s += load<f64>(pA + ((<usize>p * <usize>lda + <usize>i) << 3)) * load<f64>(brow + (<usize>p << 3));
        const o = crow + (<usize>j << 3);
        store<f64>(o, load<f64>(o) + alpha * s);
      }
    }
  }
}

/** Workspace (in f64 elements) needed by gemm. */
export function gemmWork(m: i32, n: i32): i32 {
  return <i32>gemmWorkElems(<u64>m, <u64>n);
}

/** `gemmWork` in 64 bits (for sizes that are checked before they are allocated). */
export function gemmWorkElems(m: u64, n: u64): u64 {
  return <u64>KC_MAX * (((m + 3) & ~(<u64>3)) + min((n + 3) & ~(<u64>3), <u64>NC)) + 16;
}

/** kc for syrk so that one packed block of kc rows × d4 columns stays in L2. */
export function syrkKc(d: i32): i32 {
  const d4 = (d + 3) & ~3;
  let kc = SYRK_PANEL / d4;
  kc = max(16, min(KC_MAX, kc));
  return kc & ~3;
}

/**
 * Gu[d4×d4] (upper block triangle only, 4×4 tiles with gi ≤ gj) += Xᵀ X for X[rows × d] (f64 or f32),
 * row-major. work: syrkKc(d)·d4 f64.
 */
export function syrkAcc(pX: usize, isF32: bool, rows: i32, d: i32, pGu: usize, work: usize): void {
  const d4 = (d + 3) & ~3;
  const g = d4 >> 2;
  const KC = syrkKc(d);
  for (let k0 = 0; k0 < rows; k0 += KC) {
    const kc = min(KC, rows - k0);
    packP4(pX, d, false, isF32, k0, kc, 0, d, work);
    for (let gj = 0; gj < g; gj++) {
      const pb = work + (<usize>gj * <usize>kc << 5);
      for (let gi = 0; gi <= gj; gi++) {
        const pa = work + (<usize>gi * <usize>kc << 5);
        kern4x4(pa, pb, kc, pGu + ((<usize>(gi << 2) * <usize>d4 + <usize>(gj << 2)) << 3), d4, 1.0);
      }
    }
  }
}

/** G[i,j] += v and, off the diagonal, G[j,i] += v (G d×d). */
// @ts-ignore: decorator
@inline
function addSym(pG: usize, d: i32, i: i32, j: i32, v: f64): void {
  const pij = pG + ((<usize>i * <usize>d + <usize>j) << 3);
  store<f64>(pij, load<f64>(pij) + v);
  if (j != i) {
    const pji = pG + ((<usize>j * <usize>d + <usize>i) << 3);
    store<f64>(pji, load<f64>(pji) + v);
  }
}

/** G[d×d] += alpha · sym(Gu), reading the upper triangle of Gu (leading dimension d4). */
export function syrkFinish(pGu: usize, d: i32, pG: usize, alpha: f64): void {
  const d4 = (d + 3) & ~3;
  for (let i = 0; i < d; i++) {
    for (let j = i; j < d; j++) {
      addSym(pG, d, i, j, alpha * load<f64>(pGu + ((<usize>i * <usize>d4 + <usize>j) << 3)));
    }
  }
}

/**
 * G[d×d] += XᵀX for X [rows × d] whose entries are all exactly 0 or 1 (e.g. ReLU derivative
 * patterns): the entries of XᵀX are the co-occurrence counts, exact integers, so counting them with
 * bitsets gives the same values as summing the products (`syrkAcc`). work: d·⌈rows/64⌉ u64.
 * Returns -1, or the index of the first entry that is neither 0 nor 1 (G is then unchanged).
 */
export function binaryGram(pX: usize, rows: i32, d: i32, pG: usize, work: usize): i32 {
  const w = (rows + 63) >> 6;
  const colBytes = <usize>w << 3;
  memory.fill(work, 0, <usize>d * colBytes);
  for (let r = 0; r < rows; r++) {
    const xr = pX + ((<usize>r * <usize>d) << 3);
    const word = <usize>(r >> 6) << 3;
    const bit = <u64>1 << <u64>(r & 63);
    for (let j = 0; j < d; j++) {
      const x = load<f64>(xr + (<usize>j << 3));
      if (x == 1.0) {
        const o = work + <usize>j * colBytes + word;
        store<u64>(o, load<u64>(o) | bit);
      } else if (x != 0.0) return r * d + j;
    }
  }
  for (let i = 0; i < d; i++) {
    const ci = work + <usize>i * colBytes;
    for (let j = i; j < d; j++) {
      const cj = work + <usize>j * colBytes;
      let c: i64 = 0;
      for (let t = 0; t < w; t++) c += popcnt<i64>(load<i64>(ci + (<usize>t << 3)) & load<i64>(cj + (<usize>t << 3)));
      addSym(pG, d, i, j, <f64>c);
    }
  }
  return -1;
}

// Blocked (Level-3) Householder tridiagonalisation of a symmetric matrix, LAPACK dsytrd/dlatrd
// style, f64. Only the upper triangle of the row-major matrix is read and kept up to date (row k
// from its diagonal on is column k below the diagonal, so every access is contiguous).
//
// Panels of TB rows: inside a panel each row k is brought up to date with the panel's earlier
// reflectors (V, W), its reflector v is formed, and w = τ(A₂₂v − V Wᵀv − W Vᵀv) − ½τ²(…)v is
// computed with one symmetric matrix–vector product on the not-yet-updated trailing matrix (upper
// triangle, one read per entry). After the panel the trailing matrix gets the rank-2·TB update
// A ← A − V Wᵀ − W Vᵀ as a SYR2K on the upper block triangle with the packed GEMM micro-kernel.
import { kern4x4 } from './gemm';
import { dot, axpy, axpy2 } from './vec';
import { makeReflector, houseBeta } from './eigh';

/** Panel width of the blocked reduction. */
export const TB: i32 = 32;

// @ts-ignore: decorator
@inline function at(p: usize, n: i32, i: i32, j: i32): usize {
  return p + ((<usize>i * <usize>n + <usize>j) << 3);
}

/** Scratch (f64 entries) of tridiagBlocked for order n. */
export function tridiagWork(n: i32): i32 {
  const n4 = (n + 3) & ~3;
  return 2 * TB * n /*V, W rows*/ + n /*y*/ + 2 * (2 * TB * n4) /*packed panels*/ + 16 /*tile*/ + 64;
}

/**
 * Reduce the symmetric A[n×n] (upper triangle used) to tridiagonal form T = Qᵀ A Q,
 * Q = H_0 ⋯ H_{n−3}, H_k = I − τ_k v_k v_kᵀ. On return d[n] is the diagonal, e[n] the
 * off-diagonal (e[k] couples k and k+1, e[n−1] = 0), tau[n] the τ_k, and row k of A from column
 * k+1 holds v_k (v_k[0] = 1), the layout `buildVT(A + 8, n, n − 1, …)` reads.
 */
export function tridiagBlocked(pA: usize, n: i32, pD: usize, pE: usize, pTau: usize, work: usize): void {
  const n4 = (n + 3) & ~3;
  const Vr = work;
  const Wr = Vr + (<usize>TB * <usize>n << 3);
  const y = Wr + (<usize>TB * <usize>n << 3);
  const PA = y + (<usize>n << 3);
  const PB = PA + (<usize>(2 * TB) * <usize>n4 << 3);
  const tile = PB + (<usize>(2 * TB) * <usize>n4 << 3);
  for (let k0 = 0; k0 < n; k0 += TB) {
    const nb = min(TB, n - k0);
    for (let i = 0; i < nb; i++) {
      const k = k0 + i;
      const row = at(pA, n, k, k);
      const L0 = n - k;
      // bring row k (columns k…n−1) up to date with the panel's earlier reflectors
      for (let j = 0; j < i; j++) {
        const vj = Vr + (<usize>j * <usize>n << 3);
        const wj = Wr + (<usize>j * <usize>n << 3);
        const a = load<f64>(vj + (<usize>k << 3));
        const b = load<f64>(wj + (<usize>k << 3));
        axpy2(-a, wj + (<usize>k << 3), -b, vj + (<usize>k << 3), row, L0);
      }
      store<f64>(pD + (<usize>k << 3), load<f64>(row));
      const vi = Vr + (<usize>i * <usize>n << 3);
      const wi = Wr + (<usize>i * <usize>n << 3);
      const L = L0 - 1;
      let tau: f64 = 0;
      if (L >= 1) {
        // px[0] becomes 1 and px[1…] v (τ ≠ 0); for L = 1, τ = 0 and e[k] is the entry itself
        tau = makeReflector(row + 8, L);
        store<f64>(pE + (<usize>k << 3), houseBeta);
      } else {
        store<f64>(pE + (<usize>k << 3), 0);
      }
      store<f64>(pTau + (<usize>k << 3), tau);
      if (tau == 0.0) {
        memory.fill(vi, 0, <usize>n << 3);
        memory.fill(wi, 0, <usize>n << 3);
        continue;
      }
      const px = row + 8;
      memory.fill(vi, 0, <usize>(k + 1) << 3);
      memory.copy(vi + (<usize>(k + 1) << 3), px, <usize>L << 3);
      // y = A₂₂ v (A₂₂ = rows/columns k+1…, not yet updated by this panel)
      symvUpper(at(pA, n, k + 1, k + 1), n, L, px, y);
      // y −= V (Wᵀv) + W (Vᵀv) over the panel's earlier reflectors
      for (let j = 0; j < i; j++) {
        const vj = Vr + (<usize>j * <usize>n << 3) + (<usize>(k + 1) << 3);
        const wj = Wr + (<usize>j * <usize>n << 3) + (<usize>(k + 1) << 3);
        const t1 = dot(wj, px, L);
        const t2 = dot(vj, px, L);
        axpy2(-t1, vj, -t2, wj, y, L);
      }
      // w = τ y − ½ τ² (yᵀv) v
      let yv: f64 = 0;
      for (let t = 0; t < L; t++) {
        const o = <usize>t << 3;
        const v = tau * load<f64>(y + o);
        store<f64>(y + o, v);
        yv += v * load<f64>(px + o);
      }
      axpy(-0.5 * tau * yv, px, y, L);
      memory.fill(wi, 0, <usize>(k + 1) << 3);
      memory.copy(wi + (<usize>(k + 1) << 3), y, <usize>L << 3);
    }
    const k1 = k0 + nb;
    const m = n - k1;
    if (m > 0) syr2kUpper(Vr + (<usize>k1 << 3), Wr + (<usize>k1 << 3), n, nb, m, at(pA, n, k1, k1), n, PA, PB, tile);
  }
}

/**
 * y[0…L) = S v for the symmetric S whose upper triangle is stored row-major from pS (row r starts
 * at its diagonal pS + r·(ld+1)); one pass over each stored entry (a dot and an axpy per row).
 */
function symvUpper(pS: usize, ld: i32, L: i32, pv: usize, py: usize): void {
  memory.fill(py, 0, <usize>L << 3);
  const step = (<usize>ld + 1) << 3;
  let row = pS;
  for (let r = 0; r < L; r++) {
    const vr = load<f64>(pv + (<usize>r << 3));
    const len = L - r - 1;
    const pr = row + 8;
    const vv = pv + (<usize>(r + 1) << 3);
    const yy = py + (<usize>(r + 1) << 3);
    const a = f64x2.splat(vr);
    let s0 = f64x2.splat(0), s1 = f64x2.splat(0);
    let c = 0;
    for (; c + 4 <= len; c += 4) {
      const o = <usize>c << 3;
      const x0 = v128.load(pr + o), x1 = v128.load(pr + o, 16);
      s0 = f64x2.add(s0, f64x2.mul(x0, v128.load(vv + o)));
      s1 = f64x2.add(s1, f64x2.mul(x1, v128.load(vv + o, 16)));
      v128.store(yy + o, f64x2.add(v128.load(yy + o), f64x2.mul(a, x0)));
      v128.store(yy + o, f64x2.add(v128.load(yy + o, 16), f64x2.mul(a, x1)), 16);
    }
    s0 = f64x2.add(s0, s1);
    let s = f64x2.extract_lane(s0, 0) + f64x2.extract_lane(s0, 1);
    for (; c < len; c++) {
      const o = <usize>c << 3;
      const x = load<f64>(pr + o);
      s += x * load<f64>(vv + o);
      store<f64>(yy + o, load<f64>(yy + o) + vr * x);
    }
    const o = py + (<usize>r << 3);
    store<f64>(o, load<f64>(o) + s + load<f64>(row) * vr);
    row += step;
  }
}

/**
 * Pack the columns c0…c0+m of the row blocks X[nb × ·] then Y[nb × ·] (leading dimension ld) as one
 * P4 panel of 2·nb rows (groups of 4 columns, zero-padded).
 */
function packPair(X: usize, Y: usize, ld: i32, nb: i32, m: i32, dst: usize): void {
  const kc = 2 * nb;
  const groups = (m + 3) >> 2;
  for (let g = 0; g < groups; g++) {
    const c = g << 2;
    const w = min(4, m - c);
    const base = dst + (<usize>g * <usize>kc << 5);
    for (let h = 0; h < 2; h++) {
      const src = h == 0 ? X : Y;
      for (let r = 0; r < nb; r++) {
        const s = src + ((<usize>r * <usize>ld + <usize>c) << 3);
        const d = base + (<usize>(h * nb + r) << 5);
        if (w == 4) {
          v128.store(d, v128.load(s));
          v128.store(d, v128.load(s, 16), 16);
        } else {
          for (let t = 0; t < 4; t++) store<f64>(d + (<usize>t << 3), t < w ? load<f64>(s + (<usize>t << 3)) : 0.0);
        }
      }
    }
  }
}

/**
 * Upper block triangle (4×4 tiles with i ≤ j, diagonal tiles whole) of C[m×m] (ldc) −=
 * Vᵀ W + Wᵀ V for V, W [nb × m] (leading dimension ld): the SYR2K of the panel update.
 */
function syr2kUpper(V: usize, W: usize, ld: i32, nb: i32, m: i32, C: usize, ldc: i32, PA: usize, PB: usize, tile: usize): void {
  packPair(V, W, ld, nb, m, PA);
  packPair(W, V, ld, nb, m, PB);
  const kc = 2 * nb;
  const g = (m + 3) >> 2;
  for (let gj = 0; gj < g; gj++) {
    const pb = PB + (<usize>gj * <usize>kc << 5);
    const j0 = gj << 2;
    const nr = min(4, m - j0);
    for (let gi = 0; gi <= gj; gi++) {
      const pa = PA + (<usize>gi * <usize>kc << 5);
      const i0 = gi << 2;
      if (nr == 4) {
        kern4x4(pa, pb, kc, C + ((<usize>i0 * <usize>ldc + <usize>j0) << 3), ldc, -1.0);
      } else {
        const mr = min(4, m - i0);
        memory.fill(tile, 0, 128);
        kern4x4(pa, pb, kc, tile, 4, -1.0);
        for (let r = 0; r < mr; r++) {
          for (let c = 0; c < nr; c++) {
            const p = C + ((<usize>(i0 + r) * <usize>ldc + <usize>(j0 + c)) << 3);
            store<f64>(p, load<f64>(p) + load<f64>(tile + (<usize>(r * 4 + c) << 3)));
          }
        }
      }
    }
  }
}

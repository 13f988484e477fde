// Batched "low-rank update, then squared accumulation" for the squared edges (spec §6.2):
// per row b, T = K0_b + L_bᵀ R_b (m × n) and E += T ⊙ T ⊙ f_b (f_b scales the rows of T).
import { gemm } from './gemm';

/** T[p,:] = Σ_d coef[d, p]·K0_d[p,:] for nDiag shared m×n matrices K0_d (coef: nDiag × m). */
export function diagCombine(m: i32, n: i32, nDiag: i32, pK0: usize, pCoef: usize, pT: usize): void {
  const mn = <usize>m * <usize>n;
  for (let p = 0; p < m; p++) {
    const tr = pT + ((<usize>p * <usize>n) << 3);
    for (let d = 0; d < nDiag; d++) {
      const c = load<f64>(pCoef + ((<usize>d * <usize>m + <usize>p) << 3));
      const cv = f64x2.splat(c);
      const kr = pK0 + ((<usize>d * mn + <usize>p * <usize>n) << 3);
      let q = 0;
      if (d == 0) {
        for (; q + 2 <= n; q += 2) v128.store(tr + (<usize>q << 3), f64x2.mul(cv, v128.load(kr + (<usize>q << 3))));
        for (; q < n; q++) store<f64>(tr + (<usize>q << 3), c * load<f64>(kr + (<usize>q << 3)));
      } else {
        for (; q + 2 <= n; q += 2) {
          const o = <usize>q << 3;
          v128.store(tr + o, f64x2.add(v128.load(tr + o), f64x2.mul(cv, v128.load(kr + o))));
        }
        for (; q < n; q++) {
          const o = <usize>q << 3;
          store<f64>(tr + o, load<f64>(tr + o) + c * load<f64>(kr + o));
        }
      }
    }
  }
}

/**
 * nDiag > 0: instead of K0_b, each row starts from T = Σ_d diag(coef_{b,d}) K0_d with nDiag shared
 * matrices K0_d at pK0 and per-row coefficients coef_b (nDiag × m) at pCoef + b·nDiag·m·8.
 * nRows rows. K0: m×n per row at pK0 + b·k0Stride·8 (k0Stride 0 = one shared K0); pBase (i32 per
 * row, or 0 = all 1): 1 starts row b from K0_b, 0 continues from row b−1's T (chained low-rank
 * differences). Row b's factors
 * follow the previous rows' in pL (k_b × m) and pR (k_b × n), with k_b = i32 at pK + 4b. pF: m f64
 * per row (0 = no scaling). E (m×n) is accumulated. pT: m×n scratch; work: gemmWork(m, n) f64.
 * Per element E += (T·T)·f, T from the same GEMM kernel as `gemm` (alpha 1, beta 1).
 */
export function lowRankSqAcc(nRows: i32, m: i32, n: i32, pK0: usize, k0Stride: i32, pL: usize, pR: usize, pK: usize, pBase: usize,
  pF: usize, pE: usize, pT: usize, work: usize, nDiag: i32, pCoef: usize): void {
  const mn = <usize>m * <usize>n;
  let lo = pL, ro = pR;
  for (let b = 0; b < nRows; b++) {
    const kb = load<i32>(pK + (<usize>b << 2));
    if (nDiag > 0) diagCombine(m, n, nDiag, pK0, pCoef + ((<usize>b * <usize>nDiag * <usize>m) << 3), pT);
    else if (b == 0 || !pBase || load<i32>(pBase + (<usize>b << 2)) != 0) memory.copy(pT, pK0 + ((<usize>b * <usize>k0Stride) << 3), mn << 3);
    if (kb > 0) gemm(true, false, m, n, kb, lo, m, false, ro, n, false, pT, n, 1.0, 1.0, work);
    lo += (<usize>kb * <usize>m) << 3;
    ro += (<usize>kb * <usize>n) << 3;
    sqAccRow(b, m, n, pT, pF, pE);
  }
}

/** E += T ⊙ T ⊙ f_b (f_b: row b of pF, m values; pF 0 = 1). */
export function sqAccRow(b: i32, m: i32, n: i32, pT: usize, pF: usize, pE: usize): void {
  for (let p = 0; p < m; p++) {
    const f = pF ? load<f64>(pF + ((<usize>b * <usize>m + <usize>p) << 3)) : 1.0;
    const fv = f64x2.splat(f);
    const tr = pT + ((<usize>p * <usize>n) << 3);
    const er = pE + ((<usize>p * <usize>n) << 3);
    let q = 0;
    for (; q + 2 <= n; q += 2) {
      const o = <usize>q << 3;
      const t = v128.load(tr + o);
      v128.store(er + o, f64x2.add(v128.load(er + o), f64x2.mul(f64x2.mul(t, t), fv)));
    }
    for (; q < n; q++) {
      const o = <usize>q << 3;
      const t = load<f64>(tr + o);
      store<f64>(er + o, load<f64>(er + o) + t * t * f);
    }
  }
}

/**
 * As lowRankSqAcc (shared K0, optional chaining by pBase, row scaling pF), with the factors gathered
 * from fixed matrices: atom a of the stacked list uses row idx[a] of L0 [· × m] and s[a]·row idx[a]
 * of R0 [· × n]. pLs, pRs: scratch for the largest count (k × m, k × n).
 */
export function lowRankSqAccGather(nRows: i32, m: i32, n: i32, pK0: usize, pL0: usize, pR0: usize, pIdx: usize, pS: usize,
  pK: usize, pBase: usize, pF: usize, pE: usize, pT: usize, pLs: usize, pRs: usize, work: usize): void {
  const mn = <usize>m * <usize>n;
  let a = 0;
  for (let b = 0; b < nRows; b++) {
    const kb = load<i32>(pK + (<usize>b << 2));
    if (b == 0 || !pBase || load<i32>(pBase + (<usize>b << 2)) != 0) memory.copy(pT, pK0, mn << 3);
    for (let k = 0; k < kb; k++, a++) {
      const h = <usize>load<i32>(pIdx + (<usize>a << 2));
      const sc = load<f64>(pS + (<usize>a << 3));
      memory.copy(pLs + ((<usize>k * <usize>m) << 3), pL0 + ((h * <usize>m) << 3), <usize>m << 3);
      const src = pR0 + ((h * <usize>n) << 3);
      const dst = pRs + ((<usize>k * <usize>n) << 3);
      const sv = f64x2.splat(sc);
      let q = 0;
      for (; q + 2 <= n; q += 2) v128.store(dst + (<usize>q << 3), f64x2.mul(sv, v128.load(src + (<usize>q << 3))));
      for (; q < n; q++) store<f64>(dst + (<usize>q << 3), sc * load<f64>(src + (<usize>q << 3)));
    }
    if (kb > 0) gemm(true, false, m, n, kb, pLs, m, false, pRs, n, false, pT, n, 1.0, 1.0, work);
    sqAccRow(b, m, n, pT, pF, pE);
  }
}

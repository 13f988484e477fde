// Divide-and-conquer eigensolver for a symmetric tridiagonal matrix (Cuppen; LAPACK dstedc /
// dlaed0–dlaed4 style), f64. Eigenvectors are kept as rows of Vt (row i ↔ d[i]).
//
// The tridiagonal T is cut in halves recursively down to leaves of at most SML rows, which are
// solved by implicit QL (tql). A cut between rows m and m+1 with coupling β writes
// T = diag(T₁ − |β|·e_m e_mᵀ, T₂ − |β|·e_{m+1} e_{m+1}ᵀ) + |β|·u uᵀ with u = e_m + sign(β)·e_{m+1},
// so merging two solved halves is the eigenproblem of D + ρ z zᵀ (D the halves' eigenvalues,
// z their eigenvectors' last/first coordinates). Merge steps:
// - deflation (dlaed2): z_j with ρ|z_j| ≤ tol keeps (d_j, its vector); two close d's are rotated
//   so that one z becomes 0 (|t·c·s| ≤ tol), tol = 8ε·max(max|d|, max|z|);
// - the secular equation 1 + ρ Σ z_j²/(d_j − λ) = 0 for each remaining root (secularRoot): the
//   differences d_j − λ are formed from the nearer pole (origin shift), every iterate stays in a
//   bracket kept by the sign of f, and the step solves a two-pole rational model of f (the
//   “middle way” of dlaed4), falling back to Newton and then bisection;
// - Gu–Eisenstat: ẑ is recomputed from the computed roots (Löwner formula), so the vectors
//   ẑ_j/(d_j − λ_i) are numerically orthogonal without extra precision;
// - the merged vectors are one GEMM per half: vectors with zeros in a half (not mixed by a
//   deflation rotation) are left out of that half's product.
import { gemm, gemmWork } from './gemm';
import { tql } from './eigh';

const EPS: f64 = 2.220446049250313e-16;
/** Largest leaf solved directly by QL. */
export const SML: i32 = 32;

// @ts-ignore: decorator
@inline function f(p: usize, i: i32): f64 { return load<f64>(p + (<usize>i << 3)); }
// @ts-ignore: decorator
@inline function fs(p: usize, i: i32, v: f64): void { store<f64>(p + (<usize>i << 3), v); }
// @ts-ignore: decorator
@inline function ii(p: usize, i: i32): i32 { return load<i32>(p + (<usize>i << 2)); }
// @ts-ignore: decorator
@inline function is(p: usize, i: i32, v: i32): void { store<i32>(p + (<usize>i << 2), v); }

/** Scratch (f64 entries) of tridiagDC for order n. */
export function dcWork(n: i32): i32 {
  const nn = n * n;
  // U, DEL (k² ≤ n²; R, k·N ≤ n², reuses it), G (N² ≤ n²), 12 vectors of n, gemm work, leaf scratch
  return 3 * nn + 12 * n + gemmWork(n, n) + leafWork() + 256;
}

function leafWork(): i32 {
  return SML * SML /*W*/ + 4 * SML * SML + 64 /*rotations*/ + SML * SML + 64 /*strips*/ + 2 * SML + 64;
}

let wsBase: usize = 0;
let wsN: i32 = 0;

/**
 * Eigenvalues and eigenvectors of the symmetric tridiagonal (d[n], e[n−1]; e[k] couples k, k+1).
 * On return d holds the eigenvalues ascending and row i of Vt[n×n] the unit eigenvector of d[i].
 * e is destroyed. Returns 0, or −1 if a leaf's QL iteration did not converge.
 */
export function tridiagDC(n: i32, pD: usize, pE: usize, pVt: usize, work: usize): i32 {
  memory.fill(pVt, 0, <usize>n * <usize>n << 3);
  wsBase = work;
  wsN = n;
  return solve(pD, pE, pVt, n, 0, n);
}

function solve(pD: usize, pE: usize, pVt: usize, n: i32, s: i32, N: i32): i32 {
  if (N <= SML) return leaf(pD, pE, pVt, n, s, N);
  const n1 = N >> 1;
  const m = s + n1 - 1;
  const b = Math.abs(f(pE, m));
  fs(pD, m, f(pD, m) - b);
  fs(pD, m + 1, f(pD, m + 1) - b);
  if (solve(pD, pE, pVt, n, s, n1) != 0) return -1;
  if (solve(pD, pE, pVt, n, s + n1, N - n1) != 0) return -1;
  merge(pD, f(pE, m), pVt, n, s, n1, N - n1);
  return 0;
}

/** Leaf: QL on rows s…s+N−1, eigenpairs written sorted ascending. */
function leaf(pD: usize, pE: usize, pVt: usize, n: i32, s: i32, N: i32): i32 {
  const W = wsBase + (<usize>(3 * n * n + 12 * n + gemmWork(n, n)) << 3);
  const rot = W + (<usize>(SML * SML) << 3);
  const strip = rot + (<usize>(4 * SML * SML + 64) << 3);
  const dd = strip + (<usize>(SML * SML + 64) << 3);
  const ee = dd + (<usize>SML << 3);
  for (let r = 0; r < N; r++) {
    fs(dd, r, f(pD, s + r));
    fs(ee, r, r + 1 < N ? f(pE, s + r) : 0.0);
  }
  memory.fill(W, 0, <usize>(N * N) << 3);
  for (let r = 0; r < N; r++) fs(W, r * N + r, 1.0);
  if (tql(N, dd, ee, W, rot, 4 * SML * SML + 64, strip) != 0) return -1;
  // selection order by value (N ≤ SML), rows of W are the eigenvectors
  for (let r = 0; r < N; r++) {
    let best = -1;
    let bv: f64 = 0;
    for (let c = 0; c < N; c++) {
      const v = f(dd, c);
      if (v != v) continue;
      if (best < 0 || v < bv) { bv = v; best = c; }
    }
    fs(pD, s + r, bv);
    fs(dd, best, NaN);
    memory.copy(pVt + ((<usize>(s + r) * <usize>n + <usize>s) << 3), W + (<usize>(best * N) << 3), <usize>N << 3);
  }
  return 0;
}

/**
 * Merge the solved blocks [s, s+n1) and [s+n1, s+n1+n2) coupled by beta (the original e at the
 * cut). d and the rows of Vt of the merged block are replaced by its eigenpairs, ascending.
 */
function merge(pD: usize, beta: f64, pVt: usize, n: i32, s: i32, n1: i32, n2: i32): void {
  const N = n1 + n2;
  const ldv = n;
  // scratch
  const U = wsBase;
  const DEL = U + (<usize>n * <usize>n << 3);
  const G = DEL + (<usize>n * <usize>n << 3);
  const R = DEL; // the new vectors replace the differences once U is formed
  const z = G + (<usize>n * <usize>n << 3);
  const dl = z + (<usize>n << 3);
  const wl = dl + (<usize>n << 3);
  const lam = wl + (<usize>n << 3);
  const dv = lam + (<usize>n << 3); // deflated values
  const idx = dv + (<usize>n << 3); // i32 regions from here (n each, 4 bytes, 2 per f64 slot)
  const col = idx + (<usize>n << 2);
  const typ = col + (<usize>n << 2);
  const dcol = typ + (<usize>n << 2);
  const pos = dcol + (<usize>n << 2);
  const ord = pos + (<usize>n << 2);
  const gw = ord + (<usize>n << 2) + (<usize>(2 * n) << 3);
  const vb = pVt + ((<usize>s * <usize>ldv + <usize>s) << 3); // block origin in Vt
  const D = pD + (<usize>s << 3);

  // z: last coordinate of the upper half's vectors, first of the lower half's
  let rho = beta;
  for (let j = 0; j < N; j++) {
    const v = j < n1 ? f(vb + (<usize>j * <usize>ldv << 3), n1 - 1) : f(vb + (<usize>j * <usize>ldv << 3), n1);
    fs(z, j, (j >= n1 && rho < 0 ? -v : v) * 0.7071067811865476);
  }
  rho = Math.abs(2.0 * rho);

  // merge the two ascending lists of d
  let a = 0, b = n1;
  for (let t = 0; t < N; t++) {
    if (b >= N || (a < n1 && f(D, a) <= f(D, b))) { is(idx, t, a); a++; } else { is(idx, t, b); b++; }
  }
  let dmax: f64 = 0, zmax: f64 = 0;
  for (let j = 0; j < N; j++) {
    dmax = max(dmax, Math.abs(f(D, j)));
    zmax = max(zmax, Math.abs(f(z, j)));
    is(typ, j, j < n1 ? 1 : 3);
  }
  const tol = 8.0 * EPS * max(dmax, zmax);

  // deflation
  let k = 0;
  let nd = 0;
  let pj = -1;
  for (let t = 0; t < N; t++) {
    const nj = ii(idx, t);
    if (rho * Math.abs(f(z, nj)) <= tol) {
      fs(dv, nd, f(D, nj)); is(dcol, nd, nj); nd++;
      continue;
    }
    if (pj < 0) { pj = nj; continue; }
    let sn = f(z, pj);
    let cs = f(z, nj);
    const tau = Math.hypot(cs, sn);
    const tt = f(D, nj) - f(D, pj);
    cs /= tau;
    sn = -sn / tau;
    if (Math.abs(tt * cs * sn) <= tol) {
      fs(z, nj, tau);
      fs(z, pj, 0);
      if (ii(typ, pj) != ii(typ, nj)) is(typ, nj, 2);
      rotRows(vb + (<usize>pj * <usize>ldv << 3), vb + (<usize>nj * <usize>ldv << 3), N, cs, sn);
      const dp = f(D, pj), dn = f(D, nj);
      fs(D, pj, dp * cs * cs + dn * sn * sn);
      fs(D, nj, dp * sn * sn + dn * cs * cs);
      fs(dv, nd, f(D, pj)); is(dcol, nd, pj); nd++;
      pj = nj;
    } else {
      fs(dl, k, f(D, pj)); fs(wl, k, f(z, pj)); is(col, k, pj); k++;
      pj = nj;
    }
  }
  if (pj >= 0) { fs(dl, k, f(D, pj)); fs(wl, k, f(z, pj)); is(col, k, pj); k++; }

  // deflated values ascending (insertion sort: they arrive nearly sorted)
  for (let t = 1; t < nd; t++) {
    const v = f(dv, t), c = ii(dcol, t);
    let u = t - 1;
    while (u >= 0 && f(dv, u) > v) { fs(dv, u + 1, f(dv, u)); is(dcol, u + 1, ii(dcol, u)); u--; }
    fs(dv, u + 1, v); is(dcol, u + 1, c);
  }

  // group order of the non-deflated vectors: upper-only, mixed, lower-only
  let c1 = 0, c2 = 0;
  for (let j = 0; j < k; j++) { const t = ii(typ, ii(col, j)); if (t == 1) c1++; else if (t == 2) c2++; }
  let q1 = 0, q2 = c1, q3 = c1 + c2;
  for (let j = 0; j < k; j++) {
    const t = ii(typ, ii(col, j));
    if (t == 1) { is(pos, j, q1); q1++; } else if (t == 2) { is(pos, j, q2); q2++; } else { is(pos, j, q3); q3++; }
  }
  // old rows: non-deflated in group order, then deflated in value order
  for (let j = 0; j < k; j++) memory.copy(G + (<usize>ii(pos, j) * <usize>N << 3), vb + (<usize>ii(col, j) * <usize>ldv << 3), <usize>N << 3);
  for (let t = 0; t < nd; t++) memory.copy(G + (<usize>(k + t) * <usize>N << 3), vb + (<usize>ii(dcol, t) * <usize>ldv << 3), <usize>N << 3);

  if (k > 0) {
    // roots and differences DEL[i·k + j] = dl_j − λ_i
    for (let i = 0; i < k; i++) fs(lam, i, secularRoot(i, k, dl, wl, rho, DEL + (<usize>i * <usize>k << 3)));
    // Gu–Eisenstat: ẑ_j² = Π_i (λ_i − d_j) / Π_{i≠j} (d_i − d_j)
    for (let j = 0; j < k; j++) {
      const dj = f(dl, j);
      let w = f(DEL, j * k + j);
      for (let i = 0; i < k; i++) if (i != j) w *= f(DEL, i * k + j) / (dj - f(dl, i));
      const zh = Math.sqrt(max(-w, 0.0));
      fs(z, j, f(wl, j) >= 0 ? zh : -zh);
    }
    // U[pos(j), i] = ẑ_j / (d_j − λ_i), columns normalised
    for (let i = 0; i < k; i++) {
      const di = DEL + (<usize>i * <usize>k << 3);
      let ss: f64 = 0;
      for (let j = 0; j < k; j++) { const v = f(z, j) / f(di, j); fs(di, j, v); ss += v * v; }
      const sc = 1.0 / Math.sqrt(ss);
      for (let j = 0; j < k; j++) fs(U, ii(pos, j) * k + i, f(di, j) * sc);
    }
    // new vectors R[k × N]: upper half from groups 1–2, lower half from groups 2–3
    gemm(true, false, k, n1, c1 + c2, U, k, false, G, N, false, R, N, 1.0, 0.0, gw);
    gemm(true, false, k, n2, k - c1, U + (<usize>c1 * <usize>k << 3), k, false,
      G + ((<usize>c1 * <usize>N + <usize>n1) << 3), N, false, R + (<usize>n1 << 3), N, 1.0, 0.0, gw);
  }

  // write the merged block ascending: roots (rows of R) and deflated (rows of G after k)
  let ia = 0, ib = 0;
  for (let t = 0; t < N; t++) {
    const dst = vb + (<usize>t * <usize>ldv << 3);
    if (ib >= nd || (ia < k && f(lam, ia) <= f(dv, ib))) {
      fs(D, t, f(lam, ia));
      memory.copy(dst, R + (<usize>ia * <usize>N << 3), <usize>N << 3);
      ia++;
    } else {
      fs(D, t, f(dv, ib));
      memory.copy(dst, G + (<usize>(k + ib) * <usize>N << 3), <usize>N << 3);
      ib++;
    }
  }
}

/** x' = c·x + s·y, y' = c·y − s·x over N entries (LAPACK drot). */
function rotRows(px: usize, py: usize, N: i32, c: f64, s: f64): void {
  for (let t = 0; t < N; t++) {
    const x = f(px, t), y = f(py, t);
    fs(px, t, c * x + s * y);
    fs(py, t, c * y - s * x);
  }
}

/**
 * Root i (0-based, ascending) of 1/ρ + Σ_j w_j²/(d_j − λ) = 0 for d[k] strictly ascending, w_j ≠ 0,
 * ρ > 0: λ_i ∈ (d_i, d_{i+1}) (the last in (d_{k−1}, d_{k−1} + ρ‖w‖²]). Returns λ_i and writes
 * del[j] = d_j − λ_i, formed as (d_j − d_o) − τ from the nearer pole d_o so that the differences
 * near the root keep full relative accuracy.
 */
export function secularRoot(i: i32, k: i32, pd: usize, pw: usize, rho: f64, del: usize): f64 {
  const rinv = 1.0 / rho;
  if (k == 1) {
    const w0 = f(pw, 0);
    const t = rho * w0 * w0;
    fs(del, 0, -t);
    return f(pd, 0) + t;
  }
  const last = i == k - 1;
  let org = i;
  let lo: f64 = 0, hi: f64 = 0;
  if (!last) {
    const di = f(pd, i);
    const gap = f(pd, i + 1) - di;
    const mid = 0.5 * gap;
    let F = rinv;
    for (let j = 0; j < k; j++) { const wj = f(pw, j); F += wj * wj / ((f(pd, j) - di) - mid); }
    if (F >= 0) { org = i; lo = 0; hi = mid; } else { org = i + 1; lo = -gap + mid; hi = 0; }
  } else {
    let ww: f64 = 0;
    for (let j = 0; j < k; j++) { const wj = f(pw, j); ww += wj * wj; }
    org = k - 1; lo = 0; hi = rho * ww;
  }
  const d0 = f(pd, org);
  for (let j = 0; j < k; j++) fs(del, j, f(pd, j) - d0); // diff_j
  // poles of the two-pole model: p < q (for the last root both lie left of it)
  const p = last ? k - 2 : i;
  const q = last ? k - 1 : i + 1;
  let tau = 0.5 * (lo + hi);
  for (let it = 0; it < 200; it++) {
    let F = rinv, dA: f64 = 0, dB: f64 = 0, err: f64 = 0;
    for (let j = 0; j < k; j++) {
      const wj = f(pw, j);
      const dj = f(del, j) - tau;
      const t = wj * wj / dj;
      F += t;
      err += Math.abs(t);
      if (j <= p) dA += t / dj; else dB += t / dj;
    }
    if (F == 0) break;
    if (F < 0) lo = tau; else hi = tau;
    if (Math.abs(F) <= EPS * (8.0 * err + 2.0 * rinv + 3.0 * Math.abs(tau) * (dA + dB))) break;
    if (hi - lo <= 2.0 * EPS * max(Math.abs(lo), Math.abs(hi))) break;
    // two-pole model c + A/(Δp − η) + B/(Δq − η), matching F, ψ', φ' at η = 0
    const Dp = f(del, p) - tau, Dq = f(del, q) - tau;
    const A = Dp * Dp * dA, B = Dq * Dq * dB;
    const c = F - Dp * dA - Dq * dB;
    const a1 = c * (Dp + Dq) + A + B;
    const a0 = Dp * Dq * F;
    let eta: f64 = NaN;
    if (c == 0) {
      if (a1 != 0) eta = a0 / a1;
    } else {
      const disc = max(a1 * a1 - 4.0 * c * a0, 0.0);
      const sq = Math.sqrt(disc);
      const qq = 0.5 * (a1 + (a1 >= 0 ? sq : -sq));
      const r1 = qq / c;
      const r2 = qq != 0 ? a0 / qq : NaN;
      const in1 = tau + r1 > lo && tau + r1 < hi;
      const in2 = tau + r2 > lo && tau + r2 < hi;
      if (in1 && in2) eta = Math.abs(r1) <= Math.abs(r2) ? r1 : r2;
      else if (in1) eta = r1;
      else if (in2) eta = r2;
    }
    let tn = tau + eta;
    if (!(tn > lo && tn < hi)) {
      tn = tau - F / (dA + dB); // Newton
      if (!(tn > lo && tn < hi)) tn = 0.5 * (lo + hi);
    }
    if (tn == tau) break;
    tau = tn;
  }
  if (tau == 0) tau = org == i ? 2.2250738585072014e-308 : -2.2250738585072014e-308;
  for (let j = 0; j < k; j++) fs(del, j, f(del, j) - tau);
  return d0 + tau;
}

// Causal multi-head attention of one sample, forward and backward (AttnOut of
// src/models/modules.ts, spec App. B). Every output is computed with the same scalar f64 operations
// in the same order as the reference loops (`attnScore`, `attendRow`, `softmaxVjp` there): a sum is
// never split or reordered. SIMD lanes only hold independent outputs — two keys j of one score row,
// two channels c of one Z/q̄/k̄ row — and Wasm has no fused multiply-add, so every lane rounds
// exactly like the scalar code.

// @ts-ignore: decorator
@inline function ld(p: usize, i: i32): f64 {
  return load<f64>(p + (<usize>i << 3));
}

// @ts-ignore: decorator
@inline function st(p: usize, i: i32, x: f64): void {
  store<f64>(p + (<usize>i << 3), x);
}

// @ts-ignore: decorator
@inline function at(p: usize, i: i32): usize {
  return p + (<usize>i << 3);
}

/** T [n × P] = columns [c0, c0 + n) of the row-major [P × ldx] matrix at p, transposed. */
function transposeCols(p: usize, ldx: i32, c0: i32, n: i32, P: i32, T: usize): void {
  for (let j = 0; j < P; j++) {
    const r = at(p, j * ldx + c0);
    for (let c = 0; c < n; c++) st(T, c * P + j, ld(r, c));
  }
}

/**
 * z[c] += Σ_{j0 ≤ j ≤ i} a[j]·x_j[c] for c < n, with x_j = xp + j·ldx (8-byte units): each z[c]
 * accumulates in ascending j, one add per term (the channels run side by side). With `skipZero`,
 * the terms with a[j] = 0 are not added (the backward's zero S̄).
 */
// @ts-ignore: decorator
@inline
function weightedRows(a: usize, j0: i32, i: i32, xp: usize, ldx: i32, z: usize, n: i32, skipZero: bool): void {
  let c = 0;
  for (; c + 4 <= n; c += 4) {
    let s0 = v128.load(at(z, c)), s1 = v128.load(at(z, c + 2));
    for (let j = j0; j <= i; j++) {
      const aj = ld(a, j);
      if (skipZero && aj == 0) continue;
      const av = f64x2.splat(aj);
      const x = at(xp, j * ldx + c);
      s0 = f64x2.add(s0, f64x2.mul(av, v128.load(x)));
      s1 = f64x2.add(s1, f64x2.mul(av, v128.load(x, 16)));
    }
    v128.store(at(z, c), s0);
    v128.store(at(z, c + 2), s1);
  }
  for (; c + 2 <= n; c += 2) {
    let s0 = v128.load(at(z, c));
    for (let j = j0; j <= i; j++) {
      const aj = ld(a, j);
      if (skipZero && aj == 0) continue;
      s0 = f64x2.add(s0, f64x2.mul(f64x2.splat(aj), v128.load(at(xp, j * ldx + c))));
    }
    v128.store(at(z, c), s0);
  }
  for (; c < n; c++) {
    let s = ld(z, c);
    for (let j = j0; j <= i; j++) {
      const aj = ld(a, j);
      if (skipZero && aj == 0) continue;
      s += aj * ld(xp, j * ldx + c);
    }
    st(z, c, s);
  }
}

/**
 * out[j] = Σ_{c<n} x[c]·T[c·P + j] (c ascending, from 0), times `scale` if scaled, for j0 ≤ j ≤ i:
 * the dot products of one vector x with the rows j of a matrix stored transposed in T [n × P].
 */
function dotRows(x: usize, T: usize, n: i32, P: i32, j0: i32, i: i32, scaled: bool, scale: f64, out: usize): void {
  const sv = f64x2.splat(scale);
  let j = j0;
  for (; j + 4 <= i + 1; j += 4) {
    let s0 = f64x2.splat(0), s1 = f64x2.splat(0);
    for (let c = 0; c < n; c++) {
      const xv = f64x2.splat(ld(x, c));
      const t = at(T, c * P + j);
      s0 = f64x2.add(s0, f64x2.mul(xv, v128.load(t)));
      s1 = f64x2.add(s1, f64x2.mul(xv, v128.load(t, 16)));
    }
    if (scaled) {
      s0 = f64x2.mul(s0, sv);
      s1 = f64x2.mul(s1, sv);
    }
    v128.store(at(out, j), s0);
    v128.store(at(out, j + 2), s1);
  }
  for (; j + 2 <= i + 1; j += 2) {
    let s0 = f64x2.splat(0);
    for (let c = 0; c < n; c++) s0 = f64x2.add(s0, f64x2.mul(f64x2.splat(ld(x, c)), v128.load(at(T, c * P + j))));
    if (scaled) s0 = f64x2.mul(s0, sv);
    v128.store(at(out, j), s0);
  }
  for (; j <= i; j++) {
    let s: f64 = 0;
    for (let c = 0; c < n; c++) s += ld(x, c) * ld(T, c * P + j);
    st(out, j, scaled ? s * scale : s);
  }
}

/**
 * Forward of heads [h0, h1) of one sample: q, k [P × H·dh], v [P × H·dv] (head-major columns).
 * For every query i, keys j0 ≤ j ≤ i with j0 = max(0, i + 1 − win): score = (Σ_c q_c·k_c)·scale,
 * the pattern a = softmax (max-shifted, exp, summed in j order, divided) and Z[i, h] += Σ_j a_j·v_j.
 * A [(h1 − h0) × P × P] gets every entry (0 outside the keys); Z [P × H·dv] is accumulated.
 * Only queries i ≥ i0 are computed (rows i < i0 of A are 0, of Z untouched): each row is
 * independent of the others, so the rows computed are the same bits either way. Work: dh·P f64 at pKT.
 */
export function attnForward(
  P: i32, H: i32, dh: i32, dv: i32, h0: i32, h1: i32, win: i32, scale: f64,
  pQ: usize, pK: usize, pV: usize, pA: usize, pZ: usize, pKT: usize, i0: i32,
): void {
  const dqk = H * dh;
  const dvv = H * dv;
  for (let h = h0; h < h1; h++) {
    transposeCols(pK, dqk, h * dh, dh, P, pKT);
    const ab = at(pA, (h - h0) * P * P);
    const vh = at(pV, h * dv);
    // queries before i0 are not asked for: their pattern rows are 0 (and Z is left as it is)
    if (i0 > 0) memory.fill(ab, 0, (<usize>i0 * <usize>P) << 3);
    for (let i = i0; i < P; i++) {
      const row = at(ab, i * P);
      let j0 = i + 1 - win;
      if (j0 < 0) j0 = 0;
      for (let j = 0; j < j0; j++) st(row, j, 0);
      for (let j = i + 1; j < P; j++) st(row, j, 0);
      dotRows(at(pQ, i * dqk + h * dh), pKT, dh, P, j0, i, true, scale, row);
      // softmax: max-shifted, exp, summed in index order, then divided
      let mx: f64 = -Infinity;
      for (let j = j0; j <= i; j++) {
        const x = ld(row, j);
        if (x > mx) mx = x;
      }
      let tot: f64 = 0;
      for (let j = j0; j <= i; j++) {
        const e = Math.exp(ld(row, j) - mx);
        st(row, j, e);
        tot += e;
      }
      const tv = f64x2.splat(tot);
      let j = j0;
      for (; j + 2 <= i + 1; j += 2) v128.store(at(row, j), f64x2.div(v128.load(at(row, j)), tv));
      for (; j <= i; j++) st(row, j, ld(row, j) / tot);
      weightedRows(row, j0, i, vh, dvv, at(pZ, i * dvv + h * dv), dv, false);
    }
  }
}

/**
 * `attnForward` of every head of nb consecutive samples (q, k, v, A and Z of sample b at b times
 * their per-sample sizes; Z is zeroed first): one call for a batch of short sequences.
 */
export function attnForwardSamples(
  nb: i32, P: i32, H: i32, dh: i32, dv: i32, win: i32, scale: f64,
  pQ: usize, pK: usize, pV: usize, pA: usize, pZ: usize, pKT: usize, i0: i32,
): void {
  const nq = (<usize>P * <usize>H * <usize>dh) << 3;
  const nv = (<usize>P * <usize>H * <usize>dv) << 3;
  const na = (<usize>H * <usize>P * <usize>P) << 3;
  memory.fill(pZ, 0, <usize>nb * nv);
  for (let b = 0; b < nb; b++) {
    const o = <usize>b;
    attnForward(P, H, dh, dv, 0, H, win, scale, pQ + o * nq, pK + o * nq, pV + o * nv, pA + o * na, pZ + o * nv, pKT, i0);
  }
}

/**
 * Backward of heads [h0, h1) of one sample for nr cotangent rows. q, k, v, A as in attnForward
 * (A: heads [h0, h1) only); per row r: Z̄ [P × H·dv] at pGZ, and q̄, k̄ [P × H·dh], v̄ [P × H·dv]
 * accumulated at pGQ, pGK, pGV (rows r stacked). Per head and row, for each query i in order:
 * if Z̄_i ≠ 0: Ā_ij = Σ_c Z̄_ic·v_jc, v̄_j += A_ij·Z̄_i (j ≤ i), else Ā_i = 0; then
 * S̄_ij = (scale·A_ij)·(Ā_ij − Σ_j' Ā_ij'·A_ij'), and for S̄_ij ≠ 0: q̄_i += S̄_ij·k_j, k̄_j += S̄_ij·q_i.
 * v̄_j's terms are collected in i order in a transposed scratch and added once (v̄ holds 0 there).
 * Work: 2·dv·P + 2·P f64 at pW.
 */
export function attnBackward(
  P: i32, H: i32, dh: i32, dv: i32, h0: i32, h1: i32, nr: i32, scale: f64,
  pQ: usize, pK: usize, pV: usize, pA: usize,
  pGZ: usize, pGQ: usize, pGK: usize, pGV: usize, pW: usize,
): void {
  const dqk = H * dh;
  const dvv = H * dv;
  const vT = pW;
  const gvT = at(vT, dv * P);
  const gA = at(gvT, dv * P);
  const gS = at(gA, P);
  const sv = f64x2.splat(scale);
  for (let h = h0; h < h1; h++) {
    transposeCols(pV, dvv, h * dv, dv, P, vT);
    const ab = at(pA, (h - h0) * P * P);
    for (let r = 0; r < nr; r++) {
      const gz = at(pGZ, r * P * dvv + h * dv);
      const gq = at(pGQ, r * P * dqk + h * dh);
      const gk = at(pGK, r * P * dqk + h * dh);
      const gv = at(pGV, r * P * dvv + h * dv);
      memory.fill(gvT, 0, <usize>(dv * P) << 3);
      for (let i = 0; i < P; i++) {
        const a = at(ab, i * P);
        const z = at(gz, i * dvv);
        let nz = false;
        for (let c = 0; c < dv; c++) {
          if (ld(z, c) != 0) {
            nz = true;
            break;
          }
        }
        if (!nz) {
          for (let j = 0; j <= i; j++) st(gA, j, 0);
        } else {
          dotRows(z, vT, dv, P, 0, i, false, 0, gA);
          // v̄ᵀ[c, j] += A_ij·Z̄_ic (j side by side; each entry in i order)
          for (let c = 0; c < dv; c++) {
            const zc = ld(z, c);
            const zv = f64x2.splat(zc);
            const g = at(gvT, c * P);
            let j = 0;
            for (; j + 2 <= i + 1; j += 2) v128.store(at(g, j), f64x2.add(v128.load(at(g, j)), f64x2.mul(v128.load(at(a, j)), zv)));
            for (; j <= i; j++) st(g, j, ld(g, j) + ld(a, j) * zc);
          }
        }
        // softmax VJP of the row (K = 1)
        let rs: f64 = 0;
        for (let j = 0; j <= i; j++) rs += ld(gA, j) * ld(a, j);
        const rv = f64x2.splat(rs);
        let j = 0;
        for (; j + 2 <= i + 1; j += 2) {
          v128.store(at(gS, j), f64x2.mul(f64x2.mul(sv, v128.load(at(a, j))), f64x2.sub(v128.load(at(gA, j)), rv)));
        }
        for (; j <= i; j++) st(gS, j, (scale * ld(a, j)) * (ld(gA, j) - rs));
        // q̄_i += S̄_ij·k_j (j ascending; zero S̄ skipped)
        weightedRows(gS, 0, i, at(pK, h * dh), dqk, at(gq, i * dqk), dh, true);
        // k̄_j += S̄_ij·q_i (zero S̄ skipped)
        const qi = at(pQ, i * dqk + h * dh);
        for (let jj = 0; jj <= i; jj++) {
          const gs = ld(gS, jj);
          if (gs == 0) continue;
          const gsv = f64x2.splat(gs);
          const gkj = at(gk, jj * dqk);
          let cc = 0;
          for (; cc + 2 <= dh; cc += 2) v128.store(at(gkj, cc), f64x2.add(v128.load(at(gkj, cc)), f64x2.mul(gsv, v128.load(at(qi, cc)))));
          for (; cc < dh; cc++) st(gkj, cc, ld(gkj, cc) + gs * ld(qi, cc));
        }
      }
      // v̄_j += v̄ᵀ[·, j] (v̄ holds 0 for this head and row: the sums above are its whole value)
      for (let jv = 0; jv < P; jv++) {
        const g = at(gv, jv * dvv);
        for (let c = 0; c < dv; c++) st(g, c, ld(g, c) + ld(gvT, c * P + jv));
      }
    }
  }
}

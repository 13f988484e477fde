// The per-shard accumulation of the attention M′ (src/rib/structures/attention-mprime.ts, which
// explains the algebra): atoms per (sample, output position t, source position s), then the packed
// accumulators [S | B | T]. One call per shard: the atoms never leave Wasm memory. The operations
// and their order are those of the former TypeScript loops, so the sums are the same bits.
import { gemm, KC_MAX, NC } from './gemm';
import { groupPairs } from './pairs';

// @ts-ignore: decorator
@inline
function al64(bytes: usize): usize {
  return (bytes + 63) & ~(<usize>63);
}

/** Atoms (cap) and groups of a shard: B samples, output positions T (nT i32 at pT). */
function atomCap(B: i32, H: i32, nQ: i32, nT: i32, pT: usize): i32 {
  let cap = 0;
  for (let i = 0; i < nT; i++) {
    const t = load<i32>(pT + (<usize>i << 2));
    cap += (t + 1) * H * nQ + H * (t + 1) * nQ;
  }
  return cap * B;
}

function groupCap(B: i32, nT: i32, pT: usize): i32 {
  let s = 0;
  for (let i = 0; i < nT; i++) s += load<i32>(pT + (<usize>i << 2)) + 1;
  return B * s;
}

/**
 * out[oo + j·os + k] = scale·a[j]·(G[j·gs + k] − Σ_j' a[j']·G[j'·gs + k]) for j < n, k < K (the
 * softmax VJP of one pattern row a with the value rows G; rs: K scratch). src/models/modules.ts
 * `softmaxVjp`, the same operations.
 */
export function softmaxVjpRow(pa: usize, n: i32, scale: f64, pG: usize, gs: i32, K: i32, pOut: usize, os: i32, rs: usize): void {
  memory.fill(rs, 0, <usize>K << 3);
  for (let j = 0; j < n; j++) {
    const aj = load<f64>(pa + (<usize>j << 3));
    const o = pG + ((<usize>j * <usize>gs) << 3);
    for (let k = 0; k < K; k++) {
      const r = rs + (<usize>k << 3);
      store<f64>(r, load<f64>(r) + load<f64>(o + (<usize>k << 3)) * aj);
    }
  }
  for (let j = 0; j < n; j++) {
    const c = scale * load<f64>(pa + (<usize>j << 3));
    const o = pG + ((<usize>j * <usize>gs) << 3);
    const d = pOut + ((<usize>j * <usize>os) << 3);
    for (let k = 0; k < K; k++) store<f64>(d + (<usize>k << 3), c * (load<f64>(o + (<usize>k << 3)) - load<f64>(rs + (<usize>k << 3))));
  }
}

// @ts-ignore: decorator
@inline
function al64w(bytes: u64): u64 {
  return (bytes + 63) & ~(<u64>63);
}

/**
 * Bytes of work memory `attnMprimeAcc` needs for these shapes (an f64: the count may exceed the
 * 32-bit address space, which the caller then refuses).
 */
export function attnMprimeWork(B: i32, P: i32, H: i32, dh: i32, dv: i32, nQ: i32, nT: i32, pT: usize): f64 {
  const cap = <u64>atomCap(B, H, nQ, nT, pT);
  const ng = <u64>groupCap(B, nT, pT);
  const M1 = <u64>(H + 1);
  const HV = <u64>(H * dv);
  const W2 = <u64>(2 * H * dh);
  const MV = M1 * <u64>dv;
  let b: u64 = 0;
  b += al64w(cap << 2) * 6; // aBlk, aGrp, byBlock, byHead, blockRow, headRow
  b += al64w((cap * <u64>dv) << 3); // aU
  b += al64w((cap * <u64>dh) << 3); // aY
  b += al64w((ng * M1) << 3); // gC
  b += al64w((ng + 1) << 2); // gStart
  b += al64w((<u64>nQ * <u64>H * <u64>P * <u64>dv) << 3); // ṽ
  b += al64w(<u64>dv << 3); // vbar
  b += al64w(<u64>(2 * H + 1) << 2) * 2 + al64w(<u64>(H + 1) << 2) * 2; // bStart, bPos, hStart, hPos
  b += al64w((cap * HV) << 3); // OmU
  b += al64w((cap * <u64>dv) << 3); // Uh
  b += al64w((cap * W2) << 3); // Z
  b += al64w((cap * <u64>dh) << 3); // Ya
  b += al64w((cap * MV) << 3); // CU
  const nMax = <u64>max(max(<i32>HV, <i32>MV), max(<i32>W2, <i32>M1));
  const m4 = ((max(cap, <u64>max(dh, <i32>M1)) + 3) & ~(<u64>3));
  b += al64w(((<u64>KC_MAX * (m4 + min((nMax + 3) & ~(<u64>3), <u64>NC))) + 16) << 3); // gemmWork (gemm.ts)
  return <f64>b;
}

/**
 * Unnormalised packed accumulators [S | B | T] (accumulated at pAcc) of one shard of B samples at
 * P positions, output positions T (nT i32 at pT), nQ integration points with weights (nQ f64 at
 * pW) and forward caches (4·nQ u32 at pFw: q, k [B, P, H·dh], v [B, P, H·dv], A [B, H, P, P] per
 * point), Ω [H·dv × H·dv] at pOm. work: `attnMprimeWork` bytes.
 */
export function attnMprimeAcc(B: i32, P: i32, H: i32, dh: i32, dv: i32, scale: f64, nQ: i32, nT: i32, pT: usize,
  pW: usize, pFw: usize, pOm: usize, pAcc: usize, work: usize): void {
  const cap = <usize>atomCap(B, H, nQ, nT, pT);
  const ng = <usize>groupCap(B, nT, pT);
  const M1 = H + 1;
  const HV = H * dv;
  const HK = H * dh;
  const W2 = 2 * HK;
  const MV = M1 * dv;
  const nBlk = 2 * H;
  const pS = pAcc;
  const pBacc = pS + (<usize>(M1 * M1) << 3);
  const pTacc = pBacc + (<usize>(2 * H * dh * M1 * dv) << 3);
  // carve the work memory (same order as attnMprimeWork)
  let p = work;
  const aBlk = p; p += al64(cap << 2);
  const aGrp = p; p += al64(cap << 2);
  const byBlock = p; p += al64(cap << 2);
  const byHead = p; p += al64(cap << 2);
  const blockRow = p; p += al64(cap << 2);
  const headRow = p; p += al64(cap << 2);
  const aU = p; p += al64((cap * <usize>dv) << 3);
  const aY = p; p += al64((cap * <usize>dh) << 3);
  const gC = p; p += al64((ng * <usize>M1) << 3);
  const gStart = p; p += al64((ng + 1) << 2);
  const vt = p; p += al64((<usize>nQ * <usize>H * <usize>P * <usize>dv) << 3);
  const vbar = p; p += al64(<usize>dv << 3);
  const bStart = p; p += al64(<usize>(nBlk + 1) << 2);
  const bPos = p; p += al64(<usize>(nBlk + 1) << 2);
  const hStart = p; p += al64(<usize>(H + 1) << 2);
  const hPos = p; p += al64(<usize>(H + 1) << 2);
  const OmU = p; p += al64((cap * <usize>HV) << 3);
  const Uh = p; p += al64((cap * <usize>dv) << 3);
  const Z = p; p += al64((cap * <usize>W2) << 3);
  const Ya = p; p += al64((cap * <usize>dh) << 3);
  const CU = p; p += al64((cap * <usize>MV) << 3);
  const gw = p;
  memory.fill(gC, 0, (ng * <usize>M1) << 3);
  // atoms per (b, t, s): k-type (block 2h, u = w ṽ_{h,s}, y = q_h[t]) and, at s = t, q-type
  // (block 2h+1, u = w ṽ_{h,j}, y = k_h[j], j ≤ t)
  let n = 0;
  let g = 0;
  for (let b = 0; b < B; b++) {
    for (let ti = 0; ti < nT; ti++) {
      const t = load<i32>(pT + (<usize>ti << 2));
      for (let q = 0; q < nQ; q++) {
        const fA = <usize>load<u32>(pFw + (<usize>(4 * q + 3) << 2));
        const fv = <usize>load<u32>(pFw + (<usize>(4 * q + 2) << 2));
        for (let h = 0; h < H; h++) {
          softmaxVjpRow(fA + ((<usize>(((b * H + h) * P + t) * P)) << 3), t + 1, scale, fv + ((<usize>(b * P * HV + h * dv)) << 3), HV, dv,
            vt + ((<usize>((q * H + h) * P * dv)) << 3), dv, vbar);
        }
      }
      for (let s = 0; s <= t; s++) {
        store<i32>(gStart + (<usize>g << 2), n);
        const co = gC + ((<usize>g * <usize>M1) << 3);
        for (let q = 0; q < nQ; q++) {
          const w = load<f64>(pW + (<usize>q << 3));
          const fq = <usize>load<u32>(pFw + (<usize>(4 * q) << 2));
          const fk = <usize>load<u32>(pFw + (<usize>(4 * q + 1) << 2));
          const fA = <usize>load<u32>(pFw + (<usize>(4 * q + 3) << 2));
          if (s == t) store<f64>(co, load<f64>(co) + w);
          for (let h = 0; h < H; h++) {
            const ch = co + (<usize>(1 + h) << 3);
            store<f64>(ch, load<f64>(ch) + w * load<f64>(fA + (<usize>(((b * H + h) * P + t) * P + s) << 3)));
            store<i32>(aBlk + (<usize>n << 2), 2 * h);
            store<i32>(aGrp + (<usize>n << 2), g);
            const vo = vt + ((<usize>(((q * H + h) * P + s) * dv)) << 3);
            const uo = aU + ((<usize>n * <usize>dv) << 3);
            for (let e = 0; e < dv; e++) store<f64>(uo + (<usize>e << 3), w * load<f64>(vo + (<usize>e << 3)));
            memory.copy(aY + ((<usize>n * <usize>dh) << 3), fq + ((<usize>((b * P + t) * HK + h * dh)) << 3), <usize>dh << 3);
            n++;
            if (s == t) {
              for (let j = 0; j <= t; j++) {
                store<i32>(aBlk + (<usize>n << 2), 2 * h + 1);
                store<i32>(aGrp + (<usize>n << 2), g);
                const vj = vt + ((<usize>(((q * H + h) * P + j) * dv)) << 3);
                const uj = aU + ((<usize>n * <usize>dv) << 3);
                for (let e = 0; e < dv; e++) store<f64>(uj + (<usize>e << 3), w * load<f64>(vj + (<usize>e << 3)));
                memory.copy(aY + ((<usize>n * <usize>dh) << 3), fk + ((<usize>((b * P + j) * HK + h * dh)) << 3), <usize>dh << 3);
                n++;
              }
            }
          }
        }
        g++;
      }
    }
  }
  store<i32>(gStart + (<usize>g << 2), n);
  // S = Σ c cᵀ
  gemm(true, false, M1, M1, g, gC, M1, false, gC, M1, false, pS, M1, 1.0, 1.0, gw);
  // atoms grouped by block and by head, each in ascending atom order (counting sorts)
  memory.fill(bStart, 0, <usize>(nBlk + 1) << 2);
  for (let i = 0; i < n; i++) {
    const o = bStart + (<usize>(load<i32>(aBlk + (<usize>i << 2)) + 1) << 2);
    store<i32>(o, load<i32>(o) + 1);
  }
  for (let a = 0; a < nBlk; a++) {
    const o = bStart + (<usize>(a + 1) << 2);
    store<i32>(o, load<i32>(o) + load<i32>(bStart + (<usize>a << 2)));
  }
  for (let h = 0; h <= H; h++) store<i32>(hStart + (<usize>h << 2), load<i32>(bStart + (<usize>(2 * h) << 2)));
  memory.copy(bPos, bStart, <usize>nBlk << 2);
  memory.copy(hPos, hStart, <usize>H << 2);
  for (let i = 0; i < n; i++) {
    const a = load<i32>(aBlk + (<usize>i << 2));
    const bp = bPos + (<usize>a << 2);
    const rb = load<i32>(bp);
    store<i32>(bp, rb + 1);
    store<i32>(byBlock + (<usize>rb << 2), i);
    store<i32>(blockRow + (<usize>i << 2), rb);
    const hp = hPos + (<usize>(a >> 1) << 2);
    const rh = load<i32>(hp);
    store<i32>(hp, rh + 1);
    store<i32>(byHead + (<usize>rh << 2), i);
    store<i32>(headRow + (<usize>i << 2), rh);
  }
  // Ωu per atom [n × H·dv] in head order: per head, the head's atoms times Ω[:, head h]ᵀ
  memory.fill(OmU, 0, (<usize>n * <usize>HV) << 3);
  for (let h = 0; h < H; h++) {
    const h0 = load<i32>(hStart + (<usize>h << 2));
    const na = load<i32>(hStart + (<usize>(h + 1) << 2)) - h0;
    if (na == 0) continue;
    for (let k = 0; k < na; k++) {
      const i = load<i32>(byHead + (<usize>(h0 + k) << 2));
      memory.copy(Uh + ((<usize>k * <usize>dv) << 3), aU + ((<usize>i * <usize>dv) << 3), <usize>dv << 3);
    }
    gemm(false, true, na, HV, dv, Uh, dv, false, pOm + (<usize>(h * dv) << 3), HV, false,
      OmU + ((<usize>h0 * <usize>HV) << 3), HV, 1.0, 1.0, gw);
  }
  // Z_α = Σ_{β in α's group} (u_α · (Ωu_β)[head α]) lift(y_β), rows in block order
  memory.fill(Z, 0, (<usize>n * <usize>W2) << 3);
  groupPairs(g, gStart, aBlk, aU, OmU, HV, aY, Z, W2, dv, dh, headRow, blockRow);
  // per block a: B_a += Y_aᵀ [c ⊗ u]_a, T[a rows] += Y_aᵀ Z_a
  for (let a = 0; a < nBlk; a++) {
    const a0 = load<i32>(bStart + (<usize>a << 2));
    const na = load<i32>(bStart + (<usize>(a + 1) << 2)) - a0;
    if (na == 0) continue;
    for (let k = 0; k < na; k++) {
      const i = load<i32>(byBlock + (<usize>(a0 + k) << 2));
      memory.copy(Ya + ((<usize>k * <usize>dh) << 3), aY + ((<usize>i * <usize>dh) << 3), <usize>dh << 3);
      const co = gC + ((<usize>load<i32>(aGrp + (<usize>i << 2)) * <usize>M1) << 3);
      const uo = aU + ((<usize>i * <usize>dv) << 3);
      for (let m = 0; m < M1; m++) {
        const c = load<f64>(co + (<usize>m << 3));
        const o = CU + ((<usize>k * <usize>MV + <usize>m * <usize>dv) << 3);
        for (let e = 0; e < dv; e++) store<f64>(o + (<usize>e << 3), c * load<f64>(uo + (<usize>e << 3)));
      }
    }
    gemm(true, false, dh, MV, na, Ya, dh, false, CU, MV, false, pBacc + ((<usize>a * <usize>dh * <usize>MV) << 3), MV, 1.0, 1.0, gw);
    gemm(true, false, dh, W2, na, Ya, dh, false, Z + ((<usize>a0 * <usize>W2) << 3), W2, false, pTacc + ((<usize>a * <usize>dh * <usize>W2) << 3), W2, 1.0, 1.0, gw);
  }
}

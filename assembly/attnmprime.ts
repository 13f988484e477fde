// The per-shard accumulation of the attention M′ (src/rib/structures/attention-mprime.ts, which
// explains the algebra): atoms per (sample, output position t, source position s), then the packed
// accumulators [S | B | T]. One call per shard: the atoms never leave Wasm memory. The operations
// and their order are those of the former TypeScript loops, so the sums are the same bits.
import { gemm, gemmWorkElems } from './gemm';
import { align64 } from './vec';
import { groupPairs } from './pairs';

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

// The work memory: one listing, `layout`, sizes it (`attnMprimeWork`, from base 0) and places its
// regions for the kernel (the pointers in W, which the kernel reads into locals: module globals in
// its loops cost ≈ 4% of a build)
namespace W {
  export let aBlk: usize = 0, aGrp: usize = 0, byBlock: usize = 0, byHead: usize = 0, blockRow: usize = 0, headRow: usize = 0;
  export let aU: usize = 0, aY: usize = 0, gC: usize = 0, gStart: usize = 0, vt: usize = 0, vbar: usize = 0;
  export let bStart: usize = 0, bPos: usize = 0, hStart: usize = 0, hPos: usize = 0;
  export let OmU: usize = 0, Uh: usize = 0, Z: usize = 0, Ya: usize = 0, CU: usize = 0, gw: usize = 0;
}

/** Places the work regions from `base` and returns their size in bytes (64 bits: it may exceed the address space). */
function layout(base: u64, B: i32, P: i32, H: i32, dh: i32, dv: i32, nQ: i32, nT: i32, pT: usize): u64 {
  const cap = <u64>atomCap(B, H, nQ, nT, pT);
  const ng = <u64>groupCap(B, nT, pT);
  const M1 = <u64>(H + 1);
  const HV = <u64>(H * dv);
  const W2 = <u64>(2 * H * dh);
  const MV = M1 * <u64>dv;
  const nBlk = <u64>(2 * H);
  let p = base;
  W.aBlk = <usize>p; p += align64(cap << 2);
  W.aGrp = <usize>p; p += align64(cap << 2);
  W.byBlock = <usize>p; p += align64(cap << 2);
  W.byHead = <usize>p; p += align64(cap << 2);
  W.blockRow = <usize>p; p += align64(cap << 2);
  W.headRow = <usize>p; p += align64(cap << 2);
  W.aU = <usize>p; p += align64((cap * <u64>dv) << 3);
  W.aY = <usize>p; p += align64((cap * <u64>dh) << 3);
  W.gC = <usize>p; p += align64((ng * M1) << 3);
  W.gStart = <usize>p; p += align64((ng + 1) << 2);
  W.vt = <usize>p; p += align64((<u64>nQ * <u64>H * <u64>P * <u64>dv) << 3);
  W.vbar = <usize>p; p += align64(<u64>dv << 3);
  W.bStart = <usize>p; p += align64((nBlk + 1) << 2);
  W.bPos = <usize>p; p += align64((nBlk + 1) << 2);
  W.hStart = <usize>p; p += align64(<u64>(H + 1) << 2);
  W.hPos = <usize>p; p += align64(<u64>(H + 1) << 2);
  W.OmU = <usize>p; p += align64((cap * HV) << 3);
  W.Uh = <usize>p; p += align64((cap * <u64>dv) << 3);
  W.Z = <usize>p; p += align64((cap * W2) << 3);
  W.Ya = <usize>p; p += align64((cap * <u64>dh) << 3);
  W.CU = <usize>p; p += align64((cap * MV) << 3);
  W.gw = <usize>p; p += gemmWorkElems(max(cap, <u64>max(dh, H + 1)), max(max(HV, MV), max(W2, M1))) << 3;
  return p - base;
}

/** Bytes of work memory `attnMprimeAcc` needs (an f64: the caller refuses what the arena cannot hold). */
export function attnMprimeWork(B: i32, P: i32, H: i32, dh: i32, dv: i32, nQ: i32, nT: i32, pT: usize): f64 {
  return <f64>layout(0, B, P, H, dh, dv, nQ, nT, pT);
}

/**
 * Unnormalised packed accumulators [S | B | T] (accumulated at pAcc) of one shard of B samples at
 * P positions, output positions T (nT i32 at pT), nQ integration points with weights (nQ f64 at
 * pW) and forward caches (4·nQ u32 at pFw: q, k [B, P, H·dh], v [B, P, H·dv], A [B, H, P, P] per
 * point), Ω [H·dv × H·dv] at pOm. work: `attnMprimeWork` bytes.
 */
export function attnMprimeAcc(B: i32, P: i32, H: i32, dh: i32, dv: i32, scale: f64, nQ: i32, nT: i32, pT: usize,
  pW: usize, pFw: usize, pOm: usize, pAcc: usize, work: usize): void {
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
  layout(<u64>work, B, P, H, dh, dv, nQ, nT, pT);
  const aBlk = W.aBlk, aGrp = W.aGrp, byBlock = W.byBlock, byHead = W.byHead, blockRow = W.blockRow,
    headRow = W.headRow, aU = W.aU, aY = W.aY, gC = W.gC, gStart = W.gStart, vt = W.vt, vbar = W.vbar,
    bStart = W.bStart, bPos = W.bPos, hStart = W.hStart, hPos = W.hPos, OmU = W.OmU, Uh = W.Uh, Z = W.Z,
    Ya = W.Ya, CU = W.CU, gw = W.gw;
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

// The per-shard squared edges of the MLP structure (src/rib/structures/mlp.ts, which explains the
// algebra): per row r, Aᵀ = K0 + Σ_h m[r,h]·a_h b_hᵀ (r_in × r_out) and E += Aᵀ ⊙ Aᵀ ⊙ f̂[r]². One
// call per shard: the baseline m̄ (folded into K0), the row chain over the "m ≠ m̄" patterns
// (nearestChain), each row's units (those that differ from the baseline or from the previous
// row, whichever are fewer) and the updates stay in Wasm memory. The operations and their order
// are those of the former TypeScript loops and of `lowRankSqAccGather`, so the sums are the same bits.
import { gemm, gemmWorkElems } from './gemm';
import { align64 } from './vec';
import { lowRankSqAccGather } from './sqacc';
import { nearestChain } from './chain';

// The work memory: one listing, `layout`, sizes it (`mlpEdgesWork`, from base 0) and places its
// regions for the kernel (the pointers in W, which the kernel reads into locals: module globals in
// its loops cost ≈ 4% of a build)
namespace W {
  export let mbar: usize = 0, first: usize = 0, cnt: usize = 0, Ls: usize = 0, Rs: usize = 0, bits: usize = 0;
  export let order: usize = 0, rem: usize = 0, counts: usize = 0, base: usize = 0, idx: usize = 0, scl: usize = 0;
  export let f2: usize = 0, T: usize = 0, gw: usize = 0;
}

/** Places the work regions from `at` and returns their size in bytes. */
function layout(at: u64, rows: i32, H: i32, rin: i32, rout: i32): u64 {
  const r = <u64>rows;
  const h = <u64>H;
  let p = at;
  W.mbar = <usize>p; p += align64(h << 3);
  W.first = <usize>p; p += align64(h << 3);
  W.cnt = <usize>p; p += align64(h << 2);
  W.Ls = <usize>p; p += align64((h * <u64>rin) << 3); // aAct, then the row's L
  W.Rs = <usize>p; p += align64((h * <u64>rout) << 3); // bAct, then the row's R
  W.bits = <usize>p; p += align64((r * <u64>((H + 63) >> 6)) << 3);
  W.order = <usize>p; p += align64(r << 2);
  W.rem = <usize>p; p += align64(r << 2);
  W.counts = <usize>p; p += align64(r << 2);
  W.base = <usize>p; p += align64(r << 2);
  W.idx = <usize>p; p += align64((r * h) << 2);
  W.scl = <usize>p; p += align64((r * h) << 3);
  W.f2 = <usize>p; p += align64((r * <u64>rin) << 3);
  W.T = <usize>p; p += align64((<u64>rin * <u64>rout) << 3);
  W.gw = <usize>p; p += gemmWorkElems(<u64>rin, <u64>rout) << 3;
  return p - at;
}

/** Bytes of work memory `mlpEdgesAcc` needs. */
export function mlpEdgesWork(rows: i32, H: i32, rin: i32, rout: i32): f64 {
  return <f64>layout(0, rows, H, rin, rout);
}

/**
 * E_t [r_in × r_out] += Σ_rows Aᵀ ⊙ Aᵀ ⊙ f̂², for the integrated derivatives m [rows × H] at pM, f̂
 * [rows × r_in] at pF, aᵀ = (C⁺ Win)ᵀ [H × r_in] at pAT, b = Wout C_out [H × r_out] at pBm and the
 * constant part K0 [r_in × r_out] at pK0 (the baseline units are added to a copy). work:
 * `mlpEdgesWork` bytes.
 */
export function mlpEdgesAcc(rows: i32, H: i32, rin: i32, rout: i32, pM: usize, pF: usize, pAT: usize, pBm: usize, pK0: usize, pE: usize, work: usize): void {
  if (rows <= 0) return;
  const w = (H + 63) >> 6;
  const rowM = <usize>H << 3;
  const rowF = <usize>rin << 3;
  layout(<u64>work, rows, H, rin, rout);
  const mbar = W.mbar, first = W.first, cnt = W.cnt, Ls = W.Ls, Rs = W.Rs, bits = W.bits, order = W.order,
    rem = W.rem, counts = W.counts, base = W.base, idx = W.idx, scl = W.scl, f2 = W.f2, T = W.T, gw = W.gw;
  // baseline m̄_h: the unit's first non-zero value when more than half of the rows hold it
  memory.fill(mbar, 0, rowM);
  memory.fill(first, 0, rowM);
  memory.fill(cnt, 0, <usize>H << 2);
  for (let r = 0; r < rows; r++) {
    const o = pM + <usize>r * rowM;
    for (let h = 0; h < H; h++) {
      const fo = first + (<usize>h << 3);
      if (load<f64>(fo) == 0.0) store<f64>(fo, load<f64>(o + (<usize>h << 3)));
    }
  }
  for (let r = 0; r < rows; r++) {
    const o = pM + <usize>r * rowM;
    for (let h = 0; h < H; h++) {
      if (load<f64>(o + (<usize>h << 3)) == load<f64>(first + (<usize>h << 3))) {
        const co = cnt + (<usize>h << 2);
        store<i32>(co, load<i32>(co) + 1);
      }
    }
  }
  for (let h = 0; h < H; h++) {
    const f = load<f64>(first + (<usize>h << 3));
    if (f != 0.0 && load<i32>(cnt + (<usize>h << 2)) * 2 > rows) store<f64>(mbar + (<usize>h << 3), f);
  }
  // K0b = K0 + Σ_{h: m̄_h ≠ 0} a_h (m̄_h b_h)ᵀ, the baseline of every row (into T's first use)
  let nb = 0;
  for (let h = 0; h < H; h++) {
    const mb = load<f64>(mbar + (<usize>h << 3));
    if (mb == 0.0) continue;
    memory.copy(Ls + ((<usize>nb * <usize>rin) << 3), pAT + ((<usize>h * <usize>rin) << 3), rowF);
    const src = pBm + ((<usize>h * <usize>rout) << 3);
    const dst = Rs + ((<usize>nb * <usize>rout) << 3);
    for (let i = 0; i < rout; i++) store<f64>(dst + (<usize>i << 3), mb * load<f64>(src + (<usize>i << 3)));
    nb++;
  }
  if (nb > 0) gemm(true, false, rin, rout, nb, Ls, rin, false, Rs, rout, false, pK0, rout, 1.0, 1.0, gw);
  // row order: greedy nearest-neighbour chain over the patterns m ≠ m̄ (Hamming distance)
  memory.fill(bits, 0, (<usize>rows * <usize>w) << 3);
  for (let r = 0; r < rows; r++) {
    const o = pM + <usize>r * rowM;
    const bo = bits + ((<usize>r * <usize>w) << 3);
    for (let h = 0; h < H; h++) {
      if (load<f64>(o + (<usize>h << 3)) != load<f64>(mbar + (<usize>h << 3))) {
        const wo = bo + (<usize>(h >> 6) << 3);
        store<u64>(wo, load<u64>(wo) | (<u64>1 << <u64>(h & 63)));
      }
    }
  }
  nearestChain(rows, w, bits, order, rem);
  // per row: its units, those that differ from the baseline (T = K0b + Σ (m − m̄)_h a_h b_hᵀ) or,
  // when fewer, from the previous row (T = T_prev + Σ Δm_h a_h b_hᵀ); f̂² scales the squares
  let n = 0;
  for (let k = 0; k < rows; k++) {
    const r = load<i32>(order + (<usize>k << 2));
    const ro = pM + <usize>r * rowM;
    const po = k > 0 ? pM + <usize>load<i32>(order + (<usize>(k - 1) << 2)) * rowM : 0;
    let cb = 0;
    let cp = i32.MAX_VALUE;
    if (k > 0) {
      let c = 0;
      for (let h = 0; h < H; h++) {
        const v = load<f64>(ro + (<usize>h << 3));
        if (v != load<f64>(mbar + (<usize>h << 3))) cb++;
        if (v != load<f64>(po + (<usize>h << 3))) c++;
      }
      cp = c;
    } else {
      for (let h = 0; h < H; h++) if (load<f64>(ro + (<usize>h << 3)) != load<f64>(mbar + (<usize>h << 3))) cb++;
    }
    const fromBase = !(cp < cb);
    store<i32>(base + (<usize>k << 2), fromBase ? 1 : 0);
    store<i32>(counts + (<usize>k << 2), fromBase ? cb : cp);
    const ref = fromBase ? mbar : po;
    for (let h = 0; h < H; h++) {
      const mh = load<f64>(ro + (<usize>h << 3)) - load<f64>(ref + (<usize>h << 3));
      if (mh == 0.0) continue;
      store<i32>(idx + (<usize>n << 2), h);
      store<f64>(scl + (<usize>n << 3), mh);
      n++;
    }
    const fr = pF + <usize>r * rowF;
    const fk = f2 + <usize>k * rowF;
    for (let j = 0; j < rin; j++) {
      const v = load<f64>(fr + (<usize>j << 3));
      store<f64>(fk + (<usize>j << 3), v * v);
    }
  }
  lowRankSqAccGather(rows, rin, rout, pK0, pAT, pBm, idx, scl, counts, base, f2, pE, T, Ls, Rs, gw);
}

// The per-shard squared edges of the attention structure (src/rib/structures/attention.ts, which
// explains the algebra): per (sample b, output position t) the transposed edge block
// Aᵀ = Σ_m diag(CR_m)·T_m + Lᵀ R (r_in × K) is formed and E += Aᵀ ⊙ Aᵀ. One call per shard, one
// row at a time: CR, the atoms L (r_in each) and their score-path columns R (K each) never leave
// Wasm memory. The operations and their order are those of the former TypeScript loops and of
// `lowRankSqAcc` (same diagCombine, GEMM and square accumulation), so the sums are the same bits.
import { gemm, gemmWorkElems } from './gemm';
import { align64 } from './vec';
import { diagCombine, sqAccRow } from './sqacc';
import { softmaxVjpRow } from './attnmprime';

/** Atoms per row at most: H·(t_max + 1)·nQ. */
function maxAtoms(H: i32, nQ: i32, nT: i32, pT: usize): i32 {
  let tm = 0;
  for (let i = 0; i < nT; i++) tm = max(tm, load<i32>(pT + (<usize>i << 2)));
  return H * (tm + 1) * nQ;
}

// The work memory: one listing, `layout`, sizes it (`attnEdgesWork`, from base 0) and places its
// regions for the kernel (the pointers in W, which the kernel reads into locals: module globals in
// its loops cost ≈ 4% of a build)
namespace W {
  export let CR: usize = 0, L: usize = 0, R: usize = 0, rs: usize = 0, Tb: usize = 0, gw: usize = 0;
}

/** Places the work regions from `base` and returns their size in bytes. */
function layout(base: u64, H: i32, nQ: i32, nT: i32, pT: usize, rin: i32, K: i32): u64 {
  const mk = <u64>maxAtoms(H, nQ, nT, pT);
  let p = base;
  W.CR = <usize>p; p += align64((<u64>(H + 1) * <u64>rin) << 3);
  W.L = <usize>p; p += align64((mk * <u64>rin) << 3);
  W.R = <usize>p; p += align64((mk * <u64>K) << 3);
  W.rs = <usize>p; p += align64(<u64>K << 3);
  W.Tb = <usize>p; p += align64((<u64>rin * <u64>K) << 3);
  W.gw = <usize>p; p += gemmWorkElems(<u64>rin, <u64>K) << 3;
  return p - base;
}

/** Bytes of work memory `attnEdgesAcc` needs. */
export function attnEdgesWork(H: i32, nQ: i32, nT: i32, pT: usize, rin: i32, K: i32): f64 {
  return <f64>layout(0, H, nQ, nT, pT, rin, K);
}

/**
 * E_t [r_in × K] += the squared edge blocks of B samples at P positions, output positions T (nT i32
 * at pT), nQ integration points (weights nQ f64 at pW). Per point q: the pattern A_q [B, H, P, P]
 * (u32 pointer at pA + 4q), and per head h (u32 pointers at index q·H + h): Ā [B·P × K] at pAbar,
 * qk C⁺ᵀ [B·nT × r_in] at pQK, kq C⁺ᵀ [B·P × r_in] at pKQ. f̂ [B, P, r_in] at pF; T_m [(H+1) × r_in × K]
 * at pTm. work: `attnEdgesWork` bytes.
 */
export function attnEdgesAcc(B: i32, P: i32, H: i32, nQ: i32, nT: i32, pT: usize, rin: i32, K: i32, scale: f64,
  pW: usize, pF: usize, pA: usize, pAbar: usize, pQK: usize, pKQ: usize, pTm: usize, pE: usize, work: usize): void {
  const M1 = H + 1;
  layout(<u64>work, H, nQ, nT, pT, rin, K);
  const CR = W.CR, L = W.L, R = W.R, rs = W.rs, Tb = W.Tb, gw = W.gw;
  const rowF = <usize>rin << 3;
  for (let b = 0; b < B; b++) {
    const fb = pF + ((<usize>b * <usize>P) * rowF);
    for (let ti = 0; ti < nT; ti++) {
      const t = load<i32>(pT + (<usize>ti << 2));
      const ft = fb + <usize>t * rowF;
      // CR[0, j] = Σ_q w_q f̂[t, j], CR[1+h, j] = Σ_q w_q Σ_{s≤t} A_h[t, s] f̂[s, j]
      memory.fill(CR, 0, (<usize>M1 * <usize>rin) << 3);
      for (let q = 0; q < nQ; q++) {
        const w = load<f64>(pW + (<usize>q << 3));
        const A = <usize>load<u32>(pA + (<usize>q << 2));
        for (let j = 0; j < rin; j++) {
          const o = CR + (<usize>j << 3);
          store<f64>(o, load<f64>(o) + w * load<f64>(ft + (<usize>j << 3)));
        }
        for (let h = 0; h < H; h++) {
          const ab = A + (<usize>(((b * H + h) * P + t) * P) << 3);
          const ho = CR + ((<usize>(1 + h) * <usize>rin) << 3);
          for (let s = 0; s <= t; s++) {
            const a = w * load<f64>(ab + (<usize>s << 3));
            const fo = fb + <usize>s * rowF;
            for (let j = 0; j < rin; j++) {
              const o = ho + (<usize>j << 3);
              store<f64>(o, load<f64>(o) + a * load<f64>(fo + (<usize>j << 3)));
            }
          }
        }
      }
      // atoms (h, j ≤ t) per point: R = the score-path column, L = w·(qk_h C⁺ᵀ ⊙ f̂[j] + kq_{h,j} C⁺ᵀ ⊙ f̂[t])
      let row = 0;
      for (let q = 0; q < nQ; q++) {
        const w = load<f64>(pW + (<usize>q << 3));
        const A = <usize>load<u32>(pA + (<usize>q << 2));
        for (let h = 0; h < H; h++) {
          const Ab = <usize>load<u32>(pAbar + (<usize>(q * H + h) << 2));
          softmaxVjpRow(A + (<usize>((b * H + h) * P * P + t * P) << 3), t + 1, scale, Ab + ((<usize>b * <usize>P * <usize>K) << 3), K, K,
            R + ((<usize>(row + h * (t + 1)) * <usize>K) << 3), K, rs);
        }
        for (let h = 0; h < H; h++) {
          const qk = <usize>load<u32>(pQK + (<usize>(q * H + h) << 2)) + ((<usize>(b * nT + ti) * <usize>rin) << 3);
          const kq = <usize>load<u32>(pKQ + (<usize>(q * H + h) << 2));
          for (let j2 = 0; j2 <= t; j2++) {
            const fj = fb + <usize>j2 * rowF;
            const ko = kq + ((<usize>(b * P + j2) * <usize>rin) << 3);
            const dst = L + ((<usize>row * <usize>rin) << 3);
            for (let j = 0; j < rin; j++) {
              const o = <usize>j << 3;
              store<f64>(dst + o, w * (load<f64>(qk + o) * load<f64>(fj + o) + load<f64>(ko + o) * load<f64>(ft + o)));
            }
            row++;
          }
        }
      }
      // Aᵀ = Σ_m diag(CR_m) T_m + Lᵀ R; E += Aᵀ ⊙ Aᵀ (lowRankSqAcc's steps for one row)
      diagCombine(rin, K, M1, pTm, CR, Tb);
      if (row > 0) gemm(true, false, rin, K, row, L, rin, false, R, K, false, Tb, K, 1.0, 1.0, gw);
      sqAccRow(0, rin, K, Tb, 0, pE);
    }
  }
}

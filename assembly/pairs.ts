// Pairwise accumulation inside groups of "atoms" (the attention M′ of src/rib/attention-mprime.ts):
// for every group [s0, s1) and atoms α, β in it, Z_α[blk_β·dh : +dh] += (u_α · W_β[(blk_α>>1)·dv : +dv]) · y_β.
import { dot, axpy } from './vec';

/**
 * g groups, boundaries i32 at pStart (g + 1 entries). Per atom a: block i32 at pBlk, u (dv f64) at
 * pU, w (ldw f64) at pW, y (dh f64) at pY; Z (ldz f64 per atom) at pZ is accumulated. Row maps
 * (i32 per atom, 0 = the atom's own index): atom a's w is row pWRow[a] of pW, its Z row pZRow[a].
 */
export function groupPairs(g: i32, pStart: usize, pBlk: usize, pU: usize, pW: usize, ldw: i32, pY: usize, pZ: usize, ldz: i32, dv: i32, dh: i32, pWRow: usize, pZRow: usize): void {
  for (let gi = 0; gi < g; gi++) {
    const s0 = load<i32>(pStart + (<usize>gi << 2));
    const s1 = load<i32>(pStart + (<usize>(gi + 1) << 2));
    for (let al = s0; al < s1; al++) {
      const ha = load<i32>(pBlk + (<usize>al << 2)) >> 1;
      const u = pU + ((<usize>al * <usize>dv) << 3);
      const zr = pZRow ? load<i32>(pZRow + (<usize>al << 2)) : al;
      const z = pZ + ((<usize>zr * <usize>ldz) << 3);
      for (let be = s0; be < s1; be++) {
        const wr = pWRow ? load<i32>(pWRow + (<usize>be << 2)) : be;
        const k = dot(u, pW + ((<usize>wr * <usize>ldw + <usize>ha * <usize>dv) << 3), dv);
        const bb = load<i32>(pBlk + (<usize>be << 2));
        axpy(k, pY + ((<usize>be * <usize>dh) << 3), z + ((<usize>bb * <usize>dh) << 3), dh);
      }
    }
  }
}

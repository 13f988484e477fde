// Householder helpers shared by the QR (svd) and the eigensolver.
import { dot } from './vec';

export const NB: i32 = 32;

// @ts-ignore: decorator
@inline function at(p: usize, ld: i32, i: i32, j: i32): usize {
  return p + ((<usize>i * <usize>ld + <usize>j) << 3);
}

/**
 * Vt[nb × (m−j0)] = the reflectors j0..j0+nb−1 (row j of At, leading dimension ld, entries j..m−1)
 * as explicit rows (unit at their diagonal, zeros
 * before), T[nb×nb] upper triangular with H_j0 ⋯ H_j0+nb−1 = I − V T Vᵀ (LAPACK dlarft, forward).
 */
export function buildVT(At: usize, ld: i32, m: i32, j0: i32, nb: i32, tau: usize, Vt: usize, T: usize): void {
  const mm = m - j0;
  for (let jj = 0; jj < nb; jj++) {
    const row = Vt + (<usize>jj * <usize>mm << 3);
    memory.fill(row, 0, <usize>jj << 3);
    store<f64>(row + (<usize>jj << 3), 1.0);
    const src = at(At, ld, j0 + jj, j0 + jj + 1);
    memory.copy(row + (<usize>(jj + 1) << 3), src, <usize>(mm - jj - 1) << 3);
  }
  memory.fill(T, 0, <usize>nb * <usize>nb << 3);
  for (let i = 0; i < nb; i++) {
    const ti = load<f64>(tau + (<usize>(j0 + i) << 3));
    store<f64>(T + (<usize>(i * nb + i) << 3), ti);
    if (ti == 0.0) continue;
    const vi = Vt + (<usize>i * <usize>mm << 3);
    // w[r] = Vt[r]·v_i for r < i, then T[0:i, i] = −τ_i · T[0:i, 0:i] · w
    for (let r = 0; r < i; r++) {
      const w = dot(Vt + (<usize>r * <usize>mm << 3) + (<usize>i << 3), vi + (<usize>i << 3), mm - i);
      store<f64>(T + (<usize>(r * nb + i) << 3), w); // temp in column i
    }
    for (let r = 0; r < i; r++) {
      let s: f64 = 0;
      for (let c = r; c < i; c++) s += load<f64>(T + (<usize>(r * nb + c) << 3)) * load<f64>(T + (<usize>(c * nb + i) << 3));
      store<f64>(T + (<usize>(r * nb + i) << 3), -ti * s);
    }
  }
}


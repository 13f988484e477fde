/**
 * Fast evaluation of attention sections for ablations (browser-safe).
 *
 * A section `ln1 → split → attn_in → attn_out → add_resid1` (no LayerNorm) maps x [B, P, d] to
 *   y_i = Σ_h softmax_j≤i(q_i·k_j·s) v_j · Wo + x_i   (only the last i when add_resid1 is last-pos).
 * q, k, v are per-position linear maps of x. Token models repeat the same input row at a
 * position many times (mod-add: 113 distinct rows per position for 8939 samples), so q, k, v are
 * computed once per distinct row and gathered. Per edge-ablation pattern π only the projections
 * u[:, π] (C⁺Wq)[π, :] etc. change; the output side folds Wo C_out and C⁺ C_out.
 *
 * The numerics follow AttnOut.forward in src/models/modules.ts (same order of operations and
 * the shared softmaxInPlace); tests check equality with `section.forward`.
 */
import { gemm } from '../linalg/index.js';
import { softmaxInPlace } from '../models/modules.js';
import type { Section } from '../models/types.js';
import { detectAttention, type AttnStruct } from '../rib/attention.js';
import type { EdgeBasis, PatternGroup } from './ablation-edge.js';
import { gatherCols, gatherRows, mm } from './ablation-edge.js';

/** An attention section's structure (`detectAttention`, without its modules: it goes to workers), with P input positions. */
export interface AttnSection extends Omit<AttnStruct, 'mods'> {
  dout: number;
  P: number;
}

/** The attention structure of a section, or null unless its modules are (identity…) split, attn_in, attn_out, add. */
export function detectAttnSection(section: Section): AttnSection | null {
  const st = detectAttention(section);
  if (!st) return null;
  const { mods: _mods, ...rest } = st;
  if (![st.H, st.dh, st.dv, st.d].every((v) => Number.isInteger(v) && v > 0)) return null;
  if (section.outPos !== (st.lastPos ? 1 : section.inPos)) return null;
  return { ...rest, lastPos: st.lastPos === true, dout: st.d, P: section.inPos };
}

/** Distinct rows of x[:, p, :] per position p: X [U_p, w] and idx [B] (sample → distinct row). */
export interface PosUnique {
  U: number;
  X: Float64Array;
  idx: Int32Array;
}

export function uniqueRowsPerPosition(x: Float64Array, B: number, P: number, w: number): PosUnique[] {
  const out: PosUnique[] = [];
  const u32 = new Uint32Array(x.buffer, x.byteOffset, x.length * 2);
  for (let p = 0; p < P; p++) {
    const buckets = new Map<number, number[]>();
    const rows: number[] = []; // sample index of each distinct row
    const idx = new Int32Array(B);
    for (let b = 0; b < B; b++) {
      const o = (b * P + p) * w;
      let h = 0x811c9dc5;
      for (let t = 2 * o; t < 2 * (o + w); t++) h = Math.imul(h ^ u32[t]!, 16777619);
      let list = buckets.get(h);
      if (!list) {
        list = [];
        buckets.set(h, list);
      }
      let found = -1;
      for (const r of list) {
        const ro = (rows[r]! * P + p) * w;
        let same = true;
        for (let c = 0; c < w; c++) {
          if (x[ro + c] !== x[o + c]) {
            same = false;
            break;
          }
        }
        if (same) {
          found = r;
          break;
        }
      }
      if (found < 0) {
        found = rows.length;
        rows.push(b);
        list.push(found);
      }
      idx[b] = found;
    }
    const X = new Float64Array(rows.length * w);
    rows.forEach((b, r) => X.set(x.subarray((b * P + p) * w, (b * P + p + 1) * w), r * w));
    out.push({ U: rows.length, X, idx });
  }
  return out;
}

/**
 * Z [B, nOut, H·dv] for output positions (last only, or all) from per-position distinct-row
 * q [U_p, H·dh], k, v and the sample → row maps.
 */
function attnZ(a: AttnSection, q: Float64Array[], k: Float64Array[], v: Float64Array[], uniq: PosUnique[], B: number): Float64Array {
  const { H, dh, dv, scale, P } = a;
  const dqk = H * dh;
  const dvv = H * dv;
  const outPos = a.lastPos ? [P - 1] : Array.from({ length: P }, (_, i) => i);
  const nOut = outPos.length;
  const Z = new Float64Array(B * nOut * dvv);
  // score tables S[i][j][(uq·Uk + uk)·H + h] over distinct (query row, key row) pairs when that
  // is cheaper than one score per sample; null → computed per sample
  const tables: Array<Array<Float64Array | null>> = outPos.map((i) =>
    Array.from({ length: i + 1 }, (_, j) => {
      const Ui = uniq[i]!.U;
      const Uj = uniq[j]!.U;
      if (Ui * Uj > B) return null;
      const T = new Float64Array(Ui * Uj * H);
      const qa = q[i]!;
      const ka = k[j]!;
      for (let x = 0; x < Ui; x++)
        for (let y = 0; y < Uj; y++)
          for (let h = 0; h < H; h++) {
            let s = 0;
            const qo = x * dqk + h * dh;
            const ko = y * dqk + h * dh;
            for (let c = 0; c < dh; c++) s += qa[qo + c]! * ka[ko + c]!;
            T[(x * Uj + y) * H + h] = s * scale;
          }
      return T;
    }),
  );
  const row = new Float64Array(P);
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < nOut; t++) {
      const i = outPos[t]!;
      const qa = q[i]!;
      const qi = uniq[i]!.idx[b]!;
      const tab = tables[t]!;
      for (let h = 0; h < H; h++) {
        const qo = qi * dqk + h * dh;
        for (let j = 0; j <= i; j++) {
          const kj = uniq[j]!.idx[b]!;
          const T = tab[j];
          let s: number;
          if (T) s = T[(qi * uniq[j]!.U + kj) * H + h]!;
          else {
            const ka = k[j]!;
            const ko = kj * dqk + h * dh;
            s = 0;
            for (let c = 0; c < dh; c++) s += qa[qo + c]! * ka[ko + c]!;
            s *= scale;
          }
          row[j] = s;
        }
        softmaxInPlace(row, i + 1);
        const zo = (b * nOut + t) * dvv + h * dv;
        for (let j = 0; j <= i; j++) {
          const w = row[j]!;
          const va = v[j]!;
          const vo = uniq[j]!.idx[b]! * dvv + h * dv;
          for (let c = 0; c < dv; c++) Z[zo + c]! += w * va[vo + c]!;
        }
      }
    }
  }
  return Z;
}

/** Same as section.forward(x, B) for an attention section, computing q, k, v on distinct rows. */
export function attnForwardFast(a: AttnSection, x: Float64Array, B: number): Float64Array {
  return attnForwardUnique(a, uniqueRowsPerPosition(x, B, a.P, a.d), B);
}

/** The distinct rows of every position with each row mapped through T [d, d] (node ablation). */
export function transformUnique(uniq: PosUnique[], T: Float64Array, d: number): PosUnique[] {
  return uniq.map((u) => ({ U: u.U, idx: u.idx, X: mm(u.X, T, u.U, d, d) }));
}

/** section.forward from the distinct input rows per position (the residual is gathered from them too). */
export function attnForwardUnique(a: AttnSection, un: PosUnique[], B: number): Float64Array {
  const { P, d, H, dh, dv, dout } = a;
  const q = un.map((u) => mm(u.X, a.Wq, u.U, d, H * dh));
  const k = un.map((u) => mm(u.X, a.Wk, u.U, d, H * dh));
  const v = un.map((u) => mm(u.X, a.Wv, u.U, d, H * dv));
  const Z = attnZ(a, q, k, v, un, B);
  const nOut = a.lastPos ? 1 : P;
  const y = mm(Z, a.Wo, B * nOut, H * dv, dout);
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < nOut; t++) {
      const u = un[a.lastPos ? P - 1 : t]!;
      const yo = (b * nOut + t) * dout;
      const xo = u.idx[b]! * d;
      for (let c = 0; c < dout; c++) y[yo + c] = y[yo + c]! + u.X[xo + c]!;
    }
  }
  return y;
}

/** u[:, keep] M[keep, :] for the distinct rows (complement form when most inputs are kept). */
function masked(uX: Float64Array, U: number, r: number, M: Float64Array, c: number, keep: readonly number[], drop: readonly number[], full: Float64Array): Float64Array {
  if (keep.length === 0) return new Float64Array(U * c);
  if (drop.length === 0) return full;
  if (keep.length <= drop.length) return gemm(false, false, U, c, keep.length, gatherCols(uX, U, r, keep), gatherRows(M, c, keep), new Float64Array(U * c), 1, 0);
  const out = new Float64Array(full);
  return gemm(false, false, U, c, drop.length, gatherCols(uX, U, r, drop), gatherRows(M, c, drop), out, -1, 1);
}

/**
 * Edge-ablated RIB output out_rib [B·nOut, rOut] of an attention section (spec §8.4) from the
 * distinct rows of u = x C_in per position.
 */
export function attnEdgeAblatedRib(a: AttnSection, uU: PosUnique[], B: number, eb: EdgeBasis, groups: PatternGroup[]): Float64Array {
  const { P, H, dh, dv } = a;
  const { rIn, rOut, dIn, dOut } = eb;
  const dqk = H * dh;
  const dvv = H * dv;
  const Gq = mm(eb.CinPinv, a.Wq, rIn, dIn, dqk);
  const Gk = mm(eb.CinPinv, a.Wk, rIn, dIn, dqk);
  const Gv = mm(eb.CinPinv, a.Wv, rIn, dIn, dvv);
  const WoC = mm(a.Wo, eb.Cout, dvv, dOut, rOut); // [H·dv, rOut]
  const R2 = mm(eb.CinPinv, eb.Cout, rIn, dIn, rOut); // [rIn, rOut]
  const Qf = uU.map((u) => mm(u.X, Gq, u.U, rIn, dqk));
  const Kf = uU.map((u) => mm(u.X, Gk, u.U, rIn, dqk));
  const Vf = uU.map((u) => mm(u.X, Gv, u.U, rIn, dvv));
  const nOut = a.lastPos ? 1 : P;
  const outRib = new Float64Array(B * nOut * rOut);
  for (const g of groups) {
    const keepSet = new Set(g.keep);
    const drop: number[] = [];
    for (let j = 0; j < rIn; j++) if (!keepSet.has(j)) drop.push(j);
    const q = uU.map((u, p) => masked(u.X, u.U, rIn, Gq, dqk, g.keep, drop, Qf[p]!));
    const k = uU.map((u, p) => masked(u.X, u.U, rIn, Gk, dqk, g.keep, drop, Kf[p]!));
    const v = uU.map((u, p) => masked(u.X, u.U, rIn, Gv, dvv, g.keep, drop, Vf[p]!));
    const Z = attnZ(a, q, k, v, uU, B);
    const nO = g.rows.length;
    const Y = mm(Z, gatherCols(WoC, dvv, rOut, g.rows), B * nOut, dvv, nO);
    // residual: u_i[π] (C⁺ C_out)[π, O] on distinct rows, gathered per sample
    if (g.keep.length) {
      const R2k = gatherCols(gatherRows(R2, rOut, g.keep), g.keep.length, rOut, g.rows);
      for (let t = 0; t < nOut; t++) {
        const i = a.lastPos ? P - 1 : t;
        const u = uU[i]!;
        const Ru = gemm(false, false, u.U, nO, g.keep.length, gatherCols(u.X, u.U, rIn, g.keep), R2k, new Float64Array(u.U * nO), 1, 0);
        for (let b = 0; b < B; b++) {
          const ro = u.idx[b]! * nO;
          const yo = (b * nOut + t) * nO;
          for (let c = 0; c < nO; c++) Y[yo + c]! += Ru[ro + c]!;
        }
      }
    }
    for (let rr = 0; rr < B * nOut; rr++) for (let c = 0; c < nO; c++) outRib[rr * rOut + g.rows[c]!]! += Y[rr * nO + c]!;
  }
  return outRib;
}

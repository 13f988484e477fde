/**
 * The attention structure: y_t = Σ_h softmax_{s≤t}(q_h[t]·k_h[s]·scale) v_h[s]·Wo_h + x_t·R with
 * q, k, v linear in the section input x (src/models/structure.ts). It covers every cut of a
 * block without LayerNorm that keeps the attention whole: `ln1 → ln2` (x = resid), `attn_in →`
 * (x = (x, resid)), `attn_out →` (x = (q, k, v, resid)), with linear modules after the
 * add_resid1 (e.g. `→ mlp_in`), optionally the last position only.
 * - M′ (deterministic jacobian): low-dimensional accumulators per shard (one Wasm call,
 *   assembly/attnmprime.ts), assembled once (attention-mprime.ts);
 * - squared edges: the constant-matrix part and one rank-1 atom per (head, key position) per
 *   (sample, t), formed and squared in one Wasm call per shard (assembly/attnedges.ts);
 * - ablations: q, k, v on the distinct input rows per position (token models repeat rows), and
 *   per mask pattern only the projections change.
 * The forward is the section's own modules (the AttnOut forward and its cache, attention-core.ts).
 */
import { attentionEdgesAcc, gemm } from '../../linalg/index.js';
import { attendRow, attnScore } from '../../models/modules.js';
import { takeLastPos } from '../../models/tuple.js';
import type { Section } from '../../models/types.js';
import { attnForward, attnForwardSlice, attnPrecompute, attnShardPre, cotRows, detectAttention, headBlock, outputPositions, type AttnStruct } from './attention-core.js';
import { attnMprimeAcc, attnMprimeAssemble } from './attention-mprime.js';
import { shardRows } from './generic.js';
import { gatherCols, gatherRows, groupPatterns, mm, type EdgeBasis, type PatternGroup } from './masks.js';
import type { AblationCache, Structure } from './types.js';
import { scratch } from './scratch.js';

function attnOf(sec: Section): AttnStruct {
  const a = detectAttention(sec);
  if (!a) throw new Error(`${sec.name}: not an attention section`);
  return a;
}

/**
 * Unnormalised squared edges E [r_out × r_in] over samples with RIB activations f̂ [B, P, r_in]
 * and projected inputs x̃ = f̂ C⁺ [B, P, d] (deterministic probes).
 */
export function attnEdges(st: AttnStruct, fhat: Float64Array, xt: Float64Array, B: number, P: number, Cinp: Float64Array, rin: number, Cout: Float64Array | null, rout: number, alphas: number[], weights: number[]): Float64Array {
  const d = st.dIn;
  const H = st.H;
  const K = rout;
  const pre = attnPrecompute(st, cotRows(Cout, st.dOut, rout), rout);
  // the residual path's cotangent in the input space: U (identity residual) or U·Rᵀ
  const UR = st.residual ? gemm(false, true, K, d, st.dOut, pre.U, st.residual, new Float64Array(K * d)) : pre.U;
  const UC = gemm(false, true, K, rin, d, UR, Cinp, new Float64Array(K * rin));
  const OVC = pre.OV.map((ov) => gemm(false, true, K, rin, d, ov, Cinp, new Float64Array(K * rin)));
  const fw = alphas.map((a) => attnForward(st, a === 1 ? xt : xt.map((v) => a * v), B, P));
  const shs = fw.map((f) => attnShardPre(st, pre, f, B));
  const rows = B * P;
  // basis rows in the RIB-input space: qk_h C⁺ᵀ = q_h (C⁺ Wk_h)ᵀ, kq_{h,j} C⁺ᵀ = k_h[j] (C⁺ Wq_h)ᵀ (B·P × r_in per head)
  const { dh } = st;
  const CW = (W: Float64Array, h: number) => gemm(false, false, rin, dh, d, Cinp, headBlock(W, d, H * dh, h * dh, dh), new Float64Array(rin * dh));
  const CWk = Array.from({ length: H }, (_, h) => CW(st.Wk, h));
  const CWq = Array.from({ length: H }, (_, h) => CW(st.Wq, h));
  const T = outputPositions(st, P);
  const nT = T.length;
  // the per-shard temporaries live in this thread's scratch buffers (scratch.ts); qk is needed at
  // the output positions only, all of them or the last (rows b·nT + ti; a GEMM's rows do not depend
  // on the other rows)
  const rowsT = B * nT;
  const QKC = fw.map((f, q) => {
    const qt = st.lastPos ? takeLastPos(f.q, B, P, H * dh) : f.q;
    return CWk.map((g, h) => gemm(false, true, rowsT, rin, dh, headBlock(qt, rowsT, H * dh, h * dh, dh), g, scratch(`edges.QKC.${q}.${h}`, rowsT * rin)));
  });
  const KQC = fw.map((f, q) => CWq.map((g, h) => gemm(false, true, rows, rin, dh, headBlock(f.k, rows, H * dh, h * dh, dh), g, scratch(`edges.KQC.${q}.${h}`, rows * rin))));
  const M1 = H + 1;
  // constant-matrix part per (b, t): Aᵀ[j, :] = Σ_m CR[m, j]·T_m[j, :] with T_0 = (U C⁺ᵀ)ᵀ,
  // T_h = (OV_h C⁺ᵀ)ᵀ [r_in × K] and CR[0, j] = Σ_q w_q f̂[t,j], CR[1+h, j] = Σ_q w_q Σ_s A_h[t,s] f̂[s,j];
  // low-rank part: Aᵀ += Σ_q w_q Σ_s (Basis_s C⁺ᵀ ⊙ f̂[s,:])ᵀ Coef_sᵀ. The Coef column of head h at
  // s = j (basis qk_h) equals the one of (h, j) at s = t (basis kq_{h,j}), so each (h, j ≤ t) is one
  // atom: R = that column, L = w·(qk_h C⁺ᵀ ⊙ f̂[j] + kq_{h,j} C⁺ᵀ ⊙ f̂[t]). One Wasm call forms CR,
  // L and R row by row and accumulates Et += (Aᵀ)² (assembly/attnedges.ts).
  const Tm = new Float64Array(M1 * rin * K);
  for (let j = 0; j < rin; j++)
    for (let k = 0; k < K; k++) {
      Tm[j * K + k] = UC[k * rin + j]!;
      for (let h = 0; h < H; h++) Tm[((1 + h) * rin + j) * K + k] = OVC[h]![k * rin + j]!;
    }
  const Et = attentionEdgesAcc({ B, P, H, dh, dv: st.dv, scale: st.scale }, T, weights, rin, K, fhat, fw.map((f) => f.A), shs.map((sh) => sh.Abar), QKC, KQC, Tm, new Float64Array(rin * K));
  const E = new Float64Array(K * rin);
  for (let j = 0; j < rin; j++) for (let k = 0; k < K; k++) E[k * rin + j] = Et[j * K + k]!;
  return E;
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
function attnZ(a: AttnStruct, P: number, q: Float64Array[], k: Float64Array[], v: Float64Array[], uniq: PosUnique[], B: number): Float64Array {
  const { H, dh, dv, scale } = a;
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
          for (let h = 0; h < H; h++) T[(x * Uj + y) * H + h] = attnScore(qa, x * dqk + h * dh, ka, y * dqk + h * dh, dh, scale);
      return T;
    }),
  );
  const row = new Float64Array(P);
  const vo = new Int32Array(P);
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < nOut; t++) {
      const i = outPos[t]!;
      const qa = q[i]!;
      const qi = uniq[i]!.idx[b]!;
      const tab = tables[t]!;
      for (let h = 0; h < H; h++) {
        const qo = qi * dqk + h * dh;
        // keys j0 ≤ j ≤ i (a local window starts later), as AttnOut.forward runs them
        const j0 = Math.max(0, i + 1 - a.window);
        for (let j = j0; j <= i; j++) {
          const kj = uniq[j]!.idx[b]!;
          const T = tab[j];
          row[j] = T ? T[(qi * uniq[j]!.U + kj) * H + h]! : attnScore(qa, qo, k[j]!, kj * dqk + h * dh, dh, scale);
        }
        for (let j = j0; j <= i; j++) vo[j] = uniq[j]!.idx[b]! * dvv + h * dv;
        if (j0 === 0) attendRow(row, i + 1, v, vo, dv, Z, (b * nOut + t) * dvv + h * dv);
        else attendRow(row.subarray(j0), i + 1 - j0, v.slice(j0), vo.subarray(j0), dv, Z, (b * nOut + t) * dvv + h * dv);
      }
    }
  }
  return Z;
}

/** The section's output from the distinct input rows per position (the residual is gathered from them too). */
export function attnForwardUnique(a: AttnStruct, un: PosUnique[], B: number, P: number): Float64Array {
  const { dIn, dOut, H, dh, dv } = a;
  const q = un.map((u) => mm(u.X, a.Wq, u.U, dIn, H * dh));
  const k = un.map((u) => mm(u.X, a.Wk, u.U, dIn, H * dh));
  const v = un.map((u) => mm(u.X, a.Wv, u.U, dIn, H * dv));
  const Z = attnZ(a, P, q, k, v, un, B);
  const nOut = a.lastPos ? 1 : P;
  const y = mm(Z, a.Wo, B * nOut, H * dv, dOut);
  for (let t = 0; t < nOut; t++) {
    const u = un[a.lastPos ? P - 1 : t]!;
    const XR = a.residual ? mm(u.X, a.residual, u.U, dIn, dOut) : u.X;
    for (let b = 0; b < B; b++) {
      const yo = (b * nOut + t) * dOut;
      const xo = u.idx[b]! * dOut;
      for (let c = 0; c < dOut; c++) y[yo + c] = y[yo + c]! + XR[xo + c]!;
    }
  }
  return y;
}

/** The distinct rows of every position with each row mapped through T [d, d] (node ablation). */
export function transformUnique(uniq: PosUnique[], T: Float64Array, d: number): PosUnique[] {
  return uniq.map((u) => ({ U: u.U, idx: u.idx, X: mm(u.X, T, u.U, d, d) }));
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
export function attnEdgeAblatedRib(a: AttnStruct, P: number, uU: PosUnique[], B: number, eb: EdgeBasis, groups: PatternGroup[]): Float64Array {
  const { H, dh, dv } = a;
  const { rIn, rOut, dIn, dOut } = eb;
  const dqk = H * dh;
  const dvv = H * dv;
  const Gq = mm(eb.CinPinv, a.Wq, rIn, dIn, dqk);
  const Gk = mm(eb.CinPinv, a.Wk, rIn, dIn, dqk);
  const Gv = mm(eb.CinPinv, a.Wv, rIn, dIn, dvv);
  const WoC = mm(a.Wo, eb.Cout, dvv, dOut, rOut); // [H·dv, rOut]
  const RC = a.residual ? mm(a.residual, eb.Cout, dIn, dOut, rOut) : eb.Cout;
  const R2 = mm(eb.CinPinv, RC, rIn, dIn, rOut); // [rIn, rOut]
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
    const Z = attnZ(a, P, q, k, v, uU, B);
    const nO = g.rows.length;
    const Y = mm(Z, gatherCols(WoC, dvv, rOut, g.rows), B * nOut, dvv, nO);
    // residual: u_i[π] (C⁺ R C_out)[π, O] on distinct rows, gathered per sample
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

/** The distinct input rows per position of x (kept in the ablation cache of these samples). */
function uniqueOf(sec: Section, x: Float64Array, B: number, cache: AblationCache): PosUnique[] {
  let u = cache.get('attn.uniq') as PosUnique[] | undefined;
  if (!u) {
    u = uniqueRowsPerPosition(x, B, sec.inPos, sec.inDim);
    cache.set('attn.uniq', u);
  }
  return u;
}

export const attention: Structure = {
  name: 'attention',
  shards: { mprime: 512, edges: 512 },
  mprimeWithoutData: () => null,
  mprimeShard(sec, p) {
    const at = attnOf(sec);
    const { x, B } = shardRows(sec, p);
    const cached = p.attnFw ? attnForwardSlice(at, p.attnFw, p.start, p.end) : null;
    return { M: attnMprimeAcc(at, x, B, sec.inPos, cotRows(p.Cout, at.dOut, p.r), p.r, p.alphas, p.weights, cached), Lp: null };
  },
  mprimeAssemble: (sec, acc, Cout, r) => attnMprimeAssemble(attnOf(sec), acc, cotRows(Cout, sec.outDim, r), r),
  edgesShard(sec, p) {
    const at = attnOf(sec);
    const { x, B } = shardRows(sec, p);
    const rows = B * sec.inPos;
    const d = sec.inDim;
    const fhat = gemm(false, false, rows, p.rin, d, x, p.Cin, new Float64Array(rows * p.rin));
    const xt = gemm(false, false, rows, d, p.rin, fhat, p.Cinp, new Float64Array(rows * d));
    return attnEdges(at, fhat, xt, B, sec.inPos, p.Cinp, p.rin, p.Cout, p.rout, p.alphas, p.weights);
  },
  edgeAblated(sec, x, B, eb, mask, cache) {
    const at = attnOf(sec);
    const uU = uniqueOf(sec, x, B, cache).map((q) => ({ U: q.U, idx: q.idx, X: mm(q.X, eb.Cin, q.U, eb.dIn, eb.rIn) }));
    const nOut = B * sec.outPos;
    return mm(attnEdgeAblatedRib(at, sec.inPos, uU, B, eb, groupPatterns(mask, eb.rOut, eb.rIn)), eb.CoutPinv, nOut, eb.rOut, eb.dOut);
  },
  nodeAblated(sec, x, B, T, cache) {
    return attnForwardUnique(attnOf(sec), transformUnique(uniqueOf(sec, x, B, cache), T, sec.inDim), B, sec.inPos);
  },
};

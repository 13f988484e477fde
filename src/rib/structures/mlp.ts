/**
 * The linear–element-wise–linear structure: y = act(x·Win)·Wout + skip(x) per position (rib MLP
 * layers, the transformer MLP block and every cut inside it, e.g. `ln2.0 → unembed`,
 * `mlp_act.0 → unembed`, `mlp_in.0 → mlp_out.0`).
 * - M′ (deterministic jacobian): models' `accumulateMlpM` closed form (Σ_b m_b m_bᵀ once, no probes);
 * - squared edges: per row, C⁺J C_out = sw·C⁺S + (C⁺Win)·diag(m)·(Wout C_out) (S the skip path in
 *   the output basis) over the units that differ from the majority pattern, rows chained by
 *   nearest pattern, all rows of a shard in one Wasm call;
 * - edge ablation: pre-activations per mask pattern updated incrementally along a pattern chain.
 */
import { gemm, mlpEdgesAcc } from '../../linalg/index.js';
import { actDeriv, actForward } from '../../models/activations.js';
import { accumulateMlpM } from '../../models/index.js';
import type { Section, SectionStructure } from '../../models/types.js';
import { eye } from '../context.js';
import { coutOrEye, sumW, genericNodeAblated, shardRows } from './generic.js';
import { chainOrder, gatherCols, gatherRows, groupPatterns, maskedProduct, mm, scatterCols, type EdgeBasis } from './masks.js';
import type { EdgesShardPayload, Structure } from './types.js';
import { scratch } from './scratch.js';

type Mlp = Extract<SectionStructure, { type: 'mlp' }>;

function mlpOf(sec: Section): Mlp {
  const st = sec.structure;
  if (!st || st.type !== 'mlp') throw new Error(`${sec.name}: not an MLP section`);
  return st;
}

/** The skip path times B [outDim × c]: B itself (residual), skip·B, or null. */
function skipTimes(st: Mlp, inDim: number, outDim: number, B: Float64Array, c: number): Float64Array | null {
  if (st.residual) return B;
  if (!st.skip) return null;
  return gemm(false, false, inDim, c, outDim, st.skip, B, new Float64Array(inDim * c));
}

function mlpEdgesShard(sec: Section, p: EdgesShardPayload): Float64Array {
  const st = mlpOf(sec);
  const { x, B } = shardRows(sec, p);
  const rows = B * sec.inPos;
  const d = sec.inDim;
  // the per-shard temporaries live in this thread's scratch buffers (scratch.ts)
  const fhat = gemm(false, false, rows, p.rin, d, x, p.Cin, scratch('mlpEdges.fhat', rows * p.rin));
  const xt = gemm(false, false, rows, d, p.rin, fhat, p.Cinp, scratch('mlpEdges.xt', rows * d));
  return mlpEdges(st, fhat, xt, rows, p, d, sec.outDim);
}

function mlpEdges(
  st: Mlp,
  fhat: Float64Array,
  xt: Float64Array,
  rows: number,
  p: EdgesShardPayload,
  d: number,
  outDim: number,
): Float64Array {
  const { rin, rout } = p;
  const H = st.hidden;
  const sw = sumW(p.weights);
  const Cout = coutOrEye(p.Cout, outDim);
  // aT = (C⁺ Win)ᵀ [H × rin], bm = Wout C_out [H × rout], K0 = sw·C⁺ C_out [rin × rout]
  const a = gemm(false, false, rin, H, d, p.Cinp, st.Win, new Float64Array(rin * H));
  const aT = new Float64Array(H * rin);
  for (let j = 0; j < rin; j++) for (let h = 0; h < H; h++) aT[h * rin + j] = a[j * H + h]!;
  const bm = gemm(false, false, H, rout, outDim, st.Wout, Cout, new Float64Array(H * rout));
  const K0 = new Float64Array(rin * rout);
  const S = skipTimes(st, d, outDim, Cout, rout); // skip path in the output basis [d × rout]
  if (S) gemm(false, false, rin, rout, d, p.Cinp, S, K0, sw, 0);
  // pre-activations of x̃ and the integrated derivative m per row
  const pre = gemm(false, false, rows, H, d, xt, st.Win, scratch('mlpEdges.pre', rows * H));
  const m = scratch('mlpEdges.m', rows * H);
  const tmp = scratch('mlpEdges.tmp', rows * H, false); // written before it is read
  for (let q = 0; q < p.alphas.length; q++) {
    const al = p.alphas[q]!;
    for (let i = 0; i < tmp.length; i++) tmp[i] = al * pre[i]!;
    actDeriv(st.act, tmp, tmp);
    const w = p.weights[q]!;
    for (let i = 0; i < m.length; i++) m[i]! += w * tmp[i]!;
  }
  // Per row, C⁺J C_out = K0 + Σ_h m_h a_h b_hᵀ, squared and scaled by f̂² (assembly/mlpedges.ts):
  // the baseline m̄_h (a unit's first non-zero value when more than half of the rows hold it, e.g.
  // ReLU units that are mostly on) is folded into K0 once; the rows follow a greedy nearest-neighbour
  // chain over the patterns "m differs from the baseline", and each row starts from the baseline,
  // T = K0 + Σ_h (m − m̄)_h a_h b_hᵀ, or — when fewer units differ — from the previous row's T. The
  // rank of the per-row update drops (mod-add: ~200 → ~90 of 513 units).
  const Et = mlpEdgesAcc(rows, H, rin, rout, m, fhat, aT, bm, K0, new Float64Array(rin * rout));
  const E = new Float64Array(rout * rin);
  for (let j = 0; j < rin; j++) for (let i = 0; i < rout; i++) E[i * rin + j] = Et[j * rout + i]!;
  return E;
}

function mlpEdgeAblated(section: Section, x: Float64Array, B: number, eb: EdgeBasis, mask: Uint8Array): Float64Array {
  const st = mlpOf(section);
  const { dIn, rIn, dOut, rOut } = eb;
  const nIn = B * section.inPos;
  const nOut = B * section.outPos;
  const groups = groupPatterns(mask, rOut, rIn);
  const u = mm(x, eb.Cin, nIn, dIn, rIn); // [nIn, rIn]
  const outRib = new Float64Array(nOut * rOut);
  {
    const h = st.hidden;
    const G = mm(eb.CinPinv, st.Win, rIn, dIn, h); // [rIn, h]
    const Wo2 = mm(st.Wout, eb.Cout, h, dOut, rOut); // [h, rOut]
    const S = skipTimes(st, dIn, dOut, eb.Cout, rOut);
    const R2 = S ? mm(eb.CinPinv, S, rIn, dIn, rOut) : null; // [rIn, rOut]
    const Hfull = mm(u, G, nIn, rIn, h);
    // walk the patterns in a nearest-neighbour chain and update the pre-activations
    // incrementally when that touches fewer input columns than a fresh product
    let cur: Set<number> = new Set(Array.from({ length: rIn }, (_, j) => j));
    let Hcur = Hfull;
    for (const g of chainOrder(groups, rIn)) {
      const next = new Set(g.keep);
      const add = g.keep.filter((j) => !cur.has(j));
      const rem = [...cur].filter((j) => !next.has(j)).sort((a, b) => a - b);
      const fresh = Math.min(g.keep.length, rIn - g.keep.length);
      if (add.length + rem.length < fresh) {
        Hcur = new Float64Array(Hcur);
        if (add.length) gemm(false, false, nIn, h, add.length, gatherCols(u, nIn, rIn, add), gatherRows(G, h, add), Hcur, 1, 1);
        if (rem.length) gemm(false, false, nIn, h, rem.length, gatherCols(u, nIn, rIn, rem), gatherRows(G, h, rem), Hcur, -1, 1);
      } else {
        Hcur = maskedProduct(u, nIn, rIn, G, h, g.keep, Hfull);
      }
      cur = next;
      const nO = g.rows.length;
      let Y: Float64Array;
      if (st.act === 'relu' && nO <= 8) {
        // fused relu + projection onto the few output columns of this pattern
        const WoT = new Float64Array(nO * h);
        for (let t = 0; t < nO; t++) for (let c = 0; c < h; c++) WoT[t * h + c] = Wo2[c * rOut + g.rows[t]!]!;
        Y = new Float64Array(nIn * nO);
        for (let r = 0; r < nIn; r++) {
          const ho = r * h;
          for (let t = 0; t < nO; t++) {
            const wo = t * h;
            let acc = 0;
            for (let c = 0; c < h; c++) {
              const x = Hcur[ho + c]!;
              if (x > 0) acc += x * WoT[wo + c]!;
            }
            Y[r * nO + t] = acc;
          }
        }
      } else {
        const A = actForward(st.act, Hcur, new Float64Array(Hcur.length));
        Y = mm(A, gatherCols(Wo2, h, rOut, g.rows), nIn, h, nO);
      }
      if (R2 && g.keep.length) {
        const R2k = gatherCols(gatherRows(R2, rOut, g.keep), g.keep.length, rOut, g.rows);
        gemm(false, false, nIn, g.rows.length, g.keep.length, gatherCols(u, nIn, rIn, g.keep), R2k, Y, 1, 1);
      }
      scatterCols(outRib, nOut, rOut, g.rows, Y);
    }
  }
  return mm(outRib, eb.CoutPinv, nOut, rOut, dOut);
}

export const mlp: Structure = {
  name: 'mlp',
  shards: { mprime: 2048, edges: 1024 },
  mprimeWithoutData: () => null,
  mprimeShard(sec, p) {
    const { x, B } = shardRows(sec, p);
    return { M: accumulateMlpM(mlpOf(sec), x, B * sec.inPos, p.Cout ?? eye(sec.outDim), p.alphas, p.weights), Lp: null };
  },
  mprimeAssemble: (_sec, acc) => acc,
  edgesShard: mlpEdgesShard,
  edgeAblated: (sec, x, B, eb, mask) => mlpEdgeAblated(sec, x, B, eb, mask),
  nodeAblated: (sec, x, B, T) => genericNodeAblated(sec, x, B, T),
};

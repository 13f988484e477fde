/**
 * The position-wise structure (LayerNorm and every other section that treats each position on its
 * own but has no closed form, e.g. `ln1.0 → ln1_out.0` = LnVar, `ln1_out.0 → attn_in.0` = LnOut in
 * a LayerNorm model): the output at position t depends only on the input at t, so one probe per
 * output node i placed at every position at once gives, at input position s, exactly the VJP of
 * the probe (s, i). M′ and the squared edges then need r VJP rows per sample instead of P·r.
 * The VJPs are the modules' own backward passes (`Section.vjp`).
 */
import { gemm, syrk } from '../../linalg/index.js';
import type { Section } from '../../models/types.js';
import { coutOrEye, genericEdgeAblated, genericNodeAblated, integratedVjpAt, probeChunk, shardRows } from './generic.js';
import type { EdgesShardPayload, MprimeShardPayload, Structure } from './types.js';

const PROBE_CHUNK = 32;

/** Cotangents [K, B, P, outDim] with Cout[:, i0 + k] at every position. */
function allPositionProbes(sec: Section, Cout: Float64Array, rTot: number, i0: number, K: number, B: number): Float64Array {
  const { outPos, outDim } = sec;
  const cot = new Float64Array(K * B * outPos * outDim);
  for (let k = 0; k < K; k++) {
    const i = i0 + k;
    for (let bt = 0; bt < B * outPos; bt++) {
      const o = (k * B * outPos + bt) * outDim;
      for (let j = 0; j < outDim; j++) cot[o + j] = Cout[j * rTot + i]!;
    }
  }
  return cot;
}

function mprimeShard(sec: Section, p: MprimeShardPayload): { M: Float64Array; Lp: null } {
  const { x, B } = shardRows(sec, p);
  const Cout = coutOrEye(p.Cout, sec.outDim);
  const M = new Float64Array(sec.inDim * sec.inDim);
  const vjp = integratedVjpAt(sec, x, B, p.alphas, p.weights);
  const chunk = probeChunk(PROBE_CHUNK, B, sec.inPos);
  for (let i0 = 0; i0 < p.r; i0 += chunk) {
    const K = Math.min(chunk, p.r - i0);
    const g = vjp(allPositionProbes(sec, Cout, p.r, i0, K, B), K);
    syrk(g, K * B * sec.inPos, sec.inDim, M, 1);
  }
  return { M, Lp: null };
}

function edgesShard(sec: Section, p: EdgesShardPayload): Float64Array {
  const { x, B } = shardRows(sec, p);
  const { inPos, inDim } = sec;
  const { rin, rout } = p;
  const rows = B * inPos;
  const fhat = gemm(false, false, rows, rin, inDim, x, p.Cin, new Float64Array(rows * rin));
  const xt = gemm(false, false, rows, inDim, rin, fhat, p.Cinp, new Float64Array(rows * inDim));
  const Cout = coutOrEye(p.Cout, sec.outDim);
  const E = new Float64Array(rout * rin);
  const vjp = integratedVjpAt(sec, xt, B, p.alphas, p.weights);
  const chunk = probeChunk(PROBE_CHUNK, B, inPos);
  for (let i0 = 0; i0 < rout; i0 += chunk) {
    const K = Math.min(chunk, rout - i0);
    const g = vjp(allPositionProbes(sec, Cout, rout, i0, K, B), K);
    const gz = gemm(false, true, K * rows, rin, inDim, g, p.Cinp, new Float64Array(K * rows * rin));
    for (let k = 0; k < K; k++) {
      const Ei = (i0 + k) * rin;
      for (let r = 0; r < rows; r++) {
        const go = (k * rows + r) * rin;
        const fo = r * rin;
        for (let j = 0; j < rin; j++) {
          const A = gz[go + j]! * fhat[fo + j]!;
          E[Ei + j]! += A * A;
        }
      }
    }
  }
  return E;
}

export const positionwise: Structure = {
  name: 'positionwise',
  shards: { mprime: 128, edges: 128 },
  mprimeWithoutData: () => null,
  mprimeShard,
  mprimeAssemble: (_sec, acc) => acc,
  edgesShard,
  edgeAblated: (sec, x, B, eb, mask) => genericEdgeAblated(sec, x, B, eb, mask),
  nodeAblated: (sec, x, B, T) => genericNodeAblated(sec, x, B, T),
};

/**
 * Comparing two LIB results (ours or the reference's rib_graph files): per layer the dims, the
 * relative error of Λ, the agreement of the C bases (|cos| of leading columns and principal-angle
 * cosines of the leading subspaces), and per edge the Frobenius and total relative errors.
 */
import { svd } from '../linalg/index.js';
import type { Mat, RibResults } from '../io/results.js';

export interface LayerComparison {
  layer: string;
  dims: { a: { orig: number; trunc: number | null; rib: number | null }; b: { orig: number; trunc: number | null; rib: number | null } };
  /** max relative error of Λ over entries above 1e-6 of the largest (common leading entries); null without Λ */
  lambdaRelErr: number | null;
  /** |cos| of the leading C columns, column by column */
  leadingCos: number[];
  /** cosines of the principal angles between the spans of the leading k columns */
  principalCos: number[];
}

export interface EdgeComparison {
  edge: string;
  shapeA: [number, number];
  shapeB: [number, number];
  frobA: number;
  frobB: number;
  /** ‖E_A − E_B‖_F / ‖E_B‖_F on the common leading block */
  blockRelErr: number;
  frobRelErr: number;
  totalA: number;
  totalB: number;
  totalRelErr: number;
}

export interface Comparison {
  layers: LayerComparison[];
  edges: EdgeComparison[];
}

function dimsOf(r: RibResults, L: string) {
  const b = r.bases.find((x) => x.nodeLayer === L);
  const orig = b?.origDim ?? r.grams.get(L)?.rows ?? NaN;
  return { orig, trunc: b?.W ? b.W.cols : null, rib: b?.C ? b.C.cols : null };
}

export function colAbsCos(A: Mat, B: Mat, k: number): number {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < A.rows; i++) {
    const x = A.data[i * A.cols + k]!;
    const y = B.data[i * B.cols + k]!;
    ab += x * y;
    aa += x * x;
    bb += y * y;
  }
  return aa > 0 && bb > 0 ? Math.abs(ab) / Math.sqrt(aa * bb) : 0;
}

/** Orthonormal basis (d×k, row-major) of the first k columns of A (modified Gram–Schmidt). */
function orthonormalColumns(A: Mat, k: number): Float64Array {
  const d = A.rows;
  const Q = new Float64Array(d * k);
  for (let j = 0; j < k; j++) {
    for (let i = 0; i < d; i++) Q[i * k + j] = A.data[i * A.cols + j]!;
    for (let pass = 0; pass < 2; pass++) {
      for (let p = 0; p < j; p++) {
        let s = 0;
        for (let i = 0; i < d; i++) s += Q[i * k + p]! * Q[i * k + j]!;
        for (let i = 0; i < d; i++) Q[i * k + j]! -= s * Q[i * k + p]!;
      }
    }
    let n = 0;
    for (let i = 0; i < d; i++) n += Q[i * k + j]! ** 2;
    n = Math.sqrt(n);
    for (let i = 0; i < d; i++) Q[i * k + j] = n > 0 ? Q[i * k + j]! / n : 0;
  }
  return Q;
}

/** Cosines of the principal angles between span(A[:, :k]) and span(B[:, :k]). */
export function principalCosines(A: Mat, B: Mat, k: number): number[] {
  if (k === 0 || A.rows !== B.rows) return [];
  const d = A.rows;
  const Qa = orthonormalColumns(A, k);
  const Qb = orthonormalColumns(B, k);
  const M = new Float64Array(k * k);
  for (let i = 0; i < d; i++) for (let p = 0; p < k; p++) for (let q = 0; q < k; q++) M[p * k + q]! += Qa[i * k + p]! * Qb[i * k + q]!;
  return Array.from(svd(M, k, k).S, (s) => Math.min(1, s));
}

function frob(a: Float64Array): number {
  let s = 0;
  for (const v of a) s += v * v;
  return Math.sqrt(s);
}

function total(a: Float64Array): number {
  let s = 0;
  for (const v of a) s += v;
  return s;
}

export function compareResults(a: RibResults, b: RibResults, opts: { leading?: number; subspace?: number } = {}): Comparison {
  const nLead = opts.leading ?? 30;
  const nSub = opts.subspace ?? 10;
  const layers: LayerComparison[] = [];
  for (const L of a.nodeLayers) {
    if (!b.nodeLayers.includes(L)) continue;
    const ba = a.bases.find((x) => x.nodeLayer === L);
    const bb = b.bases.find((x) => x.nodeLayer === L);
    let lambdaRelErr: number | null = null;
    if (ba?.Lambda && bb?.Lambda) {
      const la = ba.Lambda;
      const lb = bb.Lambda;
      let mx = 0;
      for (const v of lb) mx = Math.max(mx, Math.abs(v));
      lambdaRelErr = 0;
      for (let i = 0; i < Math.min(la.length, lb.length); i++) {
        if (Math.abs(lb[i]!) <= 1e-6 * mx) continue;
        lambdaRelErr = Math.max(lambdaRelErr, Math.abs(la[i]! - lb[i]!) / Math.abs(lb[i]!));
      }
    }
    const leadingCos: number[] = [];
    let principalCos: number[] = [];
    if (ba?.C && bb?.C && ba.C.rows === bb.C.rows) {
      const k = Math.min(nLead, ba.C.cols, bb.C.cols);
      for (let j = 0; j < k; j++) leadingCos.push(colAbsCos(ba.C, bb.C, j));
      principalCos = principalCosines(ba.C, bb.C, Math.min(nSub, ba.C.cols, bb.C.cols));
    }
    layers.push({ layer: L, dims: { a: dimsOf(a, L), b: dimsOf(b, L) }, lambdaRelErr, leadingCos, principalCos });
  }
  const edges: EdgeComparison[] = [];
  for (const ea of a.edges) {
    const eb = b.edges.find((x) => x.inLayer === ea.inLayer && x.outLayer === ea.outLayer);
    if (!eb) continue;
    const rows = Math.min(ea.E.rows, eb.E.rows);
    const cols = Math.min(ea.E.cols, eb.E.cols);
    let num = 0;
    let den = 0;
    for (let i = 0; i < rows; i++)
      for (let j = 0; j < cols; j++) {
        const x = ea.E.data[i * ea.E.cols + j]!;
        const y = eb.E.data[i * eb.E.cols + j]!;
        num += (x - y) ** 2;
        den += y * y;
      }
    const fa = frob(ea.E.data);
    const fb = frob(eb.E.data);
    const ta = total(ea.E.data);
    const tb = total(eb.E.data);
    edges.push({
      edge: `${ea.inLayer}->${ea.outLayer}`,
      shapeA: [ea.E.rows, ea.E.cols],
      shapeB: [eb.E.rows, eb.E.cols],
      frobA: fa,
      frobB: fb,
      blockRelErr: den > 0 ? Math.sqrt(num / den) : num > 0 ? Infinity : 0,
      frobRelErr: fb > 0 ? Math.abs(fa - fb) / fb : fa > 0 ? Infinity : 0,
      totalA: ta,
      totalB: tb,
      totalRelErr: tb !== 0 ? Math.abs(ta - tb) / Math.abs(tb) : ta !== 0 ? Infinity : 0,
    });
  }
  return { layers, edges };
}

/** A plain-text table of a comparison. */
export function formatComparison(c: Comparison): string {
  const out: string[] = [];
  const fmt = (v: number | null) => (v === null ? '-' : v.toExponential(2));
  const d = (x: { orig: number; trunc: number | null; rib: number | null }) => `${x.orig}/${x.trunc ?? '-'}/${x.rib ?? '-'}`;
  out.push('layer'.padEnd(12) + 'dims A (orig/trunc/rib)'.padEnd(25) + 'dims B'.padEnd(14) + 'Λ rel.err'.padEnd(11) + 'min|cos| top'.padEnd(14) + 'min princ.cos');
  for (const l of c.layers) {
    const minCos = l.leadingCos.length ? Math.min(...l.leadingCos).toFixed(6) + ` (${l.leadingCos.length})` : '-';
    const minP = l.principalCos.length ? Math.min(...l.principalCos).toFixed(6) + ` (${l.principalCos.length})` : '-';
    out.push(l.layer.padEnd(12) + d(l.dims.a).padEnd(25) + d(l.dims.b).padEnd(14) + fmt(l.lambdaRelErr).padEnd(11) + minCos.padEnd(14) + minP);
  }
  out.push('');
  out.push('edge'.padEnd(22) + 'shape A'.padEnd(10) + 'shape B'.padEnd(10) + 'block rel.err'.padEnd(15) + 'Frob rel.err'.padEnd(14) + 'total A'.padEnd(14) + 'total B'.padEnd(14) + 'total rel.err');
  for (const e of c.edges) {
    out.push(
      e.edge.padEnd(22) + `${e.shapeA[0]}x${e.shapeA[1]}`.padEnd(10) + `${e.shapeB[0]}x${e.shapeB[1]}`.padEnd(10) + fmt(e.blockRelErr).padEnd(15) + fmt(e.frobRelErr).padEnd(14) + e.totalA.toPrecision(8).padEnd(14) + e.totalB.toPrecision(8).padEnd(14) + fmt(e.totalRelErr),
    );
  }
  return out.join('\n');
}

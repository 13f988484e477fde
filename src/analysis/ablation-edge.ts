/**
 * Edge ablation of one section (spec §8.4), browser-safe.
 *
 * Given the activations x [B, inPos, dIn] entering section l and a mask [rOut, rIn] over the
 * RIB edges, computes the section's new output [B, outPos, dOut]:
 *
 *   u = x C_in;  for each distinct mask row pattern π with output rows O:
 *       out_rib[…, O] = F((u ⊙ π) C_in⁺) C_out[:, O];
 *   new = out_rib C_out⁺
 *
 * `generic` runs the section's forward once per pattern. When the section exposes a closed form
 * (`structure` linear or mlp) the same quantity is computed without a full forward per pattern:
 * (u ⊙ π) C_in⁺ W = u[:, π] (C_in⁺ W)[π, :], evaluated from the side with fewer columns.
 */
import { gemm } from '../linalg/index.js';
import { actForward } from '../models/activations.js';
import type { Section } from '../models/types.js';
import { attnEdgeAblatedRib, uniqueRowsPerPosition, type AttnSection, type PosUnique } from './ablation-attn.js';

export interface EdgeBasis {
  /** C_in [dIn, rIn], C_in⁺ [rIn, dIn], C_out [dOut, rOut], C_out⁺ [rOut, dOut] (identity when unrotated). */
  Cin: Float64Array;
  CinPinv: Float64Array;
  Cout: Float64Array;
  CoutPinv: Float64Array;
  dIn: number;
  rIn: number;
  dOut: number;
  rOut: number;
}

export interface PatternGroup {
  /** Kept input nodes (sorted). */
  keep: number[];
  /** Output rows sharing this pattern (sorted). */
  rows: number[];
}

/** Distinct row patterns of a mask [rOut, rIn] (in order of first appearance). */
export function groupPatterns(mask: Uint8Array, rOut: number, rIn: number): PatternGroup[] {
  const byKey = new Map<string, PatternGroup>();
  const out: PatternGroup[] = [];
  for (let o = 0; o < rOut; o++) {
    const row = mask.subarray(o * rIn, (o + 1) * rIn);
    let key = '';
    const keep: number[] = [];
    for (let j = 0; j < rIn; j++) if (row[j]) keep.push(j);
    key = keep.join(',');
    let g = byKey.get(key);
    if (!g) {
      g = { keep, rows: [] };
      byKey.set(key, g);
      out.push(g);
    }
    g.rows.push(o);
  }
  return out;
}

/** A[:, idx] for A [n, c] → [n, idx.length]. */
export function gatherCols(A: Float64Array, n: number, c: number, idx: readonly number[]): Float64Array {
  const k = idx.length;
  const out = new Float64Array(n * k);
  for (let i = 0; i < n; i++) {
    const ro = i * c;
    const oo = i * k;
    for (let t = 0; t < k; t++) out[oo + t] = A[ro + idx[t]!]!;
  }
  return out;
}

/** A[idx, :] for A [r, c] → [idx.length, c]. */
export function gatherRows(A: Float64Array, c: number, idx: readonly number[]): Float64Array {
  const out = new Float64Array(idx.length * c);
  idx.forEach((r, t) => out.set(A.subarray(r * c, (r + 1) * c), t * c));
  return out;
}

function complement(keep: readonly number[], r: number): number[] {
  const s = new Set(keep);
  const out: number[] = [];
  for (let j = 0; j < r; j++) if (!s.has(j)) out.push(j);
  return out;
}

/** out[:, cols] += Y [n, cols.length] (scatter into a [n, c] matrix). */
function scatterCols(out: Float64Array, n: number, c: number, cols: readonly number[], Y: Float64Array): void {
  const k = cols.length;
  for (let i = 0; i < n; i++) for (let t = 0; t < k; t++) out[i * c + cols[t]!]! += Y[i * k + t]!;
}

/** u[:, keep] M[keep, :] for u [n, r], M [r, c]; exactly zero when keep is empty. */
function maskedProduct(u: Float64Array, n: number, r: number, M: Float64Array, c: number, keep: readonly number[], full?: Float64Array): Float64Array {
  const out = new Float64Array(n * c);
  const k = keep.length;
  if (k === 0) return out;
  if (full && k > r - k) {
    const drop = complement(keep, r);
    out.set(full);
    if (drop.length) gemm(false, false, n, c, drop.length, gatherCols(u, n, r, drop), gatherRows(M, c, drop), out, -1, 1);
    return out;
  }
  gemm(false, false, n, c, k, gatherCols(u, n, r, keep), gatherRows(M, c, keep), out, 1, 0);
  return out;
}

/** Greedy nearest-neighbour order of the patterns (by symmetric difference), from the full set. */
export function chainOrder(groups: PatternGroup[], r: number): PatternGroup[] {
  const sets = groups.map((g) => {
    const b = new Uint8Array(r);
    for (const j of g.keep) b[j] = 1;
    return b;
  });
  const left = groups.map((_, i) => i);
  const out: PatternGroup[] = [];
  let cur = new Uint8Array(r).fill(1);
  while (left.length) {
    let best = 0;
    let bestD = Infinity;
    for (let t = 0; t < left.length; t++) {
      const s = sets[left[t]!]!;
      let d = 0;
      for (let j = 0; j < r; j++) d += s[j]! ^ cur[j]!;
      if (d < bestD) {
        bestD = d;
        best = t;
      }
    }
    const i = left.splice(best, 1)[0]!;
    out.push(groups[i]!);
    cur = sets[i]!;
  }
  return out;
}

/** A [m, k] · B [k, n] → new [m, n] (GEMM). */
export const mm = (A: Float64Array, B: Float64Array, m: number, k: number, n: number): Float64Array =>
  gemm(false, false, m, n, k, A, B, new Float64Array(m * n), 1, 0);

/** The new output of `section` for inputs x [B, inPos, dIn] with the edges outside `mask` ablated. */
export function edgeAblatedOutput(
  section: Section,
  x: Float64Array,
  B: number,
  eb: EdgeBasis,
  mask: Uint8Array,
  opts: { generic?: boolean; attn?: AttnSection | null; uniq?: PosUnique[] } = {},
): Float64Array {
  const { dIn, rIn, dOut, rOut } = eb;
  if (section.inDim !== dIn || section.outDim !== dOut) {
    throw new Error(`edge ablation: section ${section.name} is ${section.inDim}→${section.outDim}, basis is ${dIn}→${dOut}`);
  }
  const nIn = B * section.inPos;
  const nOut = B * section.outPos;
  const groups = groupPatterns(mask, rOut, rIn);
  if (!opts.generic && opts.attn) {
    const uniq = opts.uniq ?? uniqueRowsPerPosition(x, B, section.inPos, dIn);
    const uU = uniq.map((q) => ({ U: q.U, idx: q.idx, X: mm(q.X, eb.Cin, q.U, dIn, rIn) }));
    return mm(attnEdgeAblatedRib(opts.attn, uU, B, eb, groups), eb.CoutPinv, nOut, rOut, dOut);
  }
  const u = mm(x, eb.Cin, nIn, dIn, rIn); // [nIn, rIn]
  const outRib = new Float64Array(nOut * rOut);
  const st = opts.generic ? undefined : section.structure;

  if (st && st.type === 'linear' && section.inPos === section.outPos) {
    // out_rib = u (K ⊙ maskᵀ), K = C_in⁺ W C_out
    const K = mm(mm(eb.CinPinv, st.W, rIn, dIn, dOut), eb.Cout, rIn, dOut, rOut);
    for (let j = 0; j < rIn; j++) for (let o = 0; o < rOut; o++) if (!mask[o * rIn + j]) K[j * rOut + o] = 0;
    gemm(false, false, nIn, rOut, rIn, u, K, outRib, 1, 0);
  } else if (st && st.type === 'mlp' && section.inPos === section.outPos) {
    const h = st.hidden;
    const G = mm(eb.CinPinv, st.Win, rIn, dIn, h); // [rIn, h]
    const Wo2 = mm(st.Wout, eb.Cout, h, dOut, rOut); // [h, rOut]
    const R2 = st.residual ? mm(eb.CinPinv, eb.Cout, rIn, dIn, rOut) : null; // [rIn, rOut]
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
  } else {
    for (const g of groups) {
      const xp = maskedProduct(u, nIn, rIn, eb.CinPinv, dIn, g.keep);
      const y = section.forward(xp, B); // [nOut, dOut]
      const Y = mm(y, gatherCols(eb.Cout, dOut, rOut, g.rows), nOut, dOut, g.rows.length);
      scatterCols(outRib, nOut, rOut, g.rows, Y);
    }
  }
  return mm(outRib, eb.CoutPinv, nOut, rOut, dOut);
}

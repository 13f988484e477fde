/**
 * The explorer's graph data: nodes per layer and, per layer pair, the edges stored columnar
 * (weights, in-node, out-node) sorted by weight, largest first, built on first use of the pair.
 * A threshold is a binary search; top-k per node uses each edge's rank at its two end nodes,
 * precomputed in the same sorted pass. Nothing here depends on the renderer.
 */
import { UserError } from '../../errors.js';
import type { RibResults } from '../../io/results.js';

export interface PairEdges {
  from: string;
  to: string;
  /** |E[out, in]| sorted descending */
  w: Float64Array;
  /** in-layer node index */
  src: Int32Array;
  /** out-layer node index */
  dst: Int32Array;
  /** rank of the edge among the edges of its in-node / out-node (0 = strongest) */
  rankSrc: Int32Array;
  rankDst: Int32Array;
  max: number;
}

export interface EdgeFilter {
  /** keep edges with w ≥ threshold · (max weight of their layer pair) */
  threshold: number;
  /** keep an edge only if it is among the k strongest of one of its end nodes (0 = no limit) */
  topK: number;
}

export interface EdgeSource {
  from: string;
  to: string;
  rows: number;
  cols: number;
  /** E[out, in] row-major (rows = out nodes) */
  data: ArrayLike<number>;
  /** centred builds: leave out the constant direction's edges (row 0 of a rotated out layer, column 0), as the clustering graph does */
  skipRow0?: boolean;
  skipCol0?: boolean;
}

/** Columnar, sorted edges of one matrix (rows = out nodes, cols = in nodes); zero entries dropped. */
export function pairEdges(e: EdgeSource): PairEdges {
  const { rows, cols, data } = e;
  const keep = (i: number) => data[i] !== 0 && !(e.skipRow0 && i < cols) && !(e.skipCol0 && i % cols === 0);
  let nz = 0;
  for (let i = 0; i < data.length; i++) if (keep(i)) nz++;
  const idx = new Int32Array(nz);
  const absw = new Float64Array(nz);
  for (let i = 0, k = 0; i < data.length; i++) {
    const v = data[i]!;
    if (keep(i)) {
      if (!Number.isFinite(v)) throw new UserError(`edges ${e.from}->${e.to}: entry ${i} is not finite`);
      idx[k] = i;
      absw[k++] = Math.abs(v);
    }
  }
  const order = Int32Array.from({ length: nz }, (_, i) => i).sort((a, b) => absw[b]! - absw[a]! || a - b);
  const w = new Float64Array(nz);
  const src = new Int32Array(nz);
  const dst = new Int32Array(nz);
  const rankSrc = new Int32Array(nz);
  const rankDst = new Int32Array(nz);
  const cntSrc = new Int32Array(cols);
  const cntDst = new Int32Array(rows);
  for (let k = 0; k < nz; k++) {
    const j = order[k]!;
    const flat = idx[j]!;
    const o = Math.floor(flat / cols);
    const i = flat - o * cols;
    w[k] = absw[j]!;
    src[k] = i;
    dst[k] = o;
    rankSrc[k] = cntSrc[i]!++;
    rankDst[k] = cntDst[o]!++;
  }
  return { from: e.from, to: e.to, w, src, dst, rankSrc, rankDst, max: nz ? w[0]! : 0 };
}

/** Number of edges with w ≥ t (w sorted descending). */
export function countAtLeast(w: Float64Array, t: number): number {
  let lo = 0;
  let hi = w.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (w[mid]! >= t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Indices (into the pair's sorted arrays) of the edges the filter keeps, strongest first. */
export function visibleEdges(p: PairEdges, f: EdgeFilter, limit = Infinity): Int32Array {
  const n = countAtLeast(p.w, f.threshold * p.max);
  if (f.topK <= 0) return Int32Array.from({ length: Math.min(n, limit) }, (_, i) => i);
  const out: number[] = [];
  const k = f.topK;
  for (let i = 0; i < n && out.length < limit; i++) if (p.rankSrc[i]! < k || p.rankDst[i]! < k) out.push(i);
  return Int32Array.from(out);
}

/** Count of visible edges without materialising them. */
export function visibleCount(p: PairEdges, f: EdgeFilter): number {
  const n = countAtLeast(p.w, f.threshold * p.max);
  if (f.topK <= 0) return n;
  let c = 0;
  for (let i = 0; i < n; i++) if (p.rankSrc[i]! < f.topK || p.rankDst[i]! < f.topK) c++;
  return c;
}

export interface ExplorerNodeInfo {
  layer: string;
  index: number;
  /** Λ of the direction (RIB builds), else null */
  lambda: number | null;
}

/** The layered graph of a build: the node layers joined by edges, in order. */
export class ExplorerGraph {
  readonly layers: string[];
  readonly widths: number[];
  readonly sources: EdgeSource[];
  private readonly built = new Map<number, PairEdges>();

  constructor(
    layers: string[],
    widths: number[],
    sources: EdgeSource[],
    readonly results: RibResults | null = null,
  ) {
    this.layers = layers;
    this.widths = widths;
    this.sources = sources;
  }

  static fromResults(r: RibResults): ExplorerGraph {
    if (!r.edges.length) throw new UserError('these results contain no edges (build them with calculate_edges: true); nothing to draw');
    const layers: string[] = [];
    for (const e of r.edges) {
      if (!layers.length) layers.push(e.inLayer);
      if (layers[layers.length - 1] !== e.inLayer) throw new UserError(`edges are not a chain of node layers: ${e.inLayer}->${e.outLayer} after ${layers[layers.length - 1]}`);
      layers.push(e.outLayer);
    }
    const widths = layers.map((_, i) => (i < r.edges.length ? r.edges[i]!.E.cols : r.edges[i - 1]!.E.rows));
    const centred = r.config?.center === true;
    // an unrotated final layer (output) has no constant direction: keep its rows
    const sources = r.edges.map((e) => {
      const rotatedOut = !!r.bases.find((b) => b.nodeLayer === e.outLayer)?.C;
      return { from: e.inLayer, to: e.outLayer, rows: e.E.rows, cols: e.E.cols, data: e.E.data, skipRow0: centred && rotatedOut, skipCol0: centred };
    });
    return new ExplorerGraph(layers, widths, sources, r);
  }

  get pairCount(): number {
    return this.sources.length;
  }

  /** The sorted columnar edges of pair l (layers[l] → layers[l+1]), built on first use. */
  pair(l: number): PairEdges {
    let p = this.built.get(l);
    if (!p) {
      p = pairEdges(this.sources[l]!);
      this.built.set(l, p);
    }
    return p;
  }

  totalEdges(): number {
    let n = 0;
    for (let l = 0; l < this.pairCount; l++) n += this.pair(l).w.length;
    return n;
  }

  visibleCount(f: EdgeFilter): number {
    let n = 0;
    for (let l = 0; l < this.pairCount; l++) n += visibleCount(this.pair(l), f);
    return n;
  }

  lambda(layer: string, i: number): number | null {
    const b = this.results?.bases.find((x) => x.nodeLayer === layer);
    return b?.Lambda && i < b.Lambda.length ? b.Lambda[i]! : null;
  }

  /** Top |entries| of the node's C column (its loadings on the original coordinates). */
  loadings(layer: string, i: number, top = 8): Array<{ coord: number; value: number }> {
    const b = this.results?.bases.find((x) => x.nodeLayer === layer);
    if (!b?.C || i >= b.C.cols) return [];
    const col = Array.from({ length: b.C.rows }, (_, r) => ({ coord: r, value: b.C!.data[r * b.C!.cols + i]! }));
    return col.sort((a, b2) => Math.abs(b2.value) - Math.abs(a.value) || a.coord - b2.coord).slice(0, top);
  }

  /** Edges touching a node (both directions), strongest first, under the filter. */
  neighbours(layerIdx: number, i: number, f: EdgeFilter, limit = 12): Array<{ layer: number; index: number; w: number }> {
    const out: Array<{ layer: number; index: number; w: number }> = [];
    for (const [l, side] of [[layerIdx - 1, 'dst'], [layerIdx, 'src']] as const) {
      if (l < 0 || l >= this.pairCount) continue;
      const p = this.pair(l);
      const vis = visibleEdges(p, f);
      for (const k of vis) {
        if ((side === 'dst' ? p.dst[k] : p.src[k]) !== i) continue;
        out.push(side === 'dst' ? { layer: l, index: p.src[k]!, w: p.w[k]! } : { layer: l + 1, index: p.dst[k]!, w: p.w[k]! });
      }
    }
    return out.sort((a, b) => b.w - a.w).slice(0, limit);
  }
}

/**
 * A seeded synthetic layered graph (tests, benchmarks, the scale demo): `layers` layers of `width`
 * nodes and `edges` edges spread over the layer pairs, with integer-hash weights.
 */
export function syntheticGraph(layers: number, width: number, edges: number): ExplorerGraph {
  const names = Array.from({ length: layers }, (_, i) => `layer${i}`);
  const pairs = layers - 1;
  if (edges > pairs * width * width) throw new RangeError(`syntheticGraph: at most ${pairs * width * width} edges fit`);
  const sources: EdgeSource[] = [];
  for (let l = 0; l < pairs; l++) {
    const perPair = Math.floor(edges / pairs) + (l < edges % pairs ? 1 : 0);
    const data = new Float32Array(width * width);
    let h = (l + 1) * 2654435761;
    let placed = 0;
    while (placed < perPair) {
      h = (Math.imul(h ^ (h >>> 15), 2246822519) + 374761393) >>> 0;
      const flat = h % (width * width);
      if (data[flat] !== 0) continue;
      const o = Math.floor(flat / width);
      const i = flat % width;
      // stronger edges near the diagonal (module structure), a long tail elsewhere
      const near = Math.abs(o - i) < width / 20 ? 1 : 0.05;
      data[flat] = near * (1 + ((h >>> 8) % 1000)) / 1000;
      placed++;
    }
    sources.push({ from: names[l]!, to: names[l + 1]!, rows: width, cols: width, data });
  }
  return new ExplorerGraph(names, Array(layers).fill(width), sources);
}

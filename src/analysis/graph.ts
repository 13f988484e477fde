/**
 * Compact weighted undirected graphs (CSR) for clustering. Browser-safe.
 *
 * Conventions (used by modularity, Leiden and Louvain alike):
 * - `offsets`/`targets`/`weights` hold every non-self edge in both directions, duplicates merged
 *   (weights summed); buildGraph sorts neighbours ascending, aggregateGraph keeps first-touch order;
 * - `selfLoops[u]` is the weight of the self-loop at u, counted once;
 * - `degrees[u] = k_u = Σ_{v≠u} w_uv + 2·selfLoops[u]`;
 * - `totalWeight = m` = the sum of all edge weights, each edge (and self-loop) once, so Σ k = 2m.
 */

import type { RibResults } from '../io/results.js';
import type { EdgeNormFn } from './norms.js';

export interface CsrGraph {
  n: number;
  offsets: Int32Array; // [n+1]
  targets: Int32Array; // [nnz]
  weights: Float64Array; // [nnz]
  selfLoops: Float64Array; // [n]
  degrees: Float64Array; // [n]
  totalWeight: number;
  /** number of distinct undirected edges (self-loops included) */
  numEdges: number;
}

/**
 * Builds a graph with n nodes from an undirected edge list (u[i], v[i], w[i]). Duplicate and
 * reversed pairs are summed. Zero-weight edges are dropped. Weights must be finite and ≥ 0.
 */
export function buildGraph(
  n: number,
  us: ArrayLike<number>,
  vs: ArrayLike<number>,
  ws: ArrayLike<number>,
): CsrGraph {
  if (!Number.isInteger(n) || n < 0) throw new Error(`buildGraph: bad node count ${n}`);
  const ne = us.length;
  if (vs.length !== ne || ws.length !== ne) {
    throw new Error(`buildGraph: edge arrays differ in length (${us.length}, ${vs.length}, ${ws.length})`);
  }
  const selfLoops = new Float64Array(n);
  const count = new Int32Array(n + 1);
  for (let e = 0; e < ne; e++) {
    const u = us[e]!;
    const v = vs[e]!;
    const w = ws[e]!;
    if (!(Number.isInteger(u) && Number.isInteger(v) && u >= 0 && v >= 0 && u < n && v < n)) {
      throw new Error(`buildGraph: edge ${e} (${u}, ${v}) has a node outside 0..${n - 1}`);
    }
    if (!Number.isFinite(w) || w < 0) {
      throw new Error(`buildGraph: edge ${e} (${u}, ${v}) has weight ${w}; weights must be finite and non-negative`);
    }
    if (w === 0) continue;
    if (u === v) selfLoops[u] += w;
    else {
      count[u + 1]++;
      count[v + 1]++;
    }
  }
  for (let i = 0; i < n; i++) count[i + 1] += count[i]!;
  const rawT = new Int32Array(count[n]!);
  const rawW = new Float64Array(count[n]!);
  const fill = count.slice(0, n);
  for (let e = 0; e < ne; e++) {
    const u = us[e]!;
    const v = vs[e]!;
    const w = ws[e]!;
    if (w === 0 || u === v) continue;
    let p = fill[u]!++;
    rawT[p] = v;
    rawW[p] = w;
    p = fill[v]!++;
    rawT[p] = u;
    rawW[p] = w;
  }
  return compactAdjacency(n, count, rawT, rawW, selfLoops);
}

/**
 * Sorts each node's neighbour list and merges duplicates. Input rows are
 * rawT[offsets[u]..offsets[u+1]); must be symmetric.
 */
export function compactAdjacency(
  n: number,
  offsets: Int32Array,
  rawT: Int32Array,
  rawW: Float64Array,
  selfLoops: Float64Array,
): CsrGraph {
  const outOff = new Int32Array(n + 1);
  const tmpT = new Int32Array(rawT.length);
  const tmpW = new Float64Array(rawT.length);
  let p = 0;
  let idx: number[] = [];
  for (let u = 0; u < n; u++) {
    outOff[u] = p;
    const a = offsets[u]!;
    const b = offsets[u + 1]!;
    let sorted = true;
    for (let i = a + 1; i < b; i++) if (rawT[i]! <= rawT[i - 1]!) { sorted = false; break; }
    if (sorted) {
      for (let i = a; i < b; i++) { tmpT[p] = rawT[i]!; tmpW[p] = rawW[i]!; p++; }
      continue;
    }
    idx = [];
    for (let i = a; i < b; i++) idx.push(i);
    // stable sort by target: equal targets keep insertion order, so sums are deterministic
    idx.sort((x, y) => rawT[x]! - rawT[y]! || x - y);
    for (const i of idx) {
      const t = rawT[i]!;
      if (p > outOff[u]! && tmpT[p - 1] === t) tmpW[p - 1] += rawW[i]!;
      else { tmpT[p] = t; tmpW[p] = rawW[i]!; p++; }
    }
  }
  outOff[n] = p;
  const targets = tmpT.slice(0, p);
  const weights = tmpW.slice(0, p);
  const degrees = new Float64Array(n);
  let twoM = 0;
  let numEdges = 0;
  for (let u = 0; u < n; u++) {
    let k = 2 * selfLoops[u]!;
    for (let i = outOff[u]!; i < outOff[u + 1]!; i++) {
      k += weights[i]!;
      if (targets[i]! > u) numEdges++;
    }
    if (selfLoops[u]! > 0) numEdges++;
    degrees[u] = k;
    twoM += k;
  }
  return { n, offsets: outOff, targets, weights, selfLoops, degrees, totalWeight: twoM / 2, numEdges };
}

/**
 * Aggregates g by a membership vector with values 0..k-1 (every value used): node c of the
 * result is community c; an internal edge becomes part of c's self-loop. Neighbour lists of the
 * result are in first-touch order (deterministic; not sorted).
 */
export function aggregateGraph(g: CsrGraph, membership: Int32Array, k: number): CsrGraph {
  const { n, offsets, targets, weights } = g;
  // members of each community, in node order
  const start = new Int32Array(k + 1);
  for (let u = 0; u < n; u++) start[membership[u]! + 1]++;
  for (let c = 0; c < k; c++) start[c + 1] += start[c]!;
  const members = new Int32Array(n);
  const pos = start.slice(0, k);
  for (let u = 0; u < n; u++) members[pos[membership[u]!]!++] = u;

  const selfLoops = new Float64Array(k);
  const degrees = new Float64Array(k);
  const acc = new Float64Array(k);
  const seen = new Uint8Array(k);
  const outOff = new Int32Array(k + 1);
  const outT = new Int32Array(targets.length); // upper bound
  const outW = new Float64Array(targets.length);
  let p = 0;
  let twoM = 0;
  let numEdges = 0;
  for (let c = 0; c < k; c++) {
    outOff[c] = p;
    let self = 0;
    for (let q = start[c]!; q < start[c + 1]!; q++) {
      const u = members[q]!;
      self += g.selfLoops[u]!;
      for (let i = offsets[u]!; i < offsets[u + 1]!; i++) {
        const d = membership[targets[i]!]!;
        if (d === c) self += weights[i]! / 2;
        else {
          if (!seen[d]) { seen[d] = 1; outT[p++] = d; }
          acc[d] += weights[i]!;
        }
      }
    }
    selfLoops[c] = self;
    let deg = 2 * self;
    for (let i = outOff[c]!; i < p; i++) {
      const d = outT[i]!;
      outW[i] = acc[d]!;
      deg += acc[d]!;
      if (d > c) numEdges++;
      acc[d] = 0;
      seen[d] = 0;
    }
    if (self > 0) numEdges++;
    degrees[c] = deg;
    twoM += deg;
  }
  outOff[k] = p;
  return { n: k, offsets: outOff, targets: outT.slice(0, p), weights: outW.slice(0, p), selfLoops, degrees, totalWeight: twoM / 2, numEdges };
}

/** Connected components (BFS, lowest node first): component id per node, and the count. */
export function connectedComponents(g: CsrGraph): { component: Int32Array; count: number } {
  return componentsWithin(g, new Int32Array(g.n));
}

/**
 * Splits every community into its connected components (edges inside the community only).
 * Returns the new membership numbered 0.. in order of each component's lowest node.
 */
export function componentsWithin(g: CsrGraph, membership: Int32Array): { component: Int32Array; count: number } {
  const { n, offsets, targets } = g;
  const component = new Int32Array(n).fill(-1);
  const queue = new Int32Array(n);
  let count = 0;
  for (let s = 0; s < n; s++) {
    if (component[s] !== -1) continue;
    const c = membership[s]!;
    let head = 0;
    let tail = 0;
    queue[tail++] = s;
    component[s] = count;
    while (head < tail) {
      const u = queue[head++]!;
      for (let i = offsets[u]!; i < offsets[u + 1]!; i++) {
        const v = targets[i]!;
        if (component[v] === -1 && membership[v] === c) {
          component[v] = count;
          queue[tail++] = v;
        }
      }
    }
    count++;
  }
  return { component, count };
}

/** Renumbers a membership vector to 0..k-1 in order of first appearance. */
export function renumber(membership: ArrayLike<number>): { membership: Int32Array; count: number } {
  const map = new Map<number, number>();
  const out = new Int32Array(membership.length);
  for (let i = 0; i < membership.length; i++) {
    const c = membership[i]!;
    let id = map.get(c);
    if (id === undefined) { id = map.size; map.set(c, id); }
    out[i] = id;
  }
  return { membership: out, count: map.size };
}

/** The graph's undirected edges once each (u ≤ v), self-loops included. */
export function edgeList(g: CsrGraph): { us: Int32Array; vs: Int32Array; ws: Float64Array } {
  const us = new Int32Array(g.numEdges);
  const vs = new Int32Array(g.numEdges);
  const ws = new Float64Array(g.numEdges);
  let e = 0;
  for (let u = 0; u < g.n; u++) {
    if (g.selfLoops[u]! > 0) { us[e] = u; vs[e] = u; ws[e] = g.selfLoops[u]!; e++; }
    for (let i = g.offsets[u]!; i < g.offsets[u + 1]!; i++) {
      const v = g.targets[i]!;
      if (v > u) { us[e] = u; vs[e] = v; ws[e] = g.weights[i]!; e++; }
    }
  }
  return { us, vs, ws };
}

// ---------------------------------------------------------------------------------------------
// The RIB interaction graph (spec §8.6)


/** A graph whose nodes are (layer, index) pairs, numbered layer by layer. */
export interface LayeredGraph {
  graph: CsrGraph;
  layers: string[];
  widths: number[];
  /** first node id of each layer; layerOffset[layers.length] = n */
  layerOffset: Int32Array;
  /** layer index of each node */
  layerOf: Int32Array;
  /** whether row 0 / column 0 (the constant direction) were dropped */
  centred: boolean;
}

export interface RibGraphOptions {
  /** node layers to leave out (default ['output']) */
  exclude?: string[];
  /** override the results' `center` flag */
  centred?: boolean;
}

/** Whether the results come from a centred build (config.center). */
export function isCentred(r: Pick<RibResults, 'config'>): boolean {
  return r.config?.center === true;
}

/**
 * Nodes: every node layer except `output`, C.cols (or orig_dim) nodes each, ids layer by layer.
 * Edges: for each edge matrix between two graph layers, E' = norm(E, inLayer); for centred builds
 * row 0 and column 0 are dropped (constant nodes stay isolated); every non-zero E'[i, j] becomes the
 * undirected edge (id(in, j), id(out, i)) with weight E'[i, j].
 */
export function ribGraph(r: RibResults, norm: EdgeNormFn, opts: RibGraphOptions = {}): LayeredGraph {
  const exclude = new Set(opts.exclude ?? ['output']);
  const centred = opts.centred ?? isCentred(r);
  const layers = r.nodeLayers.filter((l) => !exclude.has(l));
  const widths = layers.map((l) => {
    const b = r.bases.find((x) => x.nodeLayer === l);
    if (!b) throw new RangeError(`results have no basis for node layer '${l}'`);
    return b.C ? b.C.cols : b.origDim;
  });
  const layerOffset = new Int32Array(layers.length + 1);
  for (let i = 0; i < layers.length; i++) layerOffset[i + 1] = layerOffset[i]! + widths[i]!;
  const n = layerOffset[layers.length]!;
  const layerOf = new Int32Array(n);
  for (let i = 0; i < layers.length; i++) layerOf.fill(i, layerOffset[i]!, layerOffset[i + 1]!);
  const index = new Map(layers.map((l, i) => [l, i]));
  const us: number[] = [];
  const vs: number[] = [];
  const ws: number[] = [];
  for (const e of r.edges) {
    const a = index.get(e.inLayer);
    const b = index.get(e.outLayer);
    if (a === undefined || b === undefined) continue;
    if (e.E.rows !== widths[b] || e.E.cols !== widths[a]) {
      throw new RangeError(
        `edge matrix ${e.inLayer}->${e.outLayer} is ${e.E.rows}×${e.E.cols}, expected ${widths[b]}×${widths[a]} (out × in)`,
      );
    }
    const En = norm(e.E, e.inLayer);
    const s = centred ? 1 : 0;
    for (let i = s; i < En.rows; i++) {
      for (let j = s; j < En.cols; j++) {
        const w = En.data[i * En.cols + j]!;
        if (w !== 0) {
          if (!Number.isFinite(w) || w < 0) {
            throw new RangeError(`normalised edge ${e.inLayer}->${e.outLayer} [${i}, ${j}] = ${w}; weights must be finite and ≥ 0`);
          }
          us.push(layerOffset[a]! + j);
          vs.push(layerOffset[b]! + i);
          ws.push(w);
        }
      }
    }
  }
  return { graph: buildGraph(n, us, vs, ws), layers, widths, layerOffset, layerOf, centred };
}

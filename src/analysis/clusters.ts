/**
 * Cluster statistics over a layered graph (spec §8.6): clusters sorted by size, span over layers,
 * per-layer counts, edges (and weight) kept inside clusters per layer pair, modularity, piano-plot
 * array; plus the adjusted Rand index used by the tests. Browser-safe.
 */
import { ribGraph, isCentred, type CsrGraph, type LayeredGraph } from './graph.js';
import { modularity } from './modularity.js';
import type { Mat, RibResults } from '../io/results.js';
import { edgeNorm, epsilonsFromAblation, resolveNormName, type NormName } from './norms.js';
import { leiden, validateGamma } from './leiden.js';
import { louvain } from './louvain.js';
import { normals } from '../linalg/index.js';
import { Rng } from '../rng.js';

export interface ClusterInfo {
  /** 1-based, in size order (largest first; ties by lowest node id) */
  id: number;
  size: number;
  /** number of distinct layers */
  span: number;
  layers_counter: Record<string, number>;
  /** [layer, index within layer] */
  nodes: Array<[string, number]>;
}

export interface EdgesKept {
  from: string;
  to: string;
  num_edges: number;
  num_edges_kept: number;
  weight: number;
  weight_kept: number;
  /** num_edges_kept / num_edges (0 when there are no edges) */
  fraction: number;
  /** weight_kept / weight */
  weight_fraction: number;
}

export interface ClusterStats {
  gamma: number;
  modularity: number;
  modularity_gamma: number;
  n_clusters: number;
  n_non_singleton: number;
  clusters: ClusterInfo[];
  /** cluster id (1-based, size order) of every node, per layer */
  assignment: Record<string, number[]>;
  edges_kept: EdgesKept[];
}

/**
 * Relabels a membership so that cluster ids are 1..k in decreasing size (ties: lowest node id
 * first). Returns the 1-based labels and the sizes in that order.
 */
export function sortClustersBySize(membership: ArrayLike<number>): { labels: Int32Array; sizes: number[] } {
  const info = new Map<number, { size: number; first: number }>();
  for (let u = 0; u < membership.length; u++) {
    const c = membership[u]!;
    const x = info.get(c);
    if (x) x.size++;
    else info.set(c, { size: 1, first: u });
  }
  const order = [...info.entries()].sort((a, b) => b[1].size - a[1].size || a[1].first - b[1].first);
  const rank = new Map<number, number>();
  order.forEach(([c], i) => rank.set(c, i + 1));
  const labels = new Int32Array(membership.length);
  for (let u = 0; u < membership.length; u++) labels[u] = rank.get(membership[u]!)!;
  return { labels, sizes: order.map(([, x]) => x.size) };
}

export function clusterStats(lg: LayeredGraph, membership: ArrayLike<number>, gamma = 1): ClusterStats {
  const g = lg.graph;
  if (membership.length !== g.n) throw new Error(`clusterStats: membership has ${membership.length} entries for ${g.n} nodes`);
  const { labels, sizes } = sortClustersBySize(membership);
  const clusters: ClusterInfo[] = sizes.map((size, i) => ({ id: i + 1, size, span: 0, layers_counter: {}, nodes: [] }));
  const assignment: Record<string, number[]> = {};
  for (let li = 0; li < lg.layers.length; li++) {
    const layer = lg.layers[li]!;
    const a: number[] = [];
    for (let u = lg.layerOffset[li]!; u < lg.layerOffset[li + 1]!; u++) {
      const c = clusters[labels[u]! - 1]!;
      const idx = u - lg.layerOffset[li]!;
      c.nodes.push([layer, idx]);
      c.layers_counter[layer] = (c.layers_counter[layer] ?? 0) + 1;
      a.push(labels[u]!);
    }
    assignment[layer] = a;
  }
  for (const c of clusters) c.span = Object.keys(c.layers_counter).length;
  return {
    gamma,
    modularity: modularity(g, labels, 1),
    modularity_gamma: modularity(g, labels, gamma),
    n_clusters: clusters.length,
    n_non_singleton: clusters.filter((c) => c.size > 1).length,
    clusters,
    assignment,
    edges_kept: edgesKept(lg, labels),
  };
}

/**
 * Per layer pair (lower layer index first, in layer order): number and weight of graph edges, and
 * how many (how much) join two nodes of the same cluster (spec `num_edges_kept`).
 */
export function edgesKept(lg: LayeredGraph, membership: ArrayLike<number>): EdgesKept[] {
  const g = lg.graph;
  const L = lg.layers.length;
  const rows = new Map<number, EdgesKept>();
  for (let u = 0; u < g.n; u++) {
    const lu = lg.layerOf[u]!;
    for (let i = g.offsets[u]!; i < g.offsets[u + 1]!; i++) {
      const v = g.targets[i]!;
      if (v < u) continue;
      const lv = lg.layerOf[v]!;
      const a = Math.min(lu, lv);
      const b = Math.max(lu, lv);
      const key = a * L + b;
      let r = rows.get(key);
      if (!r) {
        r = { from: lg.layers[a]!, to: lg.layers[b]!, num_edges: 0, num_edges_kept: 0, weight: 0, weight_kept: 0, fraction: 0, weight_fraction: 0 };
        rows.set(key, r);
      }
      const w = g.weights[i]!;
      r.num_edges++;
      r.weight += w;
      if (membership[u] === membership[v]) {
        r.num_edges_kept++;
        r.weight_kept += w;
      }
    }
  }
  const out = [...rows.entries()].sort((x, y) => x[0] - y[0]).map(([, r]) => r);
  for (const r of out) {
    r.fraction = r.num_edges > 0 ? r.num_edges_kept / r.num_edges : 0;
    r.weight_fraction = r.weight > 0 ? r.weight_kept / r.weight : 0;
  }
  return out;
}

export interface Piano {
  n_layers: number;
  max_width: number;
  /** row-major [n_layers × max_width]: −1 no such node, 0 not plotted, 1..n plotted cluster */
  data: Int32Array;
}

/**
 * Piano-plot array (spec §8.6): rows are layers, columns RIB indices. Plotted clusters are the
 * non-singleton clusters in size order (or the `top` largest of them), numbered 1..n.
 */
export function pianoArray(lg: LayeredGraph, membership: ArrayLike<number>, opts: { top?: number } = {}): Piano {
  const { labels, sizes } = sortClustersBySize(membership);
  let nPlot = sizes.filter((s) => s > 1).length;
  if (opts.top !== undefined) nPlot = Math.min(nPlot, Math.max(0, Math.floor(opts.top)));
  const L = lg.layers.length;
  const maxWidth = lg.widths.reduce((a, b) => Math.max(a, b), 0);
  const data = new Int32Array(L * maxWidth).fill(-1);
  for (let li = 0; li < L; li++) {
    for (let u = lg.layerOffset[li]!; u < lg.layerOffset[li + 1]!; u++) {
      const c = labels[u]!;
      data[li * maxWidth + (u - lg.layerOffset[li]!)] = c <= nPlot ? c : 0;
    }
  }
  return { n_layers: L, max_width: maxWidth, data };
}

/** Nested-array form of a piano array, for JSON. */
export function pianoRows(p: Piano): number[][] {
  const rows: number[][] = [];
  for (let l = 0; l < p.n_layers; l++) rows.push(Array.from(p.data.subarray(l * p.max_width, (l + 1) * p.max_width)));
  return rows;
}

/** Adjusted Rand index (Hubert & Arabie 1985) between two labelings of the same items. */
export function adjustedRandIndex(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`adjustedRandIndex: lengths differ (${a.length}, ${b.length})`);
  const n = a.length;
  const c2 = (x: number) => (x * (x - 1)) / 2;
  const ca = new Map<number, number>();
  const cb = new Map<number, number>();
  const cab = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    ca.set(a[i]!, (ca.get(a[i]!) ?? 0) + 1);
    cb.set(b[i]!, (cb.get(b[i]!) ?? 0) + 1);
    const k = `${a[i]},${b[i]}`;
    cab.set(k, (cab.get(k) ?? 0) + 1);
  }
  let sumAB = 0;
  for (const v of cab.values()) sumAB += c2(v);
  let sumA = 0;
  for (const v of ca.values()) sumA += c2(v);
  let sumB = 0;
  for (const v of cb.values()) sumB += c2(v);
  const total = c2(n);
  if (total === 0) return 1;
  const expected = (sumA * sumB) / total;
  const maxIdx = (sumA + sumB) / 2;
  if (maxIdx === expected) return 1; // both labelings trivial (all-in-one or all-singletons) and identical in structure
  return (sumAB - expected) / (maxIdx - expected);
}

/** True when every community induces a connected subgraph (BFS inside each community). */
export function communitiesConnected(g: CsrGraph, membership: ArrayLike<number>): boolean {
  const seen = new Uint8Array(g.n);
  const done = new Set<number>();
  const queue = new Int32Array(g.n);
  for (let s = 0; s < g.n; s++) {
    if (seen[s]) continue;
    const c = membership[s]!;
    if (done.has(c)) return false; // a second component of a community already visited
    done.add(c);
    let head = 0;
    let tail = 0;
    queue[tail++] = s;
    seen[s] = 1;
    while (head < tail) {
      const u = queue[head++]!;
      for (let i = g.offsets[u]!; i < g.offsets[u + 1]!; i++) {
        const v = g.targets[i]!;
        if (!seen[v] && membership[v] === c) { seen[v] = 1; queue[tail++] = v; }
      }
    }
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// One clustering run over RIB results (used by `interbasis cluster` and the report)


export interface ClusterRunOptions {
  gamma?: number;
  /** norm name (default: 'bylayer-log' when `ablation` is given, else 'identity') */
  norm?: string;
  epsilon?: number;
  /** parsed edge-ablation (bisect) results JSON, for per-layer ε */
  ablation?: unknown;
  seed?: number;
  method?: 'leiden' | 'louvain';
  /** also run the other method for comparison (default true) */
  compare?: boolean;
  iterations?: number;
  /** search γ for this many non-singleton clusters (the reference's target_n_clusters); `gamma` is the start */
  targetNClusters?: number;
}

export interface GammaSearch {
  target: number;
  /** γ values tried, in order, with their non-singleton cluster counts and Q (γ = 1) */
  tries: Array<{ gamma: number; n_non_singleton: number; modularity: number }>;
  /** the γ kept: the best Q among the runs that hit the target */
  gamma: number;
}

const GAMMA_SEARCH_STREAM = 0x7a59e7;

/**
 * The reference's target_n_clusters (spec §8.6): draw γ ~ LogNormal(ln γ₀, 1) until `hits` runs
 * give `target` non-singleton clusters (at most `maxTries` draws), keep the γ with the best
 * modularity Q among them. Seeded: the same inputs give the same γ.
 */
export function searchGamma(
  g: CsrGraph,
  o: { gamma: number; target: number; seed?: number; hits?: number; maxTries?: number; method?: 'leiden' | 'louvain'; iterations?: number },
): GammaSearch {
  validateGamma(o.gamma);
  if (!Number.isSafeInteger(o.target) || o.target < 1) throw new RangeError(`target_n_clusters must be a positive integer, got ${o.target}`);
  const hits = o.hits ?? 10;
  const maxTries = o.maxTries ?? 500;
  const seed = o.seed ?? 0;
  const rng = new Rng(seed, GAMMA_SEARCH_STREAM);
  const z = new Float64Array(2);
  const tries: GammaSearch['tries'] = [];
  let best: { gamma: number; q: number } | null = null;
  let found = 0;
  for (let t = 0; t < maxTries && found < hits; t++) {
    if (t % 2 === 0) normals(rng, z);
    const gamma = t === 0 ? o.gamma : Math.exp(Math.log(o.gamma) + z[t % 2]!);
    const res = (o.method ?? 'leiden') === 'leiden' ? leiden(g, { gamma, seed, iterations: o.iterations }) : louvain(g, { gamma, seed });
    const n = sortClustersBySize(res.communities).sizes.filter((x) => x > 1).length;
    tries.push({ gamma, n_non_singleton: n, modularity: res.modularity });
    if (n === o.target) {
      found++;
      if (!best || res.modularity > best.q) best = { gamma, q: res.modularity };
    }
  }
  if (!best) {
    const seen = [...new Set(tries.map((x) => x.n_non_singleton))].sort((a, b) => a - b);
    throw new RangeError(`target_n_clusters ${o.target}: no γ among ${tries.length} draws around ${o.gamma} gave ${o.target} non-singleton clusters (counts seen: ${seen.join(', ')}); try another start --gamma`);
  }
  return { target: o.target, tries, gamma: best.gamma };
}

export interface MethodSummary {
  method: 'leiden' | 'louvain';
  modularity: number;
  modularity_gamma: number;
  n_clusters: number;
  n_non_singleton: number;
  time_ms: number;
}

export interface ClusterRun extends ClusterStats {
  method: 'leiden' | 'louvain';
  norm: NormName;
  epsilon: number | Record<string, number> | null;
  ablation_threshold: number | null;
  seed: number;
  centred: boolean;
  layers: string[];
  widths: number[];
  n_nodes: number;
  n_edges: number;
  total_weight: number;
  time_ms: number;
  comparison: MethodSummary | null;
  piano: number[][];
  /** the γ search, when targetNClusters was given */
  gamma_search: GammaSearch | null;
}

/**
 * Normalises the edges, builds the graph (spec §8.6), clusters it and computes the statistics.
 * Needs initKernels() first. Errors (no edges, bad γ, unknown norm, missing ε) are RangeErrors
 * with a clear message.
 */
export function clusterResults(r: RibResults, o: ClusterRunOptions = {}): ClusterRun {
  let gamma = o.gamma ?? 1;
  validateGamma(gamma);
  const seed = o.seed ?? 0;
  const method = o.method ?? 'leiden';
  if (method !== 'leiden' && method !== 'louvain') throw new RangeError(`unknown clustering method '${method as string}'; valid: leiden, louvain`);
  const norm = resolveNormName(o.norm ?? (o.ablation !== undefined ? 'bylayer-log' : 'identity'));
  const isLog = norm === 'log' || norm === 'bylayer-log' || norm === 'node-log';
  if (!isLog && (o.ablation !== undefined || o.epsilon !== undefined)) {
    throw new RangeError(`--epsilon/--ablation apply only to the log norms (log, bylayer-log, node-log), not '${norm}'`);
  }
  if (o.ablation !== undefined && o.epsilon !== undefined) throw new RangeError('give either an epsilon or ablation results, not both');
  if (!r.edges || r.edges.length === 0) {
    throw new RangeError('the results contain no edges (build them with calculate_edges: true); nothing to cluster');
  }
  const centred = isCentred(r);
  let epsilon: number | Record<string, number> | null = o.epsilon ?? null;
  let threshold: number | null = null;
  if (o.ablation !== undefined) {
    const byLayer = new Map<string, Mat>(r.edges.map((e) => [e.inLayer, e.E]));
    const got = epsilonsFromAblation(o.ablation, byLayer, { centred });
    epsilon = got.epsilon;
    threshold = got.threshold;
  }
  const normFn = edgeNorm(norm, epsilon === null ? {} : { epsilon });
  const lg = ribGraph(r, normFn, { centred });
  if (lg.graph.numEdges === 0) {
    throw new RangeError(`no edge survives the '${norm}' normalisation (all normalised weights are 0); nothing to cluster`);
  }
  let gammaSearch: GammaSearch | null = null;
  if (o.targetNClusters !== undefined) {
    gammaSearch = searchGamma(lg.graph, { gamma, target: o.targetNClusters, seed, method, iterations: o.iterations });
    gamma = gammaSearch.gamma;
  }
  const run = (m: 'leiden' | 'louvain') => {
    const t0 = performance.now();
    const res = m === 'leiden' ? leiden(lg.graph, { gamma, seed, iterations: o.iterations }) : louvain(lg.graph, { gamma, seed });
    return { res, ms: performance.now() - t0 };
  };
  const main = run(method);
  const stats = clusterStats(lg, main.res.communities, gamma);
  let comparison: MethodSummary | null = null;
  if (o.compare ?? true) {
    const other = method === 'leiden' ? 'louvain' : 'leiden';
    const c = run(other);
    const sizes = sortClustersBySize(c.res.communities).sizes;
    comparison = {
      method: other,
      modularity: c.res.modularity,
      modularity_gamma: c.res.modularityGamma,
      n_clusters: c.res.count,
      n_non_singleton: sizes.filter((s) => s > 1).length,
      time_ms: c.ms,
    };
  }
  return {
    method,
    norm,
    epsilon,
    ablation_threshold: threshold,
    seed,
    centred,
    layers: lg.layers,
    widths: lg.widths,
    n_nodes: lg.graph.n,
    n_edges: lg.graph.numEdges,
    total_weight: lg.graph.totalWeight,
    time_ms: main.ms,
    comparison,
    ...stats,
    piano: pianoRows(pianoArray(lg, main.res.communities)),
    gamma_search: gammaSearch,
  };
}

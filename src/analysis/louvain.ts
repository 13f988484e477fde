/**
 * Louvain baseline: `graphology-communities-louvain` (Blondel et al. 2008, with resolution γ)
 * run on a CsrGraph. Its random choices are fed from our Rng, so results are deterministic for a
 * seed. Reported scores are computed with our own modularity(), like Leiden's. Browser-safe.
 */
import { UndirectedGraph } from 'graphology';
import louvainModule from 'graphology-communities-louvain';
import { Rng } from '../rng.js';
import { edgeList, type CsrGraph } from './graph.js';
import { scorePartition } from './modularity.js';
import { validateGamma, type LeidenResult } from './leiden.js';

// CommonJS module: under NodeNext the default import is module.exports (the function itself)
const louvainLib = louvainModule as unknown as (
  graph: UndirectedGraph,
  options: { resolution: number; getEdgeWeight: string; rng: () => number },
) => Record<string, number>;

export const LOUVAIN_STREAM = 0x10c7a1;

/** A graphology UndirectedGraph with nodes '0'..'n-1' and a `weight` attribute per edge. */
export function toGraphology(g: CsrGraph): UndirectedGraph {
  const G = new UndirectedGraph({ allowSelfLoops: true });
  for (let u = 0; u < g.n; u++) G.addNode(String(u));
  const { us, vs, ws } = edgeList(g);
  for (let e = 0; e < us.length; e++) G.addEdge(String(us[e]), String(vs[e]), { weight: ws[e] });
  return G;
}

export function louvain(
  g: CsrGraph,
  opts: { gamma?: number; seed?: number; graph?: UndirectedGraph } = {},
): Omit<LeidenResult, 'iterations'> {
  const gamma = opts.gamma ?? 1;
  const seed = opts.seed ?? 0;
  validateGamma(gamma);
  const raw = new Int32Array(g.n);
  if (g.n > 0 && g.totalWeight > 0) {
    const rng = new Rng(seed, LOUVAIN_STREAM);
    const G = opts.graph ?? toGraphology(g);
    const mapping = louvainLib(G, { resolution: gamma, getEdgeWeight: 'weight', rng: () => rng.uniform() });
    for (let u = 0; u < g.n; u++) raw[u] = mapping[String(u)]!;
  } else {
    for (let u = 0; u < g.n; u++) raw[u] = u;
  }
  return scorePartition(g, raw, gamma);
}

/**
 * Leiden (ours) against Louvain (graphology-communities-louvain) on a seeded layered planted graph
 * like an interaction graph: 10 layers × 200 nodes, exactly 100000 edges between adjacent layers,
 * 8 planted modules (20% of each layer pair's edges inside modules, heavier), γ = 1, same seed.
 * Louvain is timed on a prebuilt graphology graph (conversion timed separately).
 */
import { initKernels } from '../src/linalg/index.js';
import { leiden } from '../src/analysis/leiden.js';
import { louvain, toGraphology } from '../src/analysis/louvain.js';
import { layeredPlantedGraph } from '../src/analysis/synthetic.js';
import { adjustedRandIndex } from '../src/analysis/clusters.js';
import { ratioAgainst, time, type BenchContext, type BenchRow } from './harness.js';

export async function run(ctx: BenchContext): Promise<BenchRow[]> {
  await initKernels();
  const q = !!ctx.quick;
  const spec = q
    ? { layers: 5, width: 100, modules: 5, edges: 10000, intra: 0.2, seed: 1 }
    : { layers: 10, width: 200, modules: 8, edges: 100000, intra: 0.2, seed: 1 };
  const { graph, truth } = layeredPlantedGraph(spec);
  const size = `${graph.n} nodes, ${graph.numEdges} edges`;
  const gamma = 1;
  const seed = 0;
  const G = toGraphology(graph);
  const lRes = leiden(graph, { gamma, seed });
  const vRes = louvain(graph, { gamma, seed, graph: G });
  const tl = time('leiden', () => leiden(graph, { gamma, seed }), { minSamples: 3, maxTime: q ? 0.3 : 2 }, q);
  const l1 = leiden(graph, { gamma, seed, iterations: 1 });
  const t1 = time('leiden-1', () => leiden(graph, { gamma, seed, iterations: 1 }), { minSamples: 3, maxTime: q ? 0.3 : 2 }, q);
  const tv = time('louvain', () => louvain(graph, { gamma, seed, graph: G }), { minSamples: 3, maxTime: q ? 0.3 : 2 }, q);
  const tc = time('toGraphology', () => toGraphology(graph), { minSamples: 3, maxTime: q ? 0.3 : 1 }, q);
  const note = (r: { modularity: number; count: number; communities: Int32Array }) =>
    `Q=${r.modularity.toFixed(6)}, ${r.count} clusters, ARI ${adjustedRandIndex(r.communities, truth).toFixed(3)}`;
  const louvainRow: BenchRow = { group: 'graph/cluster', name: 'louvain (graphology)', size, seconds: tv.seconds, note: note(vRes) };
  const leidenRow = ratioAgainst({ group: 'graph/cluster', name: 'leiden (ours)', size, seconds: tl.seconds, note: `${note(lRes)}, ${lRes.iterations} passes` }, louvainRow);
  // several seeds: mean modularity of both
  const seeds = q ? [0, 1] : [0, 1, 2, 3, 4];
  let ml = 0;
  let mv = 0;
  let wins = 0;
  for (const s of seeds) {
    const a = leiden(graph, { gamma, seed: s }).modularity;
    const b = louvain(graph, { gamma, seed: s, graph: G }).modularity;
    ml += a / seeds.length;
    mv += b / seeds.length;
    if (a >= b - 1e-12) wins++;
  }
  ctx.log(`leiden vs louvain over ${seeds.length} seeds: mean Q ${ml.toFixed(6)} vs ${mv.toFixed(6)}; leiden ≥ louvain in ${wins}/${seeds.length}`);
  return [
    leidenRow,
    ratioAgainst({ group: 'graph/cluster', name: 'leiden (ours), 1 pass', size, seconds: t1.seconds, note: note(l1) }, louvainRow),
    louvainRow,
    { group: 'graph/cluster', name: 'csr → graphology', size, seconds: tc.seconds, note: 'conversion for Louvain' },
    { group: 'graph/cluster', name: `mean Q over ${seeds.length} seeds`, size, seconds: 0, note: `leiden ${ml.toFixed(6)}, louvain ${mv.toFixed(6)}, leiden ≥ louvain ${wins}/${seeds.length}` },
  ];
}

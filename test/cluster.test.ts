import { beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initKernels } from '../src/linalg/index.js';
import type { Mat, RibResults } from '../src/io/results.js';
import { edgeNorm, epsilonsFromAblation, resolveNormName } from '../src/analysis/norms.js';
import { ribGraph } from '../src/analysis/graph.js';
import { clusterResults, clusterStats, pianoArray, pianoRows, communitiesConnected } from '../src/analysis/clusters.js';
import { leiden } from '../src/analysis/leiden.js';
import { runClusterCli, type ClusterCliOptions } from '../src/cli/cluster.js';
import { UserError } from '../src/errors.js';
import { loadResults, saveResults } from '../src/io/results.nodejs.js';
import { REFDATA, ref } from './helpers/refdata.js';

beforeAll(async () => {
  await initKernels();
});

const mat = (rows: number, cols: number, v: number[]): Mat => ({ rows, cols, data: Float64Array.from(v) });

describe('edge norms (spec §8.5)', () => {
  const E = mat(2, 3, [0, 0.001, 0.5, 4, 100, 0.002]);
  it('identity, sqrt, abs, max', () => {
    expect(Array.from(edgeNorm('identity')(E, 'a').data)).toEqual(Array.from(E.data));
    expect(Array.from(edgeNorm('sqrt')(E, 'a').data)).toEqual(Array.from(E.data, Math.sqrt));
    const s = E.data.reduce((a, b) => a + Math.abs(b), 0);
    expect(Array.from(edgeNorm('AbsNorm')(E, 'a').data)).toEqual(Array.from(E.data, (x) => x / s));
    expect(Array.from(edgeNorm('max')(E, 'a').data)).toEqual(Array.from(E.data, (x) => x / 100));
  });
  it('log norm: log10(E/ε) for E > ε, else exactly 0', () => {
    const L = edgeNorm('log', { epsilon: 0.002 })(E, 'a').data;
    const expected = Array.from(E.data, (x) => (x > 0.002 ? Math.log10(x / 0.002) : 0));
    for (let i = 0; i < 6; i++) expect(L[i]).toBeCloseTo(expected[i]!, 13);
    expect(L[0]).toBe(0);
    expect(L[1]).toBe(0);
    expect(L[5]).toBe(0); // E = ε is dropped
    expect(L[4]).toBeCloseTo(Math.log10(50000), 12);
  });
  it('by-layer log norm uses the in-layer ε; node-normalised log norm', () => {
    const f = edgeNorm('bylayer-log', { epsilon: { a: 0.1, b: 1 } });
    expect(f(E, 'a').data[3]).toBeCloseTo(Math.log10(40), 13);
    expect(f(E, 'b').data[3]).toBeCloseTo(Math.log10(4), 13);
    expect(() => f(E, 'c')).toThrow(/no epsilon for layer 'c'/);
    const N = edgeNorm('node-log', { epsilon: 0.1 })(E, 'a').data;
    for (let j = 0; j < 3; j++) {
      const colSum = Math.sqrt(E.data[j]!) + Math.sqrt(E.data[3 + j]!);
      for (let i = 0; i < 2; i++) {
        const x = E.data[i * 3 + j]!;
        const lg = x > 0.1 ? Math.log10(x / 0.1) : 0;
        expect(N[i * 3 + j]).toBeCloseTo((lg * Math.sqrt(x)) / colSum, 13);
      }
    }
  });
  it('unknown names and missing ε give clear errors', () => {
    expect(() => resolveNormName('bogus')).toThrow(/unknown edge norm 'bogus'; valid names: identity, sqrt, abs, max, log, bylayer-log, node-log/);
    expect(() => edgeNorm('log')).toThrow(/needs an epsilon/);
    expect(() => edgeNorm('log', { epsilon: -1 })).toThrow(/epsilon must be/);
    expect(resolveNormName('ByLayerLogEdgeNorm')).toBe('bylayer-log');
    expect(resolveNormName('by_layer_log')).toBe('bylayer-log');
  });
});

/** Three layers a(3) → b(4) → c(2) plus an output layer; centred (row/col 0 = constant). */
function toyResults(centred: boolean, edges = true): RibResults {
  const basis = (nodeLayer: string, k: number) => ({
    nodeLayer, origDim: k + 2, C: mat(k + 2, k, new Array((k + 2) * k).fill(1)), Cpinv: null, W: null, Wpinv: null, V: null, Lambda: null,
  });
  return {
    config: { center: centred },
    nodeLayers: ['a', 'b', 'c', 'output'],
    means: new Map(),
    grams: new Map(),
    bases: [basis('a', 3), basis('b', 4), basis('c', 2), { nodeLayer: 'output', origDim: 5, C: null, Cpinv: null, W: null, Wpinv: null, V: null, Lambda: null }],
    edges: edges
      ? [
          { inLayer: 'a', outLayer: 'b', E: mat(4, 3, [9, 9, 9, 9, 5, 0, 9, 4, 0, 9, 0, 3]) },
          { inLayer: 'b', outLayer: 'c', E: mat(2, 4, [9, 9, 9, 9, 9, 2, 0, 6]) },
          { inLayer: 'c', outLayer: 'output', E: mat(5, 2, new Array(10).fill(1)) },
        ]
      : [],
    info: {},
  } as RibResults;
}

describe('graph from results (spec §8.6)', () => {
  it('numbers nodes layer by layer, excludes output, drops the constant row/column when centred', () => {
    const lg = ribGraph(toyResults(true), edgeNorm('identity'));
    expect(lg.layers).toEqual(['a', 'b', 'c']);
    expect(lg.widths).toEqual([3, 4, 2]);
    expect(Array.from(lg.layerOffset)).toEqual([0, 3, 7, 9]);
    const g = lg.graph;
    // a→b non-zero entries without row 0/col 0: (1,1)=5 (2,1)=4 (3,2)=3 ; b→c: (1,1)=2 (1,3)=6
    expect(g.numEdges).toBe(5);
    expect(g.totalWeight).toBe(5 + 4 + 3 + 2 + 6);
    const w = (u: number, v: number) => {
      for (let i = g.offsets[u]!; i < g.offsets[u + 1]!; i++) if (g.targets[i] === v) return g.weights[i]!;
      return 0;
    };
    expect(w(1, 3 + 1)).toBe(5); // a1 – b1
    expect(w(1, 3 + 2)).toBe(4); // a1 – b2
    expect(w(2, 3 + 3)).toBe(3); // a2 – b3
    expect(w(3 + 1, 7 + 1)).toBe(2); // b1 – c1
    expect(w(3 + 3, 7 + 1)).toBe(6);
    for (const c of [0, 3, 7]) expect(g.degrees[c]).toBe(0); // constant nodes isolated
    const un = ribGraph(toyResults(false), edgeNorm('identity')).graph;
    expect(un.numEdges).toBe(9 + 7);
  });

  it('cluster statistics, edges kept and piano array', () => {
    const lg = ribGraph(toyResults(true), edgeNorm('identity'));
    const res = leiden(lg.graph, { seed: 0 });
    expect(communitiesConnected(lg.graph, res.communities)).toBe(true);
    const st = clusterStats(lg, res.communities);
    expect(st.clusters.map((c) => c.size)).toEqual([...st.clusters.map((c) => c.size)].sort((a, b) => b - a));
    expect(st.clusters.reduce((a, c) => a + c.size, 0)).toBe(9);
    for (const c of st.clusters) {
      expect(c.span).toBe(Object.keys(c.layers_counter).length);
      expect(c.nodes.length).toBe(c.size);
    }
    expect(st.modularity).toBeCloseTo(res.modularity, 14);
    expect(st.edges_kept.map((e) => [e.from, e.to, e.num_edges])).toEqual([['a', 'b', 3], ['b', 'c', 2]]);
    for (const e of st.edges_kept) {
      expect(e.num_edges_kept).toBeLessThanOrEqual(e.num_edges);
      expect(e.fraction).toBeCloseTo(e.num_edges_kept / e.num_edges, 15);
    }
    // constant nodes are singletons; so is every node of a one-node cluster
    expect(st.assignment['a']![0]).not.toBe(st.assignment['b']![0]);
    const p = pianoArray(lg, res.communities);
    expect([p.n_layers, p.max_width]).toEqual([3, 4]);
    const rows = pianoRows(p);
    expect(rows[0]![3]).toBe(-1); // layer a has only 3 nodes
    expect(rows[2]!.slice(2)).toEqual([-1, -1]);
    expect(rows[0]![0]).toBe(0); // constant node: singleton, not plotted
    const maxLabel = Math.max(...rows.flat());
    expect(maxLabel).toBe(st.n_non_singleton);
  });

  it('clusterResults: bad inputs give clear errors', () => {
    expect(() => clusterResults(toyResults(true, false))).toThrow(/no edges/);
    expect(() => clusterResults(toyResults(true), { gamma: 0 })).toThrow(/gamma/);
    expect(() => clusterResults(toyResults(true), { gamma: -2 })).toThrow(/gamma/);
    expect(() => clusterResults(toyResults(true), { gamma: Number.POSITIVE_INFINITY })).toThrow(/gamma/);
    expect(() => clusterResults(toyResults(true), { norm: 'nope' })).toThrow(/unknown edge norm 'nope'; valid names/);
    expect(() => clusterResults(toyResults(true), { norm: 'log' })).toThrow(/needs an epsilon/);
    expect(() => clusterResults(toyResults(true), { norm: 'sqrt', epsilon: 1 })).toThrow(/only to the log norms/);
    expect(() => clusterResults(toyResults(true), { norm: 'log', epsilon: 1e9 })).toThrow(/no edge survives/);
    const run = clusterResults(toyResults(true), { norm: 'log', epsilon: 1 });
    expect(run.n_edges).toBe(5);
    expect(run.comparison?.method).toBe('louvain');
  });
});

const cliDefaults = (out: string, extra: Partial<ClusterCliOptions> = {}): ClusterCliOptions => ({
  gamma: '1', seed: '0', method: 'leiden', out, top: '5', ...extra,
});

describe('interbasis cluster: bad inputs', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ib-cluster-'));
  const quiet = () => {};
  it('missing file, bad γ, unknown norm, existing output', async () => {
    await expect(runClusterCli(join(dir, 'nope'), cliDefaults(join(dir, 'o.json')), quiet)).rejects.toThrow(UserError);
    await expect(runClusterCli(join(dir, 'nope'), cliDefaults(join(dir, 'o.json')), quiet)).rejects.toThrow(/not found/);
    await expect(runClusterCli('x', cliDefaults(join(dir, 'o.json'), { gamma: '0' }), quiet)).rejects.toThrow(/--gamma must be > 0/);
    await expect(runClusterCli('x', cliDefaults(join(dir, 'o.json'), { gamma: '-1' }), quiet)).rejects.toThrow(/--gamma/);
    await expect(runClusterCli('x', cliDefaults(join(dir, 'o.json'), { gamma: 'abc' }), quiet)).rejects.toThrow(/finite number/);
    await expect(runClusterCli('x', cliDefaults(join(dir, 'o.json'), { seed: '1.5' }), quiet)).rejects.toThrow(/--seed/);
    writeFileSync(join(dir, 'exists.json'), 'keep me');
    await expect(runClusterCli(join(dir, 'nope'), cliDefaults(join(dir, 'exists.json')), quiet)).rejects.toThrow(/not found/);
    if (REFDATA) {
      const R = ref('modadd', 'seed0', 'rib_graph_rib.safetensors');
      await expect(runClusterCli(R, cliDefaults(join(dir, 'exists.json')), quiet)).rejects.toThrow(/exists; choose another --out or pass --force/);
      await expect(runClusterCli(R, cliDefaults(join(dir, 'o.json'), { norm: 'bogus' }), quiet)).rejects.toThrow(/unknown edge norm 'bogus'/);
      await expect(runClusterCli(R, cliDefaults(join(dir, 'o.json'), { ablation: join(dir, 'missing.json') }), quiet)).rejects.toThrow(/not found/);
      expect(existsSync(join(dir, 'o.json'))).toBe(false);
    }
    expect(readFileSync(join(dir, 'exists.json'), 'utf8')).toBe('keep me');
  });
});

describe('interbasis cluster on saved results', () => {
  it('a results file without edges is refused; with edges it clusters', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ib-cluster-res-'));
    await saveResults(join(dir, 'noedges'), toyResults(true, false), { force: false });
    await expect(runClusterCli(join(dir, 'noedges'), cliDefaults(join(dir, 'a.json')), () => {})).rejects.toThrow(/contain no edges/);
    expect(existsSync(join(dir, 'a.json'))).toBe(false);
    await saveResults(join(dir, 'toy'), toyResults(true), { force: false });
    const run = await runClusterCli(join(dir, 'toy'), cliDefaults(join(dir, 'b.json'), { json: true }), () => {});
    expect(run.n_edges).toBe(5);
    expect(JSON.parse(readFileSync(join(dir, 'b.json'), 'utf8')).n_nodes).toBe(9);
  });
});

describe.skipIf(!REFDATA)('interbasis cluster on refdata (mod-add seed 0)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ib-cluster-ref-'));
  it('per-layer ε from the bisect edge-ablation results', async () => {
    const r = await loadResults(ref('modadd', 'seed0', 'rib_graph_rib.safetensors'));
    const abl = JSON.parse(readFileSync(ref('modadd', 'seed0', 'edge_ablation_results_rib.json'), 'utf8'));
    const edges = new Map(r.edges.map((e) => [e.inLayer, e.E]));
    const { epsilon, threshold } = epsilonsFromAblation(abl, edges, { centred: true });
    expect(threshold).toBe(0.001);
    expect(Object.keys(epsilon)).toEqual(['ln1.0', 'ln2.0', 'unembed']);
    // the mask keeps exactly the edges ≥ ε (outside row 0 / column 0), and ε is their minimum
    for (const [layer, eps] of Object.entries(epsilon)) {
      const E = edges.get(layer)!;
      const mask = abl.edge_masks[layer][String(abl.n_edges_required[layer])] as boolean[][];
      let kept = 0;
      let minKept = Infinity;
      for (let i = 1; i < E.rows; i++) for (let j = 1; j < E.cols; j++) if (mask[i]![j]) { kept++; minKept = Math.min(minKept, E.data[i * E.cols + j]!); }
      expect(eps).toBe(minKept);
      expect(kept).toBeGreaterThan(0);
    }
  });

  it('runs the CLI with --ablation and writes the clusters JSON', async () => {
    const out = join(dir, 'clusters.json');
    const lines: string[] = [];
    const run = await runClusterCli(
      ref('modadd', 'seed0', 'rib_graph_rib.safetensors'),
      cliDefaults(out, { gamma: '0.5', ablation: ref('modadd', 'seed0', 'edge_ablation_results_rib.json') }),
      (s) => lines.push(s),
    );
    expect(existsSync(out)).toBe(true);
    const doc = JSON.parse(readFileSync(out, 'utf8'));
    expect(doc.norm).toBe('bylayer-log');
    expect(doc.layers).toEqual(['ln1.0', 'ln2.0', 'unembed']);
    expect(doc.widths).toEqual([115, 110, 116]);
    expect(doc.piano.length).toBe(3);
    expect(doc.piano[0].length).toBe(116);
    expect(doc.clusters.reduce((a: number, c: { size: number }) => a + c.size, 0)).toBe(341);
    expect(doc.modularity).toBeGreaterThan(0);
    expect(doc.modularity).toBeGreaterThanOrEqual(doc.comparison.modularity - 0.02);
    expect(Object.keys(doc.assignment)).toEqual(doc.layers);
    expect(run.n_non_singleton).toBeGreaterThan(0);
    expect(lines.join('\n')).toMatch(/louvain \(same γ, seed\): modularity/);
    // same seed → identical clusters
    const out2 = join(dir, 'clusters2.json');
    await runClusterCli(ref('modadd', 'seed0', 'rib_graph_rib.safetensors'),
      cliDefaults(out2, { gamma: '0.5', ablation: ref('modadd', 'seed0', 'edge_ablation_results_rib.json') }), () => {});
    expect(JSON.parse(readFileSync(out2, 'utf8')).assignment).toEqual(doc.assignment);
  });
});

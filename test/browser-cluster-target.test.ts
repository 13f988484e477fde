/** target_n_clusters (searching γ for a cluster count) in clusterResults and `interbasis cluster`. */
import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initKernels } from '../src/linalg/index.js';
import { layeredPlantedGraph } from '../src/analysis/synthetic.js';
import { searchGamma, clusterResults } from '../src/analysis/clusters.js';
import { runClusterCli } from '../src/cli/cluster.js';
import { REFDATA, ref } from './helpers/refdata.js';
import { loadResults } from '../src/io/results.nodejs.js';

describe('target_n_clusters', () => {
  it('finds a γ giving the target count, deterministically, and refuses impossible targets', async () => {
    await initKernels();
    const { graph } = layeredPlantedGraph({ layers: 4, width: 40, modules: 4, edges: 1200, intra: 0.7, seed: 3 });
    const a = searchGamma(graph, { gamma: 0.05, target: 4, seed: 1 });
    const b = searchGamma(graph, { gamma: 0.05, target: 4, seed: 1 });
    expect(a.gamma).toBe(b.gamma);
    expect(a.tries.filter((t) => t.n_non_singleton === 4).length).toBeGreaterThan(0);
    const kept = a.tries.filter((t) => t.n_non_singleton === 4).sort((x, y) => y.modularity - x.modularity)[0]!;
    expect(kept.gamma).toBe(a.gamma);
    expect(() => searchGamma(graph, { gamma: 1, target: 10_000, seed: 0, maxTries: 5 })).toThrow(/no γ among 5 draws/);
    expect(() => searchGamma(graph, { gamma: 1, target: 0 })).toThrow(/positive integer/);
  });

  it.skipIf(!REFDATA)('works in interbasis cluster on mod-add seed 0', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ib-target-'));
    try {
      const out = join(dir, 'c.json');
      const lines: string[] = [];
      const run = await runClusterCli(ref('modadd', 'seed0', 'rib_graph_rib.safetensors'), { gamma: '0.5', seed: '0', method: 'leiden', out, top: '3', targetNClusters: '2', ablation: ref('modadd', 'seed0', 'edge_ablation_results_rib.json') }, (s) => lines.push(s));
      expect(run.n_non_singleton).toBe(2);
      const doc = JSON.parse(readFileSync(out, 'utf8'));
      expect(doc.target_n_clusters.target).toBe(2);
      expect(doc.gamma).toBe(doc.target_n_clusters.gamma);
      expect(lines.join('\n')).toMatch(/target_n_clusters 2: \d+ of \d+ γ draws hit it/);
      const r = await loadResults(ref('modadd', 'seed0', 'rib_graph_rib.safetensors'));
      expect(() => clusterResults(r, { targetNClusters: -1 })).toThrow(/positive integer/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/**
 * Re-clusters a build off the page's thread: Leiden (clusterResults, with target_n_clusters when
 * asked) in a module worker with its own Wasm instance.
 */
import * as Comlink from 'comlink';
import { initKernels } from '../linalg/index.js';
import { clusterResults } from '../analysis/clusters.js';
import type { RibResults } from '../io/results.js';

export interface ClusterRequest {
  gamma: number;
  seed: number;
  norm: string;
  targetNClusters?: number;
}

export interface ClusterReply {
  gamma: number;
  modularity: number;
  modularity_gamma: number;
  n_clusters: number;
  n_non_singleton: number;
  assignment: Record<string, number[]>;
  piano: number[][];
  layers: string[];
  time_ms: number;
  tries: number;
}

let results: RibResults | null = null;

const api = {
  async init(wasm: WebAssembly.Module): Promise<void> {
    await initKernels(wasm);
  },
  setResults(r: RibResults): void {
    results = r;
  },
  cluster(q: ClusterRequest): ClusterReply {
    if (!results) throw new Error('no results loaded');
    const run = clusterResults(results, { gamma: q.gamma, seed: q.seed, norm: q.norm, compare: false, targetNClusters: q.targetNClusters });
    return {
      gamma: run.gamma,
      modularity: run.modularity,
      modularity_gamma: run.modularity_gamma,
      n_clusters: run.n_clusters,
      n_non_singleton: run.n_non_singleton,
      assignment: run.assignment,
      piano: run.piano,
      layers: run.layers,
      time_ms: run.time_ms,
      tries: run.gamma_search?.tries.length ?? 1,
    };
  },
};
export type ClusterWorkerApi = typeof api;
Comlink.expose(api);

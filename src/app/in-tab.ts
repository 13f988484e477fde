/** Work the explorer runs in the tab besides a build: the demo (RIB and PCA, block recovery) and node and edge ablations. */
import type { RibResults } from '../io/results.js';
import type { Model } from '../models/types.js';
import type { TaskPool } from '../parallel/pool.js';
import { ribBuild, type ProgressEvent } from '../rib/build.js';
import { parseBuildConfig } from '../rib/config.js';
import { DEMO_DEFAULTS, demoConfig, demoDataset, demoModel, demoRecovery, formatRecovery, type Recovery } from '../rib/demo.js';

export interface DemoRun {
  model: Model;
  rib: RibResults;
  pca: RibResults;
  recovery: Recovery[];
  /** the text shown in the Demo tab */
  text: string;
}

/** The built-in demo: RIB and PCA builds of the hidden-block MLP, and the ARI of their clusters against the planted blocks. Kernels must be loaded. */
export async function runDemoBuilds(pool: TaskPool, progress: (basis: 'rib' | 'pca', e: ProgressEvent) => void): Promise<DemoRun> {
  const o = DEMO_DEFAULTS;
  const { model, Q0 } = demoModel(o);
  const data = demoDataset(Q0, o);
  const out: Partial<Record<'rib' | 'pca', RibResults>> = {};
  for (const basis of ['jacobian', 'svd'] as const) {
    const name = basis === 'svd' ? 'pca' : 'rib';
    const c = parseBuildConfig({ ...demoConfig(basis, o), modular_mlp_config: null, model: { type: 'mlp', path: 'model.safetensors' }, dataset: { dataset_type: 'file', path: 'data.safetensors' } });
    out[name] = await ribBuild({ config: c, model, dataset: data, gramDataset: null, pool, progress: (e) => progress(name, e) });
  }
  const recovery = [demoRecovery(out.rib!, 'rib', o), demoRecovery(out.pca!, 'pca', o)];
  const text =
    `Block-diagonal ReLU MLP (${o.hiddenLayers} hidden layers, width ${o.width}, blocks ${o.firstBlock}+${o.width - o.firstBlock}), ` +
    `blocks hidden by a random rotation of the input/output and permutations of the hidden units.\n\n` +
    formatRecovery(recovery);
  return { model, rib: out.rib!, pca: out.pca!, recovery, text };
}

/**
 * An `interbasis ablate` config for an ablation of a build on its test split: `node` ablates RIB
 * directions (linear schedule, 6 points) at every non-output node layer; `edge` ablates edges
 * between consecutive node layers (bisect to within 0.01 of the unablated score).
 */
export function ablationConfig(results: RibResults, name: string, kind: 'node' | 'edge'): Record<string, unknown> {
  const c = results.config as { dataset?: Record<string, unknown>; node_layers?: string[]; eval_type?: string | null };
  const layers = c.node_layers ?? results.nodeLayers;
  return {
    ablation_type: kind === 'node' ? 'rib' : 'edge',
    rib_results_path: name,
    schedule: kind === 'node' ? { schedule_type: 'linear', n_points: 6 } : { schedule_type: 'bisect', score_target_difference: 0.01 },
    dataset: { ...(c.dataset ?? {}), return_set: 'test' },
    ablation_node_layers: kind === 'node' ? layers.filter((L) => L !== 'output') : layers,
    eval_type: c.eval_type ?? 'accuracy',
  };
}

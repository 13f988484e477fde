/**
 * Edge-ablation bisect (spec §8.4) on mod-add seed 0 (rib basis, test split, δ = 0.001, the
 * reference's config) with the worker pool at 1 and 2 workers. The reference JSON records
 * "0.1 minutes" on a GPU. Needs ../shared/refdata (or INTERBASIS_REFDATA) and a built dist/.
 */
import { resolve } from 'node:path';
import { refdata } from './refdata.js';
import type { BenchContext, BenchRow } from './harness.js';
import { initKernels } from '../src/linalg/index.js';
import { loadModel } from '../src/models/load.nodejs.js';
import { loadResults } from '../src/io/results.nodejs.js';
import { modularArithmetic } from '../src/data/index.js';
import { parseAblationConfig, runAblation } from '../src/analysis/ablation.js';
import { createNodePool } from '../workers/pool.nodejs.js';
import '../src/tasks.js';


export async function run(ctx: BenchContext): Promise<BenchRow[]> {
  const rd = refdata();
  if (!rd) {
    ctx.log('ablation bench: refdata not found, skipped');
    return [{ group: 'ablation/modadd-seed0', name: 'skipped', size: '-', seconds: NaN, note: 'refdata not found' }];
  }
  await initKernels();
  const seed0 = (f: string) => resolve(rd, 'modadd', 'seed0', f);
  const model = await loadModel({ path: seed0('model.safetensors') });
  const rows: BenchRow[] = [];
  const bases = ctx.quick ? ['rib'] : ['rib', 'pca'];
  for (const basis of bases) {
    const results = await loadResults(seed0(`rib_graph_${basis}.safetensors`));
    const config = parseAblationConfig({
      exp_name: `bench_${basis}`,
      ablation_type: 'edge',
      rib_results_path: seed0(`rib_graph_${basis}.safetensors`),
      schedule: { schedule_type: 'bisect', score_target_difference: 0.001, scaling: 'linear', tolerance: 1 },
      dataset: { dataset_type: 'modular_arithmetic', return_set: 'test' },
      ablation_node_layers: ['ln1.0', 'ln2.0', 'unembed', 'output'],
      batch_size: 99999,
      dtype: 'float32',
      seed: 0,
      eval_type: 'accuracy',
    });
    const dataset = modularArithmetic({ returnSet: 'test' });
    let t1 = NaN;
    for (const workers of [1, 2]) {
      const pool = await createNodePool({ workers });
      try {
        let evals = 0;
        const t0 = performance.now();
        const out = await runAblation({ config, results, model, dataset, pool, onProgress: () => evals++ });
        const s = (performance.now() - t0) / 1000;
        if (workers === 1) t1 = s;
        ctx.log(`ablation bench: ${basis} edge bisect, ${workers} worker(s): ${s.toFixed(1)} s, n_edges_required ${JSON.stringify(out.n_edges_required)}`);
        rows.push({
          group: 'ablation/modadd-seed0',
          name: `edge bisect ${basis}, ${workers} worker${workers > 1 ? 's' : ''}`,
          size: `8939 samples, ${evals} evals`,
          seconds: s,
          baseline: workers > 1 ? '1 worker' : 'reference GPU 0.1 min',
          ratio: workers > 1 ? t1 / s : s / 6,
          note: `n_edges_required ${Object.values(out.n_edges_required ?? {}).join('/')}`,
        });
      } finally {
        await pool.destroy();
      }
    }
  }
  return rows;
}

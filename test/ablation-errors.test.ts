/** Bad inputs to `ablate`: clear UserErrors before (or instead of) any long computation. */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { stringify } from 'yaml';
import { initKernels } from '../src/linalg/index.js';
import { loadModel } from '../src/models/load.nodejs.js';
import { loadResults } from '../src/io/results.nodejs.js';
import { modularArithmetic, sliceDataset } from '../src/data/index.js';
import { InlinePool } from '../src/parallel/index.js';
import { parseAblationConfig, runAblation } from '../src/analysis/ablation.js';
import { ablateFromConfig } from '../src/cli/ablate.js';
import { UserError } from '../src/errors.js';
import '../src/analysis/tasks.js';
import { REFDATA, ref } from './helpers/refdata.js';

describe.skipIf(!REFDATA)('ablate: bad inputs', () => {
  let dir: string;
  const pool = new InlinePool();
  const cfg = (over: Record<string, unknown> = {}) => ({
    exp_name: 'bad',
    ablation_type: 'edge',
    rib_results_path: ref('modadd', 'seed0', 'rib_graph_rib.safetensors'),
    model: { type: 'transformer', path: ref('modadd', 'seed0', 'model.safetensors') },
    schedule: { schedule_type: 'bisect', score_target_difference: 0.001 },
    dataset: { dataset_type: 'modular_arithmetic', return_set: 'test' },
    ablation_node_layers: ['ln1.0', 'ln2.0', 'unembed', 'output'],
    batch_size: 99999,
    dtype: 'float32',
    seed: 0,
    eval_type: 'accuracy',
    ...over,
  });
  const write = (name: string, c: unknown) => {
    const p = join(dir, name);
    writeFileSync(p, stringify(c));
    return p;
  };
  beforeAll(async () => {
    await initKernels();
    dir = mkdtempSync(join(tmpdir(), 'ib-ablate-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('missing results, missing model, unknown keys, missing config', async () => {
    await expect(ablateFromConfig(write('a.yaml', cfg({ rib_results_path: 'nope.safetensors' })), { pool })).rejects.toThrow(/rib_results_path not found/);
    const noModel = cfg();
    delete (noModel as Record<string, unknown>).model;
    await expect(ablateFromConfig(write('b.yaml', noModel), { pool })).rejects.toThrow(/does not exist here.*model:/);
    await expect(ablateFromConfig(write('c.yaml', cfg({ colour: 'red' })), { pool })).rejects.toThrow(/unknown key.*colour/);
    await expect(ablateFromConfig(join(dir, 'missing.yaml'), { pool })).rejects.toThrow(UserError);
    await expect(ablateFromConfig(write('d.yaml', cfg({ ablation_node_layers: ['ln1.0', 'nonsense'] })), { pool })).rejects.toThrow(/nonsense/);
  });

  it('an existing output, a missing dataset file and an unwritable output folder are refused before any task runs', async () => {
    let tasks = 0;
    const counting = { size: 1, run: (t: string, p: unknown) => (tasks++, pool.run(t, p)), destroy: async () => undefined };
    const out = join(dir, 'earlier.json');
    writeFileSync(out, 'earlier result');
    await expect(ablateFromConfig(write('e.yaml', cfg()), { pool: counting, out })).rejects.toThrow(/earlier\.json already exists; use --force/);
    expect(readFileSync(out, 'utf8')).toBe('earlier result');
    await expect(ablateFromConfig(write('f.yaml', cfg({ dataset: { dataset_type: 'file', path: 'missing.safetensors' } })), { pool: counting, out: join(dir, 'f.json') }))
      .rejects.toThrow(new RegExp(`dataset\\.path: file not found: ${join(dir, 'missing.safetensors')}`));
    await expect(ablateFromConfig(write('g.yaml', cfg()), { pool: counting, out: join(out, 'sub', 'g.json') })).rejects.toThrow(/earlier\.json is a file, not a folder/);
    expect(tasks).toBe(0);
  });

  it('results without edges (edge ablation) and bad schedule parameters', async () => {
    const results = await loadResults(ref('modadd', 'seed0', 'rib_graph_rib.safetensors'));
    const model = await loadModel({ path: ref('modadd', 'seed0', 'model.safetensors') });
    const dataset = sliceDataset(modularArithmetic({ returnSet: 'test' }), 0, 200);
    await expect(runAblation({ config: parseAblationConfig(cfg()), results: { ...results, edges: [] }, model, dataset, pool })).rejects.toThrow(/no edges/);
    const linear = parseAblationConfig(cfg({ ablation_type: 'rib', ablation_node_layers: ['unembed'], schedule: { schedule_type: 'linear', n_points: 500 } }));
    await expect(runAblation({ config: linear, results, model, dataset, pool })).rejects.toThrow(/n_points/);
    const cutoff = parseAblationConfig(cfg({ ablation_type: 'orthogonal', ablation_node_layers: ['unembed'], schedule: { schedule_type: 'exponential', ablate_every_vec_cutoff: 129 } }));
    await expect(runAblation({ config: cutoff, results, model, dataset, pool })).rejects.toThrow(/cutoff/);
  });
});

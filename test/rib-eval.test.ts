/**
 * eval_type: the scores taken inside the build's statistics forward pass equal the standalone
 * evaluation (its own forward passes over the same sample ranges) bit for bit, for accuracy and
 * ce_loss, with batches that end inside a forward shard and a dataset of several shards.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initKernels } from '../src/linalg/index.js';
import { serializeSafetensors } from '../src/io/safetensors.js';
import { parseBuildConfig } from '../src/rib/config.js';
import { resolveConfigPaths } from '../src/rib/config.nodejs.js';
import { datasetFor, loadModelFor } from '../src/rib/build.nodejs.js';
import { ribBuild } from '../src/rib/build.js';
import { evaluateModel, prepareEval } from '../src/rib/evaluate.js';
import { InlinePool } from '../src/parallel/pool.js';
import '../src/tasks.js';
import { makeHfCheckpoint } from './lm-fixtures.js';

let dir = '';
beforeAll(async () => {
  await initKernels();
  dir = mkdtempSync(join(tmpdir(), 'rib-eval-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('eval_type in the build', () => {
  it('scores from the statistics forward equal the standalone evaluation exactly', async () => {
    const models = join(dir, 'models');
    const folder = join(models, 'pythia-14m');
    mkdirSync(folder, { recursive: true });
    const fx = makeHfCheckpoint('GPTNeoXForCausalLM', { seed: 3, d: 8, heads: 2, dMlp: 12, vocab: 13, positions: 16, prefix: true });
    writeFileSync(join(folder, 'config.json'), JSON.stringify(fx.config));
    writeFileSync(join(folder, 'model.safetensors'), serializeSafetensors(fx.tensors));
    const data = join(dir, 'pile');
    mkdirSync(data, { recursive: true });
    const docs = Array.from({ length: 400 }, (_, i) => ({ input_ids: Array.from({ length: 3 + (i % 7) }, (_, j) => (i * 5 + j * 3) % 13) }));
    writeFileSync(join(data, 'train.jsonl'), docs.map((d) => JSON.stringify(d)).join('\n'));
    const raw = {
      exp_name: 'eval_in_forward',
      tlens_pretrained: 'pythia-14m',
      node_layers: ['ln1.0', 'ln2.0', 'unembed'],
      rotate_final_node_layer: false,
      dataset: { dataset_type: 'huggingface', name: 'NeelNanda/pile-10k', path: 'pile', return_set: 'train', n_documents: 400, n_ctx: 3, n_samples: 300, seed: 0 },
      // batches of 100: the forward shards (256 samples) hold parts of several batches
      batch_size: 100,
      truncation_threshold: 1e-12,
      calculate_Cs: false,
      calculate_edges: false,
      out_dir: null,
    };
    const pool = new InlinePool();
    for (const evalType of ['ce_loss', 'accuracy'] as const) {
      const c = resolveConfigPaths(parseBuildConfig({ ...raw, eval_type: evalType }), dir);
      const model = await loadModelFor(c, models);
      const ds = await datasetFor(c.dataset!, c, 'dataset', () => undefined);
      expect(ds.n).toBe(300);
      const opts = { nodeLayers: c.node_layers, lastPosModuleType: c.last_pos_module_type, batchSize: c.batch_size };
      const spec = prepareEval(model, ds, evalType, opts);
      const r = await ribBuild({ config: c, model, dataset: ds, gramDataset: null, pool, evaluation: spec });
      const inBuild = r.info.eval as { eval_type: string; value: number; n_samples: number };
      const alone = await evaluateModel(model, ds, evalType, { ...opts, pool });
      expect(inBuild.eval_type).toBe(evalType);
      expect(inBuild.n_samples).toBe(300);
      expect(inBuild.value).toBe(alone.value);
      if (evalType === 'ce_loss') expect(inBuild.value).toBeGreaterThan(0);
      else expect(inBuild.value).toBeLessThanOrEqual(1);
      // a build without the evaluation stores none
      const none = await ribBuild({ config: c, model, dataset: ds, gramDataset: null, pool });
      expect(none.info.eval).toBeUndefined();
    }
  });
});

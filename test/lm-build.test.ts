/**
 * End to end: a build config with a Hugging Face model (tlens_pretrained from the models folder)
 * and a huggingface dataset of local files; eval_type ce_loss / accuracy computed before the build
 * and stored in results.json, checked against an independent HF-semantics forward.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initKernels } from '../src/linalg/index.js';
import { serializeSafetensors } from '../src/io/safetensors.js';
import { parseBuildConfig } from '../src/rib/config.js';
import { resolveConfigPaths } from '../src/rib/config.nodejs.js';
import { runBuildFromConfig } from '../src/rib/build.nodejs.js';
import { InlinePool } from '../src/parallel/pool.js';
import '../src/tasks.js';
import { hfForward, logSoftmax, makeHfCheckpoint } from './lm-fixtures.js';

let dir = '';
beforeAll(async () => {
  await initKernels();
  dir = mkdtempSync(join(tmpdir(), 'lm-build-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('LM build from config', () => {
  it('pythia-14m (random init) from the models folder + pre-tokenised jsonl: ce_loss and accuracy before the build', async () => {
    const models = join(dir, 'models');
    const folder = join(models, 'pythia-14m');
    mkdirSync(folder, { recursive: true });
    const fx = makeHfCheckpoint('GPTNeoXForCausalLM', { seed: 11, d: 8, heads: 2, dMlp: 12, vocab: 13, positions: 16, prefix: true });
    writeFileSync(join(folder, 'config.json'), JSON.stringify(fx.config));
    writeFileSync(join(folder, 'model.safetensors'), serializeSafetensors(fx.tensors));
    const data = join(dir, 'pile');
    mkdirSync(data, { recursive: true });
    const docs = Array.from({ length: 30 }, (_, i) => ({ input_ids: Array.from({ length: 3 + (i % 7) }, (_, j) => (i * 5 + j * 3) % 13) }));
    writeFileSync(join(data, 'train.jsonl'), docs.map((d) => JSON.stringify(d)).join('\n'));
    const raw = {
      exp_name: 'pythia_tiny',
      tlens_pretrained: 'pythia-14m',
      node_layers: ['ln1.0', 'ln2.0', 'mlp_out.0', 'ln1.1', 'unembed'],
      rotate_final_node_layer: false,
      dataset: { dataset_type: 'huggingface', name: 'NeelNanda/pile-10k', path: 'pile', return_set: 'train', n_documents: 25, n_ctx: 6, n_samples: 12, seed: 0 },
      batch_size: 5,
      truncation_threshold: 1e-12,
      eval_type: 'ce_loss',
      out_dir: 'out',
    };
    const cfg = resolveConfigPaths(parseBuildConfig(raw), dir);
    const pool = new InlinePool();
    const { results, dir: outDir } = await runBuildFromConfig(cfg, { pool, modelsDir: models });
    const ev = results.info.eval as { eval_type: string; value: number; n_samples: number; positions: number };
    expect(ev.eval_type).toBe('ce_loss');
    expect(ev.n_samples).toBe(12);
    expect(ev.positions).toBe(6);
    // independent: HF forward on the same chunks (stream of the first 25 documents, randperm(c, 0)[:12])
    const stream = docs.slice(0, 25).flatMap((d) => d.input_ids);
    const { mt19937Randperm } = await import('../src/data/mt19937.js');
    const c = Math.ceil(stream.length / 6) - 1;
    const perm = mt19937Randperm(c, 0).subarray(0, 12);
    const x = new Int32Array(12 * 6);
    const y = new Int32Array(12 * 6);
    perm.forEach((k, i) => {
      for (let t = 0; t < 6; t++) {
        x[i * 6 + t] = stream[k * 6 + t]!;
        y[i * 6 + t] = stream[k * 6 + t + 1]!;
      }
    });
    const ls = logSoftmax(hfForward(fx, x, 12, 6), 13);
    let mean = 0;
    let nb = 0;
    for (let b0 = 0; b0 < 12; b0 += 5) {
      let s = 0;
      const b1 = Math.min(12, b0 + 5);
      for (let r = b0 * 6; r < b1 * 6; r++) s -= ls[r * 13 + y[r]!]!;
      mean += s / ((b1 - b0) * 6);
      nb++;
    }
    expect(Math.abs(ev.value - mean / nb)).toBeLessThan(1e-10);
    const json = JSON.parse(readFileSync(join(outDir!, 'results.json'), 'utf8')) as { info: { eval: { value: number } } };
    expect(json.info.eval.value).toBe(ev.value);
    // accuracy
    const acc = await runBuildFromConfig(resolveConfigPaths(parseBuildConfig({ ...raw, eval_type: 'accuracy', out_dir: null, calculate_edges: false }), dir), { pool, modelsDir: models });
    let correct = 0;
    for (let r = 0; r < 72; r++) {
      let best = 0;
      for (let v = 1; v < 13; v++) if (ls[r * 13 + v]! > ls[r * 13 + best]!) best = v;
      if (best === y[r]) correct++;
    }
    expect((acc.results.info.eval as { value: number }).value).toBe(correct / 72);
    // gram_dataset at another n_ctx (8) than the dataset (6): Grams equal a Grams-only build at 8
    const gramDs = { ...raw.dataset, n_ctx: 8, n_samples: null, n_documents: 30 };
    const two = await runBuildFromConfig(resolveConfigPaths(parseBuildConfig({ ...raw, eval_type: null, out_dir: null, gram_dataset: gramDs }), dir), { pool, modelsDir: models });
    const only = await runBuildFromConfig(resolveConfigPaths(parseBuildConfig({ ...raw, eval_type: null, out_dir: null, dataset: gramDs, calculate_Cs: false, calculate_edges: false }), dir), { pool, modelsDir: models });
    for (const L of raw.node_layers) expect(Array.from(two.results.grams.get(L)!.data)).toEqual(Array.from(only.results.grams.get(L)!.data));
    expect(two.results.bases.filter((b) => b.C).length).toBeGreaterThan(0);
    expect(two.results.info.n_gram_samples).not.toBe(two.results.info.n_samples);
    // a dataset longer than the model's context is refused before the build
    await expect(runBuildFromConfig(resolveConfigPaths(parseBuildConfig({ ...raw, out_dir: null, dataset: { ...raw.dataset, n_ctx: 17 } }), dir), { pool, modelsDir: models })).rejects.toThrow(/n_ctx 17 is larger than the model's context length 16/);
  });
});

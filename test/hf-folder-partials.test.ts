/**
 * `model: {type: hf, path: FOLDER}` with a results folder: the build runs on its stage graph with
 * partials, whose plan hashes the files the model is read from (the folder's checkpoint and
 * config.json), not the folder itself.
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
import { makeHfCheckpoint, randomTokens } from './lm-fixtures.js';

let dir = '';
beforeAll(async () => {
  await initKernels();
  dir = mkdtempSync(join(tmpdir(), 'hf-folder-partials-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('hf model folder in a build with partials', () => {
  it('builds, and the same build from the checkpoint file gives the same results', async () => {
    const folder = join(dir, 'model');
    mkdirSync(folder);
    const fx = makeHfCheckpoint('GPTNeoForCausalLM', { seed: 4, d: 8, heads: 2, vocab: 13, positions: 16, prefix: true, f32: true });
    writeFileSync(join(folder, 'config.json'), JSON.stringify(fx.config));
    writeFileSync(join(folder, 'model.safetensors'), serializeSafetensors(fx.tensors));
    writeFileSync(join(dir, 'data.safetensors'), serializeSafetensors({ input_ids: { dtype: 'I32', shape: [6, 5], data: randomTokens(6, 5, 13, 2) } }));
    const build = async (path: string, out: string) => {
      const raw = {
        exp_name: 'neo_folder',
        model: { type: 'hf', path },
        node_layers: ['ln1.0', 'ln2.0', 'ln1.1'],
        rotate_final_node_layer: true,
        dataset: { dataset_type: 'file', path: 'data.safetensors', inputs: 'input_ids', labels: null },
        batch_size: 3,
        truncation_threshold: 1e-12,
        n_stochastic_sources_basis_pos: 1,
        out_dir: null,
      };
      await runBuildFromConfig(resolveConfigPaths(parseBuildConfig(raw), dir), { pool: new InlinePool(), out: join(dir, out) });
      return readFileSync(join(dir, out, 'results.safetensors'));
    };
    const a = await build('model', 'out-folder');
    const b = await build('model/model.safetensors', 'out-file');
    expect(a.length).toBeGreaterThan(1000);
    expect(Buffer.compare(a, b)).toBe(0);
  });
});

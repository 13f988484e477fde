/**
 * `interbasis build` on a language model under a memory budget, as the reference's LM configs run:
 * Hugging Face checkpoint, token files with a Gram dataset of another length, stochastic sources;
 * `--memory` / `memory_budget_gb`, the peak RSS in results.json, the three-run split (Grams only →
 * Cs from saved Grams → edges from saved Cs) equal to one run, progress lines with an ETA.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { initKernels } from '../src/linalg/index.js';
import { serializeSafetensors } from '../src/io/safetensors.js';
import type { Tensor } from '../src/io/tensor.js';
import { runBuildCli } from '../src/cli/build.js';
import { makeProgress } from '../src/rib/progress.nodejs.js';
import { makeHfCheckpoint, randomTokens } from './lm-fixtures.js';
import { tmpDir, writeConfig } from './rib-helpers.js';

const quiet = { out: { write: () => true } as unknown as NodeJS.WritableStream, err: { write: () => true } as unknown as NodeJS.WritableStream };
const six = (i: number) => [`ln1.${i}`, `ln1_out.${i}`, `attn_in.${i}`, `ln2.${i}`, `ln2_out.${i}`, `mlp_in.${i}`];

let dir = '';
beforeAll(async () => {
  await initKernels();
  dir = tmpDir('lm-memory-');
  const fx = makeHfCheckpoint('GPTNeoForCausalLM', { seed: 9, d: 8, heads: 2, dMlp: 32, vocab: 19, positions: 32 });
  mkdirSync(join(dir, 'model'));
  writeFileSync(join(dir, 'model', 'config.json'), JSON.stringify(fx.config));
  writeFileSync(join(dir, 'model', 'model.safetensors'), serializeSafetensors(fx.tensors));
  const tokens = (n: number, T: number, seed: number): Map<string, Tensor> => new Map([['inputs', { dtype: 'I32', shape: [n, T], data: randomTokens(n, T, 19, seed) }]]);
  writeFileSync(join(dir, 'data.safetensors'), serializeSafetensors(tokens(12, 10, 1)));
  writeFileSync(join(dir, 'gram.safetensors'), serializeSafetensors(tokens(9, 14, 2)));
});

function lmConfig(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    exp_name: 'neo',
    model: { type: 'hf', path: 'model' },
    node_layers: [...six(0), ...six(1), 'ln_final', 'ln_final_out', 'unembed'],
    dataset: { dataset_type: 'file', path: 'data.safetensors' },
    gram_dataset: { dataset_type: 'file', path: 'gram.safetensors' },
    batch_size: 4,
    truncation_threshold: 1e-12,
    rotate_final_node_layer: true,
    n_stochastic_sources_basis_pos: 1,
    n_stochastic_sources_edges: 1,
    out_dir: 'out',
    ...extra,
  };
}

const bytes = (d: string) => readFileSync(join(d, 'results.safetensors'));
const info = (d: string) => JSON.parse(readFileSync(join(d, 'results.json'), 'utf8')).info as Record<string, unknown>;

describe('interbasis build --memory on a language model', () => {
  it('the budget changes nothing in the results; results.json records it and the peak RSS', async () => {
    const cfg = writeConfig(dir, lmConfig(), 'one.yaml');
    await runBuildCli(cfg, { workers: 2, out: join(dir, 'one') }, quiet);
    await runBuildCli(cfg, { workers: 2, out: join(dir, 'mem'), memory: '3' }, quiet);
    expect(Buffer.compare(bytes(join(dir, 'one')), bytes(join(dir, 'mem')))).toBe(0);
    const a = info(join(dir, 'one'));
    const b = info(join(dir, 'mem'));
    expect(a.memory).toMatchObject({ budget_gb: null, stored_every: 1 });
    expect(b.memory).toMatchObject({ budget_gb: 3 });
    for (const i of [a, b]) {
      expect(i.peak_rss_gb as number).toBeGreaterThan(0.05);
      expect(i.peak_rss_gb as number).toBeLessThan(3);
    }
    // the config key is the same setting
    await runBuildCli(writeConfig(dir, lmConfig({ memory_budget_gb: 2.5 }), 'key.yaml'), { workers: 1, out: join(dir, 'key') }, quiet);
    expect(info(join(dir, 'key')).memory).toMatchObject({ budget_gb: 2.5 });
    expect(Buffer.compare(bytes(join(dir, 'one')), bytes(join(dir, 'key')))).toBe(0);
  });

  it('the three-run split (Grams only, Cs from saved Grams, edges from saved Cs) equals one run', async () => {
    const one = join(dir, 'split-one');
    const full = await runBuildCli(writeConfig(dir, lmConfig(), 's0.yaml'), { workers: 2, out: one }, quiet);
    const g = await runBuildCli(writeConfig(dir, lmConfig({ calculate_Cs: false, calculate_edges: false }), 's1.yaml'), { workers: 2, out: join(dir, 'split-grams'), memory: 2 }, quiet);
    expect(g.results.bases).toEqual([]);
    expect(g.results.edges).toEqual([]);
    const cs = await runBuildCli(writeConfig(dir, lmConfig({ gram_matrices_path: 'split-grams', calculate_edges: false }), 's2.yaml'), { workers: 2, out: join(dir, 'split-cs') }, quiet);
    expect(cs.results.edges).toEqual([]);
    const e = await runBuildCli(writeConfig(dir, lmConfig({ interaction_matrices_path: 'split-cs', calculate_Cs: false }), 's3.yaml'), { workers: 2, out: join(dir, 'split-edges') }, quiet);
    for (const [L, G] of full.results.grams) expect(Array.from(g.results.grams.get(L)!.data), `Gram ${L}`).toEqual(Array.from(G.data));
    full.results.bases.forEach((b, i) => expect(cs.results.bases[i]!.C?.data ?? null, `C ${b.nodeLayer}`).toEqual(b.C?.data ?? null));
    expect(e.results.edges.length).toBe(full.results.edges.length);
    full.results.edges.forEach((x, i) => expect(Array.from(e.results.edges[i]!.E.data), `E ${x.inLayer}`).toEqual(Array.from(x.E.data)));
  });

  it('a budget below the estimate, or not a number, is refused before any stage and writes nothing', async () => {
    const cfg = writeConfig(dir, lmConfig(), 'bad.yaml');
    await expect(runBuildCli(cfg, { workers: 1, out: join(dir, 'bad'), memory: '0.01' }, quiet)).rejects.toThrow(/memory budget 0\.01 GB is below this build's estimated minimum of \d+\.\d\d GB/);
    expect(existsSync(join(dir, 'bad', 'results.safetensors'))).toBe(false);
    await expect(runBuildCli(cfg, { workers: 1, out: join(dir, 'bad2'), memory: '4GB' }, quiet)).rejects.toThrow(/--memory: expected a positive number of GB, got "4GB"/);
    await expect(runBuildCli(writeConfig(dir, lmConfig({ memory_budget_gb: -1 }), 'neg.yaml'), { workers: 1, out: join(dir, 'bad3') }, quiet)).rejects.toThrow(/memory_budget_gb/);
    expect(existsSync(join(dir, 'bad2'))).toBe(false);
  });
});

describe('progress without a terminal', () => {
  it('writes a line per stage with its ETA, and its end', () => {
    const lines: string[] = [];
    const err = { write: (s: string) => lines.push(s) } as unknown as NodeJS.WritableStream;
    const p = makeProgress({ json: false, err, logEvery: 0 });
    p.sink({ stage: "M' ln1.0", done: 0, total: 4 });
    p.sink({ stage: "M' ln1.0", done: 2, total: 4 });
    p.sink({ stage: "M' ln1.0", done: 4, total: 4 });
    expect(lines.length).toBe(3);
    expect(lines[0]).toMatch(/^interbasis: M' ln1\.0 0\/4 \(0%\) ETA -\n$/);
    expect(lines[1]).toMatch(/^interbasis: M' ln1\.0 2\/4 \(50%\) ETA \d+s\n$/);
    expect(lines[2]).toMatch(/^interbasis: M' ln1\.0 4\/4 \(100%\) done in \d+s\n$/);
    // with the default interval a short stage writes nothing
    const quietLines: string[] = [];
    const q = makeProgress({ json: false, err: { write: (s: string) => quietLines.push(s) } as unknown as NodeJS.WritableStream });
    q.sink({ stage: 'grams', done: 0, total: 2 });
    q.sink({ stage: 'grams', done: 2, total: 2 });
    expect(quietLines).toEqual([]);
  });
});

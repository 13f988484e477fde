/**
 * plan → shard → merge without Slurm: the merged results.safetensors equals a one-process build
 * bit for bit for N = 1, 2, 3, 5 shards (MLP closed forms, a final-layer PCA, IG integration, a
 * separate gram_dataset, and sub-sampled mod-add transformers for the attention paths and
 * stochastic sources); the plan and the partial format.
 */
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { initKernels } from '../src/linalg/index.js';
import { decodeValue, encodeValue } from '../src/dist/codec.js';
import { makePlan, readPlan, writePlan } from '../src/dist/plan.nodejs.js';
import { planStatus, runMerge, runPlanLocally, runShard } from '../src/dist/run.nodejs.js';
import { statSync } from 'node:fs';
import { sampleRange } from '../src/dist/stages.js';
import { InlinePool } from '../src/parallel/pool.js';
import { REFDATA } from './helpers/refdata.js';
import { buildBytes, quietLog, runPlanInProcess, tinyMlpConfig, writeTmpConfig } from './dist-helpers.js';
import { modaddConfig, tmpDir } from './rib-helpers.js';

beforeAll(async () => {
  await initKernels();
});

describe('distributed build = one build, bit for bit', () => {
  it.each([1, 2, 3, 5])('tiny MLP, %i shard(s)', async (n) => {
    const cfg = writeTmpConfig(tinyMlpConfig());
    const ref = await buildBytes(cfg, join(tmpDir(), 'ref'));
    const dir = await runPlanInProcess(cfg, n);
    expect(readFileSync(join(dir, 'results.safetensors')).equals(ref)).toBe(true);
  }, 60_000);

  it.each([3, 5])('tiny MLP, edges split over output dimensions (dist_split_over: out_dim), %i shards', async (n) => {
    const cfg = writeTmpConfig(tinyMlpConfig({ dist_split_over: 'out_dim' }));
    const ref = await buildBytes(cfg, join(tmpDir(), 'ref'));
    const dir = await runPlanInProcess(cfg, n);
    expect(readFileSync(join(dir, 'results.safetensors')).equals(ref)).toBe(true);
    const plan = JSON.parse(readFileSync(join(dir, 'plan.json'), 'utf8'));
    expect(plan.stages.at(-1)).toMatchObject({ name: 'edges', split: 'out_dim', samples: null });
  }, 60_000);

  it('final-layer PCA and trapezoidal (1-0)*alpha integration, 3 shards', async () => {
    const cfg = writeTmpConfig(
      tinyMlpConfig({
        node_layers: ['layers.0', 'layers.1', 'layers.2'],
        rotate_final_node_layer: true,
        basis_formula: '(1-0)*alpha',
        integration_method: 'trapezoidal',
        n_intervals: 2,
        dataset: { dataset_type: 'block_vector', size: 700, length: 8, data_variances: [1, 2], seed: 4 },
      }),
    );
    const ref = await buildBytes(cfg, join(tmpDir(), 'ref'));
    const dir = await runPlanInProcess(cfg, 3);
    expect(readFileSync(join(dir, 'results.safetensors')).equals(ref)).toBe(true);
  }, 60_000);

  it('separate gram_dataset, 3 shards', async () => {
    const cfg = writeTmpConfig(tinyMlpConfig({ gram_dataset: { dataset_type: 'block_vector', size: 900, length: 8, data_variances: [1, 2], seed: 8 } }));
    const ref = await buildBytes(cfg, join(tmpDir(), 'ref'));
    const dir = await runPlanInProcess(cfg, 3);
    expect(readFileSync(join(dir, 'results.safetensors')).equals(ref)).toBe(true);
  }, 60_000);

  it.skipIf(!REFDATA)('mod-add with stochastic edge sources (seeded per block) on 140 samples (2 blocks), 2 shards', async () => {
    const cfg = writeTmpConfig(
      modaddConfig(0, 'rib', {
        n_stochastic_sources_edges: 1,
        dataset: { dataset_type: 'modular_arithmetic', return_set: 'train', fn_name: 'add', modulus: 113, frac_train: 0.3, n_samples: 140 },
      }),
    );
    const ref = await buildBytes(cfg, join(tmpDir(), 'ref'));
    const dir = await runPlanInProcess(cfg, 2);
    expect(readFileSync(join(dir, 'results.safetensors')).equals(ref)).toBe(true);
  }, 120_000);

  it.skipIf(!REFDATA).each([2])('mod-add transformer on 700 samples (edges split over out_dim, as the reference config says), %i shards', async (n) => {
    const cfg = writeTmpConfig(modaddConfig(0, 'rib', { dataset: { dataset_type: 'modular_arithmetic', return_set: 'train', fn_name: 'add', modulus: 113, frac_train: 0.3, n_samples: 700 } }));
    const ref = await buildBytes(cfg, join(tmpDir(), 'ref'));
    const dir = await runPlanInProcess(cfg, n);
    expect(readFileSync(join(dir, 'results.safetensors')).equals(ref)).toBe(true);
  }, 120_000);
});

describe('plan', () => {
  it('is deterministic, content-hashed, and lists stages, ranges and input hashes', async () => {
    const cfg = writeTmpConfig(tinyMlpConfig());
    const a = await makePlan(cfg, 3, () => undefined);
    const b = await makePlan(cfg, 3, () => undefined);
    expect(a.plan.planId).toBe(b.plan.planId);
    expect(a.plan.planId).toMatch(/^[0-9a-f]{64}$/);
    expect(a.plan.stages.map((s) => [s.name, s.shards])).toEqual([
      ['sums', 3],
      ['grams', 3],
      ['eig', 1],
      ['mprime.layers.2', 3],
      ['mprime.layers.1', 3],
      ['mprime.layers.0', 3],
      ['edges', 3],
    ]);
    expect(a.plan.shard_ranges.dataset).toEqual([
      [0, 866],
      [866, 1733],
      [1733, 2600],
    ]);
    expect(a.plan.datasets.dataset!.n).toBe(2600);
    expect(a.plan.datasets.dataset!.sha256).toMatch(/^[0-9a-f]{64}$/);
    const c = await makePlan(cfg, 2, () => undefined);
    expect(c.plan.planId).not.toBe(a.plan.planId);
    // a second plan into the same directory is refused; the same plan again is fine
    const dir = join(tmpDir(), 'p');
    await writePlan(dir, a.plan);
    await writePlan(dir, a.plan);
    await expect(writePlan(dir, c.plan)).rejects.toThrow(/holds another plan/);
    expect((await readPlan(dir)).planId).toBe(a.plan.planId);
  });

  it('refuses an edited plan and unknown stages or indices', async () => {
    const cfg = writeTmpConfig(tinyMlpConfig());
    const { plan } = await makePlan(cfg, 2, () => undefined);
    const dir = join(tmpDir(), 'p');
    await writePlan(dir, plan);
    const pool = new InlinePool();
    await expect(runShard(dir, 'nope', 0, pool, quietLog)).rejects.toThrow(/unknown stage 'nope'.*sums, grams/);
    await expect(runShard(dir, 'sums', 2, pool, quietLog)).rejects.toThrow(/--index must be an integer in 0…1/);
    await expect(runShard(dir, 'grams', 0, pool, quietLog)).rejects.toThrow(/stage grams needs the earlier stages complete: stage sums is incomplete:\n  missing shard\(s\): 0, 1/);
    const p = join(dir, 'plan.json');
    const j = JSON.parse(readFileSync(p, 'utf8'));
    j.shards = 3;
    (await import('node:fs')).writeFileSync(p, JSON.stringify(j));
    await expect(readPlan(dir)).rejects.toThrow(/does not match its content/);
  });

  it('rejects saved Grams/Cs (a distributed build computes them)', async () => {
    const cfg = writeTmpConfig(tinyMlpConfig({ gram_matrices_path: cfg0() }));
    await expect(makePlan(cfg, 2, () => undefined)).rejects.toThrow(/gram_matrices_path/);
  });
});

function cfg0(): string {
  return writeTmpConfig(tinyMlpConfig());
}

/** The tiny MLP's one-process build bytes and its plan in `n` shards, written to a new folder. */
async function tinyPlan(n: number) {
  const cfg = writeTmpConfig(tinyMlpConfig());
  const ref = await buildBytes(cfg, join(tmpDir(), 'ref'));
  const { plan } = await makePlan(cfg, n, () => undefined);
  const dir = join(tmpDir(), 'p');
  await writePlan(dir, plan);
  return { ref, plan, dir, pool: new InlinePool() };
}

describe('shards', () => {
  it('rerunning a finished shard does nothing; status follows the partials', async () => {
    const cfg = writeTmpConfig(tinyMlpConfig());
    const { plan } = await makePlan(cfg, 2, () => undefined);
    const dir = join(tmpDir(), 'p');
    await writePlan(dir, plan);
    const pool = new InlinePool();
    const a = await runShard(dir, 'sums', 1, pool, quietLog);
    expect(a.skipped).toBe(false);
    const bytes = readFileSync(a.file);
    const b = await runShard(dir, 'sums', 1, pool, quietLog);
    expect(b.skipped).toBe(true);
    expect(readFileSync(a.file).equals(bytes)).toBe(true);
    expect(readdirSync(join(dir, 'partials', 'sums'))).toEqual([a.file.split('/').pop()]);
    const st = await planStatus(dir);
    expect(st.stages[0]).toMatchObject({ stage: 'sums', done: [1], missing: [0], ready: true });
    expect(st.stages[1]).toMatchObject({ stage: 'grams', ready: false });
  });

  it('interbasis run: a local run on one shard per stage resumes from the partials on disk', async () => {
    const { ref, plan, dir, pool } = await tinyPlan(1);
    // "interrupted" after three stages
    const done = [];
    for (const s of plan.stages.slice(0, 3)) done.push((await runShard(dir, s.name, 0, pool, quietLog)).file);
    const mtimes = done.map((f) => statSync(f).mtimeMs);
    const seen: string[] = [];
    await runPlanLocally(dir, pool, { info: (m) => seen.push(m), warn: () => undefined });
    expect(seen.filter((m) => m.includes('already done'))).toHaveLength(3);
    expect(done.map((f) => statSync(f).mtimeMs)).toEqual(mtimes);
    expect(readFileSync(join(dir, 'results.safetensors')).equals(ref)).toBe(true);
  });

  it('each M′ finish is computed once, saved, and replayed by later shards and the merge; a damaged one is computed again', async () => {
    const { ref, plan, dir, pool } = await tinyPlan(2);
    const said: string[] = [];
    const log = { info: (m: string) => said.push(m), warn: (m: string) => said.push(`warning: ${m}`) };
    for (const s of plan.stages) for (let i = 0; i < s.shards; i++) await runShard(dir, s.name, i, pool, log);
    const line = (stage: string, i: number) => said.find((m) => m.startsWith(`${stage} ${i}:`))!;
    expect(line('mprime.layers.1', 0)).toMatch(/finishes saved: mprime\.layers\.2\)/);
    expect(line('mprime.layers.1', 1)).toMatch(/finishes replayed: layers\.2\)/);
    expect(line('edges', 0)).toMatch(/finishes replayed: layers\.2, layers\.1; finishes saved: mprime\.layers\.0\)/);
    expect(line('edges', 1)).toMatch(/finishes replayed: layers\.2, layers\.1, layers\.0\)/);
    const fdir = join(dir, 'finished');
    const files = readdirSync(fdir).sort();
    expect(files.map((f) => f.split('.').slice(0, -2).join('.'))).toEqual(['mprime.layers.0', 'mprime.layers.1', 'mprime.layers.2']);
    await runMerge(dir, undefined, pool, quietLog);
    expect(readFileSync(join(dir, 'results.safetensors')).equals(ref)).toBe(true);
    // a damaged finish is not used: the merge computes it and the results are the same
    const f = join(fdir, files[1]!);
    const b = readFileSync(f);
    b[b.length - 40] ^= 1;
    writeFileSync(f, b);
    await runMerge(dir, undefined, pool, quietLog, { force: true });
    expect(readFileSync(join(dir, 'results.safetensors')).equals(ref)).toBe(true);
    expect(said.filter((m) => m.startsWith('warning'))).toEqual([]);
  }, 60_000);

  it('sample ranges cover the data once', () => {
    for (const [n, k] of [[10, 3], [3830, 5], [7, 7], [5, 1]] as const) {
      const r = Array.from({ length: k }, (_, i) => sampleRange(n, k, i));
      expect(r[0]![0]).toBe(0);
      expect(r[k - 1]![1]).toBe(n);
      for (let i = 1; i < k; i++) expect(r[i]![0]).toBe(r[i - 1]![1]);
    }
  });

  it('the partial codec keeps every bit (−0, NaN, ±Inf, subnormals, nested records)', () => {
    const v = { M: Float64Array.from([-0, NaN, Infinity, -Infinity, 5e-324, 1 / 3]), Lp: null, attn: true, list: [new Int32Array([1, -2]), { x: -0, y: NaN }] };
    const e = encodeValue(v);
    const d = decodeValue(JSON.parse(JSON.stringify(e.json)), e.data) as typeof v;
    expect(new Uint8Array(d.M.buffer)).toEqual(new Uint8Array(v.M.buffer));
    expect(Object.is(d.list[1] && (d.list[1] as { x: number }).x, -0)).toBe(true);
    expect(Number.isNaN((d.list[1] as { y: number }).y)).toBe(true);
    expect(Array.from(d.list[0] as Int32Array)).toEqual([1, -2]);
    expect(d.Lp).toBeNull();
    expect(d.attn).toBe(true);
  });
});

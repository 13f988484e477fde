/**
 * Faults of a distributed build on disk: a shard killed at any moment (SIGKILL) or a torn write
 * leaves nothing merge accepts and a rerun completes; a corrupted partial is found by its hash and
 * recomputed; a partial of another plan is refused by name; a full disk and a read-only DIR give a
 * clear error. In every case nothing already written is lost and the final result is unchanged.
 * Mounting tmpfs needs root (the two disk tests are skipped otherwise).
 */
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initKernels } from '../src/linalg/index.js';
import { makePlan, writePlan } from '../src/dist/plan.nodejs.js';
import { planStatus, runMerge, runShard } from '../src/dist/run.nodejs.js';
import { InlinePool } from '../src/parallel/pool.js';
import { REPO_ROOT } from './helpers/refdata.js';
import { buildBytes, quietLog, runPlanInProcess, tinyMlpConfig, writeTmpConfig } from './dist-helpers.js';
import { tmpDir } from './rib-helpers.js';

const BIN = join(REPO_ROOT, 'bin', 'interbasis.js');
const pool = new InlinePool();
const isRoot = process.getuid?.() === 0;
let cfg: string;
let ref: Buffer;

beforeAll(async () => {
  await initKernels();
  cfg = writeTmpConfig(tinyMlpConfig());
  ref = await buildBytes(cfg, join(tmpDir(), 'ref'));
});

async function planned(n = 2, dir = join(tmpDir('dist-f-'), 'p')): Promise<string> {
  const { plan } = await makePlan(cfg, n, () => undefined);
  await writePlan(dir, plan);
  return dir;
}

async function runStages(dir: string, stages?: string[]): Promise<void> {
  const st = await planStatus(dir);
  for (const s of st.plan.stages) {
    if (stages && !stages.includes(s.name)) continue;
    for (let i = 0; i < s.shards; i++) await runShard(dir, s.name, i, pool, quietLog);
  }
}

const partFiles = (dir: string, stage: string) => readdirSync(join(dir, 'partials', stage)).filter((f) => f.endsWith('.part'));
const snapshot = (dir: string, stage: string) => new Map(partFiles(dir, stage).map((f) => [f, readFileSync(join(dir, 'partials', stage, f))]));

describe('killed shards', () => {
  it('a shard killed with SIGKILL at any moment leaves no accepted partial; a rerun completes', async () => {
    const dir = await planned(2);
    await runStages(dir, ['sums', 'grams', 'eig', 'mprime.layers.2', 'mprime.layers.1', 'mprime.layers.0']);
    for (const delay of [150, 400, 800]) {
      rmSync(join(dir, 'partials', 'edges'), { recursive: true, force: true });
      const child = spawn(process.execPath, [BIN, 'shard', dir, '--stage', 'edges', '--index', '0'], { stdio: 'ignore' });
      const exited = new Promise((r) => child.once('exit', r));
      await new Promise((r) => setTimeout(r, delay));
      child.kill('SIGKILL');
      await exited;
      const st = (await planStatus(dir)).stages.find((s) => s.stage === 'edges')!;
      // either the rename happened (a complete, verified partial) or there is none
      expect(st.corrupt).toEqual([]);
      expect(st.done.length + st.missing.length).toBe(2);
    }
    await runStages(dir, ['edges']);
    await runMerge(dir, undefined, pool, quietLog);
    expect(readFileSync(join(dir, 'results.safetensors')).equals(ref)).toBe(true);
  }, 60_000);

  it('a torn write (half a file under the final name, a temp remnant) is refused, named and recomputed', async () => {
    const dir = await runPlanInProcess(cfg, 2);
    const before = snapshot(dir, 'grams');
    const name = partFiles(dir, 'grams').find((f) => f.startsWith('1.'))!;
    const file = join(dir, 'partials', 'grams', name);
    const good = readFileSync(file);
    writeFileSync(file, good.subarray(0, good.length >> 1));
    writeFileSync(join(dir, 'partials', 'grams', `.${name}.tmp-99999-abcdef`), good.subarray(0, 100));
    await expect(runMerge(dir, 'grams', pool, quietLog)).rejects.toThrow(
      new RegExp(`stage grams is incomplete:\\n  corrupt shard 1: partials/grams/${name.replace(/\./g, '\\.')}: content hash mismatch[^]*rerun: interbasis shard ".*" --stage grams --index 1`),
    );
    const r = spawnSync(process.execPath, [BIN, 'merge', dir, '--force'], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/corrupt shard 1/);
    await runShard(dir, 'grams', 1, pool, quietLog);
    expect(snapshot(dir, 'grams')).toEqual(before);
    await runMerge(dir, undefined, pool, quietLog, { force: true });
    expect(readFileSync(join(dir, 'results.safetensors')).equals(ref)).toBe(true);
  }, 60_000);
});

describe('bad partials', () => {
  it('a corrupted byte is found by the hash and the shard recomputed', async () => {
    const dir = await runPlanInProcess(cfg, 3);
    const name = partFiles(dir, 'edges').find((f) => f.startsWith('2.'))!;
    const file = join(dir, 'partials', 'edges', name);
    const good = readFileSync(file);
    const bad = Buffer.from(good);
    bad[bad.length >> 1] ^= 0x10;
    writeFileSync(file, bad);
    const st = (await planStatus(dir)).stages.find((s) => s.stage === 'edges')!;
    expect(st.missing).toEqual([2]);
    expect(st.corrupt).toEqual([`partials/edges/${name}`]);
    await expect(runMerge(dir, undefined, pool, quietLog, { force: true })).rejects.toThrow(/corrupt shard 2: .*content hash mismatch/);
    const r = await runShard(dir, 'edges', 2, pool, quietLog);
    expect(r.skipped).toBe(false);
    expect(readFileSync(file).equals(good)).toBe(true);
    await runMerge(dir, undefined, pool, quietLog, { force: true });
    expect(readFileSync(join(dir, 'results.safetensors')).equals(ref)).toBe(true);
  }, 60_000);

  it('a partial of another config is refused by name', async () => {
    const dir = await planned(2);
    await runStages(dir, ['sums']);
    const otherCfg = writeTmpConfig(tinyMlpConfig({ exp_name: 'other_mlp', seed: 7, dataset: { dataset_type: 'block_vector', size: 2600, length: 8, data_variances: [1, 2], seed: 9 } }));
    const other = join(tmpDir(), 'other');
    const { plan } = await makePlan(otherCfg, 2, () => undefined);
    await writePlan(other, plan);
    await runShard(other, 'sums', 0, pool, quietLog);
    const foreign = partFiles(other, 'sums')[0]!;
    const mine = snapshot(dir, 'sums');
    rmSync(join(dir, 'partials', 'sums', [...mine.keys()].find((f) => f.startsWith('0.'))!));
    copyFileSync(join(other, 'partials', 'sums', foreign), join(dir, 'partials', 'sums', foreign));
    await expect(runMerge(dir, 'sums', pool, quietLog)).rejects.toThrow(
      new RegExp(`refusing partials of another plan: partials/sums/${foreign.replace(/\./g, '\\.')} \\(plan ${plan.planId.slice(0, 12)}, config other_mlp\\)`),
    );
    await expect(runShard(dir, 'grams', 0, pool, quietLog)).rejects.toThrow(/another plan/);
    expect((await planStatus(dir)).stages[0]!.foreign).toEqual([`partials/sums/${foreign}`]);
  }, 60_000);
});

describe.skipIf(!isRoot)('disk faults (tmpfs, root)', () => {
  const mounts: string[] = [];
  const mount = (dir: string, opts: string) => {
    mkdirSync(dir, { recursive: true });
    const r = spawnSync('mount', ['-t', 'tmpfs', '-o', opts, 'tmpfs', dir], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`mount tmpfs failed: ${r.stderr}`);
    mounts.push(dir);
  };
  afterAll(() => {
    for (const m of mounts.reverse()) spawnSync('umount', [m]);
  });

  it('a full disk: clear error, earlier partials intact, a rerun with space completes', async () => {
    const mnt = join(tmpDir(), 'small');
    mount(mnt, 'size=1m');
    const dir = await planned(2, join(mnt, 'p'));
    await runStages(dir, ['sums']);
    const sums = snapshot(dir, 'sums');
    mkdirSync(join(dir, 'partials', 'grams'));
    // leave a few hundred bytes free
    const fill = join(mnt, 'fill');
    const free = () => Number(spawnSync('df', ['-B1', '--output=avail', mnt], { encoding: 'utf8' }).stdout.split('\n')[1]);
    writeFileSync(fill, Buffer.alloc(Math.max(0, free() - 4096)));
    while (free() > 512) writeFileSync(join(mnt, `f${free()}`), Buffer.alloc(256));
    await expect(runShard(dir, 'grams', 0, pool, quietLog)).rejects.toThrow(/cannot write .*(ENOSPC|no space left)/i);
    expect(snapshot(dir, 'sums')).toEqual(sums);
    expect(partFiles(dir, 'grams')).toEqual([]);
    expect(readdirSync(join(dir, 'partials', 'grams')).filter((f) => f.includes('.tmp-'))).toEqual([]);
    for (const f of readdirSync(mnt)) if (f === 'fill' || /^f\d+$/.test(f)) rmSync(join(mnt, f));
    await runStages(dir, ['grams', 'eig', 'mprime.layers.2', 'mprime.layers.1', 'mprime.layers.0', 'edges']);
    await runMerge(dir, undefined, pool, quietLog);
    expect(readFileSync(join(dir, 'results.safetensors')).equals(ref)).toBe(true);
  }, 60_000);

  it('a read-only DIR: clear error before any work, nothing lost', async () => {
    const mnt = join(tmpDir(), 'ro');
    mount(mnt, 'size=8m');
    const dir = await planned(2, join(mnt, 'p'));
    await runStages(dir, ['sums']);
    const sums = snapshot(dir, 'sums');
    const r = spawnSync('mount', ['-o', 'remount,ro', mnt], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    await expect(runShard(dir, 'grams', 1, pool, quietLog)).rejects.toThrow(/cannot write partial results into .*partials\/grams: EROFS/);
    const cli = spawnSync(process.execPath, [BIN, 'shard', dir, '--stage', 'grams', '--index', '1'], { encoding: 'utf8' });
    expect(cli.status).toBe(2);
    expect(cli.stderr).toMatch(/interbasis: error: .*read-only|EROFS/);
    expect(snapshot(dir, 'sums')).toEqual(sums);
  }, 60_000);
});

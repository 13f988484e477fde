/**
 * `interbasis build` on the stage graph: a build killed with SIGKILL once some stages' partials are
 * on disk resumes from them when the same command runs again (fewer stages run, the same bytes as
 * an uninterrupted build); a changed config never reuses them; the partials go away after success
 * unless --keep-partials, and a kept directory is a one-shard plan that `interbasis merge` reads.
 * The CLI subprocess runs the compiled dist/ (npm run build:ts).
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { initKernels } from '../src/linalg/index.js';
import { planStatus, runMerge } from '../src/dist/run.nodejs.js';
import { InlinePool } from '../src/parallel/pool.js';
import { REPO_ROOT } from './helpers/refdata.js';
import { quietLog, tinyMlpConfig, writeTmpConfig } from './dist-helpers.js';
import { tmpDir } from './rib-helpers.js';

const BIN = join(REPO_ROOT, 'bin', 'interbasis.js');
const STATE = '.interbasis-build';

// enough samples and layers that the stages after the first take a while
const bigger = (extra: Record<string, unknown> = {}) =>
  tinyMlpConfig({
    modular_mlp_config: { n_hidden_layers: 4, width: 24, first_block_width: 8, weight_variances: [1, 1], bias: 0.1, activation_fn: 'relu', seed: 1 },
    node_layers: ['layers.0', 'layers.1', 'layers.2', 'layers.3', 'layers.4', 'output'],
    dataset: { dataset_type: 'block_vector', size: 20000, length: 24, data_variances: [1, 2], seed: 3 },
    batch_size: 500,
    ...extra,
  });

function build(cfg: string, out: string, ...args: string[]) {
  const r = spawnSync(process.execPath, [BIN, 'build', cfg, '--out', out, '--workers', '1', ...args], { encoding: 'utf8', timeout: 180_000 });
  expect(r.status, r.stderr).toBe(0);
  return r;
}

const partials = (out: string): string[] => {
  const root = join(out, STATE, 'partials');
  if (!existsSync(root)) return [];
  return readdirSync(root).flatMap((s) => readdirSync(join(root, s)).filter((f) => f.endsWith('.part')).map((f) => `${s}/${f}`));
};

/** Starts a build and SIGKILLs it as soon as `atLeast` stages' partials are on disk. */
async function killMidway(cfg: string, out: string, atLeast: number): Promise<string[]> {
  const child = spawn(process.execPath, [BIN, 'build', cfg, '--out', out, '--workers', '1'], { stdio: 'ignore' });
  let code: number | null = null;
  const exited = new Promise<void>((r) => child.once('exit', (c) => ((code = c), r())));
  let seen: string[] = [];
  while (code === null) {
    seen = partials(out);
    if (seen.length >= atLeast) {
      child.kill('SIGKILL');
      break;
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  await exited;
  if (code !== null) throw new Error(`the build ended (exit ${code}) before ${atLeast} stage partial(s) were on disk: make the test build bigger`);
  return partials(out);
}

let cfg: string;
let ref: Buffer;

beforeAll(async () => {
  await initKernels();
  cfg = writeTmpConfig(bigger());
  // the plain build (no stage graph, no partials) is the reference
  const out = join(tmpDir(), 'ref');
  build(cfg, out, '--no-partials');
  ref = readFileSync(join(out, 'results.safetensors'));
}, 180_000);

describe('interbasis build resumes from its partials', () => {
  it('killed after some stages, the same command resumes and gives the same bytes', async () => {
    const out = join(tmpDir(), 'o');
    const left = await killMidway(cfg, out, 2);
    expect(existsSync(join(out, 'results.safetensors'))).toBe(false);
    const r = build(cfg, out);
    const m = /resuming from .*: (\d+) of (\d+) stages done/.exec(r.stderr);
    expect(m, r.stderr).not.toBeNull();
    const [done, total] = [Number(m![1]), Number(m![2])];
    expect(done).toBeGreaterThanOrEqual(2);
    expect(done).toBeLessThanOrEqual(left.length);
    expect(done).toBeLessThan(total);
    expect(readFileSync(join(out, 'results.safetensors')).equals(ref)).toBe(true);
    // removed after success
    expect(existsSync(join(out, STATE))).toBe(false);
  }, 180_000);

  it('a changed config does not reuse the partials of the old one', async () => {
    const out = join(tmpDir(), 'o');
    await killMidway(cfg, out, 1);
    const cfg2 = writeTmpConfig(bigger({ dataset: { dataset_type: 'block_vector', size: 20000, length: 24, data_variances: [1, 2], seed: 4 } }));
    const r = build(cfg2, out);
    expect(r.stderr).toMatch(/holds partials of another config, model or data set .*removing them/);
    expect(r.stderr).not.toMatch(/resuming/);
    const out2 = join(tmpDir(), 'o2');
    build(cfg2, out2, '--no-partials');
    expect(readFileSync(join(out, 'results.safetensors')).equals(readFileSync(join(out2, 'results.safetensors')))).toBe(true);
    expect(readFileSync(join(out, 'results.safetensors')).equals(ref)).toBe(false);
  }, 180_000);

  it('--keep-partials leaves a complete one-shard plan that merge folds into the same results', async () => {
    const small = writeTmpConfig(tinyMlpConfig());
    const out = join(tmpDir(), 'o');
    build(small, out, '--keep-partials');
    const dir = join(out, STATE);
    const st = await planStatus(dir);
    expect(st.plan.shards).toBe(1);
    expect(st.stages.map((s) => s.missing.length + s.corrupt.length + s.foreign.length)).toEqual(st.stages.map(() => 0));
    await runMerge(dir, undefined, new InlinePool(), quietLog);
    expect(readFileSync(join(dir, 'results.safetensors')).equals(readFileSync(join(out, 'results.safetensors')))).toBe(true);
    // and a rerun into the same folder replays every stage
    const again = join(tmpDir(), 'again');
    build(small, again, '--keep-partials');
    const r = spawnSync(process.execPath, [BIN, 'build', small, '--out', again, '--workers', '1', '--force'], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(new RegExp(`resuming from .*: ${st.stages.length} of ${st.stages.length} stages done`));
    expect(readFileSync(join(again, 'results.safetensors')).equals(readFileSync(join(out, 'results.safetensors')))).toBe(true);
  }, 180_000);
});

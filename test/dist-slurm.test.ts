/**
 * `interbasis slurm submit` on a real one-node Slurm (scripts/slurm-local.sh, started here when
 * running as root on Debian; under CI=true a missing Slurm fails these tests instead of skipping):
 * mod-add seed 0 and the MNIST MLP as 3 shards with --wait, merged results bit-identical to
 * `interbasis build`; a cancelled job array makes submit exit non-zero, leaves no accepted partial,
 * and submitting again runs only what is missing. The jobs run the compiled dist/.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initKernels } from '../src/linalg/index.js';
import { planStatus } from '../src/dist/run.nodejs.js';
import { REFDATA, REPO_ROOT, ref } from './helpers/refdata.js';
import { buildBytes, tinyMlpConfig, writeTmpConfig } from './dist-helpers.js';
import { modaddConfig, tmpDir } from './rib-helpers.js';

const BIN = join(REPO_ROOT, 'bin', 'interbasis.js');
const SCRIPT = join(REPO_ROOT, 'scripts', 'slurm-local.sh');
const CI = process.env.CI === 'true' || process.env.CI === '1';

/** A cluster that was already running (started by hand) is left running afterwards. */
let startedHere = false;

/** Starts the local cluster when we can; returns why not otherwise. */
function startSlurm(): string | null {
  if (process.getuid?.() !== 0) return 'not root';
  if (!existsSync('/etc/debian_version')) return 'not Debian';
  startedHere = spawnSync('bash', [SCRIPT, 'status'], { encoding: 'utf8' }).status !== 0;
  const r = spawnSync('bash', [SCRIPT, 'start'], { encoding: 'utf8', timeout: 600_000 });
  if (r.status !== 0) return `scripts/slurm-local.sh start failed: ${r.stderr}`;
  return null;
}

const why = startSlurm();
if (why && CI) throw new Error(`a local Slurm is required under CI=true: ${why}`);
if (why) console.warn(`[skip] Slurm tests: ${why}`);

afterAll(() => {
  if (!why && startedHere) spawnSync('bash', [SCRIPT, 'stop'], { encoding: 'utf8', timeout: 120_000 });
});

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

function cli(args: string[]): Promise<Run> {
  return new Promise((res) => {
    const p = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('close', (status) => res({ status, stdout, stderr }));
  });
}

const squeue = (): string => spawnSync('squeue', ['-h', '-o', '%i %j %T'], { encoding: 'utf8' }).stdout;

describe.skipIf(!!why)('interbasis slurm (real single-node Slurm)', () => {
  beforeAll(async () => {
    await initKernels();
  });

  it.skipIf(!REFDATA)('mod-add seed 0 and the MNIST MLP as 3 shards: merged results = interbasis build, bit for bit', async () => {
    const mnist = writeTmpConfig({
      exp_name: 'mnist_rib',
      model: { type: 'mlp', path: ref('mnist_mlp', 'model.safetensors') },
      node_layers: ['layers.0', 'layers.1', 'layers.2', 'output'],
      dataset: { dataset_type: 'torchvision', name: 'MNIST', return_set: 'test' },
      batch_size: 512,
      truncation_threshold: 1e-15,
      basis_formula: 'jacobian',
      edge_formula: 'squared',
      rotate_final_node_layer: false,
      out_dir: null,
    });
    const modadd = writeTmpConfig(modaddConfig(0, 'rib'));
    const root = tmpDir('dist-slurm-');
    const runs = Promise.all([
      cli(['slurm', 'submit', modadd, '--shards', '3', '--out', join(root, 'modadd'), '--wait']),
      cli(['slurm', 'submit', mnist, '--shards', '3', '--out', join(root, 'mnist'), '--wait']),
    ]);
    // the reference builds run here while Slurm schedules the jobs
    const refA = await buildBytes(modadd, join(root, 'ref-modadd'));
    const refB = await buildBytes(mnist, join(root, 'ref-mnist'));
    const [a, b] = await runs;
    expect(a.status, a.stderr).toBe(0);
    expect(b.status, b.stderr).toBe(0);
    expect(readFileSync(join(root, 'modadd', 'results.safetensors')).equals(refA)).toBe(true);
    expect(readFileSync(join(root, 'mnist', 'results.safetensors')).equals(refB)).toBe(true);
    // job scripts are in DIR and the status reads the partials
    expect(readFileSync(join(root, 'modadd', 'slurm', 'grams.sh'), 'utf8')).toMatch(/shard '.*modadd' --stage 'grams' --index "\$SLURM_ARRAY_TASK_ID"/);
    const st = await cli(['slurm', 'status', join(root, 'modadd')]);
    expect(st.stdout).toMatch(/mprime\.ln1\.0\s+3\/3\s+merged/);
    expect(st.stdout).toMatch(/results: results\.safetensors written/);
  }, 300_000);

  it('a cancelled job array: submit exits non-zero, no partial is accepted, submitting again runs only what is missing', async () => {
    const cfg = writeTmpConfig(tinyMlpConfig());
    const dir = join(tmpDir('dist-slurm-'), 'p');
    const first = cli(['slurm', 'submit', cfg, '--shards', '3', '--out', dir, '--wait']);
    // cancel the grams array while it runs (or, if it is already done, the first array still there)
    let cancelled = '';
    for (let k = 0; k < 600 && !cancelled; k++) {
      const lines = squeue().split('\n').filter((l) => l.includes('-grams ') || l.includes('-eig '));
      const running = lines.find((l) => l.endsWith('RUNNING')) ?? (k > 300 ? lines[0] : undefined);
      if (running) {
        cancelled = running.split(' ')[0]!.split('_')[0]!;
        spawnSync('scancel', [cancelled]);
      } else await new Promise((r) => setTimeout(r, 50));
    }
    const r1 = await first;
    expect(cancelled, r1.stderr).not.toBe('');
    expect(r1.status).toBe(1);
    expect(r1.stderr).toMatch(/did not complete:[^]*(CANCELLED|FAILED)/);
    const st = await planStatus(dir);
    for (const s of st.stages) expect(s.corrupt, s.stage).toEqual([]);
    expect(st.results).toBe(false);
    const sumsDone = st.stages[0]!.missing.length === 0;
    for (let k = 0; k < 300 && /ib-\S+ (PENDING|RUNNING|CONFIGURING)/.test(squeue()); k++) await new Promise((r) => setTimeout(r, 100));
    const r2 = await cli(['slurm', 'submit', cfg, '--shards', '3', '--out', dir, '--wait', '--json']);
    expect(r2.status, r2.stderr).toBe(0);
    const jobs = (JSON.parse(r2.stdout) as { jobs: Array<{ stage: string }> }).jobs.map((j) => j.stage);
    if (sumsDone) expect(jobs).not.toContain('sums');
    expect(jobs[jobs.length - 1]).toBe('merge');
    const refBytes = await buildBytes(cfg, join(tmpDir(), 'ref'));
    expect(readFileSync(join(dir, 'results.safetensors')).equals(refBytes)).toBe(true);
    // a third submission has nothing to do
    const r3 = await cli(['slurm', 'submit', cfg, '--shards', '3', '--out', dir, '--json']);
    expect(r3.status, r3.stderr).toBe(0);
    expect(JSON.parse(r3.stdout).jobs).toEqual([]);
  }, 240_000);

  it('submitting while jobs of the plan are queued is refused; --sbatch-arg reaches sbatch and the scripts', async () => {
    const cfg = writeTmpConfig(tinyMlpConfig());
    const dir = join(tmpDir('dist-slurm-'), 'p');
    const r1 = await cli(['slurm', 'submit', cfg, '--shards', '2', '--out', dir, '--sbatch-arg=--begin=now+600', '--json']);
    expect(r1.status, r1.stderr).toBe(0);
    const ids = (JSON.parse(r1.stdout) as { jobs: Array<{ jobId: string }> }).jobs.map((j) => j.jobId);
    try {
      expect(ids.length).toBe(8);
      expect(readFileSync(join(dir, 'slurm', 'sums.sh'), 'utf8')).toMatch(/^#SBATCH --begin=now\+600$/m);
      const r2 = await cli(['slurm', 'submit', cfg, '--shards', '2', '--out', dir]);
      expect(r2.status).toBe(2);
      expect(r2.stderr).toMatch(new RegExp(`jobs of this plan are still in the queue: ${ids[0]}`));
    } finally {
      spawnSync('scancel', ids);
    }
  }, 120_000);
});

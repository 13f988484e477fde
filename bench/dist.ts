/**
 * Overhead of a distributed build: the seed-0 mod-add rib build as one `interbasis build` (1
 * worker) against plan + 3 shards of every stage + merge, run one after the other on this machine
 * (so the row is the total work, not the wall time of 3 nodes). Two forms: in one process (the
 * work a shard repeats: its forward pass, replaying earlier stages, the finishes of the layers
 * above it) and as separate CLI processes (adds Node start-up, model and data loading per shard).
 * Needs ../shared/refdata (or INTERBASIS_REFDATA).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { refdata } from './refdata.js';
import type { BenchContext, BenchRow } from './harness.js';
import { initKernels } from '../src/linalg/index.js';
import '../src/tasks.js';
import { runBuildCli } from '../src/cli/build.js';
import { makePlan, writePlan } from '../src/dist/plan.nodejs.js';
import { runMerge, runShard } from '../src/dist/run.nodejs.js';
import { InlinePool } from '../src/parallel/pool.js';

const here = dirname(fileURLToPath(import.meta.url));
// bench/ (sources) or dist/bench/ (compiled)
const BIN = [resolve(here, '..', 'bin', 'interbasis.js'), resolve(here, '..', '..', 'bin', 'interbasis.js')].find((p) => existsSync(p)) ?? 'bin/interbasis.js';


const quiet = { log: { info: () => undefined, warn: () => undefined }, io: { out: { write: () => true } as unknown as NodeJS.WritableStream, err: { write: () => true } as unknown as NodeJS.WritableStream } };

function cli(args: string[]): void {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`interbasis ${args.join(' ')} failed: ${r.stderr}`);
}

async function timed(f: () => Promise<void> | void): Promise<number> {
  const t = performance.now();
  await f();
  return (performance.now() - t) / 1000;
}

export async function run(ctx: BenchContext): Promise<BenchRow[]> {
  const rd = refdata();
  if (!rd) return [{ group: 'dist/modadd-seed0', name: 'skipped', size: '-', seconds: NaN, note: 'refdata not found' }];
  await initKernels();
  const root = mkdtempSync(join(tmpdir(), 'bench-dist-'));
  const cfg = join(root, 'c.yaml');
  writeFileSync(
    cfg,
    stringify({
      exp_name: 'bench_dist_modadd',
      out_dir: null,
      tlens_model_path: resolve(rd, 'modadd/seed0/model.safetensors'),
      last_pos_module_type: 'add_resid1',
      dataset: { dataset_type: 'modular_arithmetic', return_set: 'train', fn_name: 'add', modulus: 113, frac_train: 0.3 },
      node_layers: ['ln1.0', 'ln2.0', 'unembed', 'output'],
      rotate_final_node_layer: false,
      batch_size: 99999,
      truncation_threshold: 1e-15,
      basis_formula: 'jacobian',
      edge_formula: 'squared',
    }),
  );
  const reps = ctx.quick ? 1 : 2;
  const best = async (f: (k: number) => Promise<void> | void) => {
    let b = Infinity;
    for (let k = 0; k < reps; k++) b = Math.min(b, await timed(() => f(k)));
    return b;
  };
  const size = '3830 samples, 3 shards';
  const rows: BenchRow[] = [];
  try {
    const build = await best((k) => runBuildCli(cfg, { out: join(root, `b${k}`), workers: 1 }, quiet.io).then(() => undefined));
    rows.push({ group: 'dist/modadd-seed0', name: 'build (1 process, 1 worker)', size, seconds: build });
    const pool = new InlinePool();
    const inproc = await best(async (k) => {
      const dir = join(root, `p${k}`);
      const { plan } = await makePlan(cfg, 3, () => undefined);
      await writePlan(dir, plan);
      for (const s of plan.stages) for (let i = 0; i < s.shards; i++) await runShard(dir, s.name, i, pool, quiet.log);
      await runMerge(dir, undefined, pool, quiet.log);
    });
    rows.push({ group: 'dist/modadd-seed0', name: 'plan + 3 shards/stage + merge, in one process', size, seconds: inproc, baseline: 'build (1 process, 1 worker)', ratio: build / inproc, note: `${(inproc / build).toFixed(2)}× the work of one build` });
    const cliBuild = await best((k) => cli(['build', cfg, '--out', join(root, `cb${k}`), '--workers', '1']));
    rows.push({ group: 'dist/modadd-seed0', name: 'interbasis build --workers 1 (CLI)', size, seconds: cliBuild });
    const cliDist = await best(async (k) => {
      const dir = join(root, `cp${k}`);
      cli(['plan', cfg, '--shards', '3', '--out', dir]);
      const { plan } = await makePlan(cfg, 3, () => undefined);
      for (const s of plan.stages) for (let i = 0; i < s.shards; i++) cli(['shard', dir, '--stage', s.name, '--index', String(i)]);
      cli(['merge', dir]);
    });
    rows.push({
      group: 'dist/modadd-seed0',
      name: 'plan + shard processes + merge (CLI, sequential)',
      size,
      seconds: cliDist,
      baseline: 'interbasis build --workers 1 (CLI)',
      ratio: cliBuild / cliDist,
      note: `${(cliDist / cliBuild).toFixed(2)}× one CLI build; ${ctx.quick ? 1 : reps} run(s), best`,
    });
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  return rows;
}

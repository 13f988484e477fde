/**
 * The model and the dataset of a RIB result, for `ablate`, `labels` and `report`: the build
 * config stored in the results names them, and an override (the ablation config's model keys,
 * `--model`) wins. Both go through the one model resolver and dataset loader of
 * src/rib/inputs.nodejs.ts.
 */
import { existsSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { UserError } from '../errors.js';
import type { Dataset } from '../data/types.js';
import type { Model } from '../models/types.js';
import type { RibResults } from '../io/results.js';
import type { DatasetConfig } from '../rib/config.js';
import { checkpointTrainingDataset, loadDataset, loadModelSource, modelSourceOf, type ModelKeys, type ModelSource } from '../rib/inputs.nodejs.js';

/** A model file given explicitly (paths already absolute). */
export interface ModelOverride {
  type?: 'mlp' | 'transformer';
  path: string;
  config?: string | null;
}

const HINT =
  'give the model explicitly: `model: {type: transformer, path: model.safetensors}` (or `tlens_model_path` / `mlp_path`) in the ablation config, or --model on the command line';

/** The model source of `results`: the build config it carries, paths relative to the results' folder. */
export function resultsModelSource(results: RibResults, resultsPath: string): ModelSource | null {
  const base = dirname(resolve(resultsPath));
  return modelSourceOf((results.config ?? {}) as ModelKeys, (p) => (isAbsolute(p) ? p : resolve(base, p)));
}

/** Every file of a model source exists (a UserError naming the missing one otherwise). */
function checkModelFiles(src: ModelSource, what: string): void {
  if (src.kind !== 'file') return;
  if (!existsSync(src.path)) throw new UserError(`${what}: ${src.path}; ${HINT}`);
  if (src.config && !existsSync(src.config)) throw new UserError(`model config not found: ${src.config}`);
}

/**
 * The model for `results`: `override` (a model source, or a model file) wins; otherwise the
 * results' own build config. A path that does not exist is a UserError that explains the override.
 */
export async function modelForResults(results: RibResults, resultsPath: string, override?: ModelSource | ModelOverride | null): Promise<Model> {
  if (override) {
    const src: ModelSource = 'kind' in override ? override : { kind: 'file', key: 'model.path', type: override.type, path: override.path, config: override.config ?? null };
    checkModelFiles(src, 'model checkpoint not found');
    return loadModelSource(src);
  }
  const src = resultsModelSource(results, resultsPath);
  if (!src) throw new UserError(`the RIB results ${resultsPath} name no model (no tlens_model_path, mlp_path, model or modular_mlp_config); ${HINT}`);
  checkModelFiles(src, 'the model the RIB results were built from does not exist here');
  return loadModelSource(src);
}

/**
 * Build the dataset of an ablation config. Modular-arithmetic values it leaves null come from the
 * dataset of the RIB build, then from the model checkpoint's training config.
 */
export async function datasetFromConfig(
  d: DatasetConfig,
  results?: RibResults,
  o: { model?: ModelSource | null; warn?: (m: string) => void } = {},
): Promise<Dataset> {
  const built = ((results?.config as Record<string, unknown> | undefined)?.dataset ?? {}) as Record<string, unknown>;
  const known = Object.fromEntries(Object.entries(built).filter(([, v]) => v !== null && v !== undefined));
  return loadDataset(d, {
    key: 'dataset',
    warn: o.warn ?? (() => undefined),
    defaults: {
      what: "the RIB build's",
      load: async () => ({ ...((await checkpointTrainingDataset(o.model ?? null).catch(() => null)) ?? {}), ...known }),
    },
  });
}

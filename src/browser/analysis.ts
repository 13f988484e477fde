/**
 * Ablations and Fourier labels in the browser: the same `runAblation` / `modAddLabels` as the
 * CLI, with the model and data read from browser inputs.
 */
import { UserError } from '../errors.js';
import type { RibResults } from '../io/results.js';
import type { Model } from '../models/types.js';
import { parseAblationConfig, runAblation, type AblationOutput, type AblationProgress } from '../analysis/ablation.js';
import { resolveDataset } from '../rib/dataset.js';
import { modAddLabels } from '../analysis/labels.js';
import { InputFiles, parseStructured, type BrowserFile } from './inputs.js';
import { loadModelFor, type ModelSource } from './model.js';
import { abortable, acquirePool, loadKernels, type PoolOptions } from './runtime.js';

export interface BrowserAblateOptions extends PoolOptions {
  /** ablation config (the `interbasis ablate` format): YAML text or object; rib_results_path is ignored */
  config: string | Record<string, unknown>;
  results: RibResults;
  files?: Record<string, BrowserFile> | Map<string, BrowserFile> | Iterable<File>;
  baseUrl?: string | URL;
  /** the model, when already loaded (else from the config's model / the results' config) */
  model?: Model;
  signal?: AbortSignal;
  onProgress?: (p: AblationProgress) => void;
}

/** The model a config or the results name, read from the inputs. */
export async function loadModelFromFiles(source: ModelSource, files?: BrowserAblateOptions['files'], baseUrl?: string | URL): Promise<Model> {
  return (await loadModelFor(source, new InputFiles(files, baseUrl ?? null))).model;
}

/** Runs a node or edge ablation on the worker pool; the output serialises with ablationJson. */
export async function ablate(o: BrowserAblateOptions): Promise<AblationOutput> {
  const raw = typeof o.config === 'string' ? parseStructured(new TextEncoder().encode(o.config), 'ablation config') : o.config;
  const config = parseAblationConfig(raw);
  const inputs = new InputFiles(o.files, o.baseUrl ?? null, o.signal);
  const rc = (o.results.config ?? {}) as ModelSource;
  const source: ModelSource = config.model || config.tlens_model_path || config.mlp_path ? { model: config.model ?? null, tlens_model_path: config.tlens_model_path, mlp_path: config.mlp_path } : rc;
  const model = o.model ?? (await abortable(loadModelFor(source, inputs), o.signal)).model;
  // modular-arithmetic values the config leaves null come from the RIB build's dataset
  const built = ((o.results.config as Record<string, unknown> | undefined)?.dataset ?? {}) as Record<string, unknown>;
  const known = Object.fromEntries(Object.entries(built).filter(([, v]) => v !== null && v !== undefined));
  const dataset = await resolveDataset(config.dataset, 'dataset', {
    warn: () => undefined,
    defaults: { what: "the RIB build's", load: async () => known },
    file: async () => {
      throw new UserError('ablation config: file datasets are not available in the browser ablation; use the dataset of the build');
    },
    torchvision: async (t) => {
      throw new UserError(`ablation config: torchvision ${t.name} is not available in the browser`);
    },
  });
  const { pool, release } = await acquirePool(o, o.signal);
  try {
    return await abortable(runAblation({ config, results: o.results, model, dataset, pool, onProgress: o.onProgress }), o.signal);
  } finally {
    await release();
  }
}

/** Fourier labels of a mod-add build's RIB directions (the labels_*.csv table). */
export async function labels(results: RibResults, model: Model, opts: { modulus?: number; maxDim?: number } = {}): Promise<ReturnType<typeof modAddLabels>> {
  await loadKernels();
  return modAddLabels(results, model, opts);
}

/**
 * `build({ config, files, signal, onProgress })`: the LIB build (`ribBuild`) in a browser tab, on
 * the comlink worker pool (one Wasm instance per worker). Every input is read and checked before
 * the build starts; the results are the same tensors (and results.safetensors bytes) as Node's
 * for any worker count.
 */
import { UserError } from '../errors.js';
import type { Dataset } from '../data/types.js';
import { tensorToDataset } from '../data/tensor-dataset.js';
import { parseNpy } from '../data/npy.js';
import { parseSafetensors } from '../io/safetensors.js';
import type { RibResults } from '../io/results.js';
import type { Tensor } from '../io/tensor.js';
import type { TaskPool } from '../parallel/pool.js';
import { parseBuildConfig, type BuildConfig } from '../rib/config.js';
import { ribBuild, type ProgressEvent } from '../rib/build.js';
import { resolveDataset } from '../rib/dataset.js';
import { dirName, InputFiles, parseStructured, type BrowserFile } from './inputs.js';
import { loadModelFor } from './model.js';
import { resultsBytes, resultsFromBytes, resultsJsonText } from './results.js';
import { abortError, abortable, acquirePool, type PoolOptions } from './runtime.js';

export interface BrowserBuildOptions extends PoolOptions {
  /** The build config: YAML (or JSON) text, or the parsed object (the `interbasis build` format). */
  config: string | Record<string, unknown>;
  /** Files the config names, by path (or by file name): checkpoint, model config, dataset, saved results. */
  files?: Record<string, BrowserFile> | Map<string, BrowserFile> | Iterable<File>;
  /** Paths not in `files` are fetched relative to this URL (e.g. the config's URL). */
  baseUrl?: string | URL;
  signal?: AbortSignal;
  /** Per-stage progress: load, forward, grams, Cs, M′, edges, save. */
  onProgress?: (ev: ProgressEvent) => void;
  onWarning?: (message: string) => void;
}

export interface BrowserBuildResult {
  results: RibResults;
  /** results.safetensors, the same bytes `interbasis build` writes */
  bytes: Uint8Array;
  /** results.json text (with the sha256 of `bytes`) */
  json: string;
  warnings: string[];
  config: BuildConfig;
  /** seconds per stage and in total */
  times: Record<string, number>;
  /** whether inputs were shared with the workers (cross-origin-isolated page) or copied */
  sharedMemory: boolean;
}

function parseConfig(config: BrowserBuildOptions['config']): BuildConfig {
  let raw: unknown = config;
  if (typeof config === 'string') raw = parseStructured(new TextEncoder().encode(config), 'config');
  return parseBuildConfig(raw);
}

async function datasetFileFor(inputs: InputFiles, d: { path: string; inputs: string; labels: string | null }, key: string): Promise<Dataset> {
  const what = `dataset ${d.path}`;
  if (d.path.endsWith('.npy')) {
    const x = parseNpy(await inputs.bytes(d.path, `${key}.path`), d.path);
    let y: Tensor | null = null;
    if (d.labels) {
      const lp = d.labels.includes('/') ? d.labels : dirName(d.path) + (d.labels.endsWith('.npy') ? d.labels : `${d.labels}.npy`);
      y = parseNpy(await inputs.bytes(lp, `${key}.labels`), lp);
    }
    return tensorToDataset(d.path, x, y, what);
  }
  if (!d.path.endsWith('.safetensors')) throw new UserError(`${what}: unsupported file type in the browser (use .safetensors or .npy)`);
  const { tensors } = parseSafetensors(await inputs.bytes(d.path, `${key}.path`));
  const names = [...tensors.keys()];
  const x = tensors.get(d.inputs);
  if (!x) throw new UserError(`${what}: no tensor '${d.inputs}' (tensors in the file: ${names.join(', ')})`);
  const y = d.labels ? tensors.get(d.labels) : null;
  if (d.labels && !y) throw new UserError(`${what}: no labels tensor '${d.labels}' (tensors in the file: ${names.join(', ')})`);
  return tensorToDataset(d.path, x, y ?? null, what);
}

async function savedResults(inputs: InputFiles, path: string, key: string): Promise<RibResults> {
  const st = /\.safetensors$/i.test(path) ? path : `${path.replace(/\/?$/, '/')}results.safetensors`;
  const json = await inputs.maybeBytes(st.replace(/\.safetensors$/i, '.json'), key);
  return resultsFromBytes(await inputs.bytes(st, key), json, st);
}

/** Runs a build config in the browser. Rejects with a UserError naming the problem on bad input. */
export async function build(o: BrowserBuildOptions): Promise<BrowserBuildResult> {
  const t0 = performance.now();
  const warnings: string[] = [];
  const warn = (m: string) => {
    warnings.push(m);
    o.onWarning?.(m);
  };
  const signal = o.signal;
  const progress = (ev: ProgressEvent) => o.onProgress?.(ev);
  if (signal?.aborted) throw abortError(signal);
  const c = parseConfig(o.config);
  const inputs = new InputFiles(o.files, o.baseUrl ?? null, signal);

  // ---- every input, before any work ----
  progress({ stage: 'load', done: 0, total: 1 });
  if (c.dtype === 'float32') warn('dtype float32: the build runs in float64 throughout (more accurate than the reference float32 build)');
  const { model, docs } = await abortable(loadModelFor(c, inputs), signal);
  const ckDataset = async (): Promise<Record<string, unknown> | null> => {
    for (const { doc } of docs) {
      const d = doc as Record<string, unknown> | null;
      const ds = (d?.dataset ?? (d?.train_config_yaml as Record<string, unknown> | undefined)?.dataset) as Record<string, unknown> | undefined;
      if (ds && typeof ds === 'object') return ds;
    }
    return null;
  };
  const sources = (key: string) => ({
    warn,
    defaults: { what: "the checkpoint's training", load: ckDataset },
    file: (f: { path: string; inputs: string; labels: string | null }) => datasetFileFor(inputs, f, key),
    torchvision: async (t: { name: string }) => {
      throw new UserError(`${key}: torchvision ${t.name} is not available in the browser; save the data as a .safetensors file and use {dataset_type: file, path, inputs, labels}`);
    },
  });
  const dataset = c.dataset ? await abortable(resolveDataset(c.dataset, 'dataset', sources('dataset')), signal) : null;
  const gramDataset = c.gram_dataset ? await abortable(resolveDataset(c.gram_dataset, 'gram_dataset', sources('gram_dataset')), signal) : null;
  const loadedCs = c.interaction_matrices_path ? await abortable(savedResults(inputs, c.interaction_matrices_path, 'interaction_matrices_path'), signal) : null;
  const loadedGrams = !loadedCs && c.gram_matrices_path ? await abortable(savedResults(inputs, c.gram_matrices_path, 'gram_matrices_path'), signal) : null;
  progress({ stage: 'load', done: 1, total: 1 });
  const tLoad = (performance.now() - t0) / 1000;

  // ---- the build ----
  const { pool, release, shared } = await acquirePool(o, signal);
  let results: RibResults;
  try {
    results = await abortable(ribBuild({ config: c, model, dataset, gramDataset, loadedCs, loadedGrams, pool: pool as TaskPool, progress, warn }), signal);
  } finally {
    await release();
  }
  progress({ stage: 'save', done: 0, total: 1 });
  const bytes = resultsBytes(results);
  const json = await resultsJsonText(results, bytes);
  progress({ stage: 'save', done: 1, total: 1 });
  const times = { load: tLoad, ...(results.info.times_s as Record<string, number>), wall: (performance.now() - t0) / 1000 };
  return { results, bytes, json, warnings, config: c, times, sharedMemory: shared };
}

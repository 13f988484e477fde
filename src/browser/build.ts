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
import { parsePt, stateDictFromPt } from '../io/pt.js';
import type { RibResults } from '../io/results.js';
import type { Tensor } from '../io/tensor.js';
import { buildModel, modularMlp } from '../models/index.js';
import { CONFIG_NAMES, extractModelConfig, inferModelType } from '../models/model-config.js';
import type { Model } from '../models/types.js';
import type { TaskPool } from '../parallel/pool.js';
import { parseBuildConfig, type BuildConfig } from '../rib/config.js';
import { ribBuild, type ProgressEvent } from '../rib/build.js';
import { resolveDataset } from '../rib/dataset.js';
import { dirName, InputFiles, parseStructured, type BrowserFile } from './inputs.js';
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

async function loadCheckpoint(inputs: InputFiles, path: string, key: string): Promise<Map<string, Tensor>> {
  const lower = path.toLowerCase();
  if (lower.endsWith('.index.json')) throw new UserError(`${key}: ${path}: sharded checkpoints are not supported in the browser; merge the shards into one .safetensors file`);
  const bytes = await inputs.bytes(path, key);
  try {
    const isZip = bytes.length >= 2 && bytes[0] === 0x50 && bytes[1] === 0x4b;
    if (lower.endsWith('.safetensors') || (!isZip && !/\.(pt|pth|bin|ckpt)$/.test(lower))) return parseSafetensors(bytes).tensors;
    return stateDictFromPt(parsePt(bytes), path);
  } catch (e) {
    if (e instanceof UserError) throw new UserError(`${key}: ${path}: ${e.message}`);
    throw new UserError(`${key}: ${path}: ${(e as Error).message}`);
  }
}

/** The documents that may describe a checkpoint: model.config, else the config files beside it. */
async function configDocs(inputs: InputFiles, path: string, explicit: string | null, key: string): Promise<Array<{ path: string; doc: unknown }>> {
  if (explicit) return [{ path: explicit, doc: parseStructured(await inputs.bytes(explicit, `${key}.config`), explicit) }];
  for (const n of CONFIG_NAMES) {
    const p = dirName(path) + n;
    const b = await inputs.maybeBytes(p, key);
    if (b) return [{ path: p, doc: parseStructured(b, p) }];
  }
  return [];
}

async function loadModelFor(c: BuildConfig, inputs: InputFiles): Promise<{ model: Model; docs: Array<{ path: string; doc: unknown }> }> {
  if (c.modular_mlp_config) {
    const m = c.modular_mlp_config;
    return { model: modularMlp({ ...m, first_block_width: m.first_block_width ?? undefined }), docs: [] };
  }
  const [key, path, type, cfgPath] = c.tlens_model_path
    ? (['tlens_model_path', c.tlens_model_path, 'transformer', null] as const)
    : c.mlp_path
      ? (['mlp_path', c.mlp_path, 'mlp', null] as const)
      : c.model
        ? (['model.path', c.model.path, c.model.type, c.model.config] as const)
        : (() => {
            throw new UserError('no model source in the config');
          })();
  const tensors = await loadCheckpoint(inputs, path, key);
  const docs = await configDocs(inputs, path, cfgPath, key);
  if (!docs.length) throw new UserError(`${key}: no model config for ${path}: give model.config, or one of ${CONFIG_NAMES.join(', ')} beside the checkpoint`);
  const cfg = extractModelConfig(docs[0]!.doc, docs[0]!.path);
  const kind = type ?? inferModelType(cfg, tensors);
  try {
    return { model: buildModel(kind, cfg, tensors), docs };
  } catch (e) {
    if (e instanceof UserError) throw new UserError(`${path} (config ${docs[0]!.path}): ${e.message}`);
    throw e;
  }
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
    checkpointDataset: ckDataset,
    file: (f: { path: string; inputs: string; labels: string | null }) => datasetFileFor(inputs, f, key),
    mnist: async () => {
      throw new UserError(`${key}: torchvision MNIST is not available in the browser; save the digits as a .safetensors file and use {dataset_type: file, path, inputs, labels}`);
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

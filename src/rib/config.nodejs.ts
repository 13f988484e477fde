/**
 * Loading a build config from disk: read YAML/JSON, validate (config.ts), and resolve relative
 * paths against the config file's folder.
 */
import { existsSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { UserError } from '../errors.js';
import { readStructured } from '../io/files.nodejs.js';
import { parseBuildConfig, type BuildConfig, type DatasetConfig } from './config.js';

/** Read, validate and resolve a config file (throws UserError on any problem). */
export async function loadBuildConfig(path: string): Promise<BuildConfig> {
  const abs = resolve(path);
  if (!existsSync(abs)) throw new UserError(`config file not found: ${path}`);
  let raw: unknown;
  try {
    raw = await readStructured(abs);
  } catch (e) {
    if (e instanceof UserError) throw e;
    throw new UserError(`cannot read config ${path}: ${(e as Error).message}`);
  }
  return resolveConfigPaths(parseBuildConfig(raw), dirname(abs));
}

/** `p` resolved against `baseDir` unless absolute (null stays null). */
export function resolvePath(baseDir: string, p: string | null): string | null {
  return p === null ? null : isAbsolute(p) ? p : resolve(baseDir, p);
}

/** A dataset config with its file paths resolved against `baseDir`. */
export function resolveDatasetPaths<D extends DatasetConfig | null>(d: D, baseDir: string): D {
  const r = (p: string | null) => resolvePath(baseDir, p);
  if (d?.dataset_type === 'file') return { ...d, path: r(d.path)! };
  if (d?.dataset_type === 'huggingface') return { ...d, path: r(d.path), tokenizer_path: r(d.tokenizer_path) };
  if (d?.dataset_type === 'torchvision') return { ...d, root: r(d.root) };
  return d;
}

/** The [key, path] pairs of the files a dataset config names. */
function datasetFiles(k: string, d: DatasetConfig | null): Array<[string, string | null]> {
  if (d?.dataset_type === 'file') return [[`${k}.path`, d.path]];
  if (d?.dataset_type === 'huggingface') return [[`${k}.path`, d.path], [`${k}.tokenizer_path`, d.tokenizer_path]];
  if (d?.dataset_type === 'torchvision') return [[`${k}.root`, d.root]];
  return [];
}

/** The model keys of a config with their paths resolved against `baseDir`. */
export function resolveModelPaths<C extends Pick<BuildConfig, 'tlens_model_path' | 'mlp_path' | 'model'>>(c: C, baseDir: string): C {
  const r = (p: string | null) => resolvePath(baseDir, p);
  return {
    ...c,
    tlens_model_path: r(c.tlens_model_path),
    mlp_path: r(c.mlp_path),
    model: c.model ? { ...c.model, path: r(c.model.path)!, config: r(c.model.config) } : null,
  };
}

/** Resolve every relative path of a validated config against `baseDir` (a new object). */
export function resolveConfigPaths(c: BuildConfig, baseDir: string): BuildConfig {
  const r = (p: string | null) => resolvePath(baseDir, p);
  return {
    ...resolveModelPaths(c, baseDir),
    out_dir: r(c.out_dir),
    interaction_matrices_path: r(c.interaction_matrices_path),
    gram_matrices_path: r(c.gram_matrices_path),
    dataset: resolveDatasetPaths(c.dataset, baseDir),
    gram_dataset: resolveDatasetPaths(c.gram_dataset, baseDir),
  };
}

/** Every file named by `files` ([config key, path]) exists (a UserError naming the key otherwise). */
export function checkFilesExist(files: ReadonlyArray<readonly [string, string | null | undefined]>): void {
  for (const [k, p] of files) {
    if (p && !existsSync(p)) throw new UserError(`${k}: file not found: ${p}`);
  }
}

/** The [key, path] pairs of the model keys and a dataset's file (for checkFilesExist). */
export function modelAndDatasetFiles(
  c: Pick<BuildConfig, 'tlens_model_path' | 'mlp_path' | 'model'>,
  datasets: ReadonlyArray<readonly [string, DatasetConfig | null]>,
): Array<[string, string | null | undefined]> {
  return [
    ['tlens_model_path', c.tlens_model_path],
    ['mlp_path', c.mlp_path],
    ['model.path', c.model?.path],
    ['model.config', c.model?.config],
    ...datasets.flatMap(([k, d]) => datasetFiles(k, d)),
  ];
}

/** Every input file a config names must exist (checked before any work). */
export function checkInputFiles(c: BuildConfig): void {
  checkFilesExist([
    ...modelAndDatasetFiles(c, [['dataset', c.dataset], ['gram_dataset', c.gram_dataset]]),
    ['interaction_matrices_path', c.interaction_matrices_path],
    ['gram_matrices_path', c.gram_matrices_path],
  ]);
}

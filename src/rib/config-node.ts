/**
 * Loading a build config from disk: read YAML/JSON, validate (config.ts), and resolve relative
 * paths against the config file's folder.
 */
import { existsSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { UserError } from '../errors.js';
import { readStructured } from '../io/files-node.js';
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

/** Resolve every relative path of a validated config against `baseDir` (a new object). */
export function resolveConfigPaths(c: BuildConfig, baseDir: string): BuildConfig {
  const r = (p: string | null): string | null => (p === null ? null : isAbsolute(p) ? p : resolve(baseDir, p));
  const ds = (d: DatasetConfig | null): DatasetConfig | null => {
    if (d?.dataset_type === 'file') return { ...d, path: r(d.path)! };
    if (d?.dataset_type === 'huggingface') return { ...d, path: r(d.path), tokenizer_path: r(d.tokenizer_path) };
    if (d?.dataset_type === 'torchvision') return { ...d, root: r(d.root) };
    return d;
  };
  return {
    ...c,
    out_dir: r(c.out_dir),
    tlens_model_path: r(c.tlens_model_path),
    mlp_path: r(c.mlp_path),
    interaction_matrices_path: r(c.interaction_matrices_path),
    gram_matrices_path: r(c.gram_matrices_path),
    model: c.model ? { ...c.model, path: r(c.model.path)!, config: r(c.model.config) } : null,
    dataset: ds(c.dataset),
    gram_dataset: ds(c.gram_dataset),
  };
}

/** Every input file a config names must exist (checked before any work). */
export function checkInputFiles(c: BuildConfig): void {
  const files: Array<[string, string | null | undefined]> = [
    ['tlens_model_path', c.tlens_model_path],
    ['mlp_path', c.mlp_path],
    ['model.path', c.model?.path],
    ['model.config', c.model?.config],
    ['interaction_matrices_path', c.interaction_matrices_path],
    ['gram_matrices_path', c.gram_matrices_path],
    ['dataset.path', c.dataset?.dataset_type === 'file' ? c.dataset.path : null],
    ['gram_dataset.path', c.gram_dataset?.dataset_type === 'file' ? c.gram_dataset.path : null],
  ];
  for (const [k, d] of [['dataset', c.dataset], ['gram_dataset', c.gram_dataset]] as const) {
    if (d?.dataset_type === 'huggingface') files.push([`${k}.path`, d.path], [`${k}.tokenizer_path`, d.tokenizer_path]);
    if (d?.dataset_type === 'torchvision') files.push([`${k}.root`, d.root]);
  }
  for (const [k, p] of files) {
    if (p && !existsSync(p)) throw new UserError(`${k}: file not found: ${p}`);
  }
}

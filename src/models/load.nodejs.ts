/** Loading a model from disk: checkpoint (IO's readCheckpoint) + config (JSON/YAML) → Model. */
import { stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { UserError } from '../errors.js';
import { pathExists, readCheckpoint, readStructured } from '../io/files.nodejs.js';
import { buildModel } from './index.js';
import type { Model } from './types.js';
import { CONFIG_NAMES, extractModelConfig, inferModelType } from './model-config.js';

export { CONFIG_NAMES, extractModelConfig, inferModelType };


async function isDir(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isDirectory();
  } catch {
    return false;
  }
}

/** Finds the config beside a checkpoint (file or directory); throws listing what was tried. */
export async function findConfig(path: string): Promise<string> {
  const dir = (await isDir(path)) ? path : dirname(path);
  for (const n of CONFIG_NAMES) {
    const p = join(dir, n);
    if (await pathExists(p)) return p;
  }
  throw new UserError(`no model config beside ${path}: looked for ${CONFIG_NAMES.join(', ')} in ${dir}; pass --config`);
}

export async function loadModel(opts: { type?: 'mlp' | 'transformer'; path: string; config?: string }): Promise<Model> {
  if (!opts || typeof opts.path !== 'string' || !opts.path) throw new UserError('loadModel: a checkpoint path is required');
  if (opts.type !== undefined && opts.type !== 'mlp' && opts.type !== 'transformer') {
    throw new UserError(`model type must be "mlp" or "transformer", got ${JSON.stringify(opts.type)}`);
  }
  const tensors = await readCheckpoint(opts.path);
  const cfgPath = opts.config ?? (await findConfig(opts.path));
  const cfg = extractModelConfig(await readStructured(cfgPath), cfgPath);
  const kind = opts.type ?? inferModelType(cfg, tensors);
  try {
    return buildModel(kind, cfg, tensors);
  } catch (e) {
    if (e instanceof UserError) throw new UserError(`${opts.path} (config ${cfgPath}): ${e.message}`);
    throw e;
  }
}

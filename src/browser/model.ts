/** Models from browser inputs: a checkpoint (.safetensors or torch .pt) and its config document. */
import { UserError } from '../errors.js';
import { parseSafetensors } from '../io/safetensors.js';
import { parsePt, stateDictFromPt } from '../io/pt.js';
import type { Tensor } from '../io/tensor.js';
import { buildModel, modularMlp } from '../models/index.js';
import { hfModel } from '../models/hf/index.js';
import { CONFIG_NAMES, extractModelConfig, inferModelType } from '../models/model-config.js';
import type { Model } from '../models/types.js';
import { dirName, parseStructured, type InputFiles } from './inputs.js';

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

export interface ModelSource {
  tlens_model_path?: string | null;
  mlp_path?: string | null;
  model?: { type?: 'mlp' | 'transformer' | 'hf'; path: string; config?: string | null; n_ctx?: number | null } | null;
  modular_mlp_config?: Record<string, unknown> | null;
}

/** The model a build or ablation config names, from the given files (or fetched from the base URL). */
export async function loadModelFor(c: ModelSource, inputs: InputFiles): Promise<{ model: Model; docs: Array<{ path: string; doc: unknown }> }> {
  if (c.modular_mlp_config) {
    const m = c.modular_mlp_config as Parameters<typeof modularMlp>[0] & { first_block_width?: number | null };
    return { model: modularMlp({ ...m, first_block_width: m.first_block_width ?? undefined }), docs: [] };
  }
  const [key, path, type, cfgPath] = c.tlens_model_path
    ? (['tlens_model_path', c.tlens_model_path, 'transformer', null] as const)
    : c.mlp_path
      ? (['mlp_path', c.mlp_path, 'mlp', null] as const)
      : c.model
        ? (['model.path', c.model.path, c.model.type, c.model.config ?? null] as const)
        : (() => {
            throw new UserError('no model source in the config');
          })();
  const tensors = await loadCheckpoint(inputs, path, key);
  const docs = await configDocs(inputs, path, cfgPath, key);
  if (!docs.length) throw new UserError(`${key}: no model config for ${path}: give model.config, or one of ${CONFIG_NAMES.join(', ')} beside the checkpoint`);
  const cfg = type === 'hf' ? {} : extractModelConfig(docs[0]!.doc, docs[0]!.path);
  try {
    // a Hugging Face checkpoint: its config.json and tensors, converted as in Node (src/models/hf)
    if (type === 'hf') return { model: hfModel(docs[0]!.doc, tensors, { nCtx: c.model?.n_ctx ?? null, what: path }), docs };
    const kind = type ?? inferModelType(cfg, tensors);
    return { model: buildModel(kind, cfg, tensors), docs };
  } catch (e) {
    if (e instanceof UserError) throw new UserError(`${path} (config ${docs[0]!.path}): ${e.message}`);
    throw e;
  }
}

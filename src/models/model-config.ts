/** The model part of a config document and the model type of a checkpoint (browser-safe). */
import { UserError } from '../errors.js';
import type { Tensor } from '../io/tensor.js';

/** Config files looked for beside the checkpoint, in this order. */
export const CONFIG_NAMES = ['config.json', 'config.yaml', 'config.yml', 'train_config.yaml'];

const isObj = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * The model part of a config document: `resolved_model_config` (refdata config.json), else
 * `model` (training config.yaml), else `ml_model_config`, else the document itself.
 */
export function extractModelConfig(doc: unknown, label: string): Record<string, unknown> {
  if (!isObj(doc)) throw new UserError(`${label}: expected a mapping at the top level`);
  for (const key of ['resolved_model_config', 'model', 'ml_model_config', 'model_config']) {
    const v = doc[key];
    if (isObj(v)) {
      // keep fields only the plain `model` section has (e.g. when resolved omits one)
      const base = key === 'resolved_model_config' && isObj(doc['model']) ? doc['model'] : {};
      return { ...base, ...v };
    }
  }
  if ('d_model' in doc || 'input_size' in doc) return doc;
  throw new UserError(`${label}: no model config found (expected a 'model' or 'resolved_model_config' section, or transformer-lens / rib MLP fields)`);
}

/** 'transformer' if the config or tensors look like transformer-lens, 'mlp' for a rib MLP. */
export function inferModelType(cfg: Record<string, unknown>, tensors: Map<string, Tensor>): 'mlp' | 'transformer' {
  const byCfg = 'd_model' in cfg ? 'transformer' : 'input_size' in cfg || 'hidden_sizes' in cfg ? 'mlp' : null;
  const byTensors = tensors.has('embed.W_E') ? 'transformer' : tensors.has('layers.0.W') ? 'mlp' : null;
  if (byCfg && byTensors && byCfg !== byTensors) {
    throw new UserError(`the config describes a ${byCfg === 'mlp' ? 'rib MLP' : 'transformer'} but the checkpoint holds ${byTensors === 'mlp' ? 'rib MLP (layers.*)' : 'transformer-lens (embed.W_E, blocks.*)'} tensors`);
  }
  const kind = byCfg ?? byTensors;
  if (kind) return kind;
  throw new UserError('cannot tell the model type from its config or tensors; pass type "mlp" or "transformer"');
}

/** Model runtime (browser-safe): build models from checkpoints, section them, exact Jacobians. */
import { UserError } from '../errors.js';
import type { Tensor } from '../io/tensor.js';
import { buildMlp } from './mlp.js';
import { buildTransformer } from './transformer.js';
import type { Model } from './types.js';

export type * from './types.js';
export { modularMlp, foldMlpLayer, parseMlpConfig } from './mlp.js';
export type { MlpConfig, ModularMlpConfig } from './mlp.js';
export { parseTransformerConfig, transformerModuleIds, transformerTensorShapes } from './transformer.js';
export type { TransformerConfig } from './transformer.js';
export { rootOne, actScalar, actDerivScalar, parseActivation, ACTIVATIONS } from './activations.js';
export { sectionJacobian, accumulateJacobianM, accumulateMlpM, accumulateMlpMExplicit } from './jacobian.js';
export { validateNodeLayers } from './sections.js';

/** Builds a model from a config and checkpoint tensors; validates every tensor against the config. */
export function buildModel(kind: 'mlp' | 'transformer', config: Record<string, unknown>, tensors: Map<string, Tensor>, folded: Record<string, Float64Array> | null = null): Model {
  if (kind === 'mlp') return buildMlp(config, tensors);
  if (kind === 'transformer') return buildTransformer(config, tensors, folded);
  throw new UserError(`unknown model type ${JSON.stringify(kind)} (expected "mlp" or "transformer")`);
}

/** Plain, structured-clone friendly description of a model (for workers). */
export interface ModelSpec {
  kind: 'mlp' | 'transformer';
  config: Record<string, unknown>;
  /** Unfolded weights, keyed by checkpoint name (may be SharedArrayBuffer-backed). */
  tensors: Record<string, Float64Array>;
  /** Shape of each tensor. */
  shapes: Record<string, number[]>;
  /** Transformers: the folded weights (`Model.folded`), so that a worker does not fold again. */
  folded?: Record<string, Float64Array>;
}

export function modelToSpec(m: Model): ModelSpec {
  const tensors: Record<string, Float64Array> = {};
  const shapes: Record<string, number[]> = {};
  for (const [k, v] of m.tensors) {
    tensors[k] = v;
    shapes[k] = [...(m.shapes.get(k) ?? [v.length])];
  }
  return { kind: m.kind, config: JSON.parse(JSON.stringify(m.config)) as Record<string, unknown>, tensors, shapes };
}

/** Rebuilds a model from a spec (validated like a checkpoint; float64 weights are used without copying). */
export function modelFromSpec(s: ModelSpec): Model {
  if (!s || (s.kind !== 'mlp' && s.kind !== 'transformer')) throw new UserError(`model spec: unknown kind ${JSON.stringify(s?.kind)}`);
  const tensors = new Map<string, Tensor>();
  for (const [k, v] of Object.entries(s.tensors)) tensors.set(k, { dtype: 'F64', shape: s.shapes?.[k] ?? [v.length], data: v });
  const model = buildModel(s.kind, s.config, tensors, s.folded ?? null);
  const modular = s.config['modular'];
  return modular ? { ...model, config: { ...model.config, modular } } : model;
}

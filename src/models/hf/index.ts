/**
 * Hugging Face GPT-2 / GPT-Neo / GPT-NeoX checkpoints → the processed transformer-lens model rib
 * builds on (spec LM §1–§4), browser-safe. `hfModel(configDoc, tensors)` returns a `Model` of kind
 * 'transformer' (normalization LNPre, rotary / parallel / local attention as the architecture
 * needs), so sectioning, workers (modelToSpec) and the build use it like any transformer.
 */
import { UserError } from '../../errors.js';
import type { Tensor } from '../../io/tensor.js';
import { buildModel } from '../index.js';
import { parseTransformerConfig, transformerTensorShapes } from '../transformer.js';
import type { Model } from '../types.js';
import { parseHfConfig, tlConfigOf, type HfModelConfig } from './config.js';
import { checkHfTensors, hfToTransformerLens } from './convert.js';
import { processTransformerLens } from './process.js';

export { parseHfConfig, tlConfigOf, HF_ARCHITECTURES } from './config.js';
export type { HfArchitecture, HfModelConfig } from './config.js';
export { hfTensorShapes, isHfBuffer, checkHfTensors, hfToTransformerLens } from './convert.js';
export { processTransformerLens } from './process.js';

export interface HfModelOptions {
  /** Context length override (rib uses 511 for TinyStories); must not exceed the model's. */
  nCtx?: number | null;
  /** Name used in error messages (the checkpoint path). */
  what?: string;
}

/** The context length after an optional override (error if it exceeds the model's). */
export function hfContext(c: HfModelConfig, nCtx: number | null | undefined, what: string): number {
  if (nCtx === undefined || nCtx === null) return c.nCtx;
  if (!Number.isInteger(nCtx) || nCtx < 1) throw new UserError(`${what}: n_ctx must be a positive integer, got ${nCtx}`);
  if (nCtx > c.nCtx) throw new UserError(`${what}: n_ctx ${nCtx} is larger than the model's context length ${c.nCtx}`);
  return nCtx;
}

/** HF config.json document + HF tensors → processed transformer-lens tensors and config. */
export function hfToProcessed(configDoc: unknown, tensors: Map<string, Tensor>, o: HfModelOptions = {}): { config: Record<string, unknown>; tensors: Map<string, Float64Array>; hf: HfModelConfig } {
  const what = o.what ?? 'checkpoint';
  const hf = parseHfConfig(configDoc, `${what} config.json`);
  const nCtx = hfContext(hf, o.nCtx, what);
  const raw = checkHfTensors(hf, tensors, what);
  const tl = hfToTransformerLens(hf, raw, nCtx);
  const processed = processTransformerLens(tl, { ...hf, rotary: hf.rotaryDim !== null });
  return { config: tlConfigOf(hf, nCtx), tensors: processed, hf };
}

/** A Model (kind 'transformer') from an HF config document and checkpoint tensors. */
export function hfModel(configDoc: unknown, tensors: Map<string, Tensor>, o: HfModelOptions = {}): Model {
  const p = hfToProcessed(configDoc, tensors, o);
  const shapes = transformerTensorShapes(parseTransformerConfig(p.config));
  const t = new Map<string, Tensor>();
  for (const [k, v] of p.tensors) t.set(k, { dtype: 'F64', shape: shapes.get(k)!, data: v });
  return buildModel('transformer', p.config, t);
}

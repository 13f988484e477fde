/**
 * Hugging Face config.json → architecture and transformer-lens config (spec LM §1.1, §1.2, §3).
 * Settings the reference cannot reproduce are refused with a UserError naming the field.
 */
import { UserError } from '../../errors.js';
import type { ActivationName } from '../types.js';

export const HF_ARCHITECTURES = ['GPT2LMHeadModel', 'GPTNeoForCausalLM', 'GPTNeoXForCausalLM'] as const;
export type HfArchitecture = (typeof HF_ARCHITECTURES)[number];

const MODEL_TYPE: Record<HfArchitecture, string> = {
  GPT2LMHeadModel: 'gpt2',
  GPTNeoForCausalLM: 'gpt_neo',
  GPTNeoXForCausalLM: 'gpt_neox',
};

/** What the conversion needs from config.json (HF defaults filled in). */
export interface HfModelConfig {
  arch: HfArchitecture;
  nLayers: number;
  d: number;
  H: number;
  dh: number;
  dMlp: number;
  vocab: number;
  /** rows of the positional embedding in the checkpoint (GPT-2 n_positions, GPT-Neo max_position_embeddings) */
  nPositions: number;
  /** transformer-lens n_ctx before any override */
  nCtx: number;
  act: ActivationName;
  eps: number;
  tied: boolean;
  /** GPT-NeoX only */
  rotaryDim: number | null;
}

const isObj = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

function field(cfg: Record<string, unknown>, what: string) {
  const int = (k: string, dflt?: number): number => {
    const v = cfg[k] ?? dflt;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw new UserError(`${what}: '${k}' must be a positive integer, got ${JSON.stringify(cfg[k])}`);
    return v;
  };
  const num = (k: string, dflt: number): number => {
    const v = cfg[k] ?? dflt;
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new UserError(`${what}: '${k}' must be a number, got ${JSON.stringify(cfg[k])}`);
    return v;
  };
  const bool = (k: string, dflt: boolean): boolean => {
    const v = cfg[k] ?? dflt;
    if (typeof v !== 'boolean') throw new UserError(`${what}: '${k}' must be true or false, got ${JSON.stringify(cfg[k])}`);
    return v;
  };
  return { int, num, bool };
}

function activation(v: unknown, key: string, what: string): ActivationName {
  if (v === 'relu' || v === 'gelu' || v === 'gelu_new') return v;
  throw new UserError(`${what}: ${key} ${JSON.stringify(v)} is not supported (rib supports relu, gelu, gelu_new)`);
}

/** GPT-Neo layer types: `attention_layers`, else `attention_types` [[types, repeat], …] expanded. */
function neoLayerTypes(cfg: Record<string, unknown>, n: number, what: string): string[] {
  let types: unknown = cfg['attention_layers'];
  if (types === undefined || types === null) {
    const at = cfg['attention_types'];
    if (!Array.isArray(at)) throw new UserError(`${what}: GPT-Neo needs 'attention_layers' or 'attention_types'`);
    const out: string[] = [];
    for (const pair of at) {
      if (!Array.isArray(pair) || pair.length !== 2 || !Array.isArray(pair[0]) || typeof pair[1] !== 'number') {
        throw new UserError(`${what}: 'attention_types' entries must be [[types…], repeat], got ${JSON.stringify(pair)}`);
      }
      for (let r = 0; r < pair[1]; r++) out.push(...(pair[0] as string[]));
    }
    types = out;
  }
  if (!Array.isArray(types) || types.length !== n) throw new UserError(`${what}: GPT-Neo layer types ${JSON.stringify(types)} must list ${n} layers`);
  types.forEach((t, L) => {
    const want = L % 2 === 0 ? 'global' : 'local';
    if (t !== want) {
      throw new UserError(`${what}: layer ${L} is ${JSON.stringify(t)} attention; rib supports only global attention on even and local on odd layers`);
    }
  });
  return types as string[];
}

/** Parses and validates an HF config.json document. */
export function parseHfConfig(doc: unknown, what = 'config.json'): HfModelConfig {
  if (!isObj(doc)) throw new UserError(`${what}: expected a JSON object`);
  const archs = doc['architectures'];
  const arch = Array.isArray(archs) ? archs[0] : undefined;
  if (typeof arch !== 'string') throw new UserError(`${what}: 'architectures' is missing (expected one of ${HF_ARCHITECTURES.join(', ')})`);
  if (!(HF_ARCHITECTURES as readonly string[]).includes(arch)) {
    throw new UserError(`${what}: unknown architecture ${JSON.stringify(arch)} (supported: ${HF_ARCHITECTURES.join(', ')})`);
  }
  const a = arch as HfArchitecture;
  const mt = doc['model_type'];
  if (mt !== undefined && mt !== MODEL_TYPE[a]) throw new UserError(`${what}: model_type ${JSON.stringify(mt)} does not match architecture ${a} (expected "${MODEL_TYPE[a]}")`);
  const { int, num, bool } = field(doc, what);
  if (a === 'GPT2LMHeadModel') {
    const d = int('n_embd', 768);
    const H = int('n_head', 12);
    const inner = doc['n_inner'];
    if (inner !== undefined && inner !== null && inner !== 4 * d) throw new UserError(`${what}: n_inner ${JSON.stringify(inner)} is not 4·n_embd = ${4 * d} (transformer-lens 1.10 hard-codes d_mlp = 4·d)`);
    if (!bool('scale_attn_weights', true)) throw new UserError(`${what}: scale_attn_weights false is not supported by the reference`);
    if (bool('scale_attn_by_inverse_layer_idx', false)) throw new UserError(`${what}: scale_attn_by_inverse_layer_idx true is not supported by the reference`);
    if (bool('reorder_and_upcast_attn', false)) throw new UserError(`${what}: reorder_and_upcast_attn true is not supported`);
    const nPositions = int('n_positions', 1024);
    const nCtx = int('n_ctx', nPositions);
    if (nCtx > nPositions) throw new UserError(`${what}: n_ctx ${nCtx} exceeds n_positions ${nPositions}`);
    return divisible({
      arch: a, nLayers: int('n_layer', 12), d, H, dh: d / H, dMlp: 4 * d, vocab: int('vocab_size', 50257),
      nPositions, nCtx, act: activation(doc['activation_function'] ?? 'gelu_new', 'activation_function', what),
      eps: num('layer_norm_epsilon', 1e-5), tied: bool('tie_word_embeddings', true), rotaryDim: null,
    }, what);
  }
  if (a === 'GPTNeoForCausalLM') {
    const d = int('hidden_size', 2048);
    const nLayers = int('num_layers', 24);
    const inner = doc['intermediate_size'];
    if (inner !== undefined && inner !== null && inner !== 4 * d) throw new UserError(`${what}: intermediate_size ${JSON.stringify(inner)} is not 4·hidden_size = ${4 * d} (transformer-lens 1.10 hard-codes d_mlp = 4·d)`);
    neoLayerTypes(doc, nLayers, what);
    const win = doc['window_size'] ?? 256;
    if (win !== 256) throw new UserError(`${what}: window_size ${JSON.stringify(win)} is not supported (rib hard-codes a local window of 256)`);
    const H = int('num_heads', 16);
    const nPositions = int('max_position_embeddings', 2048);
    return divisible({
      arch: a, nLayers, d, H, dh: d / H, dMlp: 4 * d, vocab: int('vocab_size', 50257), nPositions, nCtx: nPositions,
      act: activation(doc['activation_function'] ?? 'gelu_new', 'activation_function', what),
      eps: num('layer_norm_epsilon', 1e-5), tied: bool('tie_word_embeddings', true), rotaryDim: null,
    }, what);
  }
  // GPTNeoXForCausalLM
  const d = int('hidden_size', 6144);
  const H = int('num_attention_heads', 64);
  if (!bool('use_parallel_residual', true)) throw new UserError(`${what}: use_parallel_residual false is not supported (transformer-lens 1.10 runs GPT-NeoX blocks in parallel)`);
  if (doc['rope_scaling'] !== undefined && doc['rope_scaling'] !== null) throw new UserError(`${what}: rope_scaling is not supported`);
  if (!bool('attention_bias', true)) throw new UserError(`${what}: attention_bias false is not supported`);
  const pct = num('rotary_pct', typeof doc['partial_rotary_factor'] === 'number' ? (doc['partial_rotary_factor'] as number) : 0.25);
  if (typeof doc['partial_rotary_factor'] === 'number' && doc['partial_rotary_factor'] !== pct) {
    throw new UserError(`${what}: rotary_pct ${pct} and partial_rotary_factor ${String(doc['partial_rotary_factor'])} disagree`);
  }
  const base = doc['rotary_emb_base'] ?? doc['rope_theta'] ?? 10000;
  if (base !== 10000) throw new UserError(`${what}: rotary base ${JSON.stringify(base)} is not supported (transformer-lens 1.10 hard-codes 10000)`);
  if (d % H !== 0) throw new UserError(`${what}: hidden_size ${d} is not divisible by num_attention_heads ${H}`);
  const dh = d / H;
  const hfDim = Math.floor(pct * dh);
  const tlDim = Math.round(pct * dh);
  if (hfDim !== tlDim) throw new UserError(`${what}: rotary_pct·d_head = ${pct * dh}: Hugging Face floors it to ${hfDim}, transformer-lens rounds it to ${tlDim}; such checkpoints are refused`);
  if (tlDim % 2 !== 0 || tlDim < 2) throw new UserError(`${what}: rotary dimension ${tlDim} must be even and ≥ 2`);
  const nPositions = int('max_position_embeddings', 2048);
  return {
    arch: a, nLayers: int('num_hidden_layers', 44), d, H, dh, dMlp: int('intermediate_size', 24576), vocab: int('vocab_size', 50432),
    nPositions, nCtx: nPositions, act: activation(doc['hidden_act'] ?? 'gelu', 'hidden_act', what),
    eps: num('layer_norm_eps', 1e-5), tied: bool('tie_word_embeddings', false), rotaryDim: tlDim,
  };
}

function divisible(c: HfModelConfig, what: string): HfModelConfig {
  if (!Number.isInteger(c.dh)) throw new UserError(`${what}: hidden size ${c.d} is not divisible by the number of heads ${c.H}`);
  return c;
}

/** The transformer-lens config of the processed model (spec LM §3 table, §6.1). */
export function tlConfigOf(c: HfModelConfig, nCtx: number): Record<string, unknown> {
  return {
    n_layers: c.nLayers,
    d_model: c.d,
    d_head: c.dh,
    n_heads: c.H,
    d_mlp: c.dMlp,
    d_vocab: c.vocab,
    d_vocab_out: c.vocab,
    n_ctx: nCtx,
    act_fn: c.act,
    normalization_type: 'LNPre',
    eps: c.eps,
    use_attn_scale: c.arch !== 'GPTNeoForCausalLM',
    positional_embedding_type: c.arch === 'GPTNeoXForCausalLM' ? 'rotary' : 'standard',
    ...(c.rotaryDim !== null ? { rotary_dim: c.rotaryDim } : {}),
    parallel_attn_mlp: c.arch === 'GPTNeoXForCausalLM',
    use_local_attn: c.arch === 'GPTNeoForCausalLM',
    original_architecture: c.arch,
  };
}

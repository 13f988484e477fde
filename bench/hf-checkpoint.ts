/**
 * Random-init language-model checkpoints in exact Hugging Face layout (key names, Conv1D vs Linear
 * orientation, NeoX per-head fused QKV, tied or untied heads, the buffers HF stores), for the tests
 * and the LM benchmarks. Deterministic per seed; weights scaled ~1/√fan-in so activations stay sane.
 * `serializeSafetensors(fx.tensors)` and `JSON.stringify(fx.config)` give `model.safetensors` and
 * `config.json`.
 */
import type { Tensor } from '../src/io/tensor.js';

export type Arch = 'GPT2LMHeadModel' | 'GPTNeoForCausalLM' | 'GPTNeoXForCausalLM';

/** mulberry32 → standard normals (Box–Muller), deterministic per seed. */
export function normalStream(seed: number): () => number {
  let a = seed >>> 0;
  const u = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return () => Math.sqrt(-2 * Math.log(u() + 1e-300)) * Math.cos(2 * Math.PI * u());
}

export interface HfFixtureOptions {
  seed?: number;
  layers?: number;
  d?: number;
  heads?: number;
  dMlp?: number;
  vocab?: number;
  positions?: number;
  /** store the head as its own tensor (tied models: a copy of wte) */
  storeHead?: boolean;
  tied?: boolean;
  /** key prefix: true = 'transformer.' / 'gpt_neox.' */
  prefix?: boolean;
  act?: string;
  rotaryPct?: number;
  /** store float32 (as real checkpoints) instead of float64 */
  f32?: boolean;
}

export interface HfFixture {
  config: Record<string, unknown>;
  tensors: Map<string, Tensor>;
}

/** A random-init checkpoint of `arch` in exact HF layout. */
export function makeHfCheckpoint(arch: Arch, o: HfFixtureOptions = {}): HfFixture {
  const rnd = normalStream(o.seed ?? 1);
  const L = o.layers ?? 2;
  const d = o.d ?? 8;
  const H = o.heads ?? 2;
  const m = o.dMlp ?? 4 * d;
  const V = o.vocab ?? 13;
  const nPos = o.positions ?? 16;
  const neox = arch === 'GPTNeoXForCausalLM';
  const tied = o.tied ?? !neox;
  const pre = o.prefix ? (neox ? 'gpt_neox.' : 'transformer.') : '';
  const t = new Map<string, Tensor>();
  const put = (name: string, shape: number[], scale: number, offset = 0, raw = false) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = o.f32 ? new Float32Array(n) : new Float64Array(n);
    for (let i = 0; i < n; i++) data[i] = offset + scale * rnd();
    t.set(raw ? name : pre + name, { dtype: o.f32 ? 'F32' : 'F64', shape, data });
    return data;
  };
  const ln = (name: string) => {
    put(`${name}.weight`, [d], 0.2, 1);
    put(`${name}.bias`, [d], 0.2);
  };
  const s = 1 / Math.sqrt(d);
  let config: Record<string, unknown>;
  let emb: Float32Array | Float64Array;
  if (arch === 'GPT2LMHeadModel') {
    config = { architectures: [arch], model_type: 'gpt2', n_layer: L, n_embd: d, n_head: H, vocab_size: V, n_positions: nPos, n_ctx: nPos, activation_function: o.act ?? 'gelu_new', layer_norm_epsilon: 1e-5, tie_word_embeddings: tied };
    emb = put('wte.weight', [V, d], 1);
    put('wpe.weight', [nPos, d], 0.5);
    for (let l = 0; l < L; l++) {
      const p = `h.${l}.`;
      ln(p + 'ln_1');
      put(p + 'attn.c_attn.weight', [d, 3 * d], s);
      put(p + 'attn.c_attn.bias', [3 * d], 0.3);
      put(p + 'attn.c_proj.weight', [d, d], s);
      put(p + 'attn.c_proj.bias', [d], 0.3);
      ln(p + 'ln_2');
      put(p + 'mlp.c_fc.weight', [d, m], s);
      put(p + 'mlp.c_fc.bias', [m], 0.3);
      put(p + 'mlp.c_proj.weight', [m, d], 1 / Math.sqrt(m));
      put(p + 'mlp.c_proj.bias', [d], 0.3);
      // buffers HF may store: ignored by the loader
      t.set(`${pre}${p}attn.bias`, { dtype: 'U8', shape: [1, 1, nPos, nPos], data: new Uint8Array(nPos * nPos) });
    }
    ln('ln_f');
  } else if (arch === 'GPTNeoForCausalLM') {
    const types = Array.from({ length: L }, (_, l) => (l % 2 === 0 ? 'global' : 'local'));
    config = { architectures: [arch], model_type: 'gpt_neo', num_layers: L, hidden_size: d, num_heads: H, vocab_size: V, max_position_embeddings: nPos, attention_types: [[['global', 'local'], Math.ceil(L / 2)]], window_size: 256, activation_function: o.act ?? 'gelu_new', layer_norm_epsilon: 1e-5, tie_word_embeddings: tied, intermediate_size: null };
    if (L % 2 === 1) config['attention_layers'] = types;
    emb = put('wte.weight', [V, d], 1);
    put('wpe.weight', [nPos, d], 0.5);
    for (let l = 0; l < L; l++) {
      const p = `h.${l}.`;
      ln(p + 'ln_1');
      for (const x of ['q', 'k', 'v']) put(`${p}attn.attention.${x}_proj.weight`, [d, d], s);
      put(p + 'attn.attention.out_proj.weight', [d, d], s);
      put(p + 'attn.attention.out_proj.bias', [d], 0.3);
      ln(p + 'ln_2');
      put(p + 'mlp.c_fc.weight', [m, d], s);
      put(p + 'mlp.c_fc.bias', [m], 0.3);
      put(p + 'mlp.c_proj.weight', [d, m], 1 / Math.sqrt(m));
      put(p + 'mlp.c_proj.bias', [d], 0.3);
      t.set(`${pre}${p}attn.attention.bias`, { dtype: 'BOOL', shape: [1, 1, nPos, nPos], data: new Uint8Array(nPos * nPos) });
      t.set(`${pre}${p}attn.attention.masked_bias`, { dtype: 'F32', shape: [], data: new Float32Array([-1e9]) });
    }
    ln('ln_f');
  } else {
    config = { architectures: [arch], model_type: 'gpt_neox', num_hidden_layers: L, hidden_size: d, num_attention_heads: H, intermediate_size: m, vocab_size: V, max_position_embeddings: nPos, rotary_pct: o.rotaryPct ?? 0.5, rotary_emb_base: 10000, layer_norm_eps: 1e-5, hidden_act: o.act ?? 'gelu', use_parallel_residual: true, tie_word_embeddings: tied };
    emb = put('embed_in.weight', [V, d], 1);
    for (let l = 0; l < L; l++) {
      const p = `layers.${l}.`;
      ln(p + 'input_layernorm');
      ln(p + 'post_attention_layernorm');
      put(p + 'attention.query_key_value.weight', [3 * d, d], s);
      put(p + 'attention.query_key_value.bias', [3 * d], 0.3);
      put(p + 'attention.dense.weight', [d, d], s);
      put(p + 'attention.dense.bias', [d], 0.3);
      put(p + 'mlp.dense_h_to_4h.weight', [m, d], s);
      put(p + 'mlp.dense_h_to_4h.bias', [m], 0.3);
      put(p + 'mlp.dense_4h_to_h.weight', [d, m], 1 / Math.sqrt(m));
      put(p + 'mlp.dense_4h_to_h.bias', [d], 0.3);
      const dh = d / H;
      const r = Math.floor((o.rotaryPct ?? 0.5) * dh);
      t.set(`${pre}${p}attention.rotary_emb.inv_freq`, { dtype: 'F32', shape: [r / 2], data: new Float32Array(r / 2) });
    }
    ln('final_layer_norm');
  }
  const head = neox ? 'embed_out.weight' : 'lm_head.weight';
  if (!tied) put(head, [V, d], 1, 0, true);
  else if (o.storeHead) t.set(head, { dtype: o.f32 ? 'F32' : 'F64', shape: [V, d], data: emb.slice() });
  return { config, tensors: t };
}

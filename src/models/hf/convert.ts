/**
 * Hugging Face tensors → transformer-lens tensors with LayerNorm weights, before processing
 * (spec LM §1.3, §3), in float64. Every tensor is checked against the config first: a missing or
 * unknown tensor or a wrong shape is a UserError naming it; buffers are ignored.
 */
import { UserError } from '../../errors.js';
import { toFloat64, type Tensor } from '../../io/tensor.js';
import { fmtShape } from '../weights.js';
import type { HfModelConfig } from './config.js';

/** HF tensor names (prefix stripped) and shapes the config implies; the head only when stored. */
export function hfTensorShapes(c: HfModelConfig): Map<string, number[]> {
  const { d, dMlp: m, vocab: V, nLayers } = c;
  const s = new Map<string, number[]>();
  if (c.arch === 'GPTNeoXForCausalLM') {
    s.set('embed_in.weight', [V, d]);
    for (let L = 0; L < nLayers; L++) {
      const p = `layers.${L}.`;
      for (const ln of ['input_layernorm', 'post_attention_layernorm']) {
        s.set(`${p}${ln}.weight`, [d]);
        s.set(`${p}${ln}.bias`, [d]);
      }
      s.set(p + 'attention.query_key_value.weight', [3 * d, d]);
      s.set(p + 'attention.query_key_value.bias', [3 * d]);
      s.set(p + 'attention.dense.weight', [d, d]);
      s.set(p + 'attention.dense.bias', [d]);
      s.set(p + 'mlp.dense_h_to_4h.weight', [m, d]);
      s.set(p + 'mlp.dense_h_to_4h.bias', [m]);
      s.set(p + 'mlp.dense_4h_to_h.weight', [d, m]);
      s.set(p + 'mlp.dense_4h_to_h.bias', [d]);
    }
    s.set('final_layer_norm.weight', [d]);
    s.set('final_layer_norm.bias', [d]);
    return s;
  }
  s.set('wte.weight', [V, d]);
  s.set('wpe.weight', [c.nPositions, d]);
  const gpt2 = c.arch === 'GPT2LMHeadModel';
  for (let L = 0; L < nLayers; L++) {
    const p = `h.${L}.`;
    for (const ln of ['ln_1', 'ln_2']) {
      s.set(`${p}${ln}.weight`, [d]);
      s.set(`${p}${ln}.bias`, [d]);
    }
    if (gpt2) {
      s.set(p + 'attn.c_attn.weight', [d, 3 * d]);
      s.set(p + 'attn.c_attn.bias', [3 * d]);
      s.set(p + 'attn.c_proj.weight', [d, d]);
      s.set(p + 'attn.c_proj.bias', [d]);
      s.set(p + 'mlp.c_fc.weight', [d, m]);
      s.set(p + 'mlp.c_proj.weight', [m, d]);
    } else {
      for (const x of ['q', 'k', 'v']) s.set(`${p}attn.attention.${x}_proj.weight`, [d, d]);
      s.set(p + 'attn.attention.out_proj.weight', [d, d]);
      s.set(p + 'attn.attention.out_proj.bias', [d]);
      s.set(p + 'mlp.c_fc.weight', [m, d]);
      s.set(p + 'mlp.c_proj.weight', [d, m]);
    }
    s.set(p + 'mlp.c_fc.bias', [m]);
    s.set(p + 'mlp.c_proj.bias', [d]);
  }
  s.set('ln_f.weight', [d]);
  s.set('ln_f.bias', [d]);
  return s;
}

/** Buffers recomputed from the config (causal masks, rotary inv_freq): ignored when present. */
export function isHfBuffer(name: string): boolean {
  return (
    /^h\.\d+\.attn\.(bias|masked_bias)$/.test(name) ||
    /^h\.\d+\.attn\.attention\.(bias|masked_bias)$/.test(name) ||
    /^layers\.\d+\.attention\.(bias|masked_bias|rotary_emb\.inv_freq)$/.test(name)
  );
}

const headName = (c: HfModelConfig): string => (c.arch === 'GPTNeoXForCausalLM' ? 'embed_out.weight' : 'lm_head.weight');
const embName = (c: HfModelConfig): string => (c.arch === 'GPTNeoXForCausalLM' ? 'embed_in.weight' : 'wte.weight');

/**
 * Strips the model prefix (`transformer.` / `gpt_neox.`), checks names and shapes, converts to
 * float64. Returns the tensors by stripped name (head included when stored).
 */
export function checkHfTensors(c: HfModelConfig, tensors: Map<string, Tensor>, what: string): Map<string, Float64Array> {
  const prefix = c.arch === 'GPTNeoXForCausalLM' ? 'gpt_neox.' : 'transformer.';
  const byName = new Map<string, Tensor>();
  for (const [k, t] of tensors) {
    const n = k.startsWith(prefix) ? k.slice(prefix.length) : k;
    if (byName.has(n)) throw new UserError(`${what}: tensor ${n} is stored both with and without the '${prefix}' prefix`);
    byName.set(n, t);
  }
  const expected = hfTensorShapes(c);
  const head = headName(c);
  const emb = embName(c);
  const missing = [...expected].filter(([n]) => !byName.has(n)).map(([n, s]) => `${n} ${fmtShape(s)}`);
  if (!c.tied && !byName.has(head)) missing.push(`${head} ${fmtShape([c.vocab, c.d])} (tie_word_embeddings is false)`);
  if (missing.length) throw new UserError(`${what}: checkpoint is missing tensor${missing.length > 1 ? 's' : ''} ${missing.slice(0, 8).join(', ')}${missing.length > 8 ? `, … (${missing.length} in all)` : ''}`);
  if (byName.has(head)) expected.set(head, [c.vocab, c.d]);
  const extra = [...byName.keys()].filter((n) => !expected.has(n) && !isHfBuffer(n));
  if (extra.length) throw new UserError(`${what}: checkpoint has unknown tensor${extra.length > 1 ? 's' : ''} ${extra.slice(0, 8).join(', ')} that a ${c.arch} with this config does not use`);
  const out = new Map<string, Float64Array>();
  for (const [n, shape] of expected) {
    const t = byName.get(n)!;
    if (t.shape.length !== shape.length || t.shape.some((x, i) => x !== shape[i])) {
      throw new UserError(`${what}: tensor ${n} has shape ${fmtShape(t.shape)} but config.json implies ${fmtShape(shape)}`);
    }
    if (t.dtype !== 'F64' && t.dtype !== 'F32' && t.dtype !== 'F16' && t.dtype !== 'BF16') throw new UserError(`${what}: tensor ${n} has dtype ${t.dtype}; weights must be floating point`);
    const f = toFloat64(t);
    for (let i = 0; i < f.length; i++) if (!Number.isFinite(f[i]!)) throw new UserError(`${what}: tensor ${n} holds a non-finite value at flat index ${i}`);
    out.set(n, f);
  }
  if (c.tied && out.has(head)) {
    const a = out.get(head)!;
    const b = out.get(emb)!;
    for (let i = 0; i < a.length; i++) {
      if (a[i] !== b[i]) throw new UserError(`${what}: tie_word_embeddings is true but ${head} differs from ${emb} (flat index ${i}): the checkpoint is inconsistent`);
    }
  }
  return out;
}

/**
 * transformer-lens tensors (LN weights kept, not yet processed), float64, spec LM §3.
 * `nCtx` rows of the positional embedding are kept.
 */
export function hfToTransformerLens(c: HfModelConfig, hf: Map<string, Float64Array>, nCtx: number): Map<string, Float64Array> {
  const { d, H, dh, dMlp: m, vocab: V } = c;
  const g = (n: string) => hf.get(n)!;
  const tl = new Map<string, Float64Array>();
  const transpose = (W: Float64Array, rows: number, cols: number) => {
    const T = new Float64Array(rows * cols);
    for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) T[j * rows + i] = W[i * cols + j]!;
    return T;
  };
  const neox = c.arch === 'GPTNeoXForCausalLM';
  const gpt2 = c.arch === 'GPT2LMHeadModel';
  // arrays are shared with `hf` where the layout is unchanged (processing never mutates its input)
  tl.set('embed.W_E', g(neox ? 'embed_in.weight' : 'wte.weight'));
  if (!neox) tl.set('pos_embed.W_pos', g('wpe.weight').subarray(0, nCtx * d));
  for (let L = 0; L < c.nLayers; L++) {
    const p = neox ? `layers.${L}.` : `h.${L}.`;
    const t = `blocks.${L}.`;
    const ln1 = neox ? 'input_layernorm' : 'ln_1';
    const ln2 = neox ? 'post_attention_layernorm' : 'ln_2';
    tl.set(t + 'ln1.w', g(`${p}${ln1}.weight`));
    tl.set(t + 'ln1.b', g(`${p}${ln1}.bias`));
    tl.set(t + 'ln2.w', g(`${p}${ln2}.weight`));
    tl.set(t + 'ln2.b', g(`${p}${ln2}.bias`));
    // W_j[h, m, e], b_j[h, e], j = Q, K, V
    const Wj = [0, 1, 2].map(() => new Float64Array(H * d * dh));
    const bj = [0, 1, 2].map(() => new Float64Array(H * dh));
    if (gpt2) {
      const A = g(p + 'attn.c_attn.weight'); // [d, 3d]
      const a = g(p + 'attn.c_attn.bias');
      for (let j = 0; j < 3; j++)
        for (let h = 0; h < H; h++)
          for (let e = 0; e < dh; e++) {
            const col = j * d + h * dh + e;
            for (let mm = 0; mm < d; mm++) Wj[j]![(h * d + mm) * dh + e] = A[mm * 3 * d + col]!;
            bj[j]![h * dh + e] = a[col]!;
          }
    } else if (neox) {
      const A = g(p + 'attention.query_key_value.weight'); // [3d, d], rows (head, q/k/v, dh)
      const a = g(p + 'attention.query_key_value.bias');
      for (let j = 0; j < 3; j++)
        for (let h = 0; h < H; h++)
          for (let e = 0; e < dh; e++) {
            const row = h * 3 * dh + j * dh + e;
            for (let mm = 0; mm < d; mm++) Wj[j]![(h * d + mm) * dh + e] = A[row * d + mm]!;
            bj[j]![h * dh + e] = a[row]!;
          }
    } else {
      ['q', 'k', 'v'].forEach((x, j) => {
        const A = g(`${p}attn.attention.${x}_proj.weight`); // [d_out, d_in]
        for (let h = 0; h < H; h++)
          for (let e = 0; e < dh; e++) for (let mm = 0; mm < d; mm++) Wj[j]![(h * d + mm) * dh + e] = A[(h * dh + e) * d + mm]!;
      });
    }
    ['Q', 'K', 'V'].forEach((x, j) => {
      tl.set(`${t}attn.W_${x}`, Wj[j]!);
      tl.set(`${t}attn.b_${x}`, bj[j]!);
    });
    // W_O[h, e, m]
    // GPT-2's c_proj [h·dh + e, m] is already [H, dh, d]
    tl.set(t + 'attn.W_O', gpt2 ? g(p + 'attn.c_proj.weight') : transpose(g(neox ? p + 'attention.dense.weight' : p + 'attn.attention.out_proj.weight'), d, d));
    tl.set(t + 'attn.b_O', g(gpt2 ? p + 'attn.c_proj.bias' : neox ? p + 'attention.dense.bias' : p + 'attn.attention.out_proj.bias'));
    if (gpt2) {
      tl.set(t + 'mlp.W_in', g(p + 'mlp.c_fc.weight'));
      tl.set(t + 'mlp.W_out', g(p + 'mlp.c_proj.weight'));
    } else {
      tl.set(t + 'mlp.W_in', transpose(g(neox ? p + 'mlp.dense_h_to_4h.weight' : p + 'mlp.c_fc.weight'), m, d));
      tl.set(t + 'mlp.W_out', transpose(g(neox ? p + 'mlp.dense_4h_to_h.weight' : p + 'mlp.c_proj.weight'), d, m));
    }
    tl.set(t + 'mlp.b_in', g(neox ? p + 'mlp.dense_h_to_4h.bias' : p + 'mlp.c_fc.bias'));
    tl.set(t + 'mlp.b_out', g(neox ? p + 'mlp.dense_4h_to_h.bias' : p + 'mlp.c_proj.bias'));
  }
  tl.set('ln_final.w', g(neox ? 'final_layer_norm.weight' : 'ln_f.weight'));
  tl.set('ln_final.b', g(neox ? 'final_layer_norm.bias' : 'ln_f.bias'));
  const head = hf.get(headName(c)) ?? g(embName(c)); // [V, d]
  tl.set('unembed.W_U', transpose(head, V, d));
  tl.set('unembed.b_U', new Float64Array(V));
  return tl;
}

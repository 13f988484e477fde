/**
 * Test fixtures for language models: random-init checkpoints in exact Hugging Face layout
 * (key names, Conv1D vs Linear orientation, NeoX per-head fused QKV, tied or untied heads), and an
 * HF-semantics forward pass (spec LM §2) written independently from the raw HF tensors.
 */
import { erf } from '../src/linalg/index.js';
import type { Tensor } from '../src/io/tensor.js';
import { writeZipStored } from '../src/io/zip.js';
import { normalStream, type Arch, type HfFixture } from '../bench/hf-checkpoint.js';

export { makeHfCheckpoint, normalStream, type Arch, type HfFixture, type HfFixtureOptions } from '../bench/hf-checkpoint.js';

// ---- HF-semantics forward (spec LM §2), from the raw HF tensors -------------------------------

const GELU_C = Math.sqrt(2 / Math.PI);
function act(name: string, x: number): number {
  if (name === 'relu') return Math.max(0, x);
  if (name === 'gelu') return 0.5 * x * (1 + erf(x / Math.SQRT2));
  return 0.5 * x * (1 + Math.tanh(GELU_C * (x + 0.044715 * x * x * x)));
}

/** Logits [B, S, V] of the checkpoint as Hugging Face defines it (float64, rib's GPT-Neo semantics). */
export function hfForward(fx: HfFixture, tokens: Int32Array, B: number, S: number, variant: { neoxAdjacentPairs?: boolean; sequentialNeox?: boolean; neoNoWindow?: boolean; neoScale?: boolean } = {}): Float64Array {
  const cfg = fx.config;
  const arch = (cfg['architectures'] as string[])[0] as Arch;
  const neox = arch === 'GPTNeoXForCausalLM';
  const gpt2 = arch === 'GPT2LMHeadModel';
  const pre = neox ? 'gpt_neox.' : 'transformer.';
  const w = (n: string): Float64Array => {
    const t = fx.tensors.get(n) ?? fx.tensors.get(pre + n);
    if (!t) throw new Error(`fixture has no ${n}`);
    return Float64Array.from(t.data as Float64Array);
  };
  const d = (gpt2 ? cfg['n_embd'] : cfg['hidden_size']) as number;
  const H = (gpt2 ? cfg['n_head'] : neox ? cfg['num_attention_heads'] : cfg['num_heads']) as number;
  const nL = (gpt2 ? cfg['n_layer'] : neox ? cfg['num_hidden_layers'] : cfg['num_layers']) as number;
  const V = cfg['vocab_size'] as number;
  const eps = (neox ? cfg['layer_norm_eps'] : cfg['layer_norm_epsilon']) as number;
  const actName = (neox ? cfg['hidden_act'] : cfg['activation_function']) as string;
  const dh = d / H;
  const rows = B * S;
  const LN = (x: Float64Array, name: string) => {
    const g = w(name + '.weight');
    const b = w(name + '.bias');
    const y = new Float64Array(x.length);
    for (let r = 0; r < rows; r++) {
      let mu = 0;
      for (let j = 0; j < d; j++) mu += x[r * d + j]!;
      mu /= d;
      let v = 0;
      for (let j = 0; j < d; j++) v += (x[r * d + j]! - mu) ** 2;
      const sd = Math.sqrt(v / d + eps);
      for (let j = 0; j < d; j++) y[r * d + j] = ((x[r * d + j]! - mu) / sd) * g[j]! + b[j]!;
    }
    return y;
  };
  /** y = x·W (+b): `conv` W [in, out], else W [out, in] (y = x Wᵀ). */
  const lin = (x: Float64Array, W: Float64Array, b: Float64Array | null, nin: number, nout: number, conv: boolean) => {
    const y = new Float64Array(rows * nout);
    for (let r = 0; r < rows; r++)
      for (let o = 0; o < nout; o++) {
        let s = b ? b[o]! : 0;
        for (let i = 0; i < nin; i++) s += x[r * nin + i]! * (conv ? W[i * nout + o]! : W[o * nin + i]!);
        y[r * nout + o] = s;
      }
    return y;
  };
  let x = new Float64Array(rows * d);
  const wte = w(neox ? 'embed_in.weight' : 'wte.weight');
  const wpe = neox ? null : w('wpe.weight');
  for (let b = 0; b < B; b++)
    for (let s = 0; s < S; s++)
      for (let j = 0; j < d; j++) x[(b * S + s) * d + j] = wte[tokens[b * S + s]! * d + j]! + (wpe ? wpe[s * d + j]! : 0);
  const rot = neox ? Math.floor(((cfg['rotary_pct'] as number) ?? 0.25) * dh) : 0;
  const attention = (a: Float64Array, l: number): Float64Array => {
    // Q, K, V [rows, H, dh]
    let Q: Float64Array, K: Float64Array, Vv: Float64Array;
    if (gpt2) {
      const qkv = lin(a, w(`h.${l}.attn.c_attn.weight`), w(`h.${l}.attn.c_attn.bias`), d, 3 * d, true);
      Q = new Float64Array(rows * d); K = new Float64Array(rows * d); Vv = new Float64Array(rows * d);
      for (let r = 0; r < rows; r++)
        for (let c = 0; c < d; c++) {
          Q[r * d + c] = qkv[r * 3 * d + c]!;
          K[r * d + c] = qkv[r * 3 * d + d + c]!;
          Vv[r * d + c] = qkv[r * 3 * d + 2 * d + c]!;
        }
    } else if (neox) {
      const qkv = lin(a, w(`layers.${l}.attention.query_key_value.weight`), w(`layers.${l}.attention.query_key_value.bias`), d, 3 * d, false);
      Q = new Float64Array(rows * d); K = new Float64Array(rows * d); Vv = new Float64Array(rows * d);
      for (let r = 0; r < rows; r++)
        for (let h = 0; h < H; h++)
          for (let e = 0; e < dh; e++) {
            Q[r * d + h * dh + e] = qkv[r * 3 * d + h * 3 * dh + e]!;
            K[r * d + h * dh + e] = qkv[r * 3 * d + h * 3 * dh + dh + e]!;
            Vv[r * d + h * dh + e] = qkv[r * 3 * d + h * 3 * dh + 2 * dh + e]!;
          }
      // rotary, HF form: x·cos + rotate_half(x)·sin on the first `rot` features
      const half = rot / 2;
      for (const X of [Q, K])
        for (let b = 0; b < B; b++)
          for (let p = 0; p < S; p++)
            for (let h = 0; h < H; h++) {
              const o = (b * S + p) * d + h * dh;
              const u = X.slice(o, o + rot);
              for (let i = 0; i < rot; i++) {
                if (variant.neoxAdjacentPairs) {
                  const k = i >> 1;
                  const th = p * Math.pow(10000, (-2 * k) / rot);
                  const partner = i % 2 === 0 ? -u[i + 1]! : u[i - 1]!;
                  X[o + i] = u[i]! * Math.cos(th) + partner * Math.sin(th);
                } else {
                  const th = p * Math.pow(10000, (-2 * (i % half)) / rot);
                  const rh = i < half ? -u[i + half]! : u[i - half]!;
                  X[o + i] = u[i]! * Math.cos(th) + rh * Math.sin(th);
                }
              }
            }
    } else {
      Q = lin(a, w(`h.${l}.attn.attention.q_proj.weight`), null, d, d, false);
      K = lin(a, w(`h.${l}.attn.attention.k_proj.weight`), null, d, d, false);
      Vv = lin(a, w(`h.${l}.attn.attention.v_proj.weight`), null, d, d, false);
    }
    const scale = arch === 'GPTNeoForCausalLM' && !variant.neoScale ? 1 : 1 / Math.sqrt(dh);
    const local = arch === 'GPTNeoForCausalLM' && l % 2 === 1 && !variant.neoNoWindow;
    const z = new Float64Array(rows * d);
    for (let b = 0; b < B; b++)
      for (let h = 0; h < H; h++)
        for (let t = 0; t < S; t++) {
          const sc: number[] = [];
          const lo = local ? Math.max(0, t - 255) : 0;
          for (let s = lo; s <= t; s++) {
            let v = 0;
            for (let e = 0; e < dh; e++) v += Q[(b * S + t) * d + h * dh + e]! * K[(b * S + s) * d + h * dh + e]!;
            sc.push(v * scale);
          }
          const mx = Math.max(...sc);
          const ex = sc.map((v) => Math.exp(v - mx));
          const tot = ex.reduce((p, q) => p + q, 0);
          for (let s = lo; s <= t; s++)
            for (let e = 0; e < dh; e++) z[(b * S + t) * d + h * dh + e]! += (ex[s - lo]! / tot) * Vv[(b * S + s) * d + h * dh + e]!;
        }
    if (gpt2) return lin(z, w(`h.${l}.attn.c_proj.weight`), w(`h.${l}.attn.c_proj.bias`), d, d, true);
    if (neox) return lin(z, w(`layers.${l}.attention.dense.weight`), w(`layers.${l}.attention.dense.bias`), d, d, false);
    return lin(z, w(`h.${l}.attn.attention.out_proj.weight`), w(`h.${l}.attn.attention.out_proj.bias`), d, d, false);
  };
  const mlp = (a: Float64Array, l: number): Float64Array => {
    const m = (neox ? cfg['intermediate_size'] : 4 * d) as number;
    const [fi, fo] = neox ? [`layers.${l}.mlp.dense_h_to_4h`, `layers.${l}.mlp.dense_4h_to_h`] : [`h.${l}.mlp.c_fc`, `h.${l}.mlp.c_proj`];
    const h1 = lin(a, w(fi + '.weight'), w(fi + '.bias'), d, m, gpt2);
    for (let i = 0; i < h1.length; i++) h1[i] = act(actName, h1[i]!);
    return lin(h1, w(fo + '.weight'), w(fo + '.bias'), m, d, gpt2);
  };
  for (let l = 0; l < nL; l++) {
    if (neox && !variant.sequentialNeox) {
      const at = attention(LN(x, `layers.${l}.input_layernorm`), l);
      const ml = mlp(LN(x, `layers.${l}.post_attention_layernorm`), l);
      for (let i = 0; i < x.length; i++) x[i] = x[i]! + at[i]! + ml[i]!;
    } else {
      const [l1, l2] = neox ? [`layers.${l}.input_layernorm`, `layers.${l}.post_attention_layernorm`] : [`h.${l}.ln_1`, `h.${l}.ln_2`];
      const at = attention(LN(x, l1), l);
      x = x.map((v, i) => v + at[i]!);
      const ml = mlp(LN(x, l2), l);
      x = x.map((v, i) => v + ml[i]!);
    }
  }
  const xf = LN(x, neox ? 'final_layer_norm' : 'ln_f');
  const headT = fx.tensors.get(neox ? 'embed_out.weight' : 'lm_head.weight');
  const head = headT ? Float64Array.from(headT.data as Float64Array) : wte;
  return lin(xf, head, null, d, V, false);
}

/** log-softmax over the last axis of [rows, V]. */
export function logSoftmax(x: Float64Array, V: number): Float64Array {
  const y = new Float64Array(x.length);
  for (let r = 0; r < x.length / V; r++) {
    let mx = -Infinity;
    for (let j = 0; j < V; j++) mx = Math.max(mx, x[r * V + j]!);
    let s = 0;
    for (let j = 0; j < V; j++) s += Math.exp(x[r * V + j]! - mx);
    const ls = Math.log(s) + mx;
    for (let j = 0; j < V; j++) y[r * V + j] = x[r * V + j]! - ls;
  }
  return y;
}

export function randomTokens(B: number, S: number, V: number, seed: number): Int32Array {
  const rnd = normalStream(seed);
  const t = new Int32Array(B * S);
  for (let i = 0; i < t.length; i++) t[i] = Math.min(V - 1, Math.floor(Math.abs(rnd() * 1e6)) % V);
  return t;
}

// ---- torch.save writer (zip + protocol-2 pickle of an OrderedDict state_dict) -------------------


/** Bytes of a `torch.save(state_dict)` archive, as pytorch_model.bin files are written. */
export function torchSaveStateDict(tensors: Map<string, Tensor>): Uint8Array {
  const enc = new TextEncoder();
  const out: number[] = [];
  const op = (...b: number[]) => out.push(...b);
  const u32 = (v: number) => op(v & 255, (v >>> 8) & 255, (v >>> 16) & 255, (v >>> 24) & 255);
  const str = (s: string) => {
    const b = enc.encode(s);
    op(0x58);
    u32(b.length);
    op(...b);
  };
  const int = (v: number) => {
    op(0x4a);
    u32(v);
  };
  const global = (mod: string, name: string) => op(0x63, ...enc.encode(`${mod}\n${name}\n`));
  const STORAGE: Record<string, string> = { F64: 'DoubleStorage', F32: 'FloatStorage', U8: 'ByteStorage', BOOL: 'BoolStorage', I64: 'LongStorage', I32: 'IntStorage' };
  const files: Array<[string, Uint8Array]> = [];
  op(0x80, 2);
  global('collections', 'OrderedDict');
  op(0x29, 0x52); // EMPTY_TUPLE, REDUCE → OrderedDict()
  op(0x28); // MARK for SETITEMS
  let key = 0;
  for (const [name, t] of tensors) {
    const numel = t.shape.reduce((a, b) => a * b, 1);
    str(name);
    global('torch._utils', '_rebuild_tensor_v2');
    op(0x28); // MARK args
    op(0x28); // MARK persistent id tuple
    str('storage');
    global('torch', STORAGE[t.dtype]!);
    str(String(key));
    str('cpu');
    int(numel);
    op(0x74, 0x51); // TUPLE, BINPERSID
    int(0); // storage offset
    op(0x28);
    for (const s of t.shape) int(s);
    op(0x74); // size
    op(0x28);
    let st = 1;
    const strides: number[] = [];
    for (let i = t.shape.length - 1; i >= 0; i--) {
      strides.unshift(st);
      st *= t.shape[i]!;
    }
    for (const s of strides) int(s);
    op(0x74); // stride
    op(0x89); // requires_grad False
    global('collections', 'OrderedDict');
    op(0x29, 0x52); // backward hooks
    op(0x74, 0x52); // TUPLE args, REDUCE
    const d = t.data as unknown as { buffer: ArrayBuffer; byteOffset: number; byteLength: number };
    files.push([`archive/data/${key}`, new Uint8Array(d.buffer, d.byteOffset, d.byteLength).slice()]);
    key++;
  }
  op(0x75, 0x2e); // SETITEMS, STOP
  return writeZipStored([['archive/data.pkl', Uint8Array.from(out)], ...files, ['archive/byteorder', enc.encode('little')], ['archive/version', enc.encode('3\n')]]);
}

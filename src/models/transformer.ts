/**
 * transformer-lens style transformers as rib's SequentialTransformer (spec §1.3): learned token
 * and positional embeddings, causal multi-head attention, MLP, LayerNorm (LN with learned weights,
 * folded into the next linear map per §13.5, or LNPre) or none, unembed. Bias folding per §2.3.
 */
import { UserError } from '../errors.js';
import type { Tensor } from '../io/tensor.js';
import { exp } from '../linalg/index.js';
import { actForward, parseActivation, rootOne } from './activations.js';
import { foldMlpLayer } from './mlp.js';
import { Act, Add, AttnIn, AttnOut, Identity, Linear, LnOut, LnVar, Split, type Module } from './modules.js';
import { AddKeepResid, ParallelLnOut, ParallelLnVar } from './parallel.js';
import { RotaryAttnIn, rotateHeads, rotaryTables } from './rotary.js';
import { buildSectioned, type FlatModel } from './sections.js';
import { matMul } from './tuple.js';
import type { ActivationName, Inputs, Model, SectionOptions } from './types.js';
import { asRecord, cfgBool, cfgNum, cfgPosInt, takeTensors } from './weights.js';

export interface TransformerConfig {
  n_layers: number;
  d_model: number;
  d_head: number;
  n_heads: number;
  d_mlp: number;
  d_vocab: number;
  d_vocab_out: number;
  n_ctx: number;
  act_fn: ActivationName;
  normalization_type: null | 'LN' | 'LNPre';
  eps: number;
  use_attn_scale: boolean;
  positional_embedding_type: 'standard' | 'rotary';
  /** rotary models: rotated features per head (NeoX pairing), base 10000 (spec LM §5.2) */
  rotary_dim: number | null;
  /** GPT-NeoX: attention and MLP read the same block input (spec LM §6.3) */
  parallel_attn_mlp: boolean;
  /** GPT-Neo: odd layers attend to the last `window_size` positions only (spec LM §5.3) */
  use_local_attn: boolean;
  /** the local window (transformer-lens' `window_size`; rib's GPT-Neo: LOCAL_ATTN_WINDOW) */
  window_size: number;
  original_architecture: string | null;
}

/** GPT-Neo's local-attention window as rib hard-codes it (spec LM §5.3). */
export const LOCAL_ATTN_WINDOW = 256;

const WHAT = 'transformer';

export function parseTransformerConfig(raw: Record<string, unknown>): TransformerConfig {
  const cfg = asRecord(raw, 'transformer config');
  const nt = cfg['normalization_type'] ?? null;
  if (nt !== null && nt !== 'LN' && nt !== 'LNPre') {
    throw new UserError(`transformer config: normalization_type ${JSON.stringify(nt)} is not supported (use null, "LN" or "LNPre")`);
  }
  const pe = cfg['positional_embedding_type'] ?? 'standard';
  if (pe !== 'standard' && pe !== 'rotary') throw new UserError(`transformer config: positional_embedding_type ${JSON.stringify(pe)} is not supported (use "standard" or "rotary")`);
  for (const k of ['attn_only', 'use_split_qkv_input'] as const) {
    if (cfg[k] !== undefined && cfg[k] !== null && cfg[k] !== false) throw new UserError(`transformer config: ${k} = ${JSON.stringify(cfg[k])} is not supported`);
  }
  const d_model = cfgPosInt(cfg, 'd_model', WHAT);
  const n_heads = cfgPosInt(cfg, 'n_heads', WHAT);
  const d_vocab = cfgPosInt(cfg, 'd_vocab', WHAT);
  const dvo = cfg['d_vocab_out'];
  const d_vocab_out = dvo === undefined || dvo === null || dvo === -1 ? d_vocab : cfgPosInt(cfg, 'd_vocab_out', WHAT);
  const act = cfg['act_fn'] ?? 'relu';
  const d_head = cfgPosInt(cfg, 'd_head', WHAT);
  let rotary_dim: number | null = null;
  if (pe === 'rotary') {
    rotary_dim = cfgPosInt(cfg, 'rotary_dim', WHAT);
    if (rotary_dim % 2 !== 0 || rotary_dim > d_head) throw new UserError(`transformer config: rotary_dim ${rotary_dim} must be even and ≤ d_head ${d_head}`);
    const base = cfg['rotary_base'] ?? 10000;
    if (base !== 10000) throw new UserError(`transformer config: rotary_base ${JSON.stringify(base)} is not supported (transformer-lens 1.10 and rib use 10000)`);
  }
  const use_local_attn = cfgBool(cfg, 'use_local_attn', WHAT, false);
  const window_size = cfg['window_size'] === undefined || cfg['window_size'] === null ? LOCAL_ATTN_WINDOW : cfgPosInt(cfg, 'window_size', WHAT);
  if (use_local_attn && nt === null) throw new UserError('transformer config: use_local_attn needs normalization_type "LN" or "LNPre" (as GPT-Neo has)');
  const oa = cfg['original_architecture'] ?? null;
  return {
    n_layers: cfgPosInt(cfg, 'n_layers', WHAT),
    d_model,
    d_head,
    n_heads,
    d_mlp: cfgPosInt(cfg, 'd_mlp', WHAT),
    d_vocab,
    d_vocab_out,
    n_ctx: cfgPosInt(cfg, 'n_ctx', WHAT),
    act_fn: parseActivation(act, 'transformer config act_fn'),
    normalization_type: nt,
    eps: cfgNum(cfg, 'eps', WHAT, 1e-5),
    use_attn_scale: cfgBool(cfg, 'use_attn_scale', WHAT, true),
    positional_embedding_type: pe,
    rotary_dim,
    parallel_attn_mlp: cfgBool(cfg, 'parallel_attn_mlp', WHAT, false),
    use_local_attn,
    window_size,
    original_architecture: typeof oa === 'string' ? oa : null,
  };
}

/** Tensor names and shapes the config implies (transformer-lens state_dict names). */
export function transformerTensorShapes(c: TransformerConfig): Map<string, number[]> {
  const { d_model: d, n_heads: H, d_head: dh, d_mlp: m } = c;
  const s = new Map<string, number[]>();
  s.set('embed.W_E', [c.d_vocab, d]);
  if (c.positional_embedding_type === 'standard') s.set('pos_embed.W_pos', [c.n_ctx, d]);
  for (let L = 0; L < c.n_layers; L++) {
    const p = `blocks.${L}.`;
    if (c.normalization_type === 'LN') {
      s.set(p + 'ln1.w', [d]);
      s.set(p + 'ln1.b', [d]);
    }
    for (const x of ['Q', 'K', 'V']) s.set(`${p}attn.W_${x}`, [H, d, dh]);
    s.set(p + 'attn.W_O', [H, dh, d]);
    for (const x of ['Q', 'K', 'V']) s.set(`${p}attn.b_${x}`, [H, dh]);
    s.set(p + 'attn.b_O', [d]);
    if (c.normalization_type === 'LN') {
      s.set(p + 'ln2.w', [d]);
      s.set(p + 'ln2.b', [d]);
    }
    s.set(p + 'mlp.W_in', [d, m]);
    s.set(p + 'mlp.b_in', [m]);
    s.set(p + 'mlp.W_out', [m, d]);
    s.set(p + 'mlp.b_out', [d]);
  }
  if (c.normalization_type === 'LN') {
    s.set('ln_final.w', [d]);
    s.set('ln_final.b', [d]);
  }
  s.set('unembed.W_U', [d, c.d_vocab_out]);
  s.set('unembed.b_U', [c.d_vocab_out]);
  return s;
}

/** transformer-lens buffers that carry no weights. */
const isBuffer = (n: string): boolean => /^blocks\.\d+\.attn\.(mask|IGNORE)$/.test(n);

export function buildTransformer(rawConfig: Record<string, unknown>, tensors: Map<string, Tensor>, folded: Record<string, Float64Array> | null = null): Model {
  const c = parseTransformerConfig(rawConfig);
  const w = takeTensors(tensors, transformerTensorShapes(c), isBuffer, 'transformer');
  if (c.positional_embedding_type === 'rotary' && tensors.has('pos_embed.W_pos')) throw new UserError('transformer: a rotary model has no pos_embed.W_pos, but the checkpoint holds one');
  return transformerFromWeights(c, w, folded);
}

export function transformerModuleIds(n_layers: number, rotary = false): string[] {
  const ids = rotary ? ['embed'] : ['embed', 'pos_embed', 'add_embed'];
  for (let L = 0; L < n_layers; L++) {
    for (const m of ['ln1', 'ln1_out', 'attn_in', 'attn_out', 'add_resid1', 'ln2', 'ln2_out', 'mlp_in', 'mlp_act', 'mlp_out', 'add_resid2']) ids.push(`${m}.${L}`);
  }
  ids.push('ln_final', 'ln_final_out', 'unembed');
  return ids;
}

/** W ← diag(lnw)·W (rows), and bias += lnb·W (original W); W [d, n] per slab of `slabs`. */
function foldLn(W: Float64Array, b: Float64Array, lnw: Float64Array, lnb: Float64Array, slabs: number, d: number, n: number): { W: Float64Array; b: Float64Array } {
  const W2 = new Float64Array(W.length);
  const b2 = new Float64Array(b);
  for (let s = 0; s < slabs; s++) {
    for (let i = 0; i < d; i++) {
      const o = (s * d + i) * n;
      for (let j = 0; j < n; j++) {
        W2[o + j] = lnw[i]! * W[o + j]!;
        b2[s * n + j]! += lnb[i]! * W[o + j]!;
      }
    }
  }
  return { W: W2, b: b2 };
}

interface Folded {
  WE: Float64Array; // [V, d+1]
  Wpos: Float64Array; // [n_ctx, d+1]
  layers: Array<{ Wq: Float64Array; Wk: Float64Array; Wv: Float64Array; Wo: Float64Array; Win: Float64Array; Wout: Float64Array }>;
  WU: Float64Array; // [d+1, V_out]
}

/** Bias folding (spec §2.3) after folding learned LN weights into the next linear map (§13.5). */
export function foldTransformer(c: TransformerConfig, w: Map<string, Float64Array>): Folded {
  const { d_model: d, n_heads: H, d_head: dh, d_mlp: m } = c;
  const d1 = d + 1;
  const dv = dh + 1;
  const rho = rootOne(c.act_fn);
  const LN = c.normalization_type === 'LN';
  const g = (n: string) => w.get(n)!;
  const WE = new Float64Array(c.d_vocab * d1);
  const rotary = c.positional_embedding_type === 'rotary';
  for (let v = 0; v < c.d_vocab; v++) {
    WE.set(g('embed.W_E').subarray(v * d, (v + 1) * d), v * d1);
    if (rotary) WE[v * d1 + d] = 1; // no W_pos: the constant comes with the token (spec LM §6.4)
  }
  const Wpos = new Float64Array(rotary ? 0 : c.n_ctx * d1);
  for (let p = 0; p < (rotary ? 0 : c.n_ctx); p++) {
    Wpos.set(g('pos_embed.W_pos').subarray(p * d, (p + 1) * d), p * d1);
    Wpos[p * d1 + d] = 1;
  }
  const layers: Folded['layers'] = [];
  for (let L = 0; L < c.n_layers; L++) {
    const p = `blocks.${L}.`;
    const qkv: Record<string, { W: Float64Array; b: Float64Array }> = {};
    for (const x of ['Q', 'K', 'V']) {
      let W = g(`${p}attn.W_${x}`);
      let b = g(`${p}attn.b_${x}`);
      if (LN) ({ W, b } = foldLn(W, b, g(p + 'ln1.w'), g(p + 'ln1.b'), H, d, dh));
      qkv[x] = { W, b };
    }
    // Wq, Wk [d+1, H·dh]: column h·dh+c = W[h, :, c]; last row b[h, c]
    const flatQK = (W: Float64Array, b: Float64Array) => {
      const F = new Float64Array(d1 * H * dh);
      for (let h = 0; h < H; h++)
        for (let i = 0; i < d; i++) for (let cc = 0; cc < dh; cc++) F[i * H * dh + h * dh + cc] = W[(h * d + i) * dh + cc]!;
      for (let h = 0; h < H; h++) for (let cc = 0; cc < dh; cc++) F[d * H * dh + h * dh + cc] = b[h * dh + cc]!;
      return F;
    };
    const Wq = flatQK(qkv['Q']!.W, qkv['Q']!.b);
    const Wk = flatQK(qkv['K']!.W, qkv['K']!.b);
    // Wv [d+1, H·(dh+1)]: per head [[W_V[h], 0], [b_V[h], 1]]
    const Wv = new Float64Array(d1 * H * dv);
    {
      const { W, b } = qkv['V']!;
      for (let h = 0; h < H; h++) {
        for (let i = 0; i < d; i++) for (let cc = 0; cc < dh; cc++) Wv[i * H * dv + h * dv + cc] = W[(h * d + i) * dh + cc]!;
        for (let cc = 0; cc < dh; cc++) Wv[d * H * dv + h * dv + cc] = b[h * dh + cc]!;
        Wv[d * H * dv + h * dv + dh] = 1;
      }
    }
    // Wo [H·(dh+1), d+1]: per head [[W_O[h], 0], [b_O/H, 0]]
    const Wo = new Float64Array(H * dv * d1);
    {
      const WO = g(p + 'attn.W_O');
      const bO = g(p + 'attn.b_O');
      for (let h = 0; h < H; h++) {
        for (let cc = 0; cc < dh; cc++) for (let j = 0; j < d; j++) Wo[(h * dv + cc) * d1 + j] = WO[(h * dh + cc) * d + j]!;
        for (let j = 0; j < d; j++) Wo[(h * dv + dh) * d1 + j] = bO[j]! / H;
      }
    }
    let Win0 = g(p + 'mlp.W_in');
    let bin0 = g(p + 'mlp.b_in');
    if (LN) ({ W: Win0, b: bin0 } = foldLn(Win0, bin0, g(p + 'ln2.w'), g(p + 'ln2.b'), 1, d, m));
    const Win = foldMlpLayer(Win0, bin0, d, m, rho);
    // W_out' [d_mlp+1, d+1] = [[W_out, 0], [b_out, 0]]
    const Wout = new Float64Array((m + 1) * d1);
    {
      const W = g(p + 'mlp.W_out');
      const b = g(p + 'mlp.b_out');
      for (let i = 0; i < m; i++) Wout.set(W.subarray(i * d, (i + 1) * d), i * d1);
      Wout.set(b, m * d1);
    }
    layers.push({ Wq, Wk, Wv, Wo, Win, Wout });
  }
  let WU0 = g('unembed.W_U');
  let bU0 = g('unembed.b_U');
  if (LN) ({ W: WU0, b: bU0 } = foldLn(WU0, bU0, g('ln_final.w'), g('ln_final.b'), 1, d, c.d_vocab_out));
  const WU = foldMlpLayer(WU0, bU0, d, c.d_vocab_out, null);
  return { WE, Wpos, layers, WU };
}

function checkTokens(inputs: Inputs, c: TransformerConfig): { tok: Int32Array; B: number; S: number } {
  if (inputs.kind !== 'tokens') throw new UserError(`transformer: inputs must be token ids, got ${inputs.kind}`);
  const { data, batch: B, seqLen: S } = inputs;
  if (S < 1 || S > c.n_ctx) throw new UserError(`transformer: sequence length ${S} must be in 1..n_ctx (${c.n_ctx})`);
  if (data.length !== B * S) throw new UserError(`transformer: token data has ${data.length} ids, expected ${B}×${S}`);
  for (let i = 0; i < data.length; i++) {
    const t = data[i]!;
    if (!(t >= 0 && t < c.d_vocab)) throw new UserError(`transformer: token id ${t} at flat index ${i} is outside the vocabulary [0, ${c.d_vocab})`);
  }
  return { tok: data, B, S };
}

const LAYER_KEYS = ['Wq', 'Wk', 'Wv', 'Wo', 'Win', 'Wout'] as const;

/** The folded weights as a flat record (WE, Wpos, WU, L<i>.Wq …), and back. */
function foldedRecord(f: Folded): Record<string, Float64Array> {
  const r: Record<string, Float64Array> = { WE: f.WE, Wpos: f.Wpos, WU: f.WU };
  f.layers.forEach((l, i) => LAYER_KEYS.forEach((k) => (r[`L${i}.${k}`] = l[k])));
  return r;
}

function foldedFromRecord(c: TransformerConfig, r: Record<string, Float64Array>): Folded {
  const get = (k: string) => {
    const a = r[k];
    if (!(a instanceof Float64Array)) throw new UserError(`model spec: folded weight ${k} is missing`);
    return a;
  };
  const layers = Array.from({ length: c.n_layers }, (_, i) => {
    const l = {} as Folded['layers'][number];
    for (const k of LAYER_KEYS) l[k] = get(`L${i}.${k}`);
    return l;
  });
  return { WE: get('WE'), Wpos: get('Wpos'), WU: get('WU'), layers };
}

export function transformerFromWeights(c: TransformerConfig, w: Map<string, Float64Array>, preFolded: Record<string, Float64Array> | null = null): Model {
  const rotary = c.positional_embedding_type === 'rotary';
  const moduleIds = transformerModuleIds(c.n_layers, rotary);
  const shapes = transformerTensorShapes(c);
  let folded: Folded | null = preFolded ? foldedFromRecord(c, preFolded) : null;
  const flat = (lpt: 'add_resid1' | 'unembed' | null): FlatModel => {
    folded ??= foldTransformer(c, w);
    const f = folded;
    const { d_model: d, n_heads: H, d_head: dh, d_mlp: m } = c;
    const d1 = d + 1;
    const LN = c.normalization_type !== null;
    const scale = c.use_attn_scale ? 1 / Math.sqrt(dh) : 1;
    const mods: Module[] = rotary ? [] : [new Add('add_embed', false)];
    const par = c.parallel_attn_mlp;
    for (let L = 0; L < c.n_layers; L++) {
      const Lw = f.layers[L]!;
      const attnIn = new AttnIn(`attn_in.${L}`, Lw.Wq, Lw.Wk, Lw.Wv, d1, H * dh, H * (dh + 1));
      const window = c.use_local_attn && L % 2 === 1 ? c.window_size : Infinity;
      mods.push(
        LN ? new LnVar(`ln1.${L}`) : new Identity(`ln1.${L}`),
        LN ? new LnOut(`ln1_out.${L}`, c.eps, true) : new Split(`ln1_out.${L}`),
        rotary ? new RotaryAttnIn(attnIn, H, dh, c.rotary_dim!) : attnIn,
        new AttnOut(`attn_out.${L}`, Lw.Wo, H, dh, dh + 1, d1, scale, window),
        par ? new AddKeepResid(`add_resid1.${L}`, lpt === 'add_resid1') : new Add(`add_resid1.${L}`, lpt === 'add_resid1'),
        par ? new ParallelLnVar(`ln2.${L}`) : LN ? new LnVar(`ln2.${L}`) : new Identity(`ln2.${L}`),
        par ? new ParallelLnOut(`ln2_out.${L}`, c.eps) : LN ? new LnOut(`ln2_out.${L}`, c.eps, true) : new Split(`ln2_out.${L}`),
        new Linear(`mlp_in.${L}`, Lw.Win, d1, m + 1),
        new Act(`mlp_act.${L}`, c.act_fn),
        new Linear(`mlp_out.${L}`, Lw.Wout, m + 1, d1),
        new Add(`add_resid2.${L}`, false),
      );
    }
    mods.push(
      LN ? new LnVar('ln_final') : new Identity('ln_final'),
      LN ? new LnOut('ln_final_out', c.eps, false) : new Identity('ln_final_out'),
      new Linear('unembed', f.WU, d1, c.d_vocab_out, lpt === 'unembed'),
    );
    return {
      kind: 'transformer',
      stemIds: rotary ? ['embed'] : ['embed', 'pos_embed'],
      modules: mods,
      stemShape: (S: number) => ({ P: S, w: rotary ? [d1] : [d1, d1] }),
      stem(inputs: Inputs) {
        const { tok, B, S } = checkTokens(inputs, c);
        if (rotary) {
          const te = new Float64Array(B * S * d1);
          for (let i = 0; i < B * S; i++) te.set(f.WE.subarray(tok[i]! * d1, (tok[i]! + 1) * d1), i * d1);
          return { P: S, w: [d1], parts: [te] };
        }
        const te = new Float64Array(B * S * d1);
        const pe = new Float64Array(B * S * d1);
        for (let b = 0; b < B; b++)
          for (let s = 0; s < S; s++) {
            const o = (b * S + s) * d1;
            te.set(f.WE.subarray(tok[b * S + s]! * d1, (tok[b * S + s]! + 1) * d1), o);
            pe.set(f.Wpos.subarray(s * d1, (s + 1) * d1), o);
          }
        return { P: S, w: [d1, d1], parts: [te, pe] };
      },
    };
  };
  return {
    kind: 'transformer',
    config: { ...c },
    tensors: w,
    shapes,
    moduleIds,
    folded(place?: (a: Float64Array) => Float64Array) {
      folded ??= foldTransformer(c, w);
      if (place) {
        const f = folded;
        folded = { WE: place(f.WE), Wpos: place(f.Wpos), WU: place(f.WU), layers: f.layers.map((l) => ({ Wq: place(l.Wq), Wk: place(l.Wk), Wv: place(l.Wv), Wo: place(l.Wo), Win: place(l.Win), Wout: place(l.Wout) })) };
      }
      return foldedRecord(folded);
    },
    sectioned(nodeLayers: string[], opts?: SectionOptions) {
      const lpt = opts?.lastPosModuleType ?? null;
      if (lpt !== null && lpt !== 'add_resid1' && lpt !== 'unembed') {
        throw new UserError(`last_pos_module_type must be "add_resid1", "unembed" or null, got ${JSON.stringify(lpt)}`);
      }
      const S = opts?.seqLen ?? c.n_ctx;
      if (!Number.isInteger(S) || S < 1 || S > c.n_ctx) throw new UserError(`seqLen ${S} must be in 1..n_ctx (${c.n_ctx})`);
      const fm = flat(lpt);
      const sm = buildSectioned(fm, nodeLayers, S);
      const pre = sm.pre;
      const checkLen = (inputs: Inputs) => {
        if (inputs.kind === 'tokens' && inputs.seqLen !== S) {
          throw new UserError(`transformer: inputs have sequence length ${inputs.seqLen}, but the model was sectioned for ${S}`);
        }
      };
      return {
        nodeLayers: sm.nodeLayers,
        sections: sm.sections,
        pre: (inputs: Inputs) => (checkLen(inputs), pre(inputs)),
        logits: (inputs: Inputs) => (checkLen(inputs), sm.logits(inputs)),
      };
    },
    forwardUnfolded: (inputs: Inputs) => referenceForward(c, w, inputs),
  };
}

/** Plain transformer-lens forward from the unfolded weights: logits [B, S, V_out]. */
function referenceForward(c: TransformerConfig, w: Map<string, Float64Array>, inputs: Inputs): Float64Array {
  const { tok, B, S } = checkTokens(inputs, c);
  const { d_model: d, n_heads: H, d_head: dh, d_mlp: m } = c;
  const g = (n: string) => w.get(n)!;
  const rows = B * S;
  const resid = new Float64Array(rows * d);
  for (let b = 0; b < B; b++)
    for (let s = 0; s < S; s++)
      for (let j = 0; j < d; j++) resid[(b * S + s) * d + j] = g('embed.W_E')[tok[b * S + s]! * d + j]! + (c.rotary_dim === null ? g('pos_embed.W_pos')[s * d + j]! : 0);
  const rot = c.rotary_dim !== null ? rotaryTables(S, c.rotary_dim) : null;
  const norm = (x: Float64Array, wn: string | null): Float64Array => {
    if (c.normalization_type === null) return x;
    const y = new Float64Array(x.length);
    for (let r = 0; r < rows; r++) {
      let mu = 0;
      for (let j = 0; j < d; j++) mu += x[r * d + j]!;
      mu /= d;
      let v = 0;
      for (let j = 0; j < d; j++) v += (x[r * d + j]! - mu) ** 2;
      const sc = Math.sqrt(v / d + c.eps);
      for (let j = 0; j < d; j++) {
        let t = (x[r * d + j]! - mu) / sc;
        if (c.normalization_type === 'LN' && wn) t = t * g(wn + '.w')[j]! + g(wn + '.b')[j]!;
        y[r * d + j] = t;
      }
    }
    return y;
  };
  const affine = (x: Float64Array, W: Float64Array, bias: Float64Array, k: number, n: number) => {
    const y = matMul(x, rows, k, W, n);
    for (let r = 0; r < rows; r++) for (let j = 0; j < n; j++) y[r * n + j]! += bias[j]!;
    return y;
  };
  const scale = c.use_attn_scale ? 1 / Math.sqrt(dh) : 1;
  for (let L = 0; L < c.n_layers; L++) {
    const p = `blocks.${L}.`;
    const x = norm(resid, p + 'ln1');
    const attn = new Float64Array(rows * d);
    for (let h = 0; h < H; h++) {
      const sl = (n: string, len: number) => g(n).subarray(h * len, (h + 1) * len);
      const q = affine(x, sl(p + 'attn.W_Q', d * dh), sl(p + 'attn.b_Q', dh), d, dh);
      const k = affine(x, sl(p + 'attn.W_K', d * dh), sl(p + 'attn.b_K', dh), d, dh);
      const v = affine(x, sl(p + 'attn.W_V', d * dh), sl(p + 'attn.b_V', dh), d, dh);
      if (rot) {
        rotateHeads(q, B, S, 1, dh, rot);
        rotateHeads(k, B, S, 1, dh, rot);
      }
      const z = new Float64Array(rows * dh);
      const j0 = (i: number) => (c.use_local_attn && L % 2 === 1 ? Math.max(0, i + 1 - LOCAL_ATTN_WINDOW) : 0);
      for (let b = 0; b < B; b++)
        for (let i = 0; i < S; i++) {
          const sc = new Float64Array(i + 1);
          let mx = -Infinity;
          for (let j = j0(i); j <= i; j++) {
            let t = 0;
            for (let cc = 0; cc < dh; cc++) t += q[(b * S + i) * dh + cc]! * k[(b * S + j) * dh + cc]!;
            sc[j] = t * scale;
            mx = Math.max(mx, sc[j]!);
          }
          let tot = 0;
          for (let j = j0(i); j <= i; j++) tot += (sc[j] = exp(sc[j]! - mx));
          for (let j = j0(i); j <= i; j++)
            for (let cc = 0; cc < dh; cc++) z[(b * S + i) * dh + cc]! += (sc[j]! / tot) * v[(b * S + j) * dh + cc]!;
        }
      const o = matMul(z, rows, dh, g(p + 'attn.W_O').subarray(h * dh * d, (h + 1) * dh * d), d);
      for (let i = 0; i < o.length; i++) attn[i]! += o[i]!;
    }
    const bO = g(p + 'attn.b_O');
    const x2par = c.parallel_attn_mlp ? norm(new Float64Array(resid), p + 'ln2') : null; // LN2 reads the block input
    for (let r = 0; r < rows; r++) for (let j = 0; j < d; j++) resid[r * d + j]! += attn[r * d + j]! + bO[j]!;
    const x2 = x2par ?? norm(resid, p + 'ln2');
    const pre = affine(x2, g(p + 'mlp.W_in'), g(p + 'mlp.b_in'), d, m);
    const out = affine(actForward(c.act_fn, pre, pre), g(p + 'mlp.W_out'), g(p + 'mlp.b_out'), m, d);
    for (let i = 0; i < resid.length; i++) resid[i]! += out[i]!;
  }
  const xf = norm(resid, 'ln_final');
  return affine(xf, g('unembed.W_U'), g('unembed.b_U'), d, c.d_vocab_out);
}

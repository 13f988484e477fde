/**
 * Hugging Face checkpoints → processed transformer-lens model (spec LM §1–§6, checks §10):
 * log-softmax against an independent HF-semantics forward, processing invariants, node-layer
 * widths, the §10.4 sensitivity checks, every section's VJP against central differences, and
 * clear errors for malformed checkpoints.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { initKernels } from '../src/linalg/index.js';
import { checkHfTensors, hfModel, hfToTransformerLens, parseHfConfig, tlConfigOf } from '../src/models/hf/index.js';
import { buildModel, parseTransformerConfig, sectionJacobian, transformerTensorShapes } from '../src/models/index.js';
import type { Tensor } from '../src/io/tensor.js';
import type { Inputs, Model, Section } from '../src/models/types.js';
import { UserError } from '../src/errors.js';
import { hfForward, logSoftmax, makeHfCheckpoint, randomTokens, type Arch, type HfFixture } from './lm-fixtures.js';
import { maxAbsRelErr } from './helpers/compare.js';

beforeAll(async () => {
  await initKernels();
});

const ARCHS: Arch[] = ['GPT2LMHeadModel', 'GPTNeoForCausalLM', 'GPTNeoXForCausalLM'];
const tokens = (B: number, S: number, V: number, seed: number): Inputs => ({ kind: 'tokens', data: randomTokens(B, S, V, seed), batch: B, seqLen: S });

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

function fixture(arch: Arch, extra: Parameters<typeof makeHfCheckpoint>[1] = {}): HfFixture {
  return makeHfCheckpoint(arch, { seed: 3, layers: 2, d: 8, heads: 2, vocab: 13, positions: 16, ...extra });
}

describe('HF → transformer-lens: log-softmax equals the HF forward', () => {
  const cases: Array<[Arch, Parameters<typeof makeHfCheckpoint>[1]]> = [
    ['GPT2LMHeadModel', {}],
    ['GPT2LMHeadModel', { prefix: true, storeHead: true, f32: true }],
    ['GPT2LMHeadModel', { tied: false, act: 'relu' }],
    ['GPTNeoForCausalLM', {}],
    ['GPTNeoForCausalLM', { prefix: true, layers: 3, f32: true }],
    ['GPTNeoXForCausalLM', { d: 16, dMlp: 24 }],
    ['GPTNeoXForCausalLM', { d: 16, dMlp: 24, prefix: true, tied: true, rotaryPct: 0.25, f32: true }],
    ['GPTNeoXForCausalLM', { d: 24, heads: 2, dMlp: 40, rotaryPct: 1 }],
  ];
  for (const [arch, o] of cases) {
    it(`${arch} ${JSON.stringify(o)}`, () => {
      const fx = fixture(arch, o);
      const model = hfModel(fx.config, fx.tensors);
      const V = 13;
      const S = 12;
      const inp = tokens(3, S, V, 9);
      const ref = logSoftmax(hfForward(fx, inp.data as Int32Array, 3, S), V);
      // processed TL forward (LNPre, centred weights): log-softmax to roundoff
      const tl = model.forwardUnfolded(inp);
      expect(maxAbsDiff(logSoftmax(tl, V), ref)).toBeLessThan(1e-12);
      // processed logits = HF logits minus their vocabulary mean (spec LM §4)
      const hfl = hfForward(fx, inp.data as Int32Array, 3, S);
      for (let r = 0; r < 3 * S; r++) {
        let mu = 0;
        for (let v = 0; v < V; v++) mu += hfl[r * V + v]!;
        mu /= V;
        for (let v = 0; v < V; v++) expect(Math.abs(tl[r * V + v]! - (hfl[r * V + v]! - mu))).toBeLessThan(1e-12);
      }
      // bias-folded module list (spec LM §6): equal up to act(ρ) = 1 ± 1e-11
      const sm = model.sectioned(['ln1.0'], { seqLen: S });
      const folded = sm.logits(inp);
      expect(maxAbsDiff(logSoftmax(folded, V), ref)).toBeLessThan(1e-10);
    });
  }

  for (const arch of ARCHS) {
    it(`${arch}: unprocessed transformer-lens weights (LN with weights) give the HF logits themselves (spec LM §10.1)`, () => {
      const fx = fixture(arch, arch === 'GPTNeoXForCausalLM' ? { d: 16, dMlp: 24 } : {});
      const hfc = parseHfConfig(fx.config);
      const tl = hfToTransformerLens(hfc, checkHfTensors(hfc, fx.tensors, 'fx'), hfc.nCtx);
      const cfg = { ...tlConfigOf(hfc, hfc.nCtx), normalization_type: 'LN' };
      const shapes = transformerTensorShapes(parseTransformerConfig(cfg));
      const t = new Map<string, Tensor>();
      for (const [k, v] of tl) t.set(k, { dtype: 'F64', shape: shapes.get(k)!, data: v });
      const m = buildModel('transformer', cfg, t);
      const inp = tokens(2, 10, 13, 12);
      expect(maxAbsDiff(m.forwardUnfolded(inp), hfForward(fx, inp.data as Int32Array, 2, 10))).toBeLessThan(1e-12);
    });
  }

  it('processed residuals have zero mean over d_model; parallel ln2 slots carry the block input (spec LM §10.2–3)', () => {
    const fx = fixture('GPTNeoXForCausalLM', { d: 16, dMlp: 24 });
    const model = hfModel(fx.config, fx.tensors);
    const S = 6;
    const sm = model.sectioned(['ln1.1', 'add_resid1.1', 'ln2.1', 'ln2_out.1', 'mlp_in.1'], { seqLen: S });
    const inp = tokens(2, S, 13, 4);
    const a0 = sm.pre(inp); // ln1.1: resid [B, S, 17]
    const a1 = sm.sections[0]!.forward(a0, 2); // add_resid1.1: (a, r)
    const a2 = sm.sections[1]!.forward(a1, 2); // ln2.1: (r + a, r)
    const a3 = sm.sections[2]!.forward(a2, 2); // ln2_out.1: (var, r, r + a)
    const a4 = sm.sections[3]!.forward(a3, 2); // mlp_in.1: (LN(r) ⊕ 1, r + a)
    const D = 17;
    for (let row = 0; row < 2 * S; row++) {
      let mu = 0;
      for (let j = 0; j < 16; j++) mu += a0[row * D + j]!;
      expect(Math.abs(mu / 16)).toBeLessThan(1e-14);
      expect(a0[row * D + 16]).toBe(1);
      // ln2 second slot = block input; ln2_out coordinate 0 = its variance; mlp_in second slot = ln2 first slot
      for (let j = 0; j < D; j++) {
        expect(a2[row * 2 * D + D + j]).toBe(a0[row * D + j]);
        expect(a4[row * 2 * D + D + j]).toBe(a2[row * 2 * D + j]);
        expect(a3[row * (1 + 2 * D) + 1 + j]).toBe(a0[row * D + j]);
      }
      let v = 0;
      for (let j = 0; j < 16; j++) v += (a0[row * D + j]! - mu / 16) ** 2;
      expect(Math.abs(a3[row * (1 + 2 * D)]! - v / 16)).toBeLessThan(1e-14);
    }
  });
});

describe('sensitivity (spec LM §10.4): each mistake changes the log-softmax far beyond roundoff', () => {
  it('GPT-NeoX: adjacent pairing and a sequential block are visible', () => {
    const fx = fixture('GPTNeoXForCausalLM', { d: 16, dMlp: 24 });
    const model = hfModel(fx.config, fx.tensors);
    const inp = tokens(2, 10, 13, 5);
    const ours = logSoftmax(model.forwardUnfolded(inp), 13);
    expect(maxAbsDiff(ours, logSoftmax(hfForward(fx, inp.data as Int32Array, 2, 10), 13))).toBeLessThan(1e-12);
    expect(maxAbsDiff(ours, logSoftmax(hfForward(fx, inp.data as Int32Array, 2, 10, { neoxAdjacentPairs: true }), 13))).toBeGreaterThan(1e-4);
    expect(maxAbsDiff(ours, logSoftmax(hfForward(fx, inp.data as Int32Array, 2, 10, { sequentialNeox: true }), 13))).toBeGreaterThan(1e-4);
  });
  it('GPT-Neo: dropping the local window (300 positions) or adding a 1/√dh scale is visible', () => {
    const fx = fixture('GPTNeoForCausalLM', { positions: 320, d: 8, heads: 2 });
    const model = hfModel(fx.config, fx.tensors);
    const S = 300;
    const inp = tokens(1, S, 13, 6);
    const ours = logSoftmax(model.forwardUnfolded(inp), 13);
    const ref = logSoftmax(hfForward(fx, inp.data as Int32Array, 1, S), 13);
    expect(maxAbsDiff(ours, ref)).toBeLessThan(1e-12);
    const folded = logSoftmax(model.sectioned(['ln1.0'], { seqLen: S }).logits(inp), 13);
    expect(maxAbsDiff(folded, ref)).toBeLessThan(1e-10);
    expect(maxAbsDiff(ours, logSoftmax(hfForward(fx, inp.data as Int32Array, 1, S, { neoNoWindow: true }), 13))).toBeGreaterThan(1e-4);
    expect(maxAbsDiff(ours, logSoftmax(hfForward(fx, inp.data as Int32Array, 1, S, { neoScale: true }), 13))).toBeGreaterThan(1e-4);
  });
});

describe('module ids and node-layer widths (spec LM §6.2, §6.5)', () => {
  it('sequential and parallel rotary models', () => {
    const gpt2 = hfModel(fixture('GPT2LMHeadModel').config, fixture('GPT2LMHeadModel').tensors);
    expect(gpt2.moduleIds.slice(0, 4)).toEqual(['embed', 'pos_embed', 'add_embed', 'ln1.0']);
    const neox = hfModel(fixture('GPTNeoXForCausalLM', { d: 16, dMlp: 24 }).config, fixture('GPTNeoXForCausalLM', { d: 16, dMlp: 24 }).tensors);
    expect(neox.moduleIds.slice(0, 2)).toEqual(['embed', 'ln1.0']);
    expect(neox.moduleIds).not.toContain('pos_embed');
    const ids = ['ln1', 'ln1_out', 'attn_in', 'attn_out', 'add_resid1', 'ln2', 'ln2_out', 'mlp_in', 'mlp_act', 'mlp_out', 'add_resid2'].map((m) => `${m}.0`);
    const all = [...ids, 'ln_final', 'ln_final_out', 'unembed', 'output'];
    const wSeq = gpt2.sectioned(all, { seqLen: 4 }).nodeLayers.map((n) => n.dim);
    // d 8, H 2, dh 4, d_mlp 32, V 13
    expect(wSeq).toEqual([9, 10, 18, 4 * 8 + 2 + 1, 18, 9, 10, 18, 32 + 1 + 9, 32 + 1 + 9, 18, 9, 10, 9, 13]);
    const wPar = neox.sectioned(all, { seqLen: 4 }).nodeLayers.map((n) => n.dim);
    // d 16, H 2, d_mlp 24: ln2 2D, ln2_out 1 + 2D
    expect(wPar).toEqual([17, 18, 34, 4 * 16 + 2 + 1, 34, 34, 35, 34, 24 + 1 + 17, 24 + 1 + 17, 34, 17, 18, 17, 13]);
    expect(() => neox.sectioned(['pos_embed'], { seqLen: 4 })).toThrow(/unknown module id 'pos_embed'/);
    expect(() => neox.sectioned(['embed'], { seqLen: 4 })).toThrow(/may not be 'embed'/);
  });
});

/** Central-difference Jacobian [B, nOut, nIn] of a section. */
function fdJacobian(s: Section, x: Float64Array, B: number): Float64Array {
  const nIn = s.inPos * s.inDim;
  const nOut = s.outPos * s.outDim;
  const J = new Float64Array(B * nOut * nIn);
  for (let j = 0; j < nIn; j++) {
    const xp = new Float64Array(x);
    const xm = new Float64Array(x);
    const h = new Float64Array(B);
    for (let b = 0; b < B; b++) {
      // steps well below the LN-variance scale (spec LM §9)
      h[b] = 1e-7 * Math.max(1, Math.abs(x[b * nIn + j]!));
      xp[b * nIn + j]! += h[b]!;
      xm[b * nIn + j]! -= h[b]!;
    }
    const yp = s.forward(xp, B);
    const ym = s.forward(xm, B);
    for (let b = 0; b < B; b++) for (let k = 0; k < nOut; k++) J[(b * nOut + k) * nIn + j] = (yp[b * nOut + k]! - ym[b * nOut + k]!) / (2 * h[b]!);
  }
  return J;
}

describe('every section VJP against central differences, f64 (rotary, parallel, local attention, gelu)', () => {
  const cut = (L: number) => ['ln1', 'ln1_out', 'attn_in', 'attn_out', 'add_resid1', 'ln2', 'ln2_out', 'mlp_in', 'mlp_act', 'mlp_out', 'add_resid2'].map((m) => `${m}.${L}`);
  const check = (model: Model, nodeLayers: string[], inp: Inputs, lpt: 'add_resid1' | null = null) => {
    const sm = model.sectioned(nodeLayers, { seqLen: inp.kind === 'tokens' ? inp.seqLen : undefined, lastPosModuleType: lpt });
    const B = inp.batch;
    let x = sm.pre(inp);
    for (const s of sm.sections) {
      const e = maxAbsRelErr(sectionJacobian(s, x, B), fdJacobian(s, x, B));
      expect(e, `${s.inLayer}→${s.outLayer}`).toBeLessThan(1e-5);
      x = s.forward(x, B);
    }
  };
  for (const arch of ARCHS) {
    it(`${arch}: node layers at every module id`, () => {
      const fx = fixture(arch, arch === 'GPTNeoXForCausalLM' ? { d: 8, dMlp: 12, heads: 2, rotaryPct: 0.5, layers: 1 } : { layers: 1, d: 6, heads: 2, dMlp: 24 });
      const model = hfModel(fx.config, fx.tensors);
      check(model, [...cut(0), 'ln_final', 'ln_final_out', 'unembed', 'output'], tokens(2, 5, 13, 2));
    });
  }
  it('GPT-NeoX parallel block with last_pos_module_type add_resid1', () => {
    const fx = fixture('GPTNeoXForCausalLM', { d: 8, dMlp: 12, rotaryPct: 0.5, layers: 1 });
    check(hfModel(fx.config, fx.tensors), ['ln1.0', 'attn_out.0', 'add_resid1.0', 'ln2.0', 'ln2_out.0', 'mlp_in.0', 'unembed'], tokens(2, 4, 13, 3), 'add_resid1');
  });
  it('GPT-Neo local attention: attn_out section with the window active (P = 260 > 256)', () => {
    const fx = fixture('GPTNeoForCausalLM', { layers: 2, d: 4, heads: 2, dMlp: 16, positions: 264 });
    const model = hfModel(fx.config, fx.tensors);
    const S = 260;
    const sm = model.sectioned(['attn_out.1', 'add_resid1.1'], { seqLen: S });
    const inp = tokens(1, S, 13, 8);
    const x = sm.pre(inp);
    const s = sm.sections[0]!;
    // J restricted to the last output position (the only rows the window changes most): VJP vs FD
    const nIn = s.inPos * s.inDim;
    const cot = new Float64Array(s.outPos * s.outDim);
    const t = S - 1;
    const oc = 2;
    cot[t * s.outDim + oc] = 1;
    const g = s.vjp(x, 1, cot, 1);
    // FD on the coordinates of a few positions on both sides of the window edge
    const fdRow = new Float64Array(nIn);
    const cols: number[] = [];
    for (const p of [0, t - 256, t - 255, t - 100, t]) for (let c = 0; c < s.inDim; c++) cols.push(p * s.inDim + c);
    for (const j of cols) {
      const h = 1e-6 * Math.max(1, Math.abs(x[j]!));
      const xp = new Float64Array(x);
      const xm = new Float64Array(x);
      xp[j]! += h;
      xm[j]! -= h;
      fdRow[j] = (s.forward(xp, 1)[t * s.outDim + oc]! - s.forward(xm, 1)[t * s.outDim + oc]!) / (2 * h);
    }
    expect(maxAbsRelErr(cols.map((j) => g[j]!), cols.map((j) => fdRow[j]!))).toBeLessThan(1e-6);
    // keys outside the window (positions ≤ t − 256) get exactly zero cotangent in q, k, v
    const dqk = 4;
    for (let p = 0; p <= t - 256; p++) for (let c = 0; c < 2 * dqk + 2 * 3; c++) expect(g[p * s.inDim + c]).toBe(0);
    expect(g.subarray((t - 255) * s.inDim, (t - 255) * s.inDim + 2 * dqk).some((v) => v !== 0)).toBe(true);
  });
});

describe('malformed checkpoints and configs: clear errors before any work', () => {
  const err = (f: () => unknown, re: RegExp) => {
    let e: unknown;
    try {
      f();
    } catch (x) {
      e = x;
    }
    expect(e).toBeInstanceOf(UserError);
    expect((e as Error).message).toMatch(re);
  };
  it('unknown architecture, model_type mismatch, unsupported settings', () => {
    const fx = fixture('GPT2LMHeadModel');
    err(() => hfModel({ ...fx.config, architectures: ['LlamaForCausalLM'] }, fx.tensors), /unknown architecture "LlamaForCausalLM"/);
    err(() => hfModel({ ...fx.config, model_type: 'gpt_neo' }, fx.tensors), /model_type "gpt_neo" does not match/);
    err(() => hfModel({ ...fx.config, scale_attn_by_inverse_layer_idx: true }, fx.tensors), /scale_attn_by_inverse_layer_idx/);
    err(() => hfModel({ ...fx.config, n_inner: 10 }, fx.tensors), /n_inner 10 is not 4·n_embd/);
    err(() => hfModel({ ...fx.config, activation_function: 'silu' }, fx.tensors), /activation_function "silu" is not supported/);
    const neo = fixture('GPTNeoForCausalLM');
    err(() => hfModel({ ...neo.config, window_size: 128 }, neo.tensors), /window_size 128/);
    err(() => hfModel({ ...neo.config, attention_types: [[['local', 'global'], 1]] }, neo.tensors), /layer 0 is "local"/);
    const nx = fixture('GPTNeoXForCausalLM', { d: 16, dMlp: 24 });
    err(() => hfModel({ ...nx.config, use_parallel_residual: false }, nx.tensors), /use_parallel_residual false/);
    err(() => hfModel({ ...nx.config, rotary_emb_base: 500 }, nx.tensors), /rotary base 500/);
    err(() => hfModel({ ...nx.config, rotary_pct: 0.35 }, nx.tensors), /floors it to 2, transformer-lens rounds it to 3/);
  });
  it('missing tensor, unknown tensor, wrong shape, inconsistent tied head, non-finite weight', () => {
    const fx = fixture('GPT2LMHeadModel');
    const drop = new Map(fx.tensors);
    drop.delete('h.1.mlp.c_fc.bias');
    err(() => hfModel(fx.config, drop), /missing tensor h\.1\.mlp\.c_fc\.bias \[32\]/);
    const extra = new Map(fx.tensors);
    extra.set('h.0.attn.rotary', { dtype: 'F64', shape: [1], data: new Float64Array(1) });
    err(() => hfModel(fx.config, extra), /unknown tensor h\.0\.attn\.rotary/);
    const wrong = new Map(fx.tensors);
    wrong.set('h.0.attn.c_attn.weight', { dtype: 'F64', shape: [24, 8], data: new Float64Array(192) });
    err(() => hfModel(fx.config, wrong), /h\.0\.attn\.c_attn\.weight has shape \[24, 8\] but config\.json implies \[8, 24\]/);
    // the vocabulary of the config larger than the embedding
    err(() => hfModel({ ...fx.config, vocab_size: 20 }, fx.tensors), /wte\.weight has shape \[13, 8\] but config\.json implies \[20, 8\]/);
    const head = new Map(fx.tensors);
    head.set('lm_head.weight', { dtype: 'F64', shape: [13, 8], data: new Float64Array(104) });
    err(() => hfModel(fx.config, head), /tie_word_embeddings is true but lm_head\.weight differs/);
    const nan = new Map(fx.tensors);
    const d = new Float64Array(8);
    d[3] = NaN;
    nan.set('ln_f.bias', { dtype: 'F64', shape: [8], data: d });
    err(() => hfModel(fx.config, nan), /ln_f\.bias holds a non-finite value at flat index 3/);
    const nx = fixture('GPTNeoXForCausalLM', { d: 16, dMlp: 24 });
    const noHead = new Map(nx.tensors);
    noHead.delete('embed_out.weight');
    err(() => hfModel(nx.config, noHead), /missing tensor embed_out\.weight/);
  });
  it('n_ctx larger than the model\'s', () => {
    const fx = fixture('GPT2LMHeadModel');
    err(() => hfModel(fx.config, fx.tensors, { nCtx: 17 }), /n_ctx 17 is larger than the model's context length 16/);
    const m = hfModel(fx.config, fx.tensors, { nCtx: 5 });
    expect(m.config['n_ctx']).toBe(5);
    err(() => m.sectioned(['ln1.0'], { seqLen: 6 }), /seqLen 6 must be in 1\.\.n_ctx \(5\)/);
  });
});

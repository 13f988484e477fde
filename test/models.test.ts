import { describe, expect, it } from 'vitest';
import { maxAbsRelErr } from './helpers/compare.js';
import { f64, randn, randomMlp, randomTokens, randomTransformer } from './helpers/random-models.js';
import { initKernels, normals } from '../src/linalg/index.js';
import { Rng } from '../src/rng.js';
import type { Tensor } from '../src/io/tensor.js';
import {
  accumulateJacobianM,
  accumulateMlpM,
  accumulateMlpMExplicit,
  buildModel,
  modelFromSpec,
  modelToSpec,
  modularMlp,
  rootOne,
  actScalar,
  sectionJacobian,
  transformerTensorShapes,
  parseTransformerConfig,
  type Inputs,
  type Model,
  type Section,
} from '../src/models/index.js';

await initKernels();

/** Central-difference Jacobian [B, nOut, nIn] of a section. */
function fdJacobian(s: Section, x: Float64Array, B: number, h = 1e-6): Float64Array {
  const nIn = s.inPos * s.inDim;
  const nOut = s.outPos * s.outDim;
  const J = new Float64Array(B * nOut * nIn);
  for (let j = 0; j < nIn; j++) {
    const xp = new Float64Array(x);
    const xm = new Float64Array(x);
    for (let b = 0; b < B; b++) {
      xp[b * nIn + j]! += h;
      xm[b * nIn + j]! -= h;
    }
    const yp = s.forward(xp, B);
    const ym = s.forward(xm, B);
    for (let b = 0; b < B; b++) for (let k = 0; k < nOut; k++) J[(b * nOut + k) * nIn + j] = (yp[b * nOut + k]! - ym[b * nOut + k]!) / (2 * h);
  }
  return J;
}

/** Every section's VJP-built Jacobian vs central differences, at activations from `inputs`. */
function checkAllSections(m: Model, nodeLayers: string[], inputs: Inputs, lpt: 'add_resid1' | 'unembed' | null = null) {
  const sm = m.sectioned(nodeLayers, { lastPosModuleType: lpt, seqLen: inputs.kind === 'tokens' ? inputs.seqLen : undefined });
  const B = inputs.batch;
  let x = sm.pre(inputs);
  for (const s of sm.sections) {
    const J = sectionJacobian(s, x, B);
    const Jfd = fdJacobian(s, x, B);
    const e = maxAbsRelErr(J, Jfd);
    expect(e, `${s.name} ${s.inLayer}→${s.outLayer}`).toBeLessThan(1e-6);
    x = s.forward(x, B);
  }
  return sm;
}

const MODADD_LIKE = { n_layers: 1, d_model: 8, d_head: 3, n_heads: 2, d_mlp: 12, d_vocab: 7, n_ctx: 3, act_fn: 'relu', normalization_type: null };
const GPT2_LIKE = { n_layers: 2, d_model: 8, d_head: 4, n_heads: 2, d_mlp: 16, d_vocab: 11, n_ctx: 4, act_fn: 'gelu_new', normalization_type: 'LN', eps: 1e-5 };

describe('activations', () => {
  it('root_one: relu exactly 1, gelu and gelu_new by bisection, tanh refuses', () => {
    expect(rootOne('relu')).toBe(1);
    // the reference's bisection (stop at |act − 1| < 1e-11) gives these values exactly
    expect(rootOne('gelu')).toBe(1.144450718351436);
    expect(rootOne('gelu_new')).toBe(1.1446303090306174);
    expect(Math.abs(actScalar('gelu', rootOne('gelu')) - 1)).toBeLessThan(1e-11);
    expect(() => rootOne('tanh')).toThrow(/cannot fold/);
  });
});

describe('MLP', () => {
  for (const act of ['relu', 'gelu', 'gelu_new']) {
    it(`VJP = finite differences (${act})`, () => {
      const m = randomMlp([6, 5, 4, 3], act, 1);
      const rng = new Rng(5);
      const inputs: Inputs = { kind: 'floats', data: randn(rng, 4 * 6, 1), batch: 4, width: 6 };
      const sm = checkAllSections(m, ['layers.0', 'layers.1', 'layers.2', 'output'], inputs);
      expect(sm.nodeLayers.map((n) => n.dim)).toEqual([7, 6, 5, 3]);
      checkAllSections(m, ['layers.1', 'layers.2'], inputs);
    });
  }
  it('folded equals unfolded; tanh runs unfolded but refuses to fold', () => {
    const m = randomMlp([6, 5, 4, 3], 'gelu', 2);
    const inputs: Inputs = { kind: 'floats', data: randn(new Rng(1), 5 * 6, 1), batch: 5, width: 6 };
    const a = m.sectioned(['layers.0']).logits(inputs);
    // gelu's folded constant is act(ρ) = 1 − 1.6e-12 (reference root_one), hence 1e-10, not 1e-15
    expect(maxAbsRelErr(a, m.forwardUnfolded(inputs))).toBeLessThan(1e-10);
    const r = randomMlp([6, 5, 4, 3], 'relu', 2);
    expect(maxAbsRelErr(r.sectioned(['layers.0']).logits(inputs), r.forwardUnfolded(inputs))).toBeLessThan(1e-13);
    const t = randomMlp([6, 5, 3], 'tanh', 2);
    expect(t.forwardUnfolded(inputs).length).toBe(15);
    expect(() => t.sectioned(['layers.0'])).toThrow(/cannot fold biases through activation 'tanh'/);
  });
  it('node-layer validation', () => {
    const m = randomMlp([6, 5, 4, 3], 'relu', 1);
    expect(() => m.sectioned(['layers.0', 'layers.2'])).toThrow(/contiguous/);
    expect(() => m.sectioned(['layers.1', 'layers.0'])).toThrow(/model order/);
    expect(() => m.sectioned(['layers.0', 'layers.0'])).toThrow(/more than once/);
    expect(() => m.sectioned(['output', 'layers.0'])).toThrow(/only be the last/);
    expect(() => m.sectioned(['layers.7'])).toThrow(/unknown module id 'layers.7'/);
    expect(() => m.sectioned([])).toThrow(/at least one/);
  });
  it('structure of an MLP layer section and the closed-form M', () => {
    const m = randomMlp([6, 5, 4, 3], 'gelu', 3);
    const sm = m.sectioned(['layers.0', 'layers.1', 'layers.2', 'output']);
    const s = sm.sections[0]!;
    expect(s.structure?.type).toBe('mlp');
    expect(sm.sections[2]!.structure?.type).toBe('linear');
    const N = 9;
    const x = sm.pre({ kind: 'floats', data: randn(new Rng(4), N * 6, 1), batch: N, width: 6 });
    const r = 4;
    const C = randn(new Rng(6), s.outDim * r, 1);
    const alphas = [0.2, 0.7, 1];
    const w = [0.25, 0.5, 0.25];
    const Mc = accumulateMlpM(s.structure!, x, N, C, alphas, w);
    const Mv = accumulateJacobianM(s, x, N, C, r, alphas, w, undefined, 4);
    expect(maxAbsRelErr(Mc, Mv)).toBeLessThan(1e-12);
    const s2 = sm.sections[2]!;
    const C2 = randn(new Rng(7), 3 * 2, 1);
    const x2 = sm.sections[1]!.forward(sm.sections[0]!.forward(x, N), N);
    expect(maxAbsRelErr(accumulateMlpM(s2.structure!, x2, N, C2), accumulateJacobianM(s2, x2, N, C2, 2))).toBeLessThan(1e-12);
  });
  it('modular MLP: block-diagonal, identical layers, deterministic', () => {
    const m = modularMlp({ n_hidden_layers: 3, width: 6, first_block_width: 2, bias: 0.1, seed: 3 });
    const W0 = m.tensors.get('layers.0.W')!;
    expect(m.tensors.get('layers.3.W')).toEqual(W0);
    for (let i = 0; i < 6; i++) for (let j = 0; j < 6; j++) if ((i < 2) !== (j < 2)) expect(W0[i * 6 + j]).toBe(0);
    expect(W0[0]).not.toBe(0);
    expect(modularMlp({ n_hidden_layers: 3, width: 6, first_block_width: 2, bias: 0.1, seed: 3 }).tensors.get('layers.0.W')).toEqual(W0);
    const eq = modularMlp({ width: 4, weight_equal_columns: true }).tensors.get('layers.0.W')!;
    expect(eq[0]).toBe(eq[1]);
    expect(eq[4]).toBe(eq[5]);
    expect(m.sectioned(['layers.0', 'layers.1', 'layers.2', 'layers.3', 'output']).nodeLayers.map((n) => n.dim)).toEqual([7, 7, 7, 7, 6]);
  });
});

describe('transformer without LayerNorm (mod-add like)', () => {
  const m = () => randomTransformer(MODADD_LIKE, 1);
  const inputs = randomTokens(3, 3, 7, 1);
  it('rib build cut [ln1.0, ln2.0, unembed, output] with add_resid1: widths, VJPs, structures', () => {
    const sm = checkAllSections(m(), ['ln1.0', 'ln2.0', 'unembed', 'output'], inputs, 'add_resid1');
    expect(sm.nodeLayers).toEqual([
      { name: 'ln1.0', dim: 9, positions: 3 },
      { name: 'ln2.0', dim: 9, positions: 1 },
      { name: 'unembed', dim: 9, positions: 1 },
      { name: 'output', dim: 7, positions: 1 },
    ]);
    expect(sm.sections[0]!.structure).toMatchObject({ type: 'attention', residual: null, lastPos: true, H: 2 });
    expect(sm.sections[1]!.structure).toMatchObject({ type: 'mlp', residual: true, hidden: 13 });
    expect(sm.sections[2]!.structure?.type).toBe('linear');
  });
  it('every module as a node layer (no last-pos)', () => {
    const sm = checkAllSections(m(), ['add_embed', 'ln1.0', 'ln1_out.0', 'attn_in.0', 'attn_out.0', 'add_resid1.0', 'ln2.0', 'ln2_out.0', 'mlp_in.0', 'mlp_act.0', 'mlp_out.0', 'add_resid2.0', 'ln_final', 'ln_final_out', 'unembed', 'output'], inputs);
    const d = Object.fromEntries(sm.nodeLayers.map((n) => [n.name, n.dim]));
    expect(d).toMatchObject({ add_embed: 18, 'ln1_out.0': 9, 'attn_in.0': 18, 'attn_out.0': 6 + 6 + 8 + 9, 'add_resid1.0': 18, 'mlp_act.0': 13 + 9, 'mlp_out.0': 22, 'add_resid2.0': 18, ln_final: 9, unembed: 9, output: 7 });
  });
  it('add_resid1 node layer with last_pos_module_type add_resid1; last-pos unembed', () => {
    const sm = checkAllSections(m(), ['ln1.0', 'add_resid1.0', 'mlp_act.0', 'output'], inputs, 'add_resid1');
    expect(sm.nodeLayers.map((n) => n.positions)).toEqual([3, 3, 1, 1]);
    const su = checkAllSections(m(), ['ln1.0', 'ln2.0', 'unembed', 'output'], inputs, 'unembed');
    expect(su.nodeLayers.map((n) => n.positions)).toEqual([3, 3, 3, 1]);
  });
  it('folded equals unfolded', () => {
    const mm = m();
    const big = randomTokens(20, 3, 7, 9);
    expect(maxAbsRelErr(mm.sectioned(['ln1.0']).logits(big), mm.forwardUnfolded(big))).toBeLessThan(1e-12);
    // with last-pos the logits are the last position of the full ones
    const last = mm.sectioned(['ln1.0', 'ln2.0'], { lastPosModuleType: 'add_resid1' }).logits(big);
    const full = mm.forwardUnfolded(big);
    const sel = new Float64Array(20 * 7);
    for (let b = 0; b < 20; b++) sel.set(full.subarray((b * 3 + 2) * 7, (b * 3 + 3) * 7), b * 7);
    expect(maxAbsRelErr(last, sel)).toBeLessThan(1e-12);
  });
  it('K-batched VJP equals one-at-a-time VJPs', () => {
    const sm = m().sectioned(['ln1.0', 'ln2.0'], { lastPosModuleType: 'add_resid1' });
    const s = sm.sections[0]!;
    const B = 3;
    const x = sm.pre(inputs);
    const K = 5;
    const cot = randn(new Rng(2), K * B * s.outPos * s.outDim, 1);
    const all = s.vjp(x, B, cot, K);
    const n = B * s.inPos * s.inDim;
    for (let k = 0; k < K; k++) {
      const one = s.vjp(x, B, cot.subarray(k * B * s.outDim, (k + 1) * B * s.outDim), 1);
      expect(maxAbsRelErr(all.subarray(k * n, (k + 1) * n), one)).toBeLessThan(1e-15);
    }
  });
  it('closed-form M of the residual MLP section equals the explicit and VJP sums', () => {
    const sm = m().sectioned(['ln1.0', 'ln2.0', 'unembed'], { lastPosModuleType: 'add_resid1' });
    const N = 12;
    const toks = randomTokens(N, 3, 7, 4);
    const x = sm.sections[0]!.forward(sm.pre(toks), N);
    const s = sm.sections[1]!;
    const st = s.structure!;
    if (st.type !== 'mlp') throw new Error('expected mlp');
    const r = 5;
    const C = randn(new Rng(3), 9 * r, 1);
    const a = [0.5 - 0.5 / Math.sqrt(3), 0.5 + 0.5 / Math.sqrt(3)];
    const w = [0.5, 0.5];
    const Mc = accumulateMlpM(st, x, N, C, a, w);
    expect(maxAbsRelErr(Mc, accumulateMlpMExplicit(st, x, N, C, a, w))).toBeLessThan(1e-12);
    expect(maxAbsRelErr(Mc, accumulateJacobianM(s, x, N, C, r, a, w))).toBeLessThan(1e-12);
  });
  it('node-layer validation for transformers', () => {
    const mm = m();
    expect(() => mm.sectioned(['embed', 'ln1.0'])).toThrow(/may not be 'embed'/);
    expect(() => mm.sectioned(['pos_embed'])).toThrow(/may not be 'pos_embed'/);
    expect(() => mm.sectioned(['ln2.0', 'ln1.0'])).toThrow(/model order/);
    expect(() => mm.sectioned(['ln1.0', 'output', 'unembed'])).toThrow(/only be the last/);
    expect(() => mm.sectioned(['ln3.0'])).toThrow(/unknown module id 'ln3.0'/);
    expect(() => mm.sectioned(['ln1.0'], { lastPosModuleType: 'mlp_out' as never })).toThrow(/last_pos_module_type/);
  });
});

describe('GPT-2 style transformer with LayerNorm (2 layers, random init)', () => {
  const m = randomTransformer(GPT2_LIKE, 2);
  const inputs = randomTokens(2, 4, 11, 3);
  it('every module as a node layer: VJPs = finite differences, LN variance coordinate', () => {
    const ids = m.moduleIds.filter((id) => id !== 'embed' && id !== 'pos_embed');
    const sm = checkAllSections(m, [...ids, 'output'], inputs);
    const d = Object.fromEntries(sm.nodeLayers.map((n) => [n.name, n.dim]));
    expect(d['ln1_out.0']).toBe(1 + 9);
    expect(d['ln2_out.1']).toBe(1 + 9);
    expect(d['ln_final_out']).toBe(1 + 9);
    expect(d['attn_out.1']).toBe(8 + 8 + 10 + 9);
    // var is coordinate 0 at ln2_out: equals the population variance of resid[:d]
    const pre = m.sectioned(['ln2_out.0']).pre(inputs);
    const row = pre.subarray(0, 10);
    const r = Array.from(row.subarray(1, 9));
    const mu = r.reduce((a, b) => a + b, 0) / 8;
    expect(row[0]).toBeCloseTo(r.reduce((a, b) => a + (b - mu) ** 2, 0) / 8, 12);
    expect(row[9]).toBe(1);
  });
  it('typical cuts with last_pos_module_type add_resid1', () => {
    checkAllSections(m, ['ln1.0', 'ln2_out.0', 'mlp_act.1', 'unembed', 'output'], inputs, 'add_resid1');
    checkAllSections(m, ['attn_out.0', 'ln1_out.1', 'ln_final_out', 'output'], inputs, 'unembed');
  });
  it('folded (LN weights into the next linear map) equals unfolded', () => {
    const big = randomTokens(10, 4, 11, 5);
    expect(maxAbsRelErr(m.sectioned(['ln1.0']).logits(big), m.forwardUnfolded(big))).toBeLessThan(1e-9);
  });
  it('a negative LN variance (edited activations) is read as relu(var)', () => {
    const sm = m.sectioned(['ln2_out.0', 'mlp_in.0']);
    const x = sm.pre(inputs);
    const neg = new Float64Array(x);
    const zero = new Float64Array(x);
    neg[0] = -0.5;
    zero[0] = 0;
    const yn = sm.sections[0]!.forward(neg, 2);
    expect(yn.every(Number.isFinite)).toBe(true);
    expect(yn).toEqual(sm.sections[0]!.forward(zero, 2));
  });
  it('spec round trip', () => {
    const m2 = modelFromSpec(structuredClone(modelToSpec(m)));
    const big = randomTokens(3, 4, 11, 6);
    expect(m2.forwardUnfolded(big)).toEqual(m.forwardUnfolded(big));
  });
});

describe('checkpoint validation', () => {
  const cfg = { ...MODADD_LIKE };
  const good = () => {
    const t = new Map<string, Tensor>();
    for (const [n, s] of transformerTensorShapes(parseTransformerConfig(cfg))) t.set(n, f64(s, new Float64Array(s.reduce((a, b) => a * b, 1))));
    return t;
  };
  it('accepts the buffers, refuses missing, unknown and mis-shaped tensors', () => {
    const t = good();
    t.set('blocks.0.attn.mask', { dtype: 'BOOL', shape: [3, 3], data: new Uint8Array(9) });
    expect(() => buildModel('transformer', cfg, t)).not.toThrow();
    const miss = good();
    miss.delete('blocks.0.mlp.W_in');
    expect(() => buildModel('transformer', cfg, miss)).toThrow(/missing tensor blocks\.0\.mlp\.W_in \[8, 12\]/);
    const extra = good();
    extra.set('blocks.0.ln1.w', f64([8], new Float64Array(8)));
    expect(() => buildModel('transformer', cfg, extra)).toThrow(/unknown tensor blocks\.0\.ln1\.w/);
    const bad = good();
    bad.set('unembed.W_U', f64([8, 6], new Float64Array(48)));
    expect(() => buildModel('transformer', cfg, bad)).toThrow(/unembed\.W_U has shape \[8, 6\] but the config implies \[8, 7\]/);
    const mlp = new Map<string, Tensor>([['layers.0.W', f64([3, 2], new Float64Array(6))], ['layers.0.b', f64([3], new Float64Array(3))]]);
    expect(() => buildModel('mlp', { input_size: 3, hidden_sizes: [], output_size: 2 }, mlp)).toThrow(/layers\.0\.b has shape \[3\] but the config implies \[2\]/);
    expect(() => buildModel('transformer', { ...cfg, normalization_type: 'RMS' }, good())).toThrow(/normalization_type/);
    expect(() => buildModel('transformer', { ...cfg, d_model: 'x' }, good())).toThrow(/d_model/);
  });
  it('bad section inputs and tokens', () => {
    const m = randomTransformer(MODADD_LIKE, 3);
    const sm = m.sectioned(['ln1.0', 'ln2.0']);
    expect(() => sm.sections[0]!.forward(new Float64Array(5), 1)).toThrow(/expected \[1, 3, 9\]/);
    expect(() => sm.pre({ kind: 'tokens', data: new Int32Array([0, 1, 99]), batch: 1, seqLen: 3 })).toThrow(/outside the vocabulary/);
    expect(() => sm.pre({ kind: 'floats', data: new Float64Array(3), batch: 1, width: 3 })).toThrow(/token ids/);
  });
});

describe('fused attention backward', () => {
  it('long sequences and LNPre models match finite differences', () => {
    const cfg = { n_layers: 1, d_model: 6, d_head: 2, n_heads: 2, d_mlp: 8, d_vocab: 5, n_ctx: 50, act_fn: 'gelu', normalization_type: 'LNPre' };
    const m = randomTransformer(cfg, 4);
    const inputs = randomTokens(1, 50, 5, 8);
    const sm = m.sectioned(['ln1_out.0', 'ln2.0'], { lastPosModuleType: 'add_resid1' });
    const s = sm.sections[0]!;
    const x = sm.pre(inputs);
    expect(maxAbsRelErr(sectionJacobian(s, x, 1), fdJacobian(s, x, 1))).toBeLessThan(1e-6);
    const short = randomTokens(2, 5, 5, 9);
    checkAllSections(m, ['ln1.0', 'ln2_out.0', 'unembed'], short);
  });
});

describe('model specs', () => {
  it('modular MLP round-trips through a plain spec (config.modular kept, same outputs)', () => {
    const m = modularMlp({ n_hidden_layers: 2, width: 4, bias: 0.2, seed: 1 });
    const s = structuredClone(modelToSpec(m));
    const m2 = modelFromSpec(s);
    expect(m2.config['modular']).toEqual(m.config['modular']);
    const inputs: Inputs = { kind: 'floats', data: randn(new Rng(3), 8, 1), batch: 2, width: 4 };
    expect(m2.sectioned(['layers.0']).logits(inputs)).toEqual(m.sectioned(['layers.0']).logits(inputs));
    expect(() => modelFromSpec({ ...s, kind: 'cnn' as never })).toThrow(/unknown kind/);
  });
});

/**
 * Every section structure (src/rib/structures) against the generic VJP path, on tiny random
 * models made here (rib MLP, mod-add-shaped transformer, LayerNorm transformer) and every cut the
 * transformer configs use: M′, squared edges and the edge-/node-ablated outputs agree to 1e-12
 * (relative to the largest entry). The generic path is the modules' own backward passes, which
 * test/models.test.ts checks against finite differences.
 */
import { describe, expect, it } from 'vitest';
import { initKernels } from '../src/linalg/index.js';
import { Rng } from '../src/rng.js';
import { modelToSpec, type Inputs, type Model, type Section } from '../src/models/index.js';
import { structureFor } from '../src/rib/structures/index.js';
import { generic } from '../src/rib/structures/generic.js';
import type { EdgesShardPayload, MprimeShardPayload, Structure } from '../src/rib/structures/types.js';
import type { EdgeBasis } from '../src/rib/structures/masks.js';
import type { ModelCtx } from '../src/rib/context.js';
import { randn, randomMlp, randomTokens, randomTransformer } from './helpers/random-models.js';
import type { Dataset } from '../src/data/types.js';
import { InlinePool } from '../src/parallel/pool.js';
import '../src/tasks.js';
import { parseBuildConfig } from '../src/rib/config.js';
import { ribBuild } from '../src/rib/build.js';

await initKernels();

const MODADD_LIKE = { n_layers: 1, d_model: 8, d_head: 3, n_heads: 2, d_mlp: 12, d_vocab: 7, n_ctx: 3, act_fn: 'relu', normalization_type: null };
const LN_LIKE = { n_layers: 2, d_model: 6, d_head: 3, n_heads: 2, d_mlp: 10, d_vocab: 9, n_ctx: 4, act_fn: 'gelu_new', normalization_type: 'LN', eps: 1e-5 };
const RULES: Array<[string, number[], number[]]> = [
  ['gradient', [1], [1]],
  ['two points', [0.3, 1], [0.45, 0.55]],
];

/** max |a − b| / max |b| */
function rel(a: Float64Array, b: Float64Array): number {
  expect(a.length).toBe(b.length);
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num = Math.max(num, Math.abs(a[i]! - b[i]!));
    den = Math.max(den, Math.abs(b[i]!));
  }
  return num / (den || 1);
}

function mat(rng: Rng, r: number, c: number): Float64Array {
  return randn(rng, r * c, 1 / Math.sqrt(r));
}

interface Case {
  model: () => Model;
  nodeLayers: string[];
  lpt: 'add_resid1' | 'unembed' | null;
  inputs: Inputs;
  /** expected structure per section */
  expect: Array<Structure['name']>;
}

const tokens = (S: number, V: number) => randomTokens(10, S, V, 5);
const CASES: Record<string, Case> = {
  'rib MLP (relu)': {
    model: () => randomMlp([5, 9, 7, 4], 'relu', 1),
    nodeLayers: ['layers.0', 'layers.1', 'layers.2', 'output'],
    lpt: null,
    inputs: { kind: 'floats', data: randn(new Rng(2), 10 * 5, 1), batch: 10, width: 5 },
    expect: ['mlp', 'mlp', 'linear'],
  },
  'rib MLP (gelu)': {
    model: () => randomMlp([5, 9, 4], 'gelu', 3),
    nodeLayers: ['layers.0', 'layers.1', 'output'],
    lpt: null,
    inputs: { kind: 'floats', data: randn(new Rng(4), 10 * 5, 1), batch: 10, width: 5 },
    expect: ['mlp', 'linear'],
  },
  'mod-add-shaped: the reference cut': {
    model: () => randomTransformer(MODADD_LIKE, 1),
    nodeLayers: ['ln1.0', 'ln2.0', 'unembed', 'output'],
    lpt: 'add_resid1',
    inputs: tokens(3, 7),
    expect: ['attention', 'mlp', 'linear'],
  },
  'mod-add-shaped: cuts inside both blocks': {
    model: () => randomTransformer(MODADD_LIKE, 2),
    nodeLayers: ['ln1.0', 'attn_in.0', 'attn_out.0', 'ln2.0', 'mlp_act.0', 'unembed', 'output'],
    lpt: 'add_resid1',
    inputs: tokens(3, 7),
    expect: ['linear', 'linear', 'attention', 'linear', 'mlp', 'linear'],
  },
  'mod-add-shaped: every module a node layer': {
    model: () => randomTransformer(MODADD_LIKE, 3),
    nodeLayers: ['ln1.0', 'ln1_out.0', 'attn_in.0', 'attn_out.0', 'add_resid1.0', 'ln2.0', 'ln2_out.0', 'mlp_in.0', 'mlp_act.0', 'mlp_out.0', 'add_resid2.0', 'ln_final', 'ln_final_out', 'unembed', 'output'],
    lpt: 'add_resid1',
    inputs: tokens(3, 7),
    expect: ['linear', 'linear', 'linear', 'attention', 'linear', 'linear', 'linear', 'linear', 'mlp', 'linear', 'linear', 'linear', 'linear', 'linear'],
  },
  'mod-add-shaped: spans across cuts, all positions': {
    model: () => randomTransformer(MODADD_LIKE, 4),
    nodeLayers: ['ln1_out.0', 'mlp_in.0', 'mlp_out.0', 'ln_final_out', 'output'],
    lpt: null,
    inputs: tokens(3, 7),
    expect: ['attention', 'mlp', 'linear', 'linear'],
  },
  'mod-add-shaped: last position at the unembed': {
    model: () => randomTransformer(MODADD_LIKE, 5),
    nodeLayers: ['attn_out.0', 'add_resid1.0', 'mlp_act.0', 'unembed', 'output'],
    lpt: 'unembed',
    inputs: tokens(3, 7),
    expect: ['attention', 'linear', 'mlp', 'linear'],
  },
  'LayerNorm transformer: the language-model cuts': {
    model: () => randomTransformer(LN_LIKE, 6),
    nodeLayers: ['ln1.0', 'ln1_out.0', 'attn_in.0', 'ln2.0', 'ln2_out.0', 'mlp_in.0', 'ln1.1', 'ln_final', 'ln_final_out', 'unembed', 'output'],
    lpt: null,
    inputs: tokens(4, 9),
    expect: ['positionwise', 'positionwise', 'attention', 'positionwise', 'positionwise', 'mlp', 'generic', 'positionwise', 'positionwise', 'linear'],
  },
  'GPT-Neo-shaped: local attention (window 2 of 5 positions) in block 1': {
    model: () => randomTransformer({ ...LN_LIKE, n_ctx: 5, use_local_attn: true, window_size: 2 }, 7),
    nodeLayers: ['ln1.1', 'ln1_out.1', 'attn_in.1', 'ln2.1', 'ln2_out.1', 'mlp_in.1', 'ln_final', 'unembed', 'output'],
    lpt: null,
    inputs: tokens(5, 9),
    expect: ['positionwise', 'positionwise', 'attention', 'positionwise', 'positionwise', 'mlp', 'positionwise', 'linear'],
  },
  'GPT-NeoX-shaped: rotary, parallel attention and MLP': {
    model: () => randomTransformer({ ...LN_LIKE, positional_embedding_type: 'rotary', rotary_dim: 2, parallel_attn_mlp: true }, 8),
    nodeLayers: ['ln1.0', 'ln1_out.0', 'attn_in.0', 'ln2.0', 'ln2_out.0', 'mlp_in.0', 'ln1.1', 'unembed', 'output'],
    lpt: null,
    inputs: tokens(4, 9),
    expect: ['positionwise', 'positionwise', 'generic', 'positionwise', 'positionwise', 'mlp', 'generic', 'linear'],
  },
};

function ctxOf(m: Model, c: Case): ModelCtx {
  return { id: 'structures-test', spec: modelToSpec(m), nodeLayers: c.nodeLayers, lastPosModuleType: c.lpt };
}

/** M′ normalised by N·P_in, as the build does. */
function mprimeOf(st: Structure, sec: Section, p: MprimeShardPayload): Float64Array {
  const norm = (p.end - p.start) * sec.inPos;
  const closed = st.mprimeWithoutData(sec, p.Cout, p.r, p.weights);
  if (closed) return closed;
  const M = st.mprimeAssemble(sec, st.mprimeShard(sec, p).M, p.Cout, p.r);
  return M.map((v) => v / norm);
}

for (const [name, c] of Object.entries(CASES)) {
  describe(`structures = generic: ${name}`, () => {
    it('each section gets the expected structure', () => {
      const sm = c.model().sectioned(c.nodeLayers, { lastPosModuleType: c.lpt });
      expect(sm.sections.map((s) => structureFor(s, 'mprime', { formula: 'jacobian' }).name)).toEqual(c.expect);
      expect(sm.sections.map((s) => structureFor(s, 'edges', { formula: 'squared' }).name)).toEqual(c.expect);
      expect(sm.sections.map((s) => structureFor(s, 'mprime', { formula: 'jacobian', stochastic: true }).name)).toEqual(c.expect.map(() => 'generic'));
      expect(sm.sections.map((s) => structureFor(s, 'edges', { formula: 'squared', structured: false }).name)).toEqual(c.expect.map(() => 'generic'));
    });
    it('M′ with position sources only: a section that does not mix positions keeps its closed form, which equals the stochastic estimate', () => {
      const m = c.model();
      const sm = m.sectioned(c.nodeLayers, { lastPosModuleType: c.lpt });
      const ctx = ctxOf(m, c);
      const B = c.inputs.batch;
      const rng = new Rng(23, 1);
      let x = sm.pre(c.inputs);
      sm.sections.forEach((sec, l) => {
        const st = structureFor(sec, 'mprime', { formula: 'jacobian', stochastic: true, positionSourcesOnly: true });
        expect(st.name).toBe(c.expect[l] === 'attention' ? 'generic' : c.expect[l]);
        expect(structureFor(sec, 'mprime', { formula: 'jacobian', stochastic: true, positionSourcesOnly: false }).name).toBe('generic');
        if (st.name !== 'generic') {
          const r = Math.max(1, sec.outDim - 2);
          const Cout = mat(rng, sec.outDim, r);
          for (const nPos of [1, 3]) {
            const mp: MprimeShardPayload = { model: ctx, layer: l, X: x, start: 0, end: B, Cout, r, formula: 'jacobian', alphas: [1], weights: [1], nPos, nHidden: null, seed: 5, shard: 0 };
            const stochastic = mprimeOf(generic, sec, mp).map((v) => v / nPos);
            expect(rel(mprimeOf(st, sec, mp), stochastic), `M′ ${sec.inLayer}→${sec.outLayer}, ${nPos} position source(s)`).toBeLessThan(1e-12);
          }
        }
        x = sec.forward(x, B);
      });
    });
    for (const [rule, alphas, weights] of RULES) {
      it(`M′, edges and ablated outputs (${rule})`, () => {
        const m = c.model();
        const sm = m.sectioned(c.nodeLayers, { lastPosModuleType: c.lpt });
        const ctx = ctxOf(m, c);
        const B = c.inputs.batch;
        const rng = new Rng(17, 1);
        let x = sm.pre(c.inputs);
        sm.sections.forEach((sec, l) => {
          const st = structureFor(sec, 'mprime', { formula: 'jacobian' });
          const { inDim, outDim } = sec;
          const r = Math.max(1, outDim - 2);
          const rin = Math.max(1, inDim - 1);
          const Cout = mat(rng, outDim, r);
          const Cin = mat(rng, inDim, rin);
          const Cinp = mat(rng, rin, inDim);
          const mp: MprimeShardPayload = { model: ctx, layer: l, X: x, start: 0, end: B, Cout, r, formula: 'jacobian', alphas, weights, nPos: null, nHidden: null, seed: 0, shard: 0 };
          const what = `${sec.inLayer}→${sec.outLayer} (${st.name})`;
          expect(rel(mprimeOf(st, sec, mp), mprimeOf(generic, sec, mp)), `M′ ${what}`).toBeLessThan(1e-12);
          const ep: EdgesShardPayload = { model: ctx, layer: l, X: x, start: 0, end: B, Cin, Cinp, rin, Cout, rout: r, formula: 'squared', alphas, weights, nSources: null, seed: 0, shard: 0 };
          const se = structureFor(sec, 'edges', { formula: 'squared' });
          expect(rel(se.edgesShard(sec, ep), generic.edgesShard(sec, ep)), `edges ${what}`).toBeLessThan(1e-12);
          // ablations: a random edge mask, and a random node transform
          const eb: EdgeBasis = { Cin, CinPinv: Cinp, Cout, CoutPinv: mat(rng, r, outDim), dIn: inDim, rIn: rin, dOut: outDim, rOut: r };
          const mask = new Uint8Array(r * rin);
          for (let i = 0; i < mask.length; i++) mask[i] = rng.uniform() < 0.6 ? 1 : 0;
          mask.fill(1, 0, rin); // one all-kept row pattern
          const sa = structureFor(sec, 'ablation');
          expect(rel(sa.edgeAblated(sec, x, B, eb, mask, new Map()), generic.edgeAblated(sec, x, B, eb, mask, new Map())), `edge ablation ${what}`).toBeLessThan(1e-12);
          const T = mat(rng, inDim, inDim);
          expect(rel(sa.nodeAblated(sec, x, B, T, new Map()), generic.nodeAblated(sec, x, B, T, new Map())), `node ablation ${what}`).toBeLessThan(1e-12);
          x = sec.forward(x, B);
        });
      });
    }
  });
}

describe('the whole build: structured = generic', () => {
  for (const [name, cfg, nodeLayers, lpt] of [
    ['mod-add-shaped, cuts inside both blocks', MODADD_LIKE, ['ln1.0', 'attn_in.0', 'attn_out.0', 'ln2.0', 'mlp_act.0', 'unembed', 'output'], 'add_resid1'],
    ['LayerNorm transformer, language-model cuts', LN_LIKE, ['ln1.0', 'ln1_out.0', 'attn_in.0', 'ln2.0', 'ln2_out.0', 'mlp_in.0', 'ln1.1', 'output'], null],
  ] as const) {
    it(`${name}: Λ, C and edges agree`, async () => {
      const model = randomTransformer(cfg, 9);
      const inputs = randomTokens(60, cfg.n_ctx, cfg.d_vocab, 8);
      const ds: Dataset = { name: 'random tokens', n: inputs.batch, inputs, labels: null };
      const config = parseBuildConfig({
        exp_name: 'structures',
        out_dir: null,
        model: { type: 'transformer', path: 'unused.safetensors' },
        node_layers: [...nodeLayers],
        last_pos_module_type: lpt,
        rotate_final_node_layer: false,
        dataset: { dataset_type: 'file', path: 'unused.safetensors' },
        batch_size: 300,
        truncation_threshold: 1e-10,
      });
      const pool = new InlinePool();
      const fast = await ribBuild({ config, model, dataset: ds, gramDataset: null, pool });
      const slow = await ribBuild({ config, model, dataset: ds, gramDataset: null, pool, structured: false });
      fast.bases.forEach((b, l) => {
        const g = slow.bases[l]!;
        expect(b.C?.cols, b.nodeLayer).toBe(g.C?.cols);
        if (b.Lambda) expect(rel(b.Lambda, g.Lambda!), `Λ ${b.nodeLayer}`).toBeLessThan(1e-9);
      });
      fast.edges.forEach((e, l) => expect(rel(e.E.data, slow.edges[l]!.E.data), `edges ${e.inLayer}->${e.outLayer}`).toBeLessThan(1e-7));
    });
  }
});

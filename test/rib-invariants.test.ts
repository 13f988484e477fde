/**
 * Spec §11 invariants on configs other than mod-add: the demo MLP (hidden blocks), block-vector
 * MLPs, a linear network; plus every basis/edge/integration option runs and behaves.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { gemm, initKernels } from '../src/linalg/index.js';
import type { LayerBasis, RibResults } from '../src/io/results.js';
import { InlinePool } from '../src/parallel/pool.js';
import '../src/tasks.js';
import { parseBuildConfig } from '../src/rib/config.js';
import { ribBuild } from '../src/rib/build.js';
import { centeringMatrix } from '../src/rib/eig.js';
import { DEMO_DEFAULTS, demoConfig, demoDataset, demoModel } from '../src/rib/demo.js';
import { datasetFor, loadModelFor } from '../src/rib/build.nodejs.js';
import { REFDATA, ref } from './helpers/refdata.js';
import { modaddConfig, maxRelEntries } from './rib-helpers.js';
import { buildModel, parseTransformerConfig, transformerTensorShapes } from '../src/models/index.js';
import { normals } from '../src/linalg/index.js';
import { Rng } from '../src/rng.js';
import type { Tensor } from '../src/io/tensor.js';
import type { Dataset } from '../src/data/types.js';

/** A small random GPT-2-style model (learned LayerNorm, gelu_new) and random token data. */
function gpt2Like(seed: number) {
  const cfg = { n_layers: 2, d_model: 8, d_head: 4, n_heads: 2, d_mlp: 16, d_vocab: 11, n_ctx: 4, act_fn: 'gelu_new', normalization_type: 'LN', eps: 1e-5 };
  const c = parseTransformerConfig(cfg);
  const rng = new Rng(seed, 7);
  const t = new Map<string, Tensor>();
  for (const [name, shape] of transformerTensorShapes(c)) {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = normals(rng, new Float64Array(n));
    const sc = /ln\d?\.w$|ln_final\.w$/.test(name) ? 0.2 : name.includes('.b') ? 0.3 : 1 / Math.sqrt(shape[shape.length - 2] ?? 1);
    for (let i = 0; i < n; i++) data[i] = data[i]! * sc + (/ln\d?\.w$|ln_final\.w$/.test(name) ? 1 : 0);
    t.set(name, { dtype: 'F64', shape, data });
  }
  const N = 300;
  const tok = new Int32Array(N * 4);
  for (let i = 0; i < tok.length; i++) tok[i] = rng.int(11);
  const ds: Dataset = { name: 'random tokens', n: N, inputs: { kind: 'tokens', data: tok, batch: N, seqLen: 4 }, labels: null };
  return { model: buildModel('transformer', cfg, t), ds };
}

const pool = new InlinePool();

async function buildDemo(basis: 'jacobian' | 'svd', extra: Record<string, unknown> = {}): Promise<RibResults> {
  const { model, Q0 } = demoModel(DEMO_DEFAULTS);
  const dataset = demoDataset(Q0, DEMO_DEFAULTS);
  const config = parseBuildConfig({ ...demoConfig(basis), ...extra });
  return ribBuild({ config, model, dataset, gramDataset: null, pool });
}

async function buildCfg(raw: Record<string, unknown>): Promise<RibResults> {
  const c = parseBuildConfig(raw);
  const model = await loadModelFor(c);
  const dataset = await datasetFor(c.dataset!, c, 'dataset', () => undefined);
  return ribBuild({ config: c, model, dataset, gramDataset: null, pool });
}

function CtGC(r: RibResults, b: LayerBasis): Float64Array {
  const L = b.nodeLayer;
  const d = b.origDim;
  const G = r.grams.get(L)!.data;
  // G_unc = Y⁻ᵀ G Y⁻¹
  const Yi = centeringMatrix(r.means.get(L)!, true);
  const T = gemm(true, false, d, d, d, Yi, G, new Float64Array(d * d));
  const Gu = gemm(false, false, d, d, d, T, Yi, new Float64Array(d * d));
  const k = b.C!.cols;
  const GC = gemm(false, false, d, k, d, Gu, b.C!.data, new Float64Array(d * k));
  return gemm(true, false, k, k, d, b.C!.data, GC, new Float64Array(k * k));
}

describe('rib invariants (spec §11)', () => {
  beforeAll(async () => {
    await initKernels();
  });

  it('demo MLP, rib: Cᵀ G_unc C = diag(Λ), C⁺C = I, E[0,0] = Λ⁽ˡ⁺¹⁾₀, column sums of the last (linear) edge = Λ', async () => {
    const r = await buildDemo('jacobian');
    for (const b of r.bases.filter((x) => x.C)) {
      const k = b.C!.cols;
      const M = CtGC(r, b);
      const lamSorted = [b.Lambda![0]!, ...Array.from(b.Lambda!.slice(1)).sort((x, y) => y - x)].slice(0, k);
      const mx = Math.max(...lamSorted);
      for (let i = 0; i < k; i++)
        for (let j = 0; j < k; j++) {
          if (i === j) expect(Math.abs(M[i * k + i]! - lamSorted[i]!) / mx, `${b.nodeLayer} diag ${i}`).toBeLessThan(1e-9);
          else expect(Math.abs(M[i * k + j]!) / mx, `${b.nodeLayer} off ${i},${j}`).toBeLessThan(1e-9);
        }
      const d = b.origDim;
      const PC = gemm(false, false, k, k, d, b.Cpinv!.data, b.C!.data, new Float64Array(k * k));
      for (let i = 0; i < k; i++) for (let j = 0; j < k; j++) expect(Math.abs(PC[i * k + j]! - (i === j ? 1 : 0))).toBeLessThan(1e-8);
    }
    // E[0,0] = Λ^{l+1}_0 (P = 1) for edges into a rotated layer
    for (const e of r.edges) {
      const out = r.bases.find((x) => x.nodeLayer === e.outLayer)!;
      if (!out.C) continue;
      expect(Math.abs(e.E.data[0]! - out.Lambda![0]!) / out.Lambda![0]!, `E[0,0] ${e.inLayer}`).toBeLessThan(1e-9);
    }
    // the last section is linear into unrotated logits: Σ_i E[i, j] = Λ_j (in C-column order)
    const last = r.edges[r.edges.length - 1]!;
    const b = r.bases.find((x) => x.nodeLayer === last.inLayer)!;
    const lamSorted = [b.Lambda![0]!, ...Array.from(b.Lambda!.slice(1)).sort((x, y) => y - x)];
    const mx = lamSorted[0]!;
    for (let j = 0; j < last.E.cols; j++) {
      let s = 0;
      for (let i = 0; i < last.E.rows; i++) s += last.E.data[i * last.E.cols + j]!;
      expect(Math.abs(s - lamSorted[j]!) / mx, `column ${j}`).toBeLessThan(1e-9);
    }
  });

  it('demo MLP, pca: E[0,0] = 1 and C = W', async () => {
    const r = await buildDemo('svd');
    for (const e of r.edges) {
      if (!r.bases.find((x) => x.nodeLayer === e.outLayer)!.C) continue;
      expect(e.E.data[0]).toBeCloseTo(1, 9);
    }
    for (const b of r.bases.filter((x) => x.C)) expect(Array.from(b.C!.data)).toEqual(Array.from(b.W!.data));
  });

  it('linear network: RIB edges are diagonal', async () => {
    const r = await buildCfg({
      exp_name: 'linear',
      out_dir: null,
      modular_mlp_config: { n_hidden_layers: 2, width: 6, first_block_width: 3, weight_variances: [1, 1.5], activation_fn: 'identity', seed: 2 },
      node_layers: ['layers.0', 'layers.1', 'layers.2', 'output'],
      rotate_final_node_layer: false,
      dataset: { dataset_type: 'block_vector', size: 500, length: 6, data_variances: [1, 2], seed: 1 },
      batch_size: 500,
      truncation_threshold: 1e-10,
    });
    for (const e of r.edges.slice(0, 2)) {
      let mx = 0;
      for (const v of e.E.data) mx = Math.max(mx, v);
      for (let i = 0; i < e.E.rows; i++)
        for (let j = 0; j < e.E.cols; j++) if (i !== j) expect(e.E.data[i * e.E.cols + j]! / mx, `${e.inLayer} (${i},${j})`).toBeLessThan(1e-9);
    }
  });

  it('IG bases, functional edges, integration dicts, neuron basis and rotate_final run and satisfy their identities', async () => {
    const ig = await buildDemo('jacobian', { basis_formula: '(1-0)*alpha', integration_method: 'trapezoidal', n_intervals: 2, edge_formula: 'functional' });
    expect(ig.edges.length).toBe(4);
    for (const b of ig.bases.filter((x) => x.C)) {
      const M = CtGC(ig, b);
      const k = b.C!.cols;
      const sorted = [b.Lambda![0]!, ...Array.from(b.Lambda!.slice(1)).sort((x, y) => y - x)].slice(0, k);
      for (let i = 0; i < k; i++) expect(Math.abs(M[i * k + i]! - sorted[i]!) / sorted[0]!).toBeLessThan(1e-8);
    }
    const sq = await buildDemo('jacobian', {
      basis_formula: '(1-alpha)^2',
      n_intervals: 2,
      integration_method: { layers: 'gauss-legendre', 'layers.0': 'trapezoidal', output: 'gauss-legendre' },
    });
    expect(sq.bases.filter((x) => x.C).every((b) => b.C!.cols > 0)).toBe(true);
    const neuron = await buildDemo('jacobian', { basis_formula: 'neuron', center: false });
    expect(neuron.bases[0]!.C!.cols).toBe(neuron.bases[0]!.origDim);
    const rot = await buildDemo('jacobian', { center: false, rotate_final_node_layer: true });
    const fin = rot.bases[rot.bases.length - 1]!;
    expect(fin.C).not.toBeNull();
    expect(Array.from(fin.C!.data)).toEqual(Array.from(fin.W!.data));
  });

  it.skipIf(!REFDATA)('mod-add (subset): one stochastic source per position/edge equals the deterministic result (P_out = 1)', async () => {
    const sub = { dataset: { dataset_type: 'modular_arithmetic', return_set: 'train', n_samples: 48, seed: 0 } };
    const det = await buildCfg(modaddConfig(0, 'rib', { ...sub, truncation_threshold: 1e-8 }));
    const sto = await buildCfg(modaddConfig(0, 'rib', { ...sub, truncation_threshold: 1e-8, n_stochastic_sources_basis_pos: 1, n_stochastic_sources_edges: 1, dist_split_over: 'dataset' }));
    for (const L of ['ln1.0', 'ln2.0', 'unembed']) {
      const a = det.bases.find((x) => x.nodeLayer === L)!;
      const b = sto.bases.find((x) => x.nodeLayer === L)!;
      expect(maxRelEntries(b.Lambda!, a.Lambda!, 1e-6), L).toBeLessThan(1e-9);
    }
    for (let i = 0; i < det.edges.length; i++) {
      const a = det.edges[i]!.E.data;
      const b = sto.edges[i]!.E.data;
      expect(maxRelEntries(b, a, 1e-6)).toBeLessThan(1e-8);
    }
    // E[0,0] ln1.0→ln2.0 = Λ^{ln2.0}_0 · P_out/P_in
    const e0 = det.edges[0]!.E.data[0]!;
    const l0 = det.bases[1]!.Lambda![0]!;
    expect(Math.abs(e0 - l0 / 3) / (l0 / 3)).toBeLessThan(1e-8);
    void ref;
  });

  it('GPT-2-style LN model: C⁺C = I, isolated LN variance direction, diag(Cᵀ G_unc C) = Λ', async () => {
    const { model, ds } = gpt2Like(5);
    const config = parseBuildConfig({
      exp_name: 'gpt2like',
      out_dir: null,
      model: { type: 'transformer', path: 'unused.safetensors' },
      node_layers: ['ln2.0', 'ln1_out.1', 'mlp_out.1', 'output'],
      rotate_final_node_layer: false,
      dataset: { dataset_type: 'file', path: 'unused.safetensors' },
      batch_size: 300,
      truncation_threshold: 1e-10,
    });
    const r = await ribBuild({ config, model, dataset: ds, gramDataset: null, pool });
    for (const b of r.bases.filter((x) => x.C)) {
      const k = b.C!.cols;
      const d = b.origDim;
      const PC = gemm(false, false, k, k, d, b.Cpinv!.data, b.C!.data, new Float64Array(k * k));
      for (let i = 0; i < k; i++) for (let j = 0; j < k; j++) expect(Math.abs(PC[i * k + j]! - (i === j ? 1 : 0)), b.nodeLayer).toBeLessThan(1e-7);
      const M = CtGC(r, b);
      const sorted = [...Array.from(b.Lambda!.slice(0, b.nodeLayer.startsWith('ln1_out') ? 2 : 1)), ...Array.from(b.Lambda!.slice(b.nodeLayer.startsWith('ln1_out') ? 2 : 1)).sort((x, y) => y - x)].slice(0, k);
      for (let i = 0; i < k; i++) expect(Math.abs(M[i * k + i]! - sorted[i]!) / sorted[0]!, `${b.nodeLayer} diag ${i}`).toBeLessThan(1e-8);
    }
    // isolate_ln_var: exactly one RIB direction (index 1, after the constant) reads the variance coordinate 0
    const b = r.bases.find((x) => x.nodeLayer === 'ln1_out.1')!;
    const d = b.origDim;
    const Cp = b.Cpinv!.data;
    for (let k = 2; k < b.Cpinv!.rows; k++) expect(Math.abs(Cp[k * d]!)).toBeLessThan(1e-12);
    for (let j = 1; j < d; j++) expect(Math.abs(Cp[1 * d + j]!)).toBeLessThan(1e-12);
    expect(Math.abs(Cp[1 * d]!)).toBeGreaterThan(0);
  });

  it.skipIf(!REFDATA)('naive gradient flow: the last two bases equal the standard build, earlier ones differ', async () => {
    const sub = { dataset: { dataset_type: 'modular_arithmetic', return_set: 'train', n_samples: 48, seed: 0 }, truncation_threshold: 1e-8, calculate_edges: false };
    const std = await buildCfg(modaddConfig(0, 'rib', sub));
    const ngf = await buildCfg(modaddConfig(0, 'rib', { ...sub, naive_gradient_flow: true }));
    expect(Array.from(ngf.bases[2]!.C!.data)).toEqual(Array.from(std.bases[2]!.C!.data));
    expect(ngf.bases[3]!.C).toBeNull();
    expect(maxRelEntries(ngf.bases[0]!.Lambda!, std.bases[0]!.Lambda!, 1e-6)).toBeGreaterThan(1e-6);
  });
});

/**
 * Ablations on mod-add seed 0 against the reference JSONs (spec §8.3–§8.4), plus the fast
 * edge-ablation paths against the plain per-pattern forward.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { readFileSync } from 'node:fs';
import { initKernels } from '../src/linalg/index.js';
import { loadModel } from '../src/models/load.nodejs.js';
import { loadResults } from '../src/io/results.nodejs.js';
import type { RibResults } from '../src/io/results.js';
import type { Model } from '../src/models/types.js';
import type { Dataset } from '../src/data/types.js';
import { modularArithmetic, sliceDataset } from '../src/data/index.js';
import type { TaskPool } from '../src/parallel/index.js';
import { createNodePool } from '../workers/pool.nodejs.js';
import { parseBuildConfig } from '../src/rib/config.js';
import { edgeMask, parseAblationConfig, runAblation, ablationJson, type AblationOutput } from '../src/analysis/ablation.js';
import { edgeAblatedOutput, type EdgeBasis } from '../src/analysis/ablation-edge.js';
import { detectAttnSection, attnForwardFast } from '../src/analysis/ablation-attn.js';
import '../src/analysis/tasks.js';
import { REFDATA, ref } from './helpers/refdata.js';

const LAYERS = ['ln1.0', 'ln2.0', 'unembed', 'output'];

function refJson(name: string) {
  return JSON.parse(readFileSync(ref('modadd', 'seed0', name), 'utf8'));
}

function baseConfig(basis: string, type: 'rib' | 'edge') {
  return {
    exp_name: `test_${basis}`,
    ablation_type: type,
    rib_results_path: ref('modadd', 'seed0', `rib_graph_${basis}.safetensors`),
    schedule:
      type === 'edge'
        ? { schedule_type: 'bisect', score_target_difference: 0.001, scaling: 'linear', tolerance: 1 }
        : { schedule_type: 'exponential', early_stopping_threshold: null, specific_points: null, ablate_every_vec_cutoff: 10, exp_base: 1.05 },
    dataset: { dataset_type: 'modular_arithmetic', return_set: 'test', seed: 0 },
    ablation_node_layers: type === 'edge' ? LAYERS : LAYERS.slice(0, 3),
    batch_size: 99999,
    dtype: 'float32',
    seed: 0,
    eval_type: 'accuracy',
  };
}

describe.skipIf(!REFDATA)('ablations on mod-add seed 0', () => {
  let model: Model;
  let test: Dataset;
  const results: Record<string, RibResults> = {};
  // the worker pool runs the compiled dist/ (npm test builds it first; else run npm run build:ts)
  let pool: TaskPool;

  beforeAll(async () => {
    await initKernels();
    pool = await createNodePool({ workers: 2 });
    model = await loadModel({ path: ref('modadd', 'seed0', 'model.safetensors') });
    for (const b of ['rib', 'pca']) results[b] = await loadResults(ref('modadd', 'seed0', `rib_graph_${b}.safetensors`));
    test = modularArithmetic({ returnSet: 'test' });
  });
  afterAll(async () => {
    await pool?.destroy();
  });

  it('fast edge paths (attention, mlp, linear) equal the per-pattern forward', () => {
    const res = results.rib!;
    const ds = sliceDataset(test, 0, 150);
    const sm = model.sectioned(LAYERS, { lastPosModuleType: 'add_resid1' });
    const xs = [sm.pre(ds.inputs)];
    for (let l = 0; l < 2; l++) xs.push(sm.sections[l]!.forward(xs[l]!, ds.n));
    const attn = detectAttnSection(sm.sections[0]!);
    expect(attn).not.toBeNull();
    expect(sm.sections[1]!.structure?.type).toBe('mlp');
    expect(sm.sections[2]!.structure?.type).toBe('linear');
    const y0 = sm.sections[0]!.forward(xs[0]!, ds.n);
    expect(Array.from(attnForwardFast(attn!, xs[0]!, ds.n))).toEqual(Array.from(y0));
    const eye = (n: number) => {
      const a = new Float64Array(n * n);
      for (let i = 0; i < n; i++) a[i * n + i] = 1;
      return a;
    };
    for (let l = 0; l < 3; l++) {
      const bi = res.bases.find((b) => b.nodeLayer === LAYERS[l])!;
      const bo = res.bases.find((b) => b.nodeLayer === LAYERS[l + 1])!;
      const e = res.edges.find((x) => x.inLayer === LAYERS[l])!;
      const eb: EdgeBasis = {
        Cin: bi.C!.data,
        CinPinv: bi.Cpinv!.data,
        Cout: bo.C ? bo.C.data : eye(bo.origDim),
        CoutPinv: bo.Cpinv ? bo.Cpinv.data : eye(bo.origDim),
        dIn: bi.origDim,
        rIn: bi.C!.cols,
        dOut: bo.origDim,
        rOut: bo.C ? bo.C.cols : bo.origDim,
      };
      for (const m of [0, 40, 700, 9000]) {
        const mask = edgeMask(e.E.data, e.E.rows, e.E.cols, m, true);
        const g = edgeAblatedOutput(sm.sections[l]!, xs[l]!, ds.n, eb, mask, { generic: true });
        const f = edgeAblatedOutput(sm.sections[l]!, xs[l]!, ds.n, eb, mask, { attn: l === 0 ? attn : null });
        let scale = 0;
        let diff = 0;
        for (let i = 0; i < g.length; i++) {
          scale = Math.max(scale, Math.abs(g[i]!));
          diff = Math.max(diff, Math.abs(g[i]! - f[i]!));
        }
        expect(diff / scale, `layer ${LAYERS[l]} m=${m}`).toBeLessThan(1e-12);
      }
    }
  });

  const nodeOut: Record<string, AblationOutput> = {};
  for (const basis of ['rib', 'pca']) {
    it(`node ablation (${basis}) matches the reference at every point within 0.002`, async () => {
      const config = parseAblationConfig(baseConfig(basis, 'rib'));
      const out = await runAblation({ config, results: results[basis]!, model, dataset: test, pool });
      nodeOut[basis] = out;
      const refj = refJson(`node_ablation_results_${basis}.json`);
      expect(out.no_ablation_result).toBe(refj.no_ablation_result);
      for (const layer of ['ln1.0', 'ln2.0', 'unembed']) {
        const ours = new Map(out.results[layer]);
        const refPts = Object.entries(refj.results[layer] as Record<string, number>);
        expect(ours.size).toBe(refPts.length);
        for (const [k, v] of refPts) {
          expect(ours.has(Number(k)), `${layer} point ${k}`).toBe(true);
          expect(Math.abs(ours.get(Number(k))! - v), `${layer} remaining ${k}: ours ${ours.get(Number(k))} ref ${v}`).toBeLessThanOrEqual(0.002);
        }
      }
      // the JSON has the reference's layout: same keys, counts as descending string keys
      const j = JSON.parse(ablationJson(out));
      expect(Object.keys(j)).toEqual(Object.keys(refj));
      expect(Object.keys(j.results['ln1.0'])).toEqual(Object.keys(refj.results['ln1.0']));
      expect(ablationJson(out)).toContain('"129": 0.9995525226535407');
    });
  }

  for (const basis of ['rib', 'pca']) {
    it(`edge ablation bisect (${basis}): n_edges_required within ±2 of the reference`, async () => {
      const config = parseAblationConfig(baseConfig(basis, 'edge'));
      const out = await runAblation({ config, results: results[basis]!, model, dataset: test, pool });
      const refj = refJson(`edge_ablation_results_${basis}.json`);
      expect(out.no_ablation_result).toBe(refj.no_ablation_result);
      for (const layer of ['ln1.0', 'ln2.0', 'unembed']) {
        expect(Math.abs(out.n_edges_required![layer]! - refj.n_edges_required[layer]), `${layer}: ours ${out.n_edges_required![layer]} ref ${refj.n_edges_required[layer]}`).toBeLessThanOrEqual(2);
      }
      const j = JSON.parse(ablationJson(out));
      expect(Object.keys(j)).toEqual(Object.keys(refj));
      for (const layer of ['ln1.0', 'ln2.0', 'unembed']) {
        const key = String(out.n_edges_required![layer]);
        const mask = j.edge_masks[layer][key] as boolean[][];
        const refMask = refj.edge_masks[layer][String(refj.n_edges_required[layer])] as boolean[][];
        expect([mask.length, mask[0]!.length]).toEqual([refMask.length, refMask[0]!.length]);
        expect(mask.every((row) => row[0] === true)).toBe(true); // constant column always kept
      }
    });
  }
});

describe('ablation config validation', () => {
  const good = {
    exp_name: 'x',
    ablation_type: 'edge',
    rib_results_path: 'r.safetensors',
    schedule: { schedule_type: 'bisect', score_target_difference: 0.001 },
    dataset: { dataset_type: 'modular_arithmetic', return_set: 'test' },
    ablation_node_layers: ['ln1.0', 'ln2.0'],
    batch_size: 99999,
    dtype: 'float32',
    seed: 0,
    eval_type: 'accuracy',
  };
  it('accepts the reference config (with defaults filled)', () => {
    const c = parseAblationConfig(good);
    expect(c.schedule).toMatchObject({ scaling: 'linear', tolerance: 1 });
    expect(c.save_all_edge_masks).toBe(false);
  });
  it('rejects unknown keys, bad values and bad combinations with clear messages', () => {
    expect(() => parseAblationConfig({ ...good, colour: 'red' })).toThrow(/unknown key.*colour/);
    expect(() => parseAblationConfig({ ...good, schedule: { schedule_type: 'bisect', score_target_difference: 0.1, scale: 'log' } })).toThrow(/unknown key 'schedule.scale'/);
    expect(() => parseAblationConfig({ ...good, eval_type: 'f1' })).toThrow(/eval_type/);
    expect(() => parseAblationConfig({ ...good, ablation_node_layers: ['ln1.0'] })).toThrow(/at least two/);
    expect(() => parseAblationConfig({ ...good, ablation_type: 'rib', ablation_node_layers: ['ln1.0', 'output'] })).toThrow(/output/);
    expect(() => parseAblationConfig({ ...good, schedule: { schedule_type: 'linear', n_points: 1 } })).toThrow(/n_points/);
    expect(() => parseAblationConfig({ ...good, dataset: { dataset_type: 'modular_arithmetic', n_samples: 10, return_set_frac: 0.5 } })).toThrow(/n_samples or return_set_frac, not both/);
    expect(() => parseAblationConfig({ ...good, dataset: { dataset_type: 'torchvision', name: 'ImageNet' } })).toThrow(/MNIST and CIFAR10 are supported/);
    expect(() => parseAblationConfig({ ...good, dataset: { dataset_type: 'torchvision', name: 'CIFAR10' } })).toThrow(/CIFAR10 needs the folder/);
    expect(() => parseAblationConfig({ ...good, tlens_model_path: 'a.safetensors', mlp_path: 'b.safetensors' })).toThrow(/at most one model key, got tlens_model_path, mlp_path/);
    expect(() => parseAblationConfig([1, 2])).toThrow(/mapping/);
  });
  it('says in plain words which key is missing or wrong', () => {
    const msg = (raw: unknown): string => {
      try {
        parseAblationConfig(raw);
      } catch (e) {
        return (e as Error).message;
      }
      throw new Error('expected an error');
    };
    expect(msg({ ...good, eval_type: undefined })).toBe("ablation config: missing required key 'eval_type' (one of accuracy, ce_loss)");
    expect(msg({ ...good, dataset: { return_set: 'test' } })).toBe("missing required key 'dataset.dataset_type' (one of modular_arithmetic, block_vector, torchvision, file, huggingface)");
    expect(msg({ ...good, batch_size: 0 })).toBe("ablation config: 'batch_size' must be > 0, got 0");
    expect(msg({ ...good, dtype: 'float16' })).toBe(`ablation config: 'dtype' must be one of float32, float64; got "float16"`);
    expect(msg({ ...good, schedule: { schedule_type: 'halving' } })).toBe(`ablation config: 'schedule.schedule_type' must be one of exponential, linear, bisect; got "halving"`);
  });
  it('uses the build config\'s dataset schema and model keys', () => {
    const ds = { dataset_type: 'modular_arithmetic', return_set: 'test', modulus: 7, fn_name: 'add', frac_train: 0.5 };
    const build = parseBuildConfig({ exp_name: 'b', tlens_model_path: 'm.safetensors', node_layers: ['ln1.0', 'output'], rotate_final_node_layer: false, dataset: ds, batch_size: 10, truncation_threshold: 0 });
    expect(parseAblationConfig({ ...good, dataset: ds }).dataset).toEqual(build.dataset);
    // datasets only the build config knew before: a file, and the reference's `name: modular_arithmetic` spelling
    expect(parseAblationConfig({ ...good, dataset: { dataset_type: 'file', path: 'd.safetensors' } }).dataset).toEqual({ dataset_type: 'file', path: 'd.safetensors', inputs: 'inputs', labels: null, seed: 0, return_set_frac: null, n_samples: null, return_set_n_samples: null });
    expect(parseAblationConfig({ ...good, dataset: { name: 'modular_arithmetic', return_set: 'test' } }).dataset.dataset_type).toBe('modular_arithmetic');
    expect(parseAblationConfig({ ...good, model: { type: 'transformer', path: 'm.safetensors' } }).model).toEqual({ type: 'transformer', path: 'm.safetensors', config: null, n_ctx: null });
    expect(() => parseAblationConfig({ ...good, model: { path: 'm.safetensors' } })).toThrow(/missing required key 'model.type'/);
  });
});

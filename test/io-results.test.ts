import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtemp, rm, readFile, readdir, writeFile } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { saveResults, loadResults } from '../src/io/results.nodejs.js';
import { resultsToSafetensors, type RibResults, type Mat } from '../src/io/results.js';
import { parseSafetensors, serializeSafetensors } from '../src/io/safetensors.js';
import { UserError } from '../src/errors.js';
import { REFDATA, ref } from './helpers/refdata.js';

function mat(rows: number, cols: number, seed: number): Mat {
  const data = new Float64Array(rows * cols);
  for (let i = 0; i < data.length; i++) data[i] = Math.sin(seed * 1000 + i) * 1e3 + i * 1e-9;
  return { rows, cols, data };
}
const vec = (n: number, s: number) => mat(1, n, s).data;

function sampleResults(): RibResults {
  const layers = ['ln1.0', 'ln2.0', 'output'];
  return {
    config: { exp_name: 't', node_layers: layers, truncation_threshold: 1e-15 },
    nodeLayers: layers,
    means: new Map([['ln1.0', vec(5, 1)], ['ln2.0', vec(5, 2)]]),
    grams: new Map([['ln1.0', mat(5, 5, 3)], ['ln2.0', mat(5, 5, 4)]]),
    bases: [
      { nodeLayer: 'ln1.0', origDim: 5, C: mat(5, 4, 5), Cpinv: mat(4, 5, 6), W: mat(5, 4, 7), Wpinv: mat(4, 5, 8), V: mat(4, 4, 9), Lambda: vec(4, 10) },
      { nodeLayer: 'ln2.0', origDim: 5, C: mat(5, 3, 11), Cpinv: mat(3, 5, 12), W: mat(5, 5, 13), Wpinv: mat(5, 5, 14), V: null, Lambda: null },
      { nodeLayer: 'output', origDim: 7, C: null, Cpinv: null, W: null, Wpinv: null, V: null, Lambda: null },
    ],
    edges: [
      { inLayer: 'ln1.0', outLayer: 'ln2.0', E: mat(3, 4, 15) },
      { inLayer: 'ln2.0', outLayer: 'output', E: mat(7, 3, 16) },
    ],
    info: { times: { grams: 0.1, C: 0.2 }, workers: 2, versions: { interbasis: '0.1.0' }, nearThreshold: [{ layer: 'ln2.0', value: 3e-15 }] },
  };
}

const bytesOf = (x: Float64Array) => Buffer.from(x.buffer, x.byteOffset, x.byteLength);
function sameMat(a: Mat | null, b: Mat | null, what: string) {
  if (a === null || b === null) { expect(b, what).toBe(a); return; }
  expect([b.rows, b.cols], what).toEqual([a.rows, a.cols]);
  expect(Buffer.compare(bytesOf(a.data), bytesOf(b.data)), what).toBe(0);
}
function expectSameResults(a: RibResults, b: RibResults) {
  expect(a.nodeLayers).toEqual(b.nodeLayers);
  expect(a.config).toEqual(b.config);
  expect([...a.means.keys()]).toEqual([...b.means.keys()]);
  for (const [k, v] of a.means) expect(Buffer.compare(bytesOf(b.means.get(k)!), bytesOf(v))).toBe(0);
  for (const [k, v] of a.grams) sameMat(v, b.grams.get(k)!, `gram ${k}`);
  expect(b.bases.length).toBe(a.bases.length);
  a.bases.forEach((x, i) => {
    const y = b.bases[i];
    expect([y.nodeLayer, y.origDim]).toEqual([x.nodeLayer, x.origDim]);
    for (const k of ['C', 'Cpinv', 'W', 'Wpinv', 'V'] as const) sameMat(x[k], y[k], `${k} ${x.nodeLayer}`);
    if (x.Lambda) expect(Buffer.compare(bytesOf(x.Lambda), bytesOf(y.Lambda!))).toBe(0);
    else expect(y.Lambda).toBeNull();
  });
  expect(b.edges.map((e) => [e.inLayer, e.outLayer])).toEqual(a.edges.map((e) => [e.inLayer, e.outLayer]));
  a.edges.forEach((e, i) => sameMat(e.E, b.edges[i].E, `edge ${i}`));
}

let dir = '';
beforeAll(async () => { dir = await mkdtemp(join(tmpdir(), 'io-res-')); });
afterAll(async () => { await rm(dir, { recursive: true, force: true }); });

describe('results save/load', () => {
  it('round-trips exactly, with refdata tensor names and a JSON summary', async () => {
    const r = sampleResults();
    const out = join(dir, 'a', 'nested');
    await saveResults(out, r, { force: false });
    expect((await readdir(out)).sort()).toEqual(['results.json', 'results.safetensors']);
    const st = parseSafetensors(new Uint8Array(await readFile(join(out, 'results.safetensors'))));
    expect([...st.tensors.keys()].sort()).toEqual([
      'C/ln1.0', 'C/ln2.0', 'C_pinv/ln1.0', 'C_pinv/ln2.0', 'Lambda/ln1.0', 'V/ln1.0', 'W/ln1.0', 'W/ln2.0',
      'W_pinv/ln1.0', 'W_pinv/ln2.0', 'edges/ln1.0->ln2.0', 'edges/ln2.0->output', 'gram/ln1.0', 'gram/ln2.0',
      'mean/ln1.0', 'mean/ln2.0',
    ]);
    for (const t of st.tensors.values()) expect(t.dtype).toBe('F64');
    expect(st.tensors.get('edges/ln1.0->ln2.0')!.shape).toEqual([3, 4]); // rows = B
    const json = JSON.parse(await readFile(join(out, 'results.json'), 'utf8'));
    expect(json.dims).toEqual({ 'ln1.0': { orig: 5, trunc: 4, rib: 4 }, 'ln2.0': { orig: 5, trunc: 5, rib: 3 }, output: { orig: 7, trunc: null, rib: null } });
    expect(json.info.workers).toBe(2);
    expect(json.info.nearThreshold[0].value).toBe(3e-15);
    expect(json.config.truncation_threshold).toBe(1e-15);

    for (const p of [out, join(out, 'results.safetensors')]) {
      const back = await loadResults(p);
      expectSameResults(r, back);
      expect(back.info).toEqual(r.info);
    }
  });

  it('is deterministic: the same results give identical bytes', async () => {
    await saveResults(join(dir, 'd1'), sampleResults(), { force: false });
    await saveResults(join(dir, 'd2'), { ...sampleResults(), info: { times: { grams: 99 } } }, { force: false });
    const a = await readFile(join(dir, 'd1', 'results.safetensors'));
    const b = await readFile(join(dir, 'd2', 'results.safetensors'));
    expect(Buffer.compare(a, b)).toBe(0);
  });

  it('refuses to overwrite without force, naming the path; overwrites with force', async () => {
    const out = join(dir, 'ow');
    await saveResults(out, sampleResults(), { force: false });
    const before = await readFile(join(out, 'results.safetensors'));
    const r2 = sampleResults();
    r2.nodeLayers = ['ln1.0', 'ln2.0', 'output'];
    r2.edges = [];
    await expect(saveResults(out, r2, { force: false })).rejects.toThrow(new RegExp(`${join(out, 'results')}\\.(safetensors|json) already exists: refusing to overwrite`));
    expect(Buffer.compare(before, await readFile(join(out, 'results.safetensors')))).toBe(0);
    expect((await readdir(out)).sort()).toEqual(['results.json', 'results.safetensors']); // no temp files left
    await saveResults(out, r2, { force: true });
    expect((await loadResults(out)).edges).toEqual([]);
    expect((await readdir(out)).sort()).toEqual(['results.json', 'results.safetensors']);
  });

  it('leaves no output for invalid results, and detects a mismatched json', async () => {
    const bad = sampleResults();
    bad.bases[0].C = { rows: 5, cols: 4, data: new Float64Array(3) };
    const out = join(dir, 'bad');
    await expect(saveResults(out, bad, { force: false })).rejects.toThrow(/C\/ln1.0: 5x4 does not match data length 3/);
    await expect(readdir(out)).rejects.toThrow(/ENOENT/);
    const bad2 = sampleResults();
    bad2.edges.push({ inLayer: 'ln1.0', outLayer: 'nope', E: mat(1, 1, 1) });
    expect(() => resultsToSafetensors(bad2)).toThrow(/edges\/ln1.0->nope names a layer that is not a node layer/);

    const out2 = join(dir, 'mixed');
    await saveResults(out2, sampleResults(), { force: false });
    const other = join(dir, 'other');
    await saveResults(other, { ...sampleResults(), means: new Map() }, { force: false });
    await writeFile(join(out2, 'results.json'), await readFile(join(other, 'results.json')));
    await expect(loadResults(out2)).rejects.toThrow(/checksum mismatch/);
    await expect(loadResults(join(dir, 'absent'))).rejects.toThrow(UserError);
  });

  it('loads results.safetensors alone from its metadata (layers and orig dims)', async () => {
    const out = join(dir, 'alone');
    await saveResults(out, sampleResults(), { force: false });
    await rm(join(out, 'results.json'));
    const r = await loadResults(out);
    const want = sampleResults();
    expect(r.nodeLayers).toEqual(want.nodeLayers);
    expect(r.bases).toEqual(want.bases);
    expect(r.edges).toEqual(want.edges);
    expect(String(r.info.warning)).toMatch(/results.json missing/);
    await writeFile(join(dir, 'plain.safetensors'), serializeSafetensors({ 'C/x': { dtype: 'F64', shape: [1, 1], data: new Float64Array(1) } }));
    await expect(loadResults(join(dir, 'plain.safetensors'))).rejects.toThrow(/cannot tell the node layers/);
  });

  it('loads a reference RibBuildResults .pt dict', async () => {
    // the .pt fixture writer (python3, fake torch globals) also writes a results dict
    const ptDir = join(dir, 'pt');
    await rm(ptDir, { recursive: true, force: true });
    execFileSync('mkdir', ['-p', ptDir]);
    const script = `
import sys, runpy
sys.argv = ['x', ${JSON.stringify(ptDir)}]
g = runpy.run_path(${JSON.stringify(join(__dirname, 'io-make-pt.py'))})
Storage, Tensor, torch, save = g['Storage'], g['Tensor'], g['torch'], g['save']
import os
s = Storage(torch.DoubleStorage, '0', 'd', [float(i) for i in range(12)])
res = {'exp_name': 'e', 'mean_vectors': {'a': Tensor(s, 0, [3], [1])}, 'gram_matrices': {'a': Tensor(s, 0, [3, 3], [3, 1])},
  'interaction_rotations': [
    {'node_layer': 'a', 'orig_dim': 3, 'C': Tensor(s, 0, [3, 2], [1, 3]), 'C_pinv': Tensor(s, 0, [2, 3], [3, 1]), 'W': None, 'W_pinv': None, 'V': None, 'Lambda': Tensor(s, 1, [2], [1])},
    {'node_layer': 'output', 'orig_dim': 4, 'C': None, 'C_pinv': None, 'W': None, 'W_pinv': None, 'V': None, 'Lambda': None}],
  'edges': [{'in_node_layer': 'a', 'out_node_layer': 'output', 'E_hat': Tensor(s, 4, [4, 2], [2, 1])}],
  'dist_info': {}, 'contains_all_edges': True, 'config': {'node_layers': ['a', 'output'], 'dtype': 'float64'},
  'ml_model_config': {'dtype': torch.float64}, 'calc_grams_time': 0.1, 'calc_C_time': None, 'calc_edges_time': 0.2}
save(os.path.join(${JSON.stringify(ptDir)}, 'ref_rib_graph.pt'), res)
`;
    execFileSync('python3', ['-c', script], { stdio: 'pipe' });
    const r = await loadResults(join(ptDir, 'ref_rib_graph.pt'));
    expect(r.nodeLayers).toEqual(['a', 'output']);
    expect(Array.from(r.bases[0].C!.data)).toEqual([0, 3, 1, 4, 2, 5]); // strided transpose
    expect(Array.from(r.bases[0].Lambda!)).toEqual([1, 2]);
    expect(r.bases[1].origDim).toBe(4);
    expect(r.edges[0].E.rows).toBe(4);
    expect(r.info.ml_model_config).toEqual({ dtype: 'float64' });
  });
});

describe.skipIf(!REFDATA)('loadResults on refdata rib_graph files', () => {
  it('seed0 rib and pca match the README dims', async () => {
    const rib = await loadResults(ref('modadd', 'seed0', 'rib_graph_rib.safetensors'));
    expect(rib.nodeLayers).toEqual(['ln1.0', 'ln2.0', 'unembed', 'output']);
    const dims = (r: RibResults) => Object.fromEntries(r.bases.map((b) => [b.nodeLayer, [b.origDim, b.C ? `${b.C.rows}x${b.C.cols}` : null, b.W ? `${b.W.rows}x${b.W.cols}` : null]]));
    expect(dims(rib)).toEqual({ 'ln1.0': [129, '129x115', '129x115'], 'ln2.0': [129, '129x110', '129x127'], unembed: [129, '129x116', '129x129'], output: [114, null, null] });
    expect(rib.edges.map((e) => `${e.inLayer}->${e.outLayer}:${e.E.rows}x${e.E.cols}`)).toEqual(['ln1.0->ln2.0:110x115', 'ln2.0->unembed:116x110', 'unembed->output:114x116']);
    expect(rib.bases[1].Lambda!.length).toBe(127);
    expect(rib.bases[1].V!.rows).toBe(127);
    expect(rib.means.get('ln2.0')![128]).toBe(1);
    expect(rib.grams.get('ln1.0')!.rows).toBe(129);
    expect(rib.config.basis_formula).toBe('jacobian');
    expect((rib.info.ml_model_config as Record<string, unknown>).dtype).toBe('float64');

    const pca = await loadResults(ref('modadd', 'seed0', 'rib_graph_pca.safetensors'));
    expect(dims(pca)).toEqual({ 'ln1.0': [129, '129x115', '129x115'], 'ln2.0': [129, '129x127', '129x127'], unembed: [129, '129x129', '129x129'], output: [114, null, null] });
    expect(pca.bases[1].Lambda).toBeNull();
    expect(pca.edges.map((e) => `${e.E.rows}x${e.E.cols}`)).toEqual(['127x115', '129x127', '114x129']);

    // our writer produces the same tensor names as the reference file; reload round-trips
    const out = join(dir, 'ref-copy');
    await saveResults(out, rib, { force: false });
    const ours = parseSafetensors(new Uint8Array(await readFile(join(out, 'results.safetensors'))));
    const theirs = parseSafetensors(new Uint8Array(await readFile(ref('modadd', 'seed0', 'rib_graph_rib.safetensors'))));
    expect([...ours.tensors.keys()].sort()).toEqual([...theirs.tensors.keys()].sort());
    for (const [k, t] of theirs.tensors) expect(Buffer.compare(bytesOf(ours.tensors.get(k)!.data as Float64Array), bytesOf(t.data as Float64Array)), k).toBe(0);
    const back = await loadResults(out);
    expectSameResults(rib, back);
  });
});

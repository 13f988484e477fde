import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseSafetensors, serializeSafetensors } from '../src/io/safetensors.js';
import { readSafetensorsFile } from '../src/io/files.nodejs.js';
import {
  DTYPES, DTYPE_SIZE, makeTensor, toFloat64, numberToF16, f16ToNumber, numberToBf16, bf16ToNumber,
  type Tensor, type DType,
} from '../src/io/tensor.js';
import { UserError } from '../src/errors.js';
import { REFDATA, ref } from './helpers/refdata.js';

/** Builds a raw safetensors buffer from a header object and a data buffer. */
function rawFile(header: unknown, data: Uint8Array | number = 0, headerText?: string): Uint8Array {
  const text = headerText ?? JSON.stringify(header);
  const h = new TextEncoder().encode(text);
  const d = typeof data === 'number' ? new Uint8Array(data) : data;
  const out = new Uint8Array(8 + h.length + d.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(h.length), true);
  out.set(h, 8);
  out.set(d, 8 + h.length);
  return out;
}

function sample(dtype: DType, shape: number[]): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const vals: number[] = [];
  for (let i = 0; i < n; i++) {
    switch (dtype) {
      case 'BOOL': vals.push(i % 3 === 0 ? 1 : 0); break;
      case 'U8': vals.push((i * 37) % 256); break;
      case 'I32': vals.push((i - 3) * 100003); break;
      case 'I64': vals.push((i - 3) * 2 ** 40 + 7); break;
      case 'F16': vals.push((i - 2) * 0.375); break; // exactly representable
      case 'BF16': vals.push((i - 2) * 1.5); break;
      default: vals.push((i - 2) * 0.1 + 1e-7 * i);
    }
  }
  return makeTensor(dtype, shape, vals);
}

describe('safetensors round trip', () => {
  it('every dtype survives serialize → parse bit for bit, aligned and zero-copy', () => {
    const tensors = new Map<string, Tensor>();
    // odd element counts so that a naive layout would misalign the wider types
    DTYPES.forEach((dt, k) => tensors.set(`t_${dt}`, sample(dt, [3, k + 1])));
    tensors.set('scalar', makeTensor('F32', [], [-Infinity]));
    tensors.set('empty', makeTensor('F64', [0, 4], []));
    const bytes = serializeSafetensors(tensors, { format: 'pt', note: 'hi' });
    const hlen = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect((8 + hlen) % 8).toBe(0);
    const f = parseSafetensors(bytes);
    expect(f.metadata).toEqual({ format: 'pt', note: 'hi' });
    expect(f.warnings).toEqual([]);
    expect(f.tensors.size).toBe(tensors.size);
    for (const [name, t] of tensors) {
      const g = f.tensors.get(name)!;
      expect(g.dtype).toBe(t.dtype);
      expect(g.shape).toEqual(t.shape);
      expect(Array.from(g.data as ArrayLike<unknown>)).toEqual(Array.from(t.data as ArrayLike<unknown>));
      // zero-copy: a view into the file buffer
      expect(g.data.buffer).toBe(bytes.buffer);
      expect(g.data.byteOffset % DTYPE_SIZE[g.dtype]).toBe(0);
    }
    // largest element size first
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + hlen)));
    const order = Object.keys(header).filter((k) => k !== '__metadata__' && header[k].data_offsets[1] > header[k].data_offsets[0]);
    const sizes = order.map((k) => DTYPE_SIZE[header[k].dtype as DType]);
    expect([...sizes].sort((a, b) => b - a)).toEqual(sizes);
    expect(toFloat64(f.tensors.get('scalar')!)[0]).toBe(-Infinity);
  });

  it('copies misaligned tensors instead of viewing them', () => {
    const data = new Uint8Array(1 + 16);
    new Float64Array(data.buffer, 0, 2); // keep it simple: build values by DataView
    const dv = new DataView(data.buffer);
    dv.setFloat64(1, 1.25, true);
    dv.setFloat64(9, -2.5, true);
    const file = rawFile({ a: { dtype: 'U8', shape: [1], data_offsets: [0, 1] }, b: { dtype: 'F64', shape: [2], data_offsets: [1, 17] } }, data, undefined);
    const f = parseSafetensors(file);
    expect(Array.from(f.tensors.get('b')!.data as Float64Array)).toEqual([1.25, -2.5]);
  });

  it('toFloat64 decodes F16, BF16, I64, BOOL', () => {
    expect(f16ToNumber(numberToF16(1))).toBe(1);
    expect(f16ToNumber(0x3c00)).toBe(1);
    expect(f16ToNumber(0xc000)).toBe(-2);
    expect(f16ToNumber(0x7bff)).toBe(65504);
    expect(f16ToNumber(0x0001)).toBe(2 ** -24);
    expect(f16ToNumber(0x7c00)).toBe(Infinity);
    expect(Number.isNaN(f16ToNumber(0x7e00))).toBe(true);
    expect(numberToF16(65504)).toBe(0x7bff);
    expect(numberToF16(1e6)).toBe(0x7c00);
    expect(numberToF16(1 + 2 ** -11)).toBe(0x3c00); // tie → even
    expect(numberToF16(1 + 3 * 2 ** -11)).toBe(0x3c02);
    expect(bf16ToNumber(0x3f80)).toBe(1);
    expect(bf16ToNumber(numberToBf16(-3.5))).toBe(-3.5);
    expect(bf16ToNumber(numberToBf16(1 + 2 ** -8))).toBe(1); // tie → even
    expect(Array.from(toFloat64(makeTensor('I64', [2], [-(2 ** 40), 5])))).toEqual([-(2 ** 40), 5]);
    expect(Array.from(toFloat64(makeTensor('BOOL', [3], [true, false, true])))).toEqual([1, 0, 1]);
    expect(Array.from(toFloat64(makeTensor('F16', [2], [0.5, -0.25])))).toEqual([0.5, -0.25]);
  });

  it('writer rejects data that does not match dtype or shape', () => {
    expect(() => serializeSafetensors({ a: { dtype: 'F32', shape: [3], data: new Float64Array(3) } })).toThrow(/F32 needs a Float32Array/);
    expect(() => serializeSafetensors({ a: { dtype: 'F64', shape: [2, 2], data: new Float64Array(3) } })).toThrow(/needs 4 elements/);
    expect(() => serializeSafetensors({ a: { dtype: 'F99' as DType, shape: [1], data: new Float64Array(1) } })).toThrow(/unknown dtype/);
  });
});

describe('safetensors malformed files', () => {
  const good = () => ({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [1], data_offsets: [8, 12] } });
  const cases: Array<[string, () => Uint8Array, RegExp]> = [
    ['fewer than 8 bytes', () => new Uint8Array(5), /truncated: 5 bytes/],
    ['header length beyond the file', () => { const f = rawFile(good(), 12); new DataView(f.buffer).setBigUint64(0, 10_000n, true); return f; }, /header length 10000 exceeds the file size/],
    ['truncated data', () => rawFile(good(), 10), /out of range: the data buffer has 10 bytes/],
    ['invalid JSON', () => rawFile(null, 0, '{"a": {"dtype": "F32",'), /not valid JSON/],
    ['header not an object', () => rawFile([1, 2]), /must be a JSON object/],
    ['unknown dtype', () => rawFile({ a: { dtype: 'F8', shape: [1], data_offsets: [0, 1] } }, 1), /tensor "a": unknown dtype "F8"/],
    ['non-integer shape', () => rawFile({ a: { dtype: 'F32', shape: [1.5], data_offsets: [0, 4] } }, 4), /shape must be an array of non-negative integers/],
    ['negative shape', () => rawFile({ a: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, 4), /shape must be/],
    ['shape/bytes mismatch', () => rawFile({ a: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, 8), /needs 12 bytes but data_offsets \[0, 8\] span 8/],
    ['overlapping offsets', () => rawFile({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } }, 12), /"a" and "b" overlap/],
    ['out-of-range offsets', () => rawFile({ a: { dtype: 'F32', shape: [2], data_offsets: [100, 108] } }, 8), /out of range/],
    ['end before begin', () => rawFile({ a: { dtype: 'F32', shape: [0], data_offsets: [8, 4] } }, 8), /end before begin/],
    ['bad data_offsets', () => rawFile({ a: { dtype: 'F32', shape: [1], data_offsets: [0] } }, 4), /data_offsets must be two/],
    ['duplicate names', () => rawFile(null, 8, '{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}'), /duplicate tensor name "a"/],
    ['non-string metadata', () => rawFile({ __metadata__: { n: 3 } }), /__metadata__.n must be a string/],
  ];
  for (const [label, make, re] of cases) {
    it(`refuses ${label}`, () => {
      let err: unknown;
      try { parseSafetensors(make()); } catch (e) { err = e; }
      expect(err).toBeInstanceOf(UserError);
      expect((err as Error).message).toMatch(re);
    });
  }

  it('reports gaps and trailing bytes as warnings (errors with strict)', () => {
    const f = rawFile({ a: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, 12);
    const r = parseSafetensors(f);
    expect(r.warnings.join('\n')).toMatch(/gap of 4 bytes before tensor "a"/);
    expect(r.warnings.join('\n')).toMatch(/4 unused trailing bytes/);
    expect(() => parseSafetensors(f, { strict: true })).toThrow(/gap/);
  });
});

describe('safetensors files and shards', () => {
  let dir = '';
  beforeAll(async () => { dir = await mkdtemp(join(tmpdir(), 'io-st-')); });
  afterAll(async () => { await rm(dir, { recursive: true, force: true }); });

  it('reads a sharded checkpoint through its index, and names missing tensors and shards', async () => {
    await writeFile(join(dir, 'm-1.safetensors'), serializeSafetensors({ a: sample('F32', [2, 2]) }));
    await writeFile(join(dir, 'm-2.safetensors'), serializeSafetensors({ b: sample('I64', [3]), c: sample('BF16', [5]) }));
    const index = { metadata: { total_size: 42 }, weight_map: { a: 'm-1.safetensors', b: 'm-2.safetensors', c: 'm-2.safetensors' } };
    await writeFile(join(dir, 'model.safetensors.index.json'), JSON.stringify(index));
    const r = await readSafetensorsFile(join(dir, 'model.safetensors.index.json'));
    expect([...r.tensors.keys()].sort()).toEqual(['a', 'b', 'c']);
    expect(r.metadata.total_size).toBe('42');
    expect(Array.from(r.tensors.get('b')!.data as BigInt64Array)).toEqual(Array.from(sample('I64', [3]).data as BigInt64Array));

    await writeFile(join(dir, 'bad.safetensors.index.json'), JSON.stringify({ weight_map: { a: 'm-1.safetensors', zz: 'm-1.safetensors' } }));
    await expect(readSafetensorsFile(join(dir, 'bad.safetensors.index.json'))).rejects.toThrow(/tensor "zz" is listed in weight_map under m-1.safetensors/);
    await writeFile(join(dir, 'bad2.safetensors.index.json'), JSON.stringify({ weight_map: { a: 'nope.safetensors' } }));
    await expect(readSafetensorsFile(join(dir, 'bad2.safetensors.index.json'))).rejects.toThrow(/file not found: .*nope.safetensors/);
    await writeFile(join(dir, 'bad3.safetensors.index.json'), JSON.stringify({ nothing: 1 }));
    await expect(readSafetensorsFile(join(dir, 'bad3.safetensors.index.json'))).rejects.toThrow(/weight_map/);
    await writeFile(join(dir, 'loop.safetensors.index.json'), JSON.stringify({ weight_map: { a: 'loop.safetensors.index.json' } }));
    await expect(readSafetensorsFile(join(dir, 'loop.safetensors.index.json'))).rejects.toThrow(/points at another index/);
  });

  it('names the file in parse errors', async () => {
    const p = join(dir, 'trunc.safetensors');
    const good = serializeSafetensors({ a: sample('F64', [10]) });
    await writeFile(p, good.subarray(0, good.length - 3));
    await expect(readSafetensorsFile(p)).rejects.toThrow(new RegExp(`${p}: invalid safetensors: .*out of range`));
    // a header that is not JSON: the message names this file too
    const q = join(dir, 'header.safetensors');
    const bad = new Uint8Array(8 + 4);
    new DataView(bad.buffer).setBigUint64(0, 4n, true);
    bad.set(new TextEncoder().encode('nope'), 8);
    await writeFile(q, bad);
    await expect(readSafetensorsFile(q)).rejects.toThrow(new RegExp(`^${q}: invalid safetensors`));
  });
});

describe.skipIf(!REFDATA)('refdata safetensors files', () => {
  it('parses every header and matches the README shapes', async () => {
    const files: string[] = [];
    const walk = (d: string) => {
      for (const e of readdirSync(d)) {
        const p = join(d, e);
        if (statSync(p).isDirectory()) walk(p);
        else if (p.endsWith('.safetensors')) files.push(p);
      }
    };
    walk(ref());
    expect(files.length).toBe(16);
    for (const p of files) {
      const f = await readSafetensorsFile(p);
      expect(f.warnings).toEqual([]);
      expect(f.tensors.size).toBeGreaterThan(0);
    }
    const m = await readSafetensorsFile(ref('modadd', 'seed0', 'model.safetensors'));
    expect(m.tensors.size).toBe(18);
    expect(m.tensors.get('blocks.0.attn.W_Q')!.shape).toEqual([4, 128, 32]);
    expect(m.tensors.get('blocks.0.attn.mask')!.dtype).toBe('BOOL');
    expect(Array.from(m.tensors.get('blocks.0.attn.mask')!.data)).toEqual([1, 0, 0, 1, 1, 0, 1, 1, 1]);
    expect(toFloat64(m.tensors.get('blocks.0.attn.IGNORE')!)[0]).toBe(-Infinity);
    expect(m.metadata.format).toBe('pt');

    const g = await readSafetensorsFile(ref('modadd', 'seed0', 'rib_graph_rib.safetensors'));
    expect(g.tensors.size).toBe(27);
    expect(g.tensors.get('C/ln2.0')!.shape).toEqual([129, 110]);
    expect(g.tensors.get('edges/unembed->output')!.shape).toEqual([114, 116]);
    const mean = g.tensors.get('mean/ln2.0')!;
    expect(mean.dtype).toBe('F64');
    expect((mean.data as Float64Array)[128]).toBe(1);

    const mn = await readSafetensorsFile(ref('mnist_mlp', 'model.safetensors'));
    expect(mn.tensors.get('layers.0.W')!.shape).toEqual([784, 100]);
  });
});

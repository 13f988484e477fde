import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtemp, rm, readFile } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parsePt } from '../src/io/pt.js';
import { readCheckpoint, readPtFile } from '../src/io/files.nodejs.js';
import { toFloat64, type Tensor } from '../src/io/tensor.js';
import { writeZipStored, readZipDirectory, readZipEntry } from '../src/io/zip.js';
import { unpickle } from '../src/io/pickle.js';
import { UserError } from '../src/errors.js';

const here = dirname(fileURLToPath(import.meta.url));
let dir = '';
const fx = (name: string) => join(dir, name);
const arr = (t: Tensor) => Array.from(toFloat64(t));

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'io-pt-'));
  // python3 (no torch) writes torch.save-style archives with fake torch globals
  execFileSync('python3', [join(here, 'io-make-pt.py'), dir], { stdio: 'pipe' });
});
afterAll(async () => { await rm(dir, { recursive: true, force: true }); });

async function expectRefused(name: string, re: RegExp) {
  let err: unknown;
  try { await readPtFile(fx(name)); } catch (e) { err = e; }
  expect(err).toBeInstanceOf(UserError);
  expect((err as Error).message).toMatch(re);
  expect((err as Error).message).toContain(fx(name));
}

describe('.pt reader', () => {
  it('reads a state_dict with f32/f64/i64/bool/i32 tensors, strides, offsets, shared storage', async () => {
    const sd = await readCheckpoint(fx('state_dict.pt'));
    expect([...sd.keys()]).toEqual(['w32', 'w64T', 'w64row1', 'i64off', 'mask', 'scalar', 'param', 'f32col', 'half']);
    const w32 = sd.get('w32')!;
    expect(w32.dtype).toBe('F32');
    expect(w32.shape).toEqual([2, 3]);
    expect(arr(w32)).toEqual([0.5, -1.25, 2.0, 3.5, -4.0, 5.75]);
    const t = sd.get('w64T')!; // transpose of [[1,2,3],[4,5,6]] via stride [1,3]
    expect(t.dtype).toBe('F64');
    expect(t.shape).toEqual([3, 2]);
    expect(arr(t)).toEqual([1, 4, 2, 5, 3, 6]);
    expect(arr(sd.get('w64row1')!)).toEqual([4, 5, 6]);
    const i = sd.get('i64off')!;
    expect(i.dtype).toBe('I64');
    expect(Array.from(i.data as BigInt64Array)).toEqual([-30n, 2n ** 40n, -(2n ** 50n), 7n]);
    const m = sd.get('mask')!;
    expect(m.dtype).toBe('BOOL');
    expect(Array.from(m.data)).toEqual([1, 0, 1, 1, 0]);
    const s = sd.get('scalar')!;
    expect(s.shape).toEqual([]);
    expect(arr(s)).toEqual([5.75]);
    const p = sd.get('param')!;
    expect(p.dtype).toBe('I32');
    expect(arr(p)).toEqual([7, -8, 9]);
    expect(arr(sd.get('f32col')!)).toEqual([-1.25, -4.0]);
    expect(sd.get('half')!.dtype).toBe('F16');
    expect(arr(sd.get('half')!)).toEqual([0.5, -2, 65504]);
    // the _metadata BUILD state of the OrderedDict does not leak in as a key
    expect(sd.has('_metadata')).toBe(false);
  });

  it('reads a results-style dict with nested dicts, lists, None, big ints, dtypes and tensors', async () => {
    const { value, tensors } = await readPtFile(fx('results.pt'));
    const v = value as Record<string, any>;
    expect(v.exp_name).toBe('demo');
    expect(v.flag).toBe(true);
    expect(v.tup).toEqual([1, 'x', null]);
    expect(v.calc_grams_time).toBe(0.25);
    expect(v.ml_model_config).toEqual({ dtype: 'float64', n: 2n ** 70n, neg: -5, eps: 1e-5 });
    expect(v.interaction_rotations[1]).toEqual({ node_layer: 'b', orig_dim: 2, C: null, V: null });
    expect(arr(v.interaction_rotations[0].C)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(v.interaction_rotations[0].C.shape).toEqual([3, 2]);
    expect([...tensors.keys()].sort()).toEqual(['interaction_rotations.0.C', 'mean_vectors.a']);
    await expect(readCheckpoint(fx('results.pt'))).rejects.toThrow(/does not hold a state_dict/);
  });

  it('refuses foreign globals, naming them, without executing anything', async () => {
    await expectRefused('os_system.pt', /refusing to load global os\.system from archive\/data\.pkl: only state_dict globals are allowed/);
    await expectRefused('builtins_eval.pt', /refusing to load global builtins\.eval/);
    // the same through the pure API and a bare pickle
    expect(() => unpickle(new Uint8Array([0x80, 2, ...new TextEncoder().encode('cposix\nsystem\n'), 0x2e]), {
      resolveGlobal: (m, n) => { throw new UserError(`refusing ${m}.${n}`); },
    })).toThrow(/refusing posix.system/);
  });

  it('refuses malformed archives with clear errors', async () => {
    await expectRefused('compressed.pt', /compressed \(method deflate\); only STORED entries/);
    await expectRefused('missing_storage.pt', /storage archive\/data\/1 referenced by archive\/data\.pkl is missing/);
    await expectRefused('short.pt', /unsupported storage type torch\.ShortStorage/);
    await expectRefused('oob.pt', /reads element 6 of storage .* which has 6 elements/);
    await expectRefused('truncated.pt', /invalid zip archive: .*(truncated|not found)/);
    await expectRefused('legacy.pt', /legacy \(pre-1\.6, non-zip\)/);
    expect(() => parsePt(new TextEncoder().encode('hello world'))).toThrow(/not a torch \.pt file/);
  });

  it('detects corrupted bytes via CRC and truncated pickles', async () => {
    const bytes = new Uint8Array(await readFile(fx('state_dict.pt')));
    const entries = readZipDirectory(bytes);
    const e = entries.get('archive/data/0')!;
    const data = readZipEntry(bytes, e);
    const corrupt = bytes.slice();
    corrupt[data.byteOffset - bytes.byteOffset + 1] ^= 0xff;
    expect(() => parsePt(corrupt)).toThrow(/CRC-32 mismatch in entry "archive\/data\/0"/);
    const pkl = readZipEntry(bytes, entries.get('archive/data.pkl')!);
    const files: Array<[string, Uint8Array]> = [...entries.values()].map((x) => [x.name, readZipEntry(bytes, x)]);
    const cut = files.map(([n, d]) => [n, n.endsWith('data.pkl') ? d.slice(0, pkl.length - 20) : d] as [string, Uint8Array]);
    expect(() => parsePt(writeZipStored(cut))).toThrow(/pickle (is truncated|ends without STOP)/);
    // our own zip writer round-trips the untouched archive
    const again = parsePt(writeZipStored(files));
    expect(arr(again.tensors.get('w64T')!)).toEqual([1, 4, 2, 5, 3, 6]);
  });
});

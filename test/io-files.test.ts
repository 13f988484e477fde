import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtemp, rm, readFile, readdir, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readStructured, writeFileAtomic, readCheckpoint } from '../src/io/files.nodejs.js';
import { serializeSafetensors } from '../src/io/safetensors.js';
import { makeTensor } from '../src/io/tensor.js';
import { UserError } from '../src/errors.js';
import { REFDATA, ref } from './helpers/refdata.js';

let dir = '';
beforeAll(async () => { dir = await mkdtemp(join(tmpdir(), 'io-files-')); });
afterAll(async () => { await rm(dir, { recursive: true, force: true }); });

async function errOf(p: Promise<unknown>): Promise<Error> {
  try { await p; } catch (e) { return e as Error; }
  throw new Error('expected a rejection');
}

describe('readStructured', () => {
  it('reads JSON and YAML by extension', async () => {
    await writeFile(join(dir, 'a.json'), '{"x": [1, 2], "y": {"z": "w"}}');
    await writeFile(join(dir, 'a.yaml'), 'x:\n  - 1\n  - 2\ny:\n  z: w\n');
    await writeFile(join(dir, 'a.yml'), 'x: [1, 2]\ny: {z: w}\n');
    const want = { x: [1, 2], y: { z: 'w' } };
    for (const f of ['a.json', 'a.yaml', 'a.yml']) expect(await readStructured(join(dir, f))).toEqual(want);
  });

  it('names the file and line for parse errors', async () => {
    await writeFile(join(dir, 'bad.yaml'), 'a: 1\nb: [1, 2\nc: 3\n');
    const e = await errOf(readStructured(join(dir, 'bad.yaml')));
    expect(e).toBeInstanceOf(UserError);
    expect(e.message).toMatch(new RegExp(`${join(dir, 'bad.yaml')}: invalid YAML at line \\d+, column \\d+`));
    await writeFile(join(dir, 'dup.yaml'), 'a: 1\nb: 2\na: 3\n');
    expect((await errOf(readStructured(join(dir, 'dup.yaml')))).message).toMatch(/dup\.yaml: invalid YAML at line 3, column 1: .*[Uu]nique/);
    await writeFile(join(dir, 'bad.json'), '{\n  "a": 1,\n  "b": 2,\n}\n');
    const j = await errOf(readStructured(join(dir, 'bad.json')));
    expect(j).toBeInstanceOf(UserError);
    expect(j.message).toMatch(new RegExp(`${join(dir, 'bad.json')}: invalid JSON at line 4, column 1`));
    expect((await errOf(readStructured(join(dir, 'missing.yaml')))).message).toBe(`file not found: ${join(dir, 'missing.yaml')}`);
    await writeFile(join(dir, 'a.toml'), 'x = 1');
    expect((await errOf(readStructured(join(dir, 'a.toml')))).message).toMatch(/unsupported config format ".toml"/);
  });
});

describe('writeFileAtomic', () => {
  it('writes, replaces and leaves no temp files', async () => {
    const p = join(dir, 'out', 'f.bin');
    await mkdir(join(dir, 'out'));
    await writeFileAtomic(p, new Uint8Array([1, 2, 3]));
    expect(Array.from(await readFile(p))).toEqual([1, 2, 3]);
    await writeFileAtomic(p, 'hello');
    expect(await readFile(p, 'utf8')).toBe('hello');
    expect(await readdir(join(dir, 'out'))).toEqual(['f.bin']);
  });

  it('fails cleanly when the directory is missing or the rename fails, leaving no temp file', async () => {
    await expect(writeFileAtomic(join(dir, 'nope', 'f.txt'), 'x')).rejects.toThrow(/cannot write .*nope/);
    const d = join(dir, 'rn');
    await mkdir(join(d, 'target'), { recursive: true });
    await writeFile(join(d, 'target', 'keep.txt'), 'old');
    // renaming a file over a non-empty directory fails after the temp file is fully written
    await expect(writeFileAtomic(join(d, 'target'), 'new')).rejects.toThrow(new RegExp(`cannot write ${join(d, 'target')}`));
    expect(await readdir(d)).toEqual(['target']);
    expect(await readFile(join(d, 'target', 'keep.txt'), 'utf8')).toBe('old');
  });
});

describe('readCheckpoint', () => {
  it('reads safetensors files and directories, and rejects unknown formats', async () => {
    const d = join(dir, 'ck');
    await mkdir(d);
    await writeFile(join(d, 'model.safetensors'), serializeSafetensors({ w: makeTensor('F32', [2], [1, 2]) }));
    expect([...(await readCheckpoint(d)).keys()]).toEqual(['w']);
    expect([...(await readCheckpoint(join(d, 'model.safetensors'))).keys()]).toEqual(['w']);
    await writeFile(join(d, 'model.npz'), 'x');
    await expect(readCheckpoint(join(d, 'model.npz'))).rejects.toThrow(/unsupported checkpoint format/);
    await expect(readCheckpoint(join(dir, 'empty-nothing'))).rejects.toThrow(/file not found/);
  });
});

describe.skipIf(!REFDATA)('refdata configs', () => {
  it('reads train_config.yaml, config.json and the build yamls', async () => {
    const y = (await readStructured(ref('modadd', 'seed0', 'train_config.yaml'))) as Record<string, unknown>;
    expect(typeof y).toBe('object');
    const c = (await readStructured(ref('modadd', 'seed0', 'config.json'))) as Record<string, any>;
    expect(c.resolved_model_config.d_model).toBe(128);
    const b = (await readStructured(ref('modadd', 'seed0', 'rib_build_config_rib.yaml'))) as Record<string, any>;
    expect(b.node_layers).toEqual(['ln1.0', 'ln2.0', 'unembed', 'output']);
    for (const s of [1, 2, 3, 4]) {
      const t = (await readStructured(ref('modadd', `seed${s}`, 'train_config.yaml'))) as Record<string, any>;
      expect(t.seed).toBe(s);
      expect(t.dataset).toMatchObject({ name: 'modular_arithmetic', fn_name: 'add', modulus: 113, frac_train: 0.3, return_set_frac: null });
      expect(t.model).toMatchObject({ d_model: 128, d_mlp: 512, n_heads: 4, d_vocab: 114, n_layers: 1, normalization_type: null });
    }
    const m = (await readStructured(ref('mnist_mlp', 'train_config.yaml'))) as Record<string, any>;
    expect(m.data).toEqual({ dataset_type: 'torchvision', name: 'MNIST', return_set_frac: null, seed: null });
    expect(m.model.hidden_sizes).toEqual([100, 100]);
    expect(m.train.batch_size).toBe(64);
  });
});

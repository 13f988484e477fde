/** In-memory datasets (browser-safe): modular arithmetic (spec §1.5.1) and block vectors (§1.5.2). */
import { UserError } from '../errors.js';
import { normals } from '../linalg/index.js';
import { Rng } from '../rng.js';
import { mt19937Randperm } from './mt19937.js';
import type { Dataset } from './types.js';

export type * from './types.js';
export { mt19937Randperm, MT19937, PythonRandom, pythonSampleSorted } from './mt19937.js';
export { takeRows, referenceSubset } from './subset.js';
export { huggingfaceDatasetSchema, documentRange, tokenStream, packChunks, checkVocab } from './lm-text.js';
export type { HuggingfaceDatasetConfig, TextTokenizer, Document } from './lm-text.js';
export { tokenizerFromJson } from './tokenizer.js';
export { parseCifarBatches, CIFAR_RECORD } from './cifar.js';
export { parseNpy } from './npy.js';

export interface ModularArithmeticOptions {
  modulus?: number;
  fnName?: 'add' | 'subtract' | 'x2xyy2';
  fracTrain?: number;
  seed?: number;
  returnSet: 'train' | 'test' | 'all';
}

/**
 * All pairs (a, b) ∈ [0, p)², row-major (index a·p + b), tokens [a, b, p], label f(a, b) mod p.
 * train = perm[0 : floor(p²·fracTrain)], test = the rest, perm = torch randperm(p², seed).
 */
export function modularArithmetic(o: ModularArithmeticOptions): Dataset {
  const p = o.modulus ?? 113;
  const fn = o.fnName ?? 'add';
  const frac = o.fracTrain ?? 0.3;
  const seed = o.seed ?? 0;
  if (!Number.isInteger(p) || p < 2) throw new UserError(`modular arithmetic: modulus must be an integer ≥ 2, got ${p}`);
  if (!['add', 'subtract', 'x2xyy2'].includes(fn)) throw new UserError(`modular arithmetic: fn_name must be add, subtract or x2xyy2, got ${JSON.stringify(fn)}`);
  if (!(frac >= 0 && frac <= 1)) throw new UserError(`modular arithmetic: frac_train must be in [0, 1], got ${frac}`);
  if (!['train', 'test', 'all'].includes(o.returnSet)) throw new UserError(`modular arithmetic: return_set must be train, test or all, got ${JSON.stringify(o.returnSet)}`);
  const n = p * p;
  let idx: Int32Array;
  if (o.returnSet === 'all') {
    idx = new Int32Array(n);
    for (let i = 0; i < n; i++) idx[i] = i;
  } else {
    const perm = mt19937Randperm(n, seed);
    const nTrain = Math.floor(n * frac);
    idx = o.returnSet === 'train' ? perm.slice(0, nTrain) : perm.slice(nTrain);
  }
  const N = idx.length;
  const tokens = new Int32Array(N * 3);
  const labels = new Int32Array(N);
  for (let i = 0; i < N; i++) {
    const k = idx[i]!;
    const a = Math.floor(k / p);
    const b = k % p;
    tokens[i * 3] = a;
    tokens[i * 3 + 1] = b;
    tokens[i * 3 + 2] = p;
    labels[i] = fn === 'add' ? (a + b) % p : fn === 'subtract' ? (((a - b) % p) + p) % p : (a * a + a * b + b * b) % p;
  }
  return { name: `modular_arithmetic_${fn}_p${p}_${o.returnSet}`, n: N, inputs: { kind: 'tokens', data: tokens, batch: N, seqLen: 3 }, labels };
}

export interface BlockVectorOptions {
  size: number;
  length: number;
  firstBlockLength?: number | null;
  dataVariances?: [number, number];
  dataPerfectCorrelation?: boolean;
  seed?: number;
}

/**
 * block_vector (spec §1.5.2): [size, length] floats, the first `firstBlockLength` (default
 * length/2) columns v0·randn, the rest v1·randn ("variances" are std multipliers); with perfect
 * correlation each block repeats one normal per row. Our Philox Rng + Wasm normals (block 0 drawn
 * first, row-major), not torch-reproducible. Labels: none.
 */
export function blockVector(o: BlockVectorOptions): Dataset {
  const { size, length } = o;
  if (!Number.isInteger(size) || size < 1 || !Number.isInteger(length) || length < 1) {
    throw new UserError(`block_vector: size and length must be positive integers, got ${size} and ${length}`);
  }
  const fbl = o.firstBlockLength ?? Math.floor(length / 2);
  if (!Number.isInteger(fbl) || fbl < 0 || fbl > length) throw new UserError(`block_vector: first_block_length must be in [0, ${length}], got ${fbl}`);
  const [v0, v1] = o.dataVariances ?? [1, 1];
  const seed = o.seed ?? 0;
  const rng = new Rng(seed);
  const X = new Float64Array(size * length);
  const blocks: Array<[number, number, number]> = [
    [0, fbl, v0],
    [fbl, length - fbl, v1],
  ];
  for (const [off, bw, v] of blocks) {
    if (bw === 0) continue;
    if (o.dataPerfectCorrelation) {
      const r = normals(rng, new Float64Array(size));
      for (let i = 0; i < size; i++) for (let j = 0; j < bw; j++) X[i * length + off + j] = v * r[i]!;
    } else {
      const r = normals(rng, new Float64Array(size * bw));
      for (let i = 0; i < size; i++) for (let j = 0; j < bw; j++) X[i * length + off + j] = v * r[i * bw + j]!;
    }
  }
  return { name: `block_vector_${size}x${length}`, n: size, inputs: { kind: 'floats', data: X, batch: size, width: length }, labels: null };
}

/** Rows [start, end) of a dataset (views, no copy). */
export function sliceDataset(d: Dataset, start: number, end: number): Dataset {
  const s = Math.max(0, Math.min(start, d.n));
  const e = Math.max(s, Math.min(end, d.n));
  const inp = d.inputs;
  const inputs =
    inp.kind === 'tokens'
      ? { kind: 'tokens' as const, data: inp.data.subarray(s * inp.seqLen, e * inp.seqLen), batch: e - s, seqLen: inp.seqLen }
      : { kind: 'floats' as const, data: inp.data.subarray(s * inp.width, e * inp.width), batch: e - s, width: inp.width };
  const lw = d.labelWidth ?? 1;
  return { name: d.name, n: e - s, inputs, labels: d.labels ? d.labels.subarray(s * lw, e * lw) : null, labelWidth: d.labelWidth };
}

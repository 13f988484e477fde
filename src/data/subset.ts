/** Row subsets of a dataset, and the reference's seeded random subset (spec §1.5.1). */
import { UserError } from '../errors.js';
import { pythonSampleSorted } from './mt19937.js';
import type { Dataset } from './types.js';

/** Rows `idx` of a dataset, in that order (copies). */
export function takeRows(ds: Dataset, idx: ArrayLike<number>, name = ds.name): Dataset {
  const n = idx.length;
  const inp = ds.inputs;
  const w = inp.kind === 'tokens' ? inp.seqLen : inp.width;
  const pick = <T extends Int32Array | Float64Array>(src: T, out: T, width: number): T => {
    for (let i = 0; i < n; i++) out.set(src.subarray(idx[i]! * width, (idx[i]! + 1) * width) as never, i * width);
    return out;
  };
  const inputs =
    inp.kind === 'tokens'
      ? { kind: 'tokens' as const, data: pick(inp.data, new Int32Array(n * w), w), batch: n, seqLen: inp.seqLen }
      : { kind: 'floats' as const, data: pick(inp.data, new Float64Array(n * w), w), batch: n, width: inp.width };
  const lw = ds.labelWidth ?? 1;
  const labels = ds.labels
    ? ds.labels instanceof Int32Array
      ? pick(ds.labels, new Int32Array(n * lw), lw)
      : pick(ds.labels, new Float64Array(n * lw), lw)
    : null;
  return { name, n, inputs, labels, ...(ds.labelWidth !== undefined ? { labelWidth: ds.labelWidth } : {}) };
}

/**
 * The reference's subset of `k` samples (`n_samples`, or floor(N·return_set_frac)): Python's
 * `random.seed(seed); sorted(random.sample(range(N), k))`.
 */
export function referenceSubset(ds: Dataset, k: number, seed: number, key: string): Dataset {
  if (!Number.isInteger(k) || k < 1) throw new UserError(`${key}: the subset must keep at least one sample (got ${k})`);
  if (k > ds.n) throw new UserError(`${key}: n_samples ${k} exceeds the dataset size ${ds.n}`);
  return takeRows(ds, pythonSampleSorted(ds.n, k, seed), `${ds.name}[${k}]`);
}

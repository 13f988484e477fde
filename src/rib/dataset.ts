/**
 * The one dataset resolver: a dataset config (src/rib/config.ts `datasetSchema`) → a Dataset
 * (browser-safe). Where file data come from (files, the checkpoint's training config, MNIST) is
 * supplied by the caller: src/rib/inputs-node.ts reads them from disk for every command, and
 * src/browser from File/Blob/URL inputs.
 */
import { UserError } from '../errors.js';
import { blockVector, modularArithmetic } from '../data/index.js';
import type { Dataset } from '../data/types.js';
import { Rng } from '../rng.js';
import type { DatasetConfig } from './config.js';

/** Where the values a modular-arithmetic dataset config leaves null come from. */
export interface DatasetDefaults {
  /** names the source in errors, e.g. "the checkpoint's training" */
  what: string;
  /** the source's dataset values (modulus, fn_name, frac_train, seed), or null */
  load: () => Promise<Record<string, unknown> | null>;
}

export interface DatasetSources {
  warn: (m: string) => void;
  defaults?: DatasetDefaults;
  file: (d: Extract<DatasetConfig, { dataset_type: 'file' }>) => Promise<Dataset>;
  mnist: (d: Extract<DatasetConfig, { dataset_type: 'torchvision' }>) => Promise<Dataset>;
}

export async function resolveDataset(d: DatasetConfig, key: string, src: DatasetSources): Promise<Dataset> {
  const warn = src.warn;
  let ds: Dataset;
  switch (d.dataset_type) {
    case 'modular_arithmetic': {
      const load = src.defaults?.load ?? (async () => null);
      const needed = d.modulus === null || d.fn_name === null || d.frac_train === null;
      const ck = needed ? await load() : await load().catch(() => null);
      const pick = <T>(v: T | null, k: string): T | undefined => (v !== null ? v : ((ck?.[k] as T | undefined) ?? undefined));
      const frac = pick(d.frac_train, 'frac_train');
      if (d.frac_train !== null && ck && typeof ck.frac_train === 'number' && ck.frac_train !== d.frac_train) {
        throw new UserError(`${key}.frac_train: ${d.frac_train} differs from ${src.defaults!.what} frac_train ${ck.frac_train}`);
      }
      ds = modularArithmetic({
        modulus: pick(d.modulus, 'modulus'),
        fnName: pick(d.fn_name, 'fn_name') as 'add' | 'subtract' | 'x2xyy2' | undefined,
        fracTrain: frac,
        seed: d.seed ?? 0,
        returnSet: d.return_set,
      });
      break;
    }
    case 'block_vector':
      ds = blockVector({
        size: d.size,
        length: d.length,
        firstBlockLength: d.first_block_length,
        dataVariances: d.data_variances,
        dataPerfectCorrelation: d.data_perfect_correlation,
        seed: d.seed ?? 0,
      });
      break;
    case 'torchvision': {
      ds = await src.mnist(d);
      break;
    }
    case 'file':
      ds = await src.file(d);
      break;
  }
  const nSub = d.n_samples ?? d.return_set_n_samples ?? (d.return_set_frac !== null ? Math.floor(ds.n * d.return_set_frac) : null);
  if (nSub !== null) {
    if (nSub > ds.n) throw new UserError(`${key}: n_samples ${nSub} exceeds the dataset size ${ds.n}`);
    warn(`${key}: sub-sampling ${nSub} of ${ds.n} samples with our seeded RNG (not Python's random.sample, so not the reference's subset)`);
    ds = subsample(ds, nSub, d.seed ?? 0);
  }
  return ds;
}

/** n items chosen without replacement (seeded partial Fisher–Yates), then sorted (as the reference). */
function subsample(ds: Dataset, n: number, seed: number): Dataset {
  const rng = new Rng(seed, 0x5b5);
  const idx = Int32Array.from({ length: ds.n }, (_, i) => i);
  for (let i = 0; i < n; i++) {
    const j = i + rng.int(ds.n - i);
    const t = idx[i]!;
    idx[i] = idx[j]!;
    idx[j] = t;
  }
  const pick = Array.from(idx.subarray(0, n)).sort((a, b) => a - b);
  const inp = ds.inputs;
  const w = inp.kind === 'tokens' ? inp.seqLen : inp.width;
  const pickRows = <T extends Int32Array | Float64Array>(src: T, Ctor: new (n: number) => T): T => {
    const out = new Ctor(n * w);
    pick.forEach((k, i) => out.set(src.subarray(k * w, (k + 1) * w) as never, i * w));
    return out;
  };
  const inputs =
    inp.kind === 'tokens'
      ? { kind: 'tokens' as const, data: pickRows(inp.data, Int32Array), batch: n, seqLen: inp.seqLen }
      : { kind: 'floats' as const, data: pickRows(inp.data, Float64Array), batch: n, width: inp.width };
  const labels = ds.labels ? (ds.labels instanceof Int32Array ? Int32Array.from(pick, (k) => (ds.labels as Int32Array)[k]!) : Float64Array.from(pick, (k) => (ds.labels as Float64Array)[k]!)) : null;
  return { name: `${ds.name}[${n}]`, n, inputs, labels };
}

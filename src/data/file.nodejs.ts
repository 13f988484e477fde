/**
 * A dataset from a file: .safetensors (two named tensors) or .npy (inputs file; labels from a
 * sibling .npy named by `labelsName`, or none). Float inputs [N, ...] are flattened to [N, width];
 * integer inputs [N, seqLen] are token ids.
 */
import { readFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { UserError } from '../errors.js';
import { readSafetensorsFile } from '../io/files.nodejs.js';
import type { Tensor } from '../io/tensor.js';
import { tensorToDataset } from './tensor-dataset.js';
import type { Dataset } from './types.js';
import { parseNpy } from './npy.js';

/** fileDataset('data.safetensors', 'x', 'y') or fileDataset('x.npy', undefined, 'y.npy'). */
export async function fileDataset(path: string, inputsName?: string, labelsName?: string | null): Promise<Dataset> {
  const what = `dataset ${path}`;
  if (path.endsWith('.npy')) {
    const x = parseNpy(new Uint8Array(await readFileOr(path, what)), path);
    let y: Tensor | null = null;
    if (labelsName) {
      const lp = labelsName.includes('/') ? labelsName : join(dirname(path), labelsName.endsWith('.npy') ? labelsName : `${labelsName}.npy`);
      y = parseNpy(new Uint8Array(await readFileOr(lp, `labels ${lp}`)), lp);
    }
    return tensorToDataset(basename(path), x, y, what);
  }
  if (path.endsWith('.safetensors') || path.endsWith('.index.json')) {
    const { tensors } = await readSafetensorsFile(path);
    const names = [...tensors.keys()];
    const xn = inputsName ?? (names.length === 1 || (names.length === 2 && labelsName) ? names.find((n) => n !== labelsName) : undefined);
    if (!xn) throw new UserError(`${what}: name the inputs tensor (tensors in the file: ${names.join(', ')})`);
    const x = tensors.get(xn);
    if (!x) throw new UserError(`${what}: no tensor '${xn}' (tensors in the file: ${names.join(', ')})`);
    let y: Tensor | null = null;
    if (labelsName) {
      y = tensors.get(labelsName) ?? null;
      if (!y) throw new UserError(`${what}: no labels tensor '${labelsName}' (tensors in the file: ${names.join(', ')})`);
    }
    return tensorToDataset(basename(path), x, y, what);
  }
  throw new UserError(`${what}: unsupported file type (use .safetensors or .npy)`);
}

async function readFileOr(p: string, what: string): Promise<Buffer> {
  try {
    return await readFile(p);
  } catch (e) {
    throw new UserError(`${what}: cannot read ${p}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

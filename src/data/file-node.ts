/**
 * A dataset from a file: .safetensors (two named tensors) or .npy (inputs file; labels from a
 * sibling .npy named by `labelsName`, or none). Float inputs [N, ...] are flattened to [N, width];
 * integer inputs [N, seqLen] are token ids.
 */
import { readFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { UserError } from '../errors.js';
import { readSafetensorsFile } from '../io/files-node.js';
import { toFloat64, type Tensor } from '../io/tensor.js';
import { parseNpy } from './npy.js';
import type { Dataset } from './types.js';

function tensorToDataset(name: string, x: Tensor, y: Tensor | null, what: string): Dataset {
  if (x.shape.length < 1) throw new UserError(`${what}: inputs must have a leading sample axis, got shape [${x.shape.join(', ')}]`);
  const n = x.shape[0]!;
  const width = x.shape.slice(1).reduce((a, b) => a * b, 1);
  let inputs: Dataset['inputs'];
  if (x.dtype === 'I64' || x.dtype === 'I32' || x.dtype === 'U8') {
    if (x.shape.length !== 2) throw new UserError(`${what}: integer inputs are token ids and must be [N, seqLen], got [${x.shape.join(', ')}]`);
    const f = toFloat64(x);
    const ids = new Int32Array(f.length);
    for (let i = 0; i < f.length; i++) {
      if (!(f[i]! >= 0 && f[i]! < 2 ** 31)) throw new UserError(`${what}: token id ${f[i]} at flat index ${i} is out of range`);
      ids[i] = f[i]!;
    }
    inputs = { kind: 'tokens', data: ids, batch: n, seqLen: width };
  } else if (x.dtype === 'BOOL') {
    throw new UserError(`${what}: boolean inputs are not supported`);
  } else {
    const f = toFloat64(x);
    for (let i = 0; i < f.length; i++) if (!Number.isFinite(f[i]!)) throw new UserError(`${what}: input value at flat index ${i} is not finite`);
    inputs = { kind: 'floats', data: f, batch: n, width };
  }
  let labels: Dataset['labels'] = null;
  let labelWidth: number | undefined;
  if (y) {
    const ny = y.shape.length ? y.shape[0]! : 1;
    // [N], or [N, T] per-position labels of token inputs [N, T] (language-model next tokens)
    const perPos = y.shape.length === 2 && inputs.kind === 'tokens' && y.shape[1] === inputs.seqLen;
    if (ny !== n || (y.shape.length > 1 && !perPos)) {
      throw new UserError(`${what}: labels have shape [${y.shape.join(', ')}], expected [${n}]${inputs.kind === 'tokens' ? ` or [${n}, ${inputs.seqLen}]` : ''}`);
    }
    if (perPos) labelWidth = y.shape[1]!;
    const f = toFloat64(y);
    if (y.dtype === 'F64' || y.dtype === 'F32' || y.dtype === 'F16' || y.dtype === 'BF16') labels = f;
    else labels = Int32Array.from(f);
  }
  return { name, n, inputs, labels, ...(labelWidth !== undefined ? { labelWidth } : {}) };
}

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

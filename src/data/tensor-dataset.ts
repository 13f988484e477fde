/** A dataset from an inputs tensor and optional labels (browser-safe; files: file.nodejs.ts). */
import { UserError } from '../errors.js';
import { toFloat64, type Tensor } from '../io/tensor.js';
import type { Dataset } from './types.js';

/** Float inputs [N, ...] are flattened to [N, width]; integer inputs [N, seqLen] are token ids. */
export function tensorToDataset(name: string, x: Tensor, y: Tensor | null, what: string): Dataset {
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

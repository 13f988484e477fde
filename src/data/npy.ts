/** Minimal NumPy .npy reader (format 1.0–3.0, little/big endian numeric dtypes, C order). */
import { UserError } from '../errors.js';
import type { Tensor } from '../io/tensor.js';

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

/** Parses .npy bytes into a Tensor (f8→F64, f4→F32, f2→F16, i8→I64, i4→I32, u1→U8, b1→BOOL; i2/u2/u4/i1 → I32). */
export function parseNpy(bytes: Uint8Array, name = '.npy'): Tensor {
  if (bytes.length < 10 || MAGIC.some((m, i) => bytes[i] !== m)) throw new UserError(`${name}: not a .npy file (bad magic)`);
  const major = bytes[6]!;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let hlen: number;
  let hstart: number;
  if (major === 1) {
    hlen = dv.getUint16(8, true);
    hstart = 10;
  } else if (major === 2 || major === 3) {
    if (bytes.length < 12) throw new UserError(`${name}: truncated header`);
    hlen = dv.getUint32(8, true);
    hstart = 12;
  } else throw new UserError(`${name}: unsupported .npy format version ${major}`);
  if (hstart + hlen > bytes.length) throw new UserError(`${name}: truncated header (needs ${hstart + hlen} bytes, file has ${bytes.length})`);
  const header = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(bytes.subarray(hstart, hstart + hlen));
  const descr = /'descr'\s*:\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header)?.[1];
  const shapeStr = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (!descr || !fortran || shapeStr === undefined) throw new UserError(`${name}: malformed header ${JSON.stringify(header.trim())}`);
  if (fortran === 'True') throw new UserError(`${name}: Fortran-order arrays are not supported (save with np.ascontiguousarray)`);
  const shape = shapeStr
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length)
    .map((s) => {
      const v = Number(s.replace(/L$/, ''));
      if (!Number.isSafeInteger(v) || v < 0) throw new UserError(`${name}: bad shape entry ${JSON.stringify(s)}`);
      return v;
    });
  const n = shape.reduce((a, b) => a * b, 1);
  const m = /^([<>|=])([a-zA-Z])(\d+)$/.exec(descr);
  if (!m) throw new UserError(`${name}: unsupported dtype ${JSON.stringify(descr)}`);
  const [, endian, kind, sizeS] = m;
  const size = Number(sizeS);
  const little = endian !== '>';
  const off = hstart + hlen;
  if (off + n * size > bytes.length) throw new UserError(`${name}: truncated data (shape [${shape.join(', ')}] of ${descr} needs ${n * size} bytes, file has ${bytes.length - off})`);
  const get = (i: number): number => {
    const p = off + i * size;
    switch (`${kind}${size}`) {
      case 'f8': return dv.getFloat64(p, little);
      case 'f4': return dv.getFloat32(p, little);
      case 'i8': return Number(dv.getBigInt64(p, little));
      case 'u8': return Number(dv.getBigUint64(p, little));
      case 'i4': return dv.getInt32(p, little);
      case 'u4': return dv.getUint32(p, little);
      case 'i2': return dv.getInt16(p, little);
      case 'u2': return dv.getUint16(p, little);
      case 'i1': return dv.getInt8(p);
      case 'u1': case 'b1': return dv.getUint8(p);
      default: throw new UserError(`${name}: unsupported dtype ${JSON.stringify(descr)}`);
    }
  };
  if (kind === 'f' && size === 2) {
    const d = new Uint16Array(n);
    for (let i = 0; i < n; i++) d[i] = dv.getUint16(off + i * 2, little);
    return { dtype: 'F16', shape, data: d };
  }
  if (!['f4', 'f8', 'i1', 'i2', 'i4', 'i8', 'u1', 'u2', 'u4', 'u8', 'b1'].includes(`${kind}${size}`)) {
    throw new UserError(`${name}: unsupported dtype ${JSON.stringify(descr)}`);
  }
  if (kind === 'f') {
    const d = size === 8 ? new Float64Array(n) : new Float32Array(n);
    for (let i = 0; i < n; i++) d[i] = get(i);
    return { dtype: size === 8 ? 'F64' : 'F32', shape, data: d };
  }
  if (kind === 'b' || (kind === 'u' && size === 1)) {
    const d = new Uint8Array(n);
    for (let i = 0; i < n; i++) d[i] = get(i);
    return { dtype: kind === 'b' ? 'BOOL' : 'U8', shape, data: d };
  }
  if (kind === 'i' && size === 8) {
    const d = new BigInt64Array(n);
    for (let i = 0; i < n; i++) d[i] = dv.getBigInt64(off + i * 8, little);
    return { dtype: 'I64', shape, data: d };
  }
  const d = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const v = get(i);
    if (v > 2147483647) throw new UserError(`${name}: value ${v} at index ${i} does not fit in int32`);
    d[i] = v;
  }
  return { dtype: 'I32', shape, data: d };
}

/**
 * The in-memory tensor type shared by every reader and writer (browser-safe).
 *
 * Storage per dtype (little-endian, row-major):
 *   F64 → Float64Array, F32 → Float32Array, F16 and BF16 → Uint16Array (raw bits),
 *   I64 → BigInt64Array, I32 → Int32Array, U8 and BOOL → Uint8Array (BOOL: 0 or 1).
 */
import { UserError } from '../errors.js';

export type DType = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'U8' | 'BOOL';

export type TensorData = Float64Array | Float32Array | Int32Array | BigInt64Array | Uint8Array | Uint16Array;

export interface Tensor {
  dtype: DType;
  shape: number[];
  data: TensorData;
}

export const DTYPES: readonly DType[] = ['F64', 'F32', 'F16', 'BF16', 'I64', 'I32', 'U8', 'BOOL'];

/** Bytes per element. */
export const DTYPE_SIZE: Readonly<Record<DType, number>> = {
  F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, U8: 1, BOOL: 1,
};

type ArrayCtor = { new (buffer: ArrayBufferLike, byteOffset: number, length: number): TensorData; new (length: number): TensorData; BYTES_PER_ELEMENT: number; name: string };

/** Typed-array constructor used to hold each dtype. */
export const DTYPE_ARRAY: Readonly<Record<DType, ArrayCtor>> = {
  F64: Float64Array as unknown as ArrayCtor,
  F32: Float32Array as unknown as ArrayCtor,
  F16: Uint16Array as unknown as ArrayCtor,
  BF16: Uint16Array as unknown as ArrayCtor,
  I64: BigInt64Array as unknown as ArrayCtor,
  I32: Int32Array as unknown as ArrayCtor,
  U8: Uint8Array as unknown as ArrayCtor,
  BOOL: Uint8Array as unknown as ArrayCtor,
};

export function isDType(s: unknown): s is DType {
  return typeof s === 'string' && (DTYPES as readonly string[]).includes(s);
}

/** Number of elements of a shape ([] → 1, a scalar). */
export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Throws a clear error if `t.data` does not have the array type and length its dtype and shape need. */
export function checkTensor(t: Tensor, name = 'tensor'): void {
  if (!isDType(t.dtype)) throw new UserError(`${name}: unknown dtype ${JSON.stringify(t.dtype)} (expected one of ${DTYPES.join(', ')})`);
  if (!Array.isArray(t.shape) || t.shape.some((d) => !Number.isSafeInteger(d) || d < 0)) {
    throw new UserError(`${name}: shape must be an array of non-negative integers, got ${JSON.stringify(t.shape)}`);
  }
  const ctor = DTYPE_ARRAY[t.dtype];
  if (!(t.data instanceof (ctor as unknown as Function))) {
    throw new UserError(`${name}: dtype ${t.dtype} needs a ${ctor.name}, got ${(t.data as object)?.constructor?.name ?? typeof t.data}`);
  }
  const n = numel(t.shape);
  if (t.data.length !== n) {
    throw new UserError(`${name}: shape [${t.shape.join(', ')}] needs ${n} elements, data has ${t.data.length}`);
  }
}

// ---- half precision ----------------------------------------------------------------------------

const f32buf = new Float32Array(1);
const u32buf = new Uint32Array(f32buf.buffer);

/** IEEE binary16 bits → number. */
export function f16ToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24; // zero / subnormal
  if (exp === 0x1f) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

let F16_LUT: Float64Array | null = null;
/** All 65536 binary16 values, decoded once (512 KB). */
function f16Table(): Float64Array {
  if (!F16_LUT) {
    F16_LUT = new Float64Array(65536);
    for (let h = 0; h < 65536; h++) F16_LUT[h] = f16ToNumber(h);
  }
  return F16_LUT;
}

/** number → IEEE binary16 bits (round to nearest even; overflow → ±Inf). */
export function numberToF16(x: number): number {
  if (Number.isNaN(x)) return 0x7e00;
  const sign = x < 0 || Object.is(x, -0) ? 0x8000 : 0;
  let a = Math.abs(x);
  if (a === Infinity) return sign | 0x7c00;
  if (a < 2 ** -24 / 2) return sign; // rounds to zero (ties-to-even at exactly half → 0)
  if (a < 2 ** -14) {
    // subnormal: value = m · 2^-24, m in [0, 1024)
    const m = roundHalfEven(a / 2 ** -24);
    return sign | m; // m == 1024 carries into the smallest normal, which is the right bit pattern
  }
  let e = Math.floor(Math.log2(a));
  // guard log2 rounding
  if (2 ** e > a) e -= 1;
  else if (2 ** (e + 1) <= a) e += 1;
  let m = roundHalfEven((a / 2 ** e - 1) * 1024);
  if (m === 1024) { m = 0; e += 1; }
  if (e > 15) return sign | 0x7c00;
  return sign | ((e + 15) << 10) | m;
}

/** Python's round() and IEEE round-to-nearest: halves to even. */
export function roundHalfEven(v: number): number {
  const f = Math.floor(v);
  const d = v - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

/** bfloat16 bits → number (exact: the upper half of a float32). */
export function bf16ToNumber(h: number): number {
  u32buf[0] = (h & 0xffff) << 16;
  return f32buf[0];
}

/** number → bfloat16 bits (rounded to float32 first, then round to nearest even). */
export function numberToBf16(x: number): number {
  f32buf[0] = x;
  const bits = u32buf[0];
  if (Number.isNaN(f32buf[0])) return 0x7fc0 | ((bits >>> 16) & 0x8000);
  const lsb = (bits >>> 16) & 1;
  return ((bits + 0x7fff + lsb) >>> 16) & 0xffff;
}

// ---- conversions -------------------------------------------------------------------------------

/** Any dtype → a new Float64Array (F16/BF16 decoded, I64 via Number, BOOL as 0/1). */
export function toFloat64(t: Tensor): Float64Array {
  const d = t.data;
  const n = d.length;
  const out = new Float64Array(n);
  switch (t.dtype) {
    case 'F16': {
      const u = d as Uint16Array;
      const lut = f16Table();
      for (let i = 0; i < n; i++) out[i] = lut[u[i]];
      return out;
    }
    case 'BF16': {
      const u = d as Uint16Array;
      for (let i = 0; i < n; i++) out[i] = bf16ToNumber(u[i]);
      return out;
    }
    case 'I64': {
      const b = d as BigInt64Array;
      for (let i = 0; i < n; i++) out[i] = Number(b[i]);
      return out;
    }
    case 'BOOL': {
      const u = d as Uint8Array;
      for (let i = 0; i < n; i++) out[i] = u[i] ? 1 : 0;
      return out;
    }
    default:
      out.set(d as Float64Array | Float32Array | Int32Array | Uint8Array);
      return out;
  }
}

/** Any numeric dtype → Float32Array (F32 is returned as is, without a copy). */
export function toFloat32(t: Tensor): Float32Array {
  if (t.dtype === 'F32') return t.data as Float32Array;
  return Float32Array.from(toFloat64(t));
}

/**
 * Builds a tensor of `dtype` from plain values (numbers, or bigints for I64), encoding F16/BF16
 * and checking the element count against the shape.
 */
export function makeTensor(dtype: DType, shape: number[], values: ArrayLike<number | bigint | boolean>): Tensor {
  if (!isDType(dtype)) throw new UserError(`unknown dtype ${JSON.stringify(dtype)}`);
  const n = numel(shape);
  if (values.length !== n) throw new UserError(`shape [${shape.join(', ')}] needs ${n} values, got ${values.length}`);
  const data = new DTYPE_ARRAY[dtype](n);
  for (let i = 0; i < n; i++) {
    const v = values[i];
    switch (dtype) {
      case 'F16': (data as Uint16Array)[i] = numberToF16(Number(v)); break;
      case 'BF16': (data as Uint16Array)[i] = numberToBf16(Number(v)); break;
      case 'I64': (data as BigInt64Array)[i] = typeof v === 'bigint' ? v : BigInt(Math.trunc(Number(v))); break;
      case 'BOOL': (data as Uint8Array)[i] = v ? 1 : 0; break;
      default: (data as Float64Array)[i] = Number(v);
    }
  }
  return { dtype, shape: [...shape], data };
}

/** A 2-D F64 tensor view of a row-major matrix (no copy). */
export function f64Tensor(data: Float64Array, shape: number[]): Tensor {
  const t: Tensor = { dtype: 'F64', shape: [...shape], data };
  checkTensor(t);
  return t;
}

/** The bytes of a tensor's data (a view, no copy). */
export function tensorBytes(t: Tensor): Uint8Array {
  return new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
}

/** True on little-endian hosts (all current browsers and Node platforms). */
export const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

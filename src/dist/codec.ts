/**
 * Exact encoding of task results (numbers, strings, booleans, null, arrays, plain records and
 * typed arrays) as a JSON skeleton plus one binary block, and the byte layout of a partial file.
 * Typed arrays keep their bits; scalars that JSON cannot hold exactly (NaN, ±Infinity, −0) are
 * tagged. Browser-safe: hashing is passed in by the caller.
 */

type Typed = Float64Array | Float32Array | Int32Array | Uint32Array | Uint8Array | Int16Array | Uint16Array | Int8Array;

const CTORS = {
  f64: Float64Array,
  f32: Float32Array,
  i32: Int32Array,
  u32: Uint32Array,
  u8: Uint8Array,
  i16: Int16Array,
  u16: Uint16Array,
  i8: Int8Array,
} as const;
type Dtype = keyof typeof CTORS;

function dtypeOf(a: ArrayBufferView): Dtype | null {
  for (const [k, C] of Object.entries(CTORS)) if (a instanceof C) return k as Dtype;
  return null;
}

export interface Encoded {
  /** JSON-safe skeleton; typed arrays replaced by {$ta: dtype, off, len} */
  json: unknown;
  /** concatenated array bytes (each array 8-byte aligned) */
  data: Uint8Array;
}

/** Encodes `value` (see the module comment for what it may hold). */
export function encodeValue(value: unknown): Encoded {
  const chunks: Array<{ off: number; bytes: Uint8Array }> = [];
  let size = 0;
  const walk = (v: unknown, path: string): unknown => {
    if (v === null || typeof v === 'string' || typeof v === 'boolean') return v;
    if (v === undefined) return { $u: 1 };
    if (typeof v === 'number') {
      if (Number.isNaN(v)) return { $n: 'NaN' };
      if (v === Infinity) return { $n: 'Inf' };
      if (v === -Infinity) return { $n: '-Inf' };
      if (Object.is(v, -0)) return { $n: '-0' };
      return v;
    }
    if (ArrayBuffer.isView(v)) {
      const dt = dtypeOf(v);
      if (!dt) throw new TypeError(`cannot encode ${v.constructor.name} at ${path}`);
      const bytes = new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
      const off = size;
      chunks.push({ off, bytes });
      size += Math.ceil(v.byteLength / 8) * 8;
      return { $ta: dt, off, len: (v as Typed).length };
    }
    if (Array.isArray(v)) return v.map((x, i) => walk(x, `${path}[${i}]`));
    if (typeof v === 'object') {
      const proto = Object.getPrototypeOf(v);
      if (proto !== Object.prototype && proto !== null) throw new TypeError(`cannot encode a ${proto?.constructor?.name ?? 'object'} at ${path}`);
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v as Record<string, unknown>)) out[k] = walk(x, `${path}.${k}`);
      return { $o: out };
    }
    throw new TypeError(`cannot encode a ${typeof v} at ${path}`);
  };
  const json = walk(value, '$');
  const data = new Uint8Array(size);
  for (const c of chunks) data.set(c.bytes, c.off);
  return { json, data };
}

/** Inverse of `encodeValue`; arrays are fresh copies (never views of `data`). */
export function decodeValue(json: unknown, data: Uint8Array): unknown {
  const walk = (v: unknown): unknown => {
    if (v === null || typeof v !== 'object') return v;
    if (Array.isArray(v)) return v.map(walk);
    const o = v as Record<string, unknown>;
    if ('$ta' in o) {
      const C = CTORS[o.$ta as Dtype];
      const off = o.off as number;
      const len = o.len as number;
      if (!C || !Number.isSafeInteger(off) || !Number.isSafeInteger(len) || off < 0 || len < 0 || off + len * C.BYTES_PER_ELEMENT > data.length) {
        throw new RangeError('array reference outside the data block');
      }
      const out = new C(len);
      new Uint8Array(out.buffer).set(data.subarray(off, off + len * C.BYTES_PER_ELEMENT));
      return out;
    }
    if ('$n' in o) return { NaN: NaN, Inf: Infinity, '-Inf': -Infinity, '-0': -0 }[o.$n as string];
    if ('$u' in o) return undefined;
    if ('$o' in o) {
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(o.$o as Record<string, unknown>)) out[k] = walk(x);
      return out;
    }
    throw new RangeError('unknown tag in encoded value');
  };
  return walk(json);
}

export const PARTIAL_MAGIC = 'IBPART01';
const HASH_BYTES = 32;

/**
 * Partial file bytes: magic (8) · u32 LE header length · header JSON · data · sha256 (32) of all
 * bytes before it. `sha256` is the caller's hash function.
 */
export function packPartial(header: Record<string, unknown>, data: Uint8Array, sha256: (b: Uint8Array) => Uint8Array): Uint8Array {
  const h = new TextEncoder().encode(JSON.stringify(header));
  const body = new Uint8Array(8 + 4 + h.length + data.length);
  body.set(new TextEncoder().encode(PARTIAL_MAGIC), 0);
  new DataView(body.buffer).setUint32(8, h.length, true);
  body.set(h, 12);
  body.set(data, 12 + h.length);
  const out = new Uint8Array(body.length + HASH_BYTES);
  out.set(body, 0);
  out.set(sha256(body), body.length);
  return out;
}

export interface UnpackedPartial {
  header: Record<string, unknown>;
  data: Uint8Array;
  /** hex sha256 of the file's content (its trailer) */
  sha256: string;
}

/** Checks the magic, the length fields and the trailing hash; throws a RangeError naming the defect. */
export function unpackPartial(bytes: Uint8Array, sha256: (b: Uint8Array) => Uint8Array): UnpackedPartial {
  if (bytes.length < 12 + HASH_BYTES) throw new RangeError(`truncated (${bytes.length} bytes)`);
  if (new TextDecoder().decode(bytes.subarray(0, 8)) !== PARTIAL_MAGIC) throw new RangeError('not a partial file (bad magic)');
  const body = bytes.subarray(0, bytes.length - HASH_BYTES);
  const want = bytes.subarray(bytes.length - HASH_BYTES);
  const got = sha256(body);
  for (let i = 0; i < HASH_BYTES; i++) if (got[i] !== want[i]) throw new RangeError('content hash mismatch (corrupted or truncated)');
  const hlen = new DataView(bytes.buffer, bytes.byteOffset).getUint32(8, true);
  if (12 + hlen > body.length) throw new RangeError('header length beyond the end of the file');
  const header = JSON.parse(new TextDecoder().decode(body.subarray(12, 12 + hlen))) as Record<string, unknown>;
  return { header, data: body.subarray(12 + hlen), sha256: toHex(want) };
}

export function toHex(b: Uint8Array): string {
  let s = '';
  for (const x of b) s += x.toString(16).padStart(2, '0');
  return s;
}

/** JSON with object keys sorted at every level (the canonical form hashed into planId). */
export function canonicalJson(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  const o = v as Record<string, unknown>;
  return `{${Object.keys(o)
    .filter((k) => o[k] !== undefined)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`)
    .join(',')}}`;
}

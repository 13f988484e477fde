/**
 * safetensors reader and writer, pure TypeScript (browser-safe).
 *
 * Layout: u64 LE header length N, N bytes of JSON header
 * `{"__metadata__": {str: str}, "<name>": {"dtype", "shape", "data_offsets": [begin, end]}, ...}`,
 * then the data buffer; offsets are relative to the start of the data buffer.
 */
import { UserError } from '../errors.js';
import {
  DTYPES, DTYPE_ARRAY, DTYPE_SIZE, LITTLE_ENDIAN, checkTensor, isDType, numel, tensorBytes,
  type Tensor,
} from './tensor.js';

export interface SafetensorsFile {
  metadata: Record<string, string>;
  tensors: Map<string, Tensor>;
  /** Non-fatal findings (unused gaps or trailing bytes in the data buffer). */
  warnings: string[];
}

export interface ParseOptions {
  /** Copy every tensor out of `bytes` instead of viewing it where aligned (default false). */
  copy?: boolean;
  /** Treat gaps / trailing bytes in the data buffer as errors instead of warnings (default false). */
  strict?: boolean;
}

/** Upper bound on the JSON header, as in the reference implementation (100 MB). */
const MAX_HEADER = 100_000_000;

function fail(msg: string): never {
  throw new UserError(`invalid safetensors: ${msg}`);
}

/**
 * Parses a safetensors buffer. Tensor data are zero-copy views into `bytes` when the offset is
 * aligned for the element type, else copies. Throws `UserError` naming the problem for truncated
 * files, bad header lengths, invalid JSON, unknown dtypes, bad shapes, size mismatches,
 * overlapping or out-of-range offsets and duplicate names.
 */
export function parseSafetensors(bytes: Uint8Array, opts: ParseOptions = {}): SafetensorsFile {
  if (!LITTLE_ENDIAN) fail('big-endian hosts are not supported');
  if (bytes.length < 8) fail(`file is truncated: ${bytes.length} bytes, need at least 8 for the header length`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const hlen64 = dv.getBigUint64(0, true);
  if (hlen64 > BigInt(bytes.length - 8)) {
    fail(`header length ${hlen64} exceeds the file size (${bytes.length} bytes, so at most ${bytes.length - 8}); the file is truncated or not safetensors`);
  }
  const hlen = Number(hlen64);
  if (hlen > MAX_HEADER) fail(`header length ${hlen} exceeds the ${MAX_HEADER}-byte limit`);
  if (hlen < 2) fail(`header length ${hlen} is too small for a JSON object`);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + hlen));
  } catch {
    fail('header is not valid UTF-8');
  }
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (e) {
    fail(`header is not valid JSON (${(e as Error).message}); header starts with ${JSON.stringify(text.slice(0, 60))}`);
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) fail('header must be a JSON object');
  const dup = findDuplicateTopLevelKey(text);
  if (dup !== null) fail(`duplicate tensor name ${JSON.stringify(dup)} in header`);

  const dataStart = 8 + hlen;
  const dataLen = bytes.length - dataStart;
  const metadata: Record<string, string> = {};
  const entries: Array<{ name: string; dtype: Tensor['dtype']; shape: number[]; begin: number; end: number }> = [];

  for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) fail('__metadata__ must be an object of strings');
      for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
        if (typeof v !== 'string') fail(`__metadata__.${k} must be a string, got ${JSON.stringify(v)}`);
        metadata[k] = v;
      }
      continue;
    }
    const where = `tensor ${JSON.stringify(name)}`;
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) fail(`${where}: entry must be an object with dtype, shape, data_offsets`);
    const info = raw as Record<string, unknown>;
    if (!isDType(info.dtype)) {
      fail(`${where}: unknown dtype ${JSON.stringify(info.dtype)} (supported: ${DTYPES.join(', ')})`);
    }
    const shape = info.shape;
    if (!Array.isArray(shape) || shape.some((d) => typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0)) {
      fail(`${where}: shape must be an array of non-negative integers, got ${JSON.stringify(shape)}`);
    }
    const offs = info.data_offsets;
    if (!Array.isArray(offs) || offs.length !== 2 || offs.some((o) => typeof o !== 'number' || !Number.isSafeInteger(o) || o < 0)) {
      fail(`${where}: data_offsets must be two non-negative integers [begin, end], got ${JSON.stringify(offs)}`);
    }
    const [begin, end] = offs as number[];
    if (end < begin) fail(`${where}: data_offsets [${begin}, ${end}] end before begin`);
    if (end > dataLen) {
      fail(`${where}: data_offsets [${begin}, ${end}] are out of range: the data buffer has ${dataLen} bytes (file truncated?)`);
    }
    const need = numel(shape as number[]) * DTYPE_SIZE[info.dtype];
    if (end - begin !== need) {
      fail(`${where}: shape [${(shape as number[]).join(', ')}] of ${info.dtype} needs ${need} bytes but data_offsets [${begin}, ${end}] span ${end - begin}`);
    }
    entries.push({ name, dtype: info.dtype, shape: shape as number[], begin, end });
  }

  // overlaps and gaps: sort by begin (zero-size tensors take no bytes and cannot overlap)
  const warnings: string[] = [];
  const sorted = entries.filter((e) => e.end > e.begin).sort((a, b) => a.begin - b.begin || a.end - b.end);
  let pos = 0;
  let prev = '';
  for (const e of sorted) {
    if (e.begin < pos) {
      fail(`tensors ${JSON.stringify(prev)} and ${JSON.stringify(e.name)} overlap (${JSON.stringify(e.name)} starts at ${e.begin}, before ${pos})`);
    }
    if (e.begin > pos) warnings.push(`unused gap of ${e.begin - pos} bytes before tensor ${JSON.stringify(e.name)} at offset ${pos}`);
    pos = e.end;
    prev = e.name;
  }
  if (pos < dataLen) warnings.push(`${dataLen - pos} unused trailing bytes after the last tensor`);
  if (opts.strict && warnings.length) fail(warnings.join('; '));

  const tensors = new Map<string, Tensor>();
  for (const e of entries) {
    const ctor = DTYPE_ARRAY[e.dtype];
    const size = DTYPE_SIZE[e.dtype];
    const abs = bytes.byteOffset + dataStart + e.begin;
    const n = (e.end - e.begin) / size;
    let data;
    if (!opts.copy && abs % size === 0) {
      data = new ctor(bytes.buffer, abs, n);
    } else {
      data = new ctor(n);
      new Uint8Array(data.buffer).set(bytes.subarray(dataStart + e.begin, dataStart + e.end));
    }
    tensors.set(e.name, { dtype: e.dtype, shape: [...e.shape], data });
  }
  return { metadata, tensors, warnings };
}

/**
 * Serialises tensors to safetensors bytes. Tensors are laid out largest element size first
 * (then by name), and the header is padded with spaces to a multiple of 8 bytes, so every tensor
 * is aligned for its element type and the output is deterministic.
 */
export function serializeSafetensors(
  tensors: Map<string, Tensor> | Record<string, Tensor>,
  metadata?: Record<string, string>,
): Uint8Array {
  const list = tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors);
  const seen = new Set<string>();
  for (const [name, t] of list) {
    if (name === '__metadata__') throw new UserError('a tensor cannot be named __metadata__');
    if (seen.has(name)) throw new UserError(`duplicate tensor name ${JSON.stringify(name)}`);
    seen.add(name);
    checkTensor(t, `tensor ${JSON.stringify(name)}`);
  }
  if (metadata) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') throw new UserError(`metadata ${k} must be a string, got ${typeof v}`);
    }
  }
  list.sort((a, b) => DTYPE_SIZE[b[1].dtype] - DTYPE_SIZE[a[1].dtype] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));

  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length) header.__metadata__ = metadata;
  let off = 0;
  for (const [name, t] of list) {
    const nbytes = t.data.byteLength;
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [off, off + nbytes] };
    off += nbytes;
  }
  let json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + padded + off);
  new DataView(out.buffer).setBigUint64(0, BigInt(padded), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + padded);
  json = new Uint8Array(0);
  let p = 8 + padded;
  for (const [, t] of list) {
    out.set(tensorBytes(t), p);
    p += t.data.byteLength;
  }
  return out;
}

/**
 * Returns the first key that appears twice at the top level of a JSON object text, or null.
 * (JSON.parse silently keeps the last duplicate, which would hide a corrupt header.)
 */
export function findDuplicateTopLevelKey(text: string): string | null {
  const keys = new Set<string>();
  let depth = 0;
  let i = 0;
  const n = text.length;
  while (i < n) {
    const c = text[i];
    if (c === '"') {
      let j = i + 1;
      while (j < n && text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      if (depth === 1) {
        let k = j + 1;
        while (k < n && /\s/.test(text[k])) k++;
        if (text[k] === ':') {
          const key = JSON.parse(text.slice(i, j + 1)) as string;
          if (keys.has(key)) return key;
          keys.add(key);
        }
      }
      i = j + 1;
      continue;
    }
    if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') depth--;
    i++;
  }
  return null;
}

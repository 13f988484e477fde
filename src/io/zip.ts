/**
 * Minimal ZIP reader (browser-safe): the central directory, ZIP64 sizes/offsets, STORED entries
 * and CRC-32 checks. Compressed entries are refused with a clear error (torch.save writes every
 * entry STORED).
 */
import { UserError } from '../errors.js';

export interface ZipEntry {
  name: string;
  method: number;
  crc32: number;
  compressedSize: number;
  size: number;
  localOffset: number;
}

function fail(msg: string): never {
  throw new UserError(`invalid zip archive: ${msg}`);
}

const SIG_EOCD = 0x06054b50;
const SIG_EOCD64 = 0x06064b50;
const SIG_LOC64 = 0x07064b50;
const SIG_CEN = 0x02014b50;
const SIG_LOCAL = 0x04034b50;

export function isZip(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 0x03 && bytes[3] === 0x04;
}

function u64(dv: DataView, off: number): number {
  const v = dv.getBigUint64(off, true);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) fail(`64-bit field ${v} is too large`);
  return Number(v);
}

/** Lists the entries of the central directory. */
export function readZipDirectory(bytes: Uint8Array): Map<string, ZipEntry> {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = bytes.length;
  if (n < 22) fail(`file is truncated (${n} bytes)`);
  let eocd = -1;
  for (let i = n - 22; i >= Math.max(0, n - 22 - 65535); i--) {
    if (dv.getUint32(i, true) === SIG_EOCD) { eocd = i; break; }
  }
  if (eocd < 0) fail('end of central directory not found (file truncated or not a zip)');
  let count = dv.getUint16(eocd + 10, true);
  let cdSize = dv.getUint32(eocd + 12, true);
  let cdOff = dv.getUint32(eocd + 16, true);
  if (count === 0xffff || cdSize === 0xffffffff || cdOff === 0xffffffff) {
    const loc = eocd - 20;
    if (loc < 0 || dv.getUint32(loc, true) !== SIG_LOC64) fail('ZIP64 end-of-central-directory locator missing');
    const e64 = u64(dv, loc + 8);
    if (e64 + 56 > n || dv.getUint32(e64, true) !== SIG_EOCD64) fail('ZIP64 end of central directory not found');
    count = u64(dv, e64 + 32);
    cdSize = u64(dv, e64 + 40);
    cdOff = u64(dv, e64 + 48);
  }
  if (cdOff + cdSize > n) fail(`central directory [${cdOff}, ${cdOff + cdSize}) lies beyond the file (${n} bytes): truncated`);
  const entries = new Map<string, ZipEntry>();
  let p = cdOff;
  const dec = new TextDecoder();
  for (let k = 0; k < count; k++) {
    if (p + 46 > n || dv.getUint32(p, true) !== SIG_CEN) fail(`central directory entry ${k} is corrupt`);
    const method = dv.getUint16(p + 10, true);
    const crc32 = dv.getUint32(p + 16, true);
    let compressedSize = dv.getUint32(p + 20, true);
    let size = dv.getUint32(p + 24, true);
    const nameLen = dv.getUint16(p + 28, true);
    const extraLen = dv.getUint16(p + 30, true);
    const commentLen = dv.getUint16(p + 32, true);
    let localOffset = dv.getUint32(p + 42, true);
    if (p + 46 + nameLen + extraLen + commentLen > n) fail(`central directory entry ${k} is truncated`);
    const name = dec.decode(bytes.subarray(p + 46, p + 46 + nameLen));
    // ZIP64 extended information extra field
    let e = p + 46 + nameLen;
    const eEnd = e + extraLen;
    while (e + 4 <= eEnd) {
      const id = dv.getUint16(e, true);
      const len = dv.getUint16(e + 2, true);
      if (id === 0x0001) {
        let q = e + 4;
        if (size === 0xffffffff) { size = u64(dv, q); q += 8; }
        if (compressedSize === 0xffffffff) { compressedSize = u64(dv, q); q += 8; }
        if (localOffset === 0xffffffff) { localOffset = u64(dv, q); q += 8; }
      }
      e += 4 + len;
    }
    if (entries.has(name)) fail(`duplicate entry ${JSON.stringify(name)}`);
    entries.set(name, { name, method, crc32, compressedSize, size, localOffset });
    p += 46 + nameLen + extraLen + commentLen;
  }
  return entries;
}

/** The bytes of a STORED entry (a view into `bytes`), CRC-checked unless `checkCrc` is false. */
export function readZipEntry(bytes: Uint8Array, e: ZipEntry, checkCrc = true): Uint8Array {
  if (e.method !== 0) {
    fail(`entry ${JSON.stringify(e.name)} is compressed (method ${e.method === 8 ? 'deflate' : e.method}); only STORED entries are supported, as torch.save writes them`);
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const p = e.localOffset;
  if (p + 30 > bytes.length || dv.getUint32(p, true) !== SIG_LOCAL) fail(`local header of ${JSON.stringify(e.name)} is missing or corrupt`);
  const start = p + 30 + dv.getUint16(p + 26, true) + dv.getUint16(p + 28, true);
  const end = start + e.size;
  if (end > bytes.length) fail(`entry ${JSON.stringify(e.name)} runs past the end of the file: truncated`);
  const data = bytes.subarray(start, end);
  if (checkCrc && crc32(data) !== e.crc32) fail(`CRC-32 mismatch in entry ${JSON.stringify(e.name)}: the file is corrupt`);
  return data;
}

let CRC_TABLE: Uint32Array | null = null;

export function crc32(data: Uint8Array): number {
  if (!CRC_TABLE) {
    CRC_TABLE = new Uint32Array(256);
    for (let i = 0; i < 256; i++) {
      let c = i;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      CRC_TABLE[i] = c >>> 0;
    }
  }
  const t = CRC_TABLE;
  let c = 0xffffffff;
  for (let i = 0; i < data.length; i++) c = t[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/**
 * Writes a ZIP archive with STORED entries (used by tests and tools to produce torch-style
 * files). Entry data are 64-byte aligned like torch's writer.
 */
export function writeZipStored(files: Array<[string, Uint8Array]>): Uint8Array {
  const enc = new TextEncoder();
  const chunks: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let off = 0;
  for (const [name, data] of files) {
    const nb = enc.encode(name);
    const base = 30 + nb.length;
    const pad = (64 - ((off + base + 4) % 64)) % 64; // extra field: 4-byte header + padding
    const local = new Uint8Array(base + 4 + pad);
    const dv = new DataView(local.buffer);
    const crc = crc32(data);
    dv.setUint32(0, SIG_LOCAL, true);
    dv.setUint16(4, 20, true);
    dv.setUint32(14, crc, true);
    dv.setUint32(18, data.length, true);
    dv.setUint32(22, data.length, true);
    dv.setUint16(26, nb.length, true);
    dv.setUint16(28, 4 + pad, true);
    local.set(nb, 30);
    dv.setUint16(base, 0x4246, true); // 'FB' padding block, as torch writes
    dv.setUint16(base + 2, pad, true);
    const cen = new Uint8Array(46 + nb.length);
    const cv = new DataView(cen.buffer);
    cv.setUint32(0, SIG_CEN, true);
    cv.setUint16(4, 20, true);
    cv.setUint16(6, 20, true);
    cv.setUint32(16, crc, true);
    cv.setUint32(20, data.length, true);
    cv.setUint32(24, data.length, true);
    cv.setUint16(28, nb.length, true);
    cv.setUint32(42, off, true);
    cen.set(nb, 46);
    central.push(cen);
    chunks.push(local, data);
    off += local.length + data.length;
  }
  const cdSize = central.reduce((a, c) => a + c.length, 0);
  const eocd = new Uint8Array(22);
  const ev = new DataView(eocd.buffer);
  ev.setUint32(0, SIG_EOCD, true);
  ev.setUint16(8, files.length, true);
  ev.setUint16(10, files.length, true);
  ev.setUint32(12, cdSize, true);
  ev.setUint32(16, off, true);
  const out = new Uint8Array(off + cdSize + 22);
  let p = 0;
  for (const c of [...chunks, ...central, eocd]) { out.set(c, p); p += c.length; }
  return out;
}

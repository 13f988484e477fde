/**
 * Node file helpers: safetensors files (single or sharded), checkpoints, JSON/YAML configs and
 * atomic writes. Every error names the file.
 */
import { open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { UserError } from '../errors.js';
import { parseSafetensors, type SafetensorsFile } from './safetensors.js';
import type { Tensor } from './tensor.js';
import { parsePt, stateDictFromPt, type PtFile } from './pt.js';
import { parseJsonText, parseYamlText } from './text.js';

/** Reads a whole file; a missing or unreadable file becomes a UserError naming it. */
export async function readBytes(path: string): Promise<Uint8Array> {
  try {
    const buf = await readFile(path);
    return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'ENOENT') throw new UserError(`file not found: ${path}`);
    if (err.code === 'EISDIR') throw new UserError(`expected a file but found a directory: ${path}`);
    throw new UserError(`cannot read ${path}: ${err.message}`);
  }
}

/** Re-throws an error with the file path in front of its message (keeping UserError-ness). */
function withPath(path: string, e: unknown): never {
  const msg = e instanceof Error ? e.message : String(e);
  if (e instanceof UserError) throw new UserError(`${path}: ${msg}`);
  throw new Error(`${path}: ${msg}`);
}

/** Reads a file and parses its bytes; errors of `parse` get the file path in front. */
async function parseFile<T>(path: string, parse: (bytes: Uint8Array) => T): Promise<T> {
  const bytes = await readBytes(path);
  try {
    return parse(bytes);
  } catch (e) {
    withPath(path, e);
  }
}

function isIndexPath(path: string): boolean {
  return path.endsWith('.index.json');
}

/**
 * Reads a `.safetensors` file, or a sharded checkpoint through its `*.safetensors.index.json`
 * (`{"metadata": {...}, "weight_map": {tensor: shard file}}`, shards relative to the index).
 */
export async function readSafetensorsFile(path: string): Promise<SafetensorsFile> {
  if (isIndexPath(path)) return readShardedSafetensors(path);
  return parseFile(path, parseSafetensors);
}

async function readShardedSafetensors(indexPath: string): Promise<SafetensorsFile> {
  const index = (await readStructured(indexPath)) as Record<string, unknown>;
  const wm = index?.weight_map;
  if (wm === null || typeof wm !== 'object' || Array.isArray(wm)) {
    throw new UserError(`${indexPath}: sharded index must have a "weight_map" object {tensor name: shard file}`);
  }
  const byShard = new Map<string, string[]>();
  for (const [name, shard] of Object.entries(wm as Record<string, unknown>)) {
    if (typeof shard !== 'string' || shard === '') throw new UserError(`${indexPath}: weight_map[${JSON.stringify(name)}] must be a file name`);
    if (isIndexPath(shard)) throw new UserError(`${indexPath}: weight_map[${JSON.stringify(name)}] points at another index (${shard}); shards must be .safetensors files`);
    if (!byShard.has(shard)) byShard.set(shard, []);
    byShard.get(shard)!.push(name);
  }
  const metadata: Record<string, string> = {};
  const meta = index.metadata;
  if (meta && typeof meta === 'object' && !Array.isArray(meta)) {
    for (const [k, v] of Object.entries(meta as Record<string, unknown>)) metadata[k] = typeof v === 'string' ? v : JSON.stringify(v);
  }
  const tensors = new Map<string, Tensor>();
  const warnings: string[] = [];
  const dir = dirname(indexPath);
  for (const [shard, names] of byShard) {
    const shardPath = resolve(dir, shard);
    let f: SafetensorsFile;
    try {
      f = await readSafetensorsFile(shardPath);
    } catch (e) {
      throw new UserError(`${indexPath}: shard ${shard}: ${(e as Error).message}`);
    }
    for (const w of f.warnings) warnings.push(`${shard}: ${w}`);
    for (const name of names) {
      const t = f.tensors.get(name);
      if (!t) throw new UserError(`${indexPath}: tensor ${JSON.stringify(name)} is listed in weight_map under ${shard}, but ${shardPath} has no such tensor`);
      tensors.set(name, t);
    }
    for (const [k, v] of Object.entries(f.metadata)) if (!(k in metadata)) metadata[k] = v;
  }
  return { metadata, tensors, warnings };
}

export { lineCol, parseJsonText, parseYamlText } from './text.js';

/** Reads a `.json`, `.yaml` or `.yml` file by extension. Errors name the file and the line. */
export async function readStructured(path: string): Promise<unknown> {
  const ext = extname(path).toLowerCase();
  if (ext !== '.json' && ext !== '.yaml' && ext !== '.yml') {
    throw new UserError(`${path}: unsupported config format ${JSON.stringify(ext)} (expected .json, .yaml or .yml)`);
  }
  const bytes = await readBytes(path);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new UserError(`${path}: not valid UTF-8 text`);
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  return ext === '.json' ? parseJsonText(text, path) : parseYamlText(text, path);
}

/**
 * Reads a JSON/YAML file named by the user (`what` names it in errors, e.g. "ablation config"):
 * its absolute path and parsed content. A missing or unreadable file is a UserError.
 */
export async function readStructuredFile(path: string, what: string): Promise<{ abs: string; raw: unknown }> {
  const abs = resolve(path);
  if (!(await pathExists(abs))) throw new UserError(`${what} not found: ${path}`);
  try {
    return { abs, raw: await readStructured(abs) };
  } catch (e) {
    if (e instanceof UserError) throw e;
    throw new UserError(`cannot read ${what} ${path}: ${(e as Error).message}`);
  }
}

/**
 * Writes `data` to `path` atomically: a temp file in the same directory is written, fsynced and
 * renamed over `path`. On any failure the temp file is removed and `path` is untouched.
 */
export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  const tmp = tempPathFor(path);
  await writeTempFile(tmp, data);
  try {
    await rename(tmp, path);
  } catch (e) {
    await unlink(tmp).catch(() => {});
    throw new UserError(`cannot write ${path}: ${(e as Error).message}`);
  }
  await fsyncDir(dirname(path));
}

/** A fresh hidden temp name beside `path`. */
export function tempPathFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`);
}

/** Writes and fsyncs a new file (exclusive create); removes it again on failure. */
export async function writeTempFile(tmp: string, data: Uint8Array | string): Promise<void> {
  let fh;
  try {
    fh = await open(tmp, 'wx', 0o644);
  } catch (e) {
    throw new UserError(`cannot write ${tmp}: ${(e as Error).message}`);
  }
  try {
    await fh.writeFile(data);
    await fh.sync();
    await fh.close();
  } catch (e) {
    await fh.close().catch(() => {});
    await unlink(tmp).catch(() => {});
    throw new UserError(`cannot write ${tmp}: ${(e as Error).message}`);
  }
}

/** Best-effort fsync of a directory so a rename is durable. */
export async function fsyncDir(dir: string): Promise<void> {
  try {
    const fh = await open(dir, 'r');
    try { await fh.sync(); } finally { await fh.close(); }
  } catch {
    /* not supported on every platform */
  }
}

/**
 * Reads model weights: `.safetensors`, a sharded `*.safetensors.index.json`, or a torch `.pt` /
 * `.pth` / `.bin` state_dict (restricted unpickler). A directory is searched for
 * `model.safetensors`, `model.safetensors.index.json`, then `model.pt`.
 */
export async function readCheckpoint(path: string): Promise<Map<string, Tensor>> {
  let p = path;
  try {
    if ((await stat(p)).isDirectory()) {
      const names = ['model.safetensors', 'model.safetensors.index.json', 'model.pt', 'model.pth'];
      const found = [];
      for (const n of names) if (await pathExists(join(p, n))) found.push(join(p, n));
      if (!found.length) throw new UserError(`${path}: directory has no checkpoint (looked for ${names.join(', ')})`);
      p = found[0];
    }
  } catch (e) {
    if (e instanceof UserError) throw e;
    throw new UserError(`file not found: ${path}`);
  }
  const lower = p.toLowerCase();
  if (lower.endsWith('.safetensors') || lower.endsWith('.index.json')) return (await readSafetensorsFile(p)).tensors;
  if (lower.endsWith('.pt') || lower.endsWith('.pth') || lower.endsWith('.bin') || lower.endsWith('.ckpt')) {
    return parseFile(p, (bytes) => stateDictFromPt(parsePt(bytes), p));
  }
  throw new UserError(`${p}: unsupported checkpoint format (expected .safetensors, .safetensors.index.json, .pt or .pth)`);
}

/** Reads a torch `.pt` file (restricted unpickler): the unpickled value and its tensors by path. */
export async function readPtFile(path: string): Promise<PtFile> {
  return parseFile(path, parsePt);
}

/** True when something (file or directory) exists at `p`. */
export async function pathExists(p: string): Promise<boolean> {
  try { await stat(p); return true; } catch { return false; }
}

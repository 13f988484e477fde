/**
 * Inputs of an in-browser build: File, Blob, ArrayBuffer, typed arrays or URLs, looked up by the
 * path the config names (exactly, then by file name), else fetched relative to a base URL.
 */
import { UserError } from '../errors.js';
import { parseJsonText, parseYamlText } from '../io/text.js';

export type BrowserFile = Blob | ArrayBuffer | ArrayBufferView | URL | string;

/** Bytes of one input. A Blob/File is read once; an ArrayBuffer/view is used without a copy. */
export async function readInput(f: BrowserFile, label: string, signal?: AbortSignal): Promise<Uint8Array> {
  if (f instanceof ArrayBuffer) return new Uint8Array(f);
  if (ArrayBuffer.isView(f)) return new Uint8Array(f.buffer, f.byteOffset, f.byteLength);
  if (typeof Blob !== 'undefined' && f instanceof Blob) return new Uint8Array(await f.arrayBuffer());
  if (typeof f === 'string' || f instanceof URL) return fetchBytes(f, label, signal);
  throw new UserError(`${label}: unsupported input (expected a File, Blob, ArrayBuffer, typed array or URL)`);
}

export async function fetchBytes(url: string | URL, label: string, signal?: AbortSignal): Promise<Uint8Array> {
  let res: Response;
  try {
    res = await fetch(url, { signal });
  } catch (e) {
    if ((e as Error).name === 'AbortError') throw e;
    throw new UserError(`${label}: cannot fetch ${String(url)}: ${(e as Error).message}`);
  }
  if (!res.ok) throw new UserError(`${label}: file not found: ${String(url)} (HTTP ${res.status})`);
  return new Uint8Array(await res.arrayBuffer());
}

function decodeText(bytes: Uint8Array, label: string): string {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new UserError(`${label}: not valid UTF-8 text`);
  }
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/** JSON or YAML text (by the name's extension; YAML, a superset of JSON, otherwise). */
export function parseStructured(bytes: Uint8Array, label: string): unknown {
  const text = decodeText(bytes, label);
  return /\.json$/i.test(label) ? parseJsonText(text, label) : parseYamlText(text, label);
}

const baseName = (p: string): string => p.slice(p.lastIndexOf('/') + 1);
export const dirName = (p: string): string => (p.includes('/') ? p.slice(0, p.lastIndexOf('/') + 1) : '');

/** The files of one build: a map by path, with a fallback base URL. */
export class InputFiles {
  private readonly byPath = new Map<string, BrowserFile>();
  private readonly byName = new Map<string, BrowserFile[]>();

  constructor(
    files: Record<string, BrowserFile> | Map<string, BrowserFile> | Iterable<File> | undefined,
    private readonly baseUrl: string | URL | null,
    private readonly signal?: AbortSignal,
  ) {
    const entries: Array<[string, BrowserFile]> = [];
    if (files instanceof Map) entries.push(...files);
    else if (files && Symbol.iterator in Object(files)) for (const f of files as Iterable<File>) entries.push([f.name, f]);
    else if (files) entries.push(...Object.entries(files as Record<string, BrowserFile>));
    for (const [k, v] of entries) {
      this.byPath.set(k, v);
      const n = baseName(k);
      if (!this.byName.has(n)) this.byName.set(n, []);
      this.byName.get(n)!.push(v);
    }
  }

  private find(path: string): BrowserFile | null {
    const exact = this.byPath.get(path);
    if (exact !== undefined) return exact;
    const named = this.byName.get(baseName(path));
    return named && named.length === 1 ? named[0]! : null;
  }

  /** Whether the path is given (by path or name), or could be fetched from the base URL. */
  given(path: string): boolean {
    return this.find(path) !== null;
  }

  async bytes(path: string, key: string): Promise<Uint8Array> {
    const label = `${key}: ${path}`;
    const f = this.find(path);
    if (f !== null) return readInput(f, label, this.signal);
    if (this.baseUrl !== null) return fetchBytes(new URL(path, this.baseUrl), label, this.signal);
    const known = [...this.byPath.keys()];
    throw new UserError(`${key}: file not found: ${path} (given files: ${known.length ? known.join(', ') : 'none'})`);
  }

  /** Like bytes, but null when the file is absent (tried in order: given files, then the base URL). */
  async maybeBytes(path: string, key: string): Promise<Uint8Array | null> {
    if (this.find(path) !== null) return this.bytes(path, key);
    if (this.baseUrl === null) return null;
    try {
      return await fetchBytes(new URL(path, this.baseUrl), key, this.signal);
    } catch (e) {
      if (e instanceof UserError) return null;
      throw e;
    }
  }
}

/**
 * `dataset_type: huggingface` from local files: the dataset's parquet shards (hyparquet), .jsonl
 * or .txt files with a `text` field, or pre-tokenised `input_ids`; tokenised with the model
 * folder's tokenizer.json. Nothing is downloaded.
 *
 * Files: `path` (a file, or a folder) or `$INTERBASIS_DATASETS/<name>`. In a folder, the files of
 * split `<set>` are those whose name starts with `<set>` (`train-00000-of-00002.parquet`,
 * `train.jsonl`) or that lie in a folder named `<set>`, in path order.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, join, relative, resolve, sep } from 'node:path';
import { parquetMetadata, parquetReadObjects, parquetSchema } from 'hyparquet';
import { UserError } from '../errors.js';
import { pathExists, readStructured } from '../io/files.nodejs.js';
import { checkVocab, documentRange, packChunks, tokenStream, type Document, type HuggingfaceDatasetConfig, type TextTokenizer } from './lm-text.js';
import { tokenizerFromJson } from './tokenizer.js';
import type { Dataset } from './types.js';

const EXTS = ['.parquet', '.jsonl', '.json', '.txt'];

async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await listFiles(p)));
    else if (EXTS.some((x) => e.name.endsWith(x))) out.push(p);
  }
  return out;
}

/** The files of the dataset's split, in order. */
export async function datasetFiles(d: HuggingfaceDatasetConfig, key: string): Promise<string[]> {
  let root = d.path;
  if (!root) {
    const base = process.env['INTERBASIS_DATASETS'];
    if (!base) throw new UserError(`${key}: huggingface dataset ${d.name}: give its local files as ${key}.path, or set INTERBASIS_DATASETS to a folder holding ${d.name}/ (nothing is downloaded)`);
    root = join(resolve(base), d.name);
  }
  if (!(await pathExists(root))) throw new UserError(`${key}: dataset ${d.name}: ${root} does not exist; put the dataset's ${d.return_set} files there (parquet shards, .jsonl or .txt)`);
  if (!(await stat(root)).isDirectory()) return [root];
  const all = (await listFiles(root)).sort();
  const files = all.filter((f) => {
    const rel = relative(root!, f);
    return basename(f).startsWith(d.return_set) || rel.split(sep).slice(0, -1).includes(d.return_set);
  });
  if (!files.length) throw new UserError(`${key}: no ${d.return_set} files in ${root} (expected names starting with "${d.return_set}" or a "${d.return_set}/" folder, ending in ${EXTS.join(', ')})`);
  return files;
}

function docFromRow(row: unknown, where: string): Document {
  if (row !== null && typeof row === 'object') {
    const r = row as Record<string, unknown>;
    if (Array.isArray(r['input_ids']) || ArrayBuffer.isView(r['input_ids'])) return { ids: Array.from(r['input_ids'] as ArrayLike<number | bigint>, Number) };
    if (typeof r['text'] === 'string') return { text: r['text'] };
  }
  throw new UserError(`${where}: a row has neither a "text" string nor "input_ids"`);
}

/** Every document of the files, in order (parquet: the text or input_ids column only). */
export async function readDocuments(files: string[], key: string): Promise<Document[]> {
  const docs: Document[] = [];
  for (const f of files) {
    const where = `${key}: ${f}`;
    if (f.endsWith('.parquet')) {
      const buf = await readFile(f);
      const ab = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer;
      let cols: string[];
      try {
        cols = parquetSchema(parquetMetadata(ab)).children.map((c) => c.element.name);
      } catch (e) {
        throw new UserError(`${where}: not a readable parquet file (${(e as Error).message})`);
      }
      const col = cols.includes('input_ids') ? 'input_ids' : cols.includes('text') ? 'text' : null;
      if (!col) throw new UserError(`${where}: the parquet file has no "text" or "input_ids" column (columns: ${cols.join(', ')})`);
      const rows = await parquetReadObjects({ file: ab, columns: [col] });
      for (const r of rows) docs.push(docFromRow(r, where));
    } else if (f.endsWith('.txt')) {
      // Hugging Face's text loader: one document per line
      const lines = (await readFile(f, 'utf8')).split('\n');
      if (lines.length && lines[lines.length - 1] === '') lines.pop();
      for (const l of lines) docs.push({ text: l.endsWith('\r') ? l.slice(0, -1) : l });
    } else {
      const text = await readFile(f, 'utf8');
      const trimmed = text.trimStart();
      const rows: unknown[] = [];
      if (f.endsWith('.json') && trimmed.startsWith('[')) rows.push(...(JSON.parse(text) as unknown[]));
      else
        text.split('\n').forEach((l, i) => {
          if (!l.trim()) return;
          try {
            rows.push(JSON.parse(l));
          } catch (e) {
            throw new UserError(`${where}: line ${i + 1} is not valid JSON (${(e as Error).message})`);
          }
        });
      for (const r of rows) docs.push(docFromRow(r, where));
    }
  }
  return docs;
}

/** Reads tokenizer.json (+ tokenizer_config.json beside it, if present). */
export async function loadTokenizer(path: string): Promise<TextTokenizer> {
  if (!(await pathExists(path))) throw new UserError(`tokenizer not found: ${path} (put the model's tokenizer.json there, or set tokenizer_path)`);
  const json = await readStructured(path);
  const cfgPath = join(resolve(path, '..'), 'tokenizer_config.json');
  const cfg = (await pathExists(cfgPath)) ? await readStructured(cfgPath) : null;
  return tokenizerFromJson(json, cfg, path);
}

export interface LmModelInfo {
  /** the model's context length (default n_ctx) */
  nCtx: number;
  /** rows of the embedding */
  vocab: number;
  /** folder holding the model's tokenizer.json, if known */
  folder: string | null;
}

/** Loads, tokenises, packs and sub-samples a huggingface dataset exactly as spec LM §7. */
export async function huggingfaceDataset(d: HuggingfaceDatasetConfig, model: LmModelInfo | null, key: string): Promise<Dataset> {
  const nCtx = d.n_ctx ?? model?.nCtx ?? null;
  if (nCtx === null) throw new UserError(`${key}: n_ctx is required (the model does not give one)`);
  if (model && nCtx > model.nCtx) throw new UserError(`${key}: n_ctx ${nCtx} is larger than the model's context length ${model.nCtx}`);
  const files = await datasetFiles(d, key);
  const docs = await readDocuments(files, key);
  const [s, e] = documentRange(docs.length, d, key);
  const chosen = docs.slice(s, e);
  let tok: TextTokenizer | null = null;
  if (chosen.some((x) => 'text' in x)) {
    const tp = d.tokenizer_path ?? (model?.folder ? join(model.folder, 'tokenizer.json') : null);
    if (!tp) throw new UserError(`${key}: text documents need a tokenizer: set ${key}.tokenizer_path to a tokenizer.json`);
    tok = await loadTokenizer(tp);
    if (model && tok.vocabSize > model.vocab) throw new UserError(`${key}: the tokenizer's vocabulary (${tok.vocabSize} tokens) is larger than the model's embedding (${model.vocab} rows)`);
  }
  const stream = tokenStream(chosen, tok, key);
  if (model) checkVocab(stream, model.vocab, key);
  return packChunks(stream, nCtx, d.n_samples, d.seed ?? 0, `${d.name}:${d.return_set}[${s}:${e}]`, key);
}

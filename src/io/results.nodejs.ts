/**
 * Saving and loading LIB results on disk:
 *   DIR/results.safetensors  tensors (refdata-compatible names, F64, deterministic bytes)
 *   DIR/results.json         config, node layers, dims, edges, info, and the sha256 of the tensors
 * loadResults also reads refdata `rib_graph_*.safetensors` (+ sibling .json) and reference `.pt`
 * results dicts.
 */
import { createHash } from 'node:crypto';
import { mkdir, rename, rmdir, stat, unlink } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { UserError } from '../errors.js';
import { fsyncDir, pathExists, readBytes, readPtFile, readStructured, tempPathFor, writeTempFile } from './files.nodejs.js';
import { parseSafetensors, serializeSafetensors } from './safetensors.js';
import {
  RESULTS_FORMAT, resultsFromParsed, resultsFromRibDump, resultsMetadata, resultsToJson,
  resultsToSafetensors, type RibResults,
} from './results.js';
import type { Tensor } from './tensor.js';

export const RESULTS_TENSORS = 'results.safetensors';
export const RESULTS_JSON = 'results.json';

/**
 * Writes DIR/results.safetensors and DIR/results.json. Both are serialised in memory, written to
 * temp files beside the targets and only then renamed into place, so a failure never leaves a
 * partial file. Without `force`, an existing result is an error naming the path.
 */
export async function saveResults(dir: string, r: RibResults, opts: { force: boolean }): Promise<void> {
  const stPath = join(dir, RESULTS_TENSORS);
  const jsonPath = join(dir, RESULTS_JSON);
  // everything that can fail on bad input happens before touching the disk
  const bytes = serializeSafetensors(resultsToSafetensors(r), resultsMetadata(r));
  const doc = { ...resultsToJson(r), tensors_file: RESULTS_TENSORS, tensors_sha256: createHash('sha256').update(bytes).digest('hex') };
  const json = JSON.stringify(doc, null, 2) + '\n';

  if (!opts.force) {
    for (const p of [stPath, jsonPath]) {
      if (await pathExists(p)) throw new UserError(`${p} already exists: refusing to overwrite an existing result (use --force to replace it)`);
    }
  }
  let created = false;
  try {
    const s = await stat(dir);
    if (!s.isDirectory()) throw new UserError(`output path ${dir} exists and is not a directory`);
  } catch (e) {
    if (e instanceof UserError) throw e;
    try {
      await mkdir(dir, { recursive: true });
      created = true;
    } catch (e2) {
      throw new UserError(`cannot create output directory ${dir}: ${(e2 as Error).message}`);
    }
  }
  const tmpSt = tempPathFor(stPath);
  const tmpJson = tempPathFor(jsonPath);
  try {
    await writeTempFile(tmpSt, bytes);
    await writeTempFile(tmpJson, json);
    if (!opts.force) {
      for (const p of [stPath, jsonPath]) {
        if (await pathExists(p)) throw new UserError(`${p} already exists: refusing to overwrite an existing result (use --force to replace it)`);
      }
    }
    // tensors first: a crash between the renames leaves a checksum mismatch that loadResults reports
    await rename(tmpSt, stPath);
    await rename(tmpJson, jsonPath);
    await fsyncDir(dir);
  } catch (e) {
    await unlink(tmpSt).catch(() => {});
    await unlink(tmpJson).catch(() => {});
    if (created) await rmdir(dir).catch(() => {});
    if (e instanceof UserError) throw e;
    throw new UserError(`cannot write results to ${dir}: ${(e as Error).message}`);
  }
}

function siblingJson(stPath: string): string {
  return stPath.replace(/\.safetensors$/i, '.json');
}

/**
 * Loads results from our DIR or DIR/results.safetensors, a refdata `rib_graph_*.safetensors`
 * (with its sibling .json), or a reference `.pt` results dict.
 */
export async function loadResults(path: string): Promise<RibResults> {
  let p = resolve(path);
  let st;
  try { st = await stat(p); } catch { throw new UserError(`results not found: ${path}`); }
  if (st.isDirectory()) {
    p = join(p, RESULTS_TENSORS);
    if (!(await pathExists(p))) throw new UserError(`${path}: directory has no ${RESULTS_TENSORS}`);
  }
  const lower = p.toLowerCase();
  if (lower.endsWith('.pt') || lower.endsWith('.pth')) return loadPtResults(p);
  if (lower.endsWith('.json')) {
    const st2 = p.replace(/\.json$/i, '.safetensors');
    if (await pathExists(st2)) p = st2;
    else throw new UserError(`${path}: give the .safetensors file or the results directory, not the .json`);
  }
  if (!p.toLowerCase().endsWith('.safetensors')) throw new UserError(`${path}: unsupported results format (expected a results directory, .safetensors or .pt)`);

  const bytes = await readBytes(p);
  let file;
  try { file = parseSafetensors(bytes); } catch (e) { throw new UserError(`${p}: ${(e as Error).message}`); }
  const jsonPath = siblingJson(p);
  const haveJson = await pathExists(jsonPath);
  const doc = haveJson ? ((await readStructured(jsonPath)) as Record<string, unknown>) : null;

  if (doc && doc.format === RESULTS_FORMAT && doc.tensors_sha256) {
    const sha = createHash('sha256').update(bytes).digest('hex');
    if (doc.tensors_sha256 !== sha) {
      throw new UserError(`${jsonPath} does not belong to ${p} (checksum mismatch): the result was modified or its write was interrupted; rebuild it`);
    }
  }
  if (!doc && file.metadata.format !== RESULTS_FORMAT) {
    throw new UserError(`${p}: no ${basename(jsonPath)} beside it, and the file is not an interbasis results file; cannot tell the node layers`);
  }
  return resultsFromParsed(file, doc, { tensors: p, json: jsonPath });
}

async function loadPtResults(p: string): Promise<RibResults> {
  const pt = await readPtFile(p);
  const v = pt.value as Record<string, unknown>;
  if (!v || typeof v !== 'object' || !('interaction_rotations' in v || 'gram_matrices' in v)) {
    throw new UserError(`${p}: not a RibBuildResults dict (no interaction_rotations or gram_matrices)`);
  }
  const known = new Set<unknown>(pt.tensors.values());
  const tensorOf = (field: unknown, what: string): Tensor | null => {
    if (field === null || field === undefined) return null;
    if (!known.has(field)) throw new UserError(`${p}: ${what} is not a tensor`);
    return field as Tensor;
  };
  return resultsFromRibDump(v, tensorOf, p, { source: p, format: 'rib-reference-pt' });
}


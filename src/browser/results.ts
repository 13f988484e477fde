/**
 * Results in the browser: results.safetensors bytes (the same bytes `interbasis build` writes),
 * results.json text, and RibResults from bytes (ours, or the reference's rib_graph_*.safetensors
 * with its .json).
 */
import { UserError } from '../errors.js';
import { parseSafetensors } from '../io/safetensors.js';
import { RESULTS_FORMAT, resultsFromParsed, resultsMetadata, resultsToJson, resultsToSafetensors, type RibResults } from '../io/results.js';
import { serializeSafetensors } from '../io/safetensors.js';
import { parseJsonText } from '../io/text.js';

export const RESULTS_TENSORS = 'results.safetensors';
export const RESULTS_JSON = 'results.json';

/** The bytes of results.safetensors (deterministic: equal to the file the CLI writes). */
export function resultsBytes(r: RibResults): Uint8Array {
  return serializeSafetensors(resultsToSafetensors(r), resultsMetadata(r));
}

async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const d = await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>);
  return Array.from(new Uint8Array(d), (b) => b.toString(16).padStart(2, '0')).join('');
}

/** The text of results.json for these tensor bytes (as the CLI writes it). */
export async function resultsJsonText(r: RibResults, bytes: Uint8Array = resultsBytes(r)): Promise<string> {
  const doc = { ...resultsToJson(r), tensors_file: RESULTS_TENSORS, tensors_sha256: await sha256Hex(bytes) };
  return JSON.stringify(doc, null, 2) + '\n';
}

/**
 * RibResults from a .safetensors file and its sibling JSON (ours or the reference's; optional for
 * our files, whose metadata describe the layers). A JSON that does not belong to the tensors
 * (checksum mismatch) is an error.
 */
export async function resultsFromBytes(tensors: Uint8Array, json: Uint8Array | string | null, label = RESULTS_TENSORS): Promise<RibResults> {
  let file;
  try {
    file = parseSafetensors(tensors);
  } catch (e) {
    throw new UserError(`${label}: ${(e as Error).message}`);
  }
  const jsonLabel = label.replace(/\.safetensors$/i, '.json');
  const doc = json === null ? null : (parseJsonText(typeof json === 'string' ? json : new TextDecoder().decode(json), jsonLabel) as Record<string, unknown>);
  if (doc !== null && (typeof doc !== 'object' || Array.isArray(doc))) throw new UserError(`${jsonLabel}: expected a JSON object`);
  if (doc && doc.format === RESULTS_FORMAT && typeof doc.tensors_sha256 === 'string' && doc.tensors_sha256 !== (await sha256Hex(tensors))) {
    throw new UserError(`${jsonLabel} does not belong to ${label} (checksum mismatch)`);
  }
  if (!doc && file.metadata.format !== RESULTS_FORMAT) {
    throw new UserError(`${label}: not an interbasis results file; open it together with its .json (rib_graph_*.json for the reference's graphs)`);
  }
  return resultsFromParsed(file, doc, { tensors: label, json: jsonLabel });
}

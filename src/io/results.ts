/**
 * The LIB results format (browser-safe part): the `RibResults` type, its safetensors tensors
 * (`mean/<L>`, `gram/<L>`, `C/<L>`, `C_pinv/<L>`, `W/<L>`, `W_pinv/<L>`, `V/<L>`, `Lambda/<L>`,
 * `edges/<A>-><B>`, all F64, the same names as refdata's `rib_graph_*.safetensors`), the JSON
 * summary, and conversion from the reference's `RibBuildResults.model_dump()` structure.
 */
import { UserError } from '../errors.js';
import { toFloat64, type Tensor } from './tensor.js';
import type { SafetensorsFile } from './safetensors.js';

export interface Mat { rows: number; cols: number; data: Float64Array }

export interface LayerBasis {
  nodeLayer: string;
  origDim: number;
  C: Mat | null;
  Cpinv: Mat | null;
  W: Mat | null;
  Wpinv: Mat | null;
  V: Mat | null;
  Lambda: Float64Array | null;
}

/** rows = out layer (B), cols = in layer (A). */
export interface EdgeMatrix { inLayer: string; outLayer: string; E: Mat }

export interface RibResults {
  config: Record<string, unknown>;
  nodeLayers: string[];
  means: Map<string, Float64Array>;
  grams: Map<string, Mat>;
  bases: LayerBasis[];
  edges: EdgeMatrix[];
  info: Record<string, unknown>;
}

export const RESULTS_FORMAT = 'interbasis-results';
export const RESULTS_FORMAT_VERSION = 1;

/** Per-layer dims: orig (activation width), trunc (W columns), rib (C columns). */
export interface LayerDims { orig: number; trunc: number | null; rib: number | null }

export function edgeName(inLayer: string, outLayer: string): string {
  return `edges/${inLayer}->${outLayer}`;
}

function checkMat(m: Mat, what: string): void {
  if (!m || !(m.data instanceof Float64Array)) throw new UserError(`${what}: expected a Float64Array matrix`);
  if (!Number.isSafeInteger(m.rows) || !Number.isSafeInteger(m.cols) || m.rows < 0 || m.cols < 0 || m.rows * m.cols !== m.data.length) {
    throw new UserError(`${what}: ${m.rows}x${m.cols} does not match data length ${m.data.length}`);
  }
}

const matTensor = (m: Mat): Tensor => ({ dtype: 'F64', shape: [m.rows, m.cols], data: m.data });
const vecTensor = (v: Float64Array): Tensor => ({ dtype: 'F64', shape: [v.length], data: v });

/** Checks names, shapes and cross-shape consistency; throws a UserError naming the tensor. */
export function validateResults(r: RibResults): void {
  if (!Array.isArray(r.nodeLayers) || r.nodeLayers.some((l) => typeof l !== 'string' || l === '')) throw new UserError('results: nodeLayers must be non-empty strings');
  if (new Set(r.nodeLayers).size !== r.nodeLayers.length) throw new UserError(`results: duplicate node layer in ${JSON.stringify(r.nodeLayers)}`);
  const known = new Set(r.nodeLayers);
  for (const [l, v] of r.means) {
    if (!known.has(l)) throw new UserError(`results: mean/${l} is not a node layer`);
    if (!(v instanceof Float64Array)) throw new UserError(`results: mean/${l} must be a Float64Array`);
  }
  for (const [l, g] of r.grams) {
    if (!known.has(l)) throw new UserError(`results: gram/${l} is not a node layer`);
    checkMat(g, `gram/${l}`);
    if (g.rows !== g.cols) throw new UserError(`results: gram/${l} is ${g.rows}x${g.cols}, not square`);
  }
  const seen = new Set<string>();
  for (const b of r.bases) {
    if (!known.has(b.nodeLayer)) throw new UserError(`results: basis for ${b.nodeLayer}, which is not a node layer`);
    if (seen.has(b.nodeLayer)) throw new UserError(`results: two bases for ${b.nodeLayer}`);
    seen.add(b.nodeLayer);
    const L = b.nodeLayer;
    for (const [k, m] of [['C', b.C], ['C_pinv', b.Cpinv], ['W', b.W], ['W_pinv', b.Wpinv], ['V', b.V]] as const) if (m) checkMat(m, `${k}/${L}`);
    if (b.Lambda && !(b.Lambda instanceof Float64Array)) throw new UserError(`results: Lambda/${L} must be a Float64Array`);
    if (b.C && b.C.rows !== b.origDim) throw new UserError(`results: C/${L} has ${b.C.rows} rows but origDim is ${b.origDim}`);
    if (b.C && b.Cpinv && (b.Cpinv.rows !== b.C.cols || b.Cpinv.cols !== b.C.rows)) throw new UserError(`results: C_pinv/${L} is ${b.Cpinv.rows}x${b.Cpinv.cols}, C is ${b.C.rows}x${b.C.cols}`);
    if (b.W && b.W.rows !== b.origDim) throw new UserError(`results: W/${L} has ${b.W.rows} rows but origDim is ${b.origDim}`);
  }
  const enames = new Set<string>();
  for (const e of r.edges) {
    const n = edgeName(e.inLayer, e.outLayer);
    if (!known.has(e.inLayer) || !known.has(e.outLayer)) throw new UserError(`results: ${n} names a layer that is not a node layer`);
    if (enames.has(n)) throw new UserError(`results: duplicate ${n}`);
    enames.add(n);
    checkMat(e.E, n);
  }
}

/** The tensors of a result, by their refdata-compatible names. */
export function resultsToSafetensors(r: RibResults): Map<string, Tensor> {
  validateResults(r);
  const out = new Map<string, Tensor>();
  for (const L of r.nodeLayers) {
    const m = r.means.get(L);
    if (m) out.set(`mean/${L}`, vecTensor(m));
    const g = r.grams.get(L);
    if (g) out.set(`gram/${L}`, matTensor(g));
  }
  for (const b of r.bases) {
    const L = b.nodeLayer;
    if (b.C) out.set(`C/${L}`, matTensor(b.C));
    if (b.Cpinv) out.set(`C_pinv/${L}`, matTensor(b.Cpinv));
    if (b.W) out.set(`W/${L}`, matTensor(b.W));
    if (b.Wpinv) out.set(`W_pinv/${L}`, matTensor(b.Wpinv));
    if (b.V) out.set(`V/${L}`, matTensor(b.V));
    if (b.Lambda) out.set(`Lambda/${L}`, vecTensor(b.Lambda));
  }
  for (const e of r.edges) out.set(edgeName(e.inLayer, e.outLayer), matTensor(e.E));
  return out;
}

/** Dims per node layer (orig from the basis, else the mean/gram, else the edges). */
export function resultDims(r: RibResults): Record<string, LayerDims> {
  const dims: Record<string, LayerDims> = {};
  for (const L of r.nodeLayers) {
    const b = r.bases.find((x) => x.nodeLayer === L);
    let orig = b?.origDim ?? r.grams.get(L)?.rows ?? r.means.get(L)?.length ?? NaN;
    if (Number.isNaN(orig)) {
      const e = r.edges.find((x) => x.outLayer === L && !r.bases.find((y) => y.nodeLayer === L)?.C);
      if (e) orig = e.E.rows;
    }
    dims[L] = { orig, trunc: b?.W ? b.W.cols : null, rib: b?.C ? b.C.cols : null };
  }
  return dims;
}

/** Deterministic safetensors metadata (no times or ids, so identical builds give identical bytes). */
export function resultsMetadata(r: RibResults): Record<string, string> {
  const orig: Record<string, number> = {};
  for (const b of r.bases) orig[b.nodeLayer] = b.origDim;
  return {
    format: RESULTS_FORMAT,
    format_version: String(RESULTS_FORMAT_VERSION),
    node_layers: JSON.stringify(r.nodeLayers),
    orig_dims: JSON.stringify(orig),
  };
}

/** JSON-safe copy: typed arrays → arrays, Maps → objects, bigints → strings, non-finite → strings. */
export function toJsonSafe(x: unknown, depth = 0): unknown {
  if (depth > 64) return '[too deep]';
  if (x === null || x === undefined) return null;
  if (typeof x === 'bigint') return x.toString();
  if (typeof x === 'number') return Number.isFinite(x) ? x : String(x);
  if (typeof x === 'string' || typeof x === 'boolean') return x;
  if (ArrayBuffer.isView(x)) return Array.from(x as unknown as ArrayLike<number | bigint>, (v) => toJsonSafe(v, depth + 1));
  if (Array.isArray(x)) return x.map((v) => toJsonSafe(v, depth + 1));
  if (x instanceof Map) return Object.fromEntries([...x].map(([k, v]) => [String(k), toJsonSafe(v, depth + 1)]));
  if (x instanceof Set) return [...x].map((v) => toJsonSafe(v, depth + 1));
  if (typeof x === 'object') return Object.fromEntries(Object.entries(x as object).map(([k, v]) => [k, toJsonSafe(v, depth + 1)]));
  return String(x);
}

/** The `results.json` document (without the checksum, which the Node writer adds). */
export function resultsToJson(r: RibResults): Record<string, unknown> {
  return {
    format: RESULTS_FORMAT,
    format_version: RESULTS_FORMAT_VERSION,
    nodeLayers: r.nodeLayers,
    dims: resultDims(r),
    edges: r.edges.map((e) => ({ in: e.inLayer, out: e.outLayer, shape: [e.E.rows, e.E.cols] })),
    config: toJsonSafe(r.config),
    info: toJsonSafe(r.info),
  };
}

// ---- reading -----------------------------------------------------------------------------------

function tensorToMat(t: Tensor, name: string): Mat {
  if (t.shape.length !== 2) throw new UserError(`${name}: expected a matrix, got shape [${t.shape.join(', ')}]`);
  return { rows: t.shape[0], cols: t.shape[1], data: t.dtype === 'F64' ? (t.data as Float64Array) : toFloat64(t) };
}

function tensorToVec(t: Tensor, name: string): Float64Array {
  if (t.shape.length !== 1) throw new UserError(`${name}: expected a vector, got shape [${t.shape.join(', ')}]`);
  return t.dtype === 'F64' ? (t.data as Float64Array) : toFloat64(t);
}

/**
 * Rebuilds results from our tensors plus the layer list and orig dims (from results.json or the
 * safetensors metadata). Edge order follows `edgeOrder` if given, else the node-layer order.
 */
export function resultsFromTensors(
  tensors: Map<string, Tensor>,
  desc: { nodeLayers: string[]; origDims?: Record<string, number>; config?: Record<string, unknown>; info?: Record<string, unknown>; edgeOrder?: Array<[string, string]> },
  label = 'results',
): RibResults {
  const { nodeLayers } = desc;
  const get = (n: string) => tensors.get(n);
  const means = new Map<string, Float64Array>();
  const grams = new Map<string, Mat>();
  const bases: LayerBasis[] = [];
  for (const L of nodeLayers) {
    const m = get(`mean/${L}`); if (m) means.set(L, tensorToVec(m, `${label}: mean/${L}`));
    const g = get(`gram/${L}`); if (g) grams.set(L, tensorToMat(g, `${label}: gram/${L}`));
    const mat = (k: string) => { const t = get(`${k}/${L}`); return t ? tensorToMat(t, `${label}: ${k}/${L}`) : null; };
    const C = mat('C');
    const lam = get(`Lambda/${L}`);
    const origDim = desc.origDims?.[L] ?? C?.rows ?? grams.get(L)?.rows ?? means.get(L)?.length;
    const basis: LayerBasis = { nodeLayer: L, origDim: origDim ?? NaN, C, Cpinv: mat('C_pinv'), W: mat('W'), Wpinv: mat('W_pinv'), V: mat('V'), Lambda: lam ? tensorToVec(lam, `${label}: Lambda/${L}`) : null };
    bases.push(basis);
  }
  const edges: EdgeMatrix[] = [];
  const order: Array<[string, string]> = desc.edgeOrder ?? [];
  const named = new Set(order.map(([a, b]) => edgeName(a, b)));
  for (const name of tensors.keys()) {
    if (!name.startsWith('edges/') || named.has(name)) continue;
    const body = name.slice(6);
    const k = body.indexOf('->');
    if (k < 0) throw new UserError(`${label}: cannot parse edge tensor name ${JSON.stringify(name)} (expected edges/<A>-><B>)`);
    order.push([body.slice(0, k), body.slice(k + 2)]);
  }
  const pos = (l: string) => nodeLayers.indexOf(l);
  if (!desc.edgeOrder) order.sort((x, y) => pos(x[0]) - pos(y[0]) || pos(x[1]) - pos(y[1]));
  for (const [a, b] of order) {
    const n = edgeName(a, b);
    const t = get(n);
    if (!t) throw new UserError(`${label}: ${n} is listed but missing from the tensors`);
    edges.push({ inLayer: a, outLayer: b, E: tensorToMat(t, `${label}: ${n}`) });
  }
  // orig dim of an unrotated layer (e.g. output): the rows of the edge into it
  for (const b of bases) {
    if (Number.isNaN(b.origDim)) {
      const e = edges.find((x) => x.outLayer === b.nodeLayer);
      if (e) b.origDim = e.E.rows;
    }
  }
  return { config: desc.config ?? {}, nodeLayers: [...nodeLayers], means, grams, bases, edges, info: desc.info ?? {} };
}

/**
 * Converts the reference's `RibBuildResults.model_dump()` structure (from a `.pt`, or refdata's
 * `rib_graph_*.json` "results") to `RibResults`. `tensorOf` turns a tensor field (a Tensor, or a
 * refdata `{"tensor": key}` reference) into a Tensor, or null for null fields.
 */
export function resultsFromRibDump(
  dump: Record<string, unknown>,
  tensorOf: (field: unknown, what: string) => Tensor | null,
  label = 'results',
  extraInfo: Record<string, unknown> = {},
): RibResults {
  const bad = (m: string): never => { throw new UserError(`${label}: ${m}`); };
  if (!dump || typeof dump !== 'object') bad('not a RibBuildResults dict');
  const config = (dump.config ?? {}) as Record<string, unknown>;
  const rots = dump.interaction_rotations as Array<Record<string, unknown>> | undefined;
  let nodeLayers = config.node_layers as string[] | undefined;
  if (!Array.isArray(nodeLayers)) nodeLayers = Array.isArray(rots) ? rots.map((r) => String(r.node_layer)) : undefined;
  if (!Array.isArray(nodeLayers)) bad('config.node_layers is missing');
  const layers = nodeLayers as string[];
  const mat = (x: unknown, w: string) => { const t = tensorOf(x, w); return t ? tensorToMat(t, `${label}: ${w}`) : null; };
  const vec = (x: unknown, w: string) => { const t = tensorOf(x, w); return t ? tensorToVec(t, `${label}: ${w}`) : null; };
  const means = new Map<string, Float64Array>();
  for (const [L, v] of Object.entries((dump.mean_vectors ?? {}) as Record<string, unknown>)) {
    const m = vec(v, `mean_vectors.${L}`);
    if (m) means.set(L, m);
  }
  const grams = new Map<string, Mat>();
  for (const [L, v] of Object.entries((dump.gram_matrices ?? {}) as Record<string, unknown>)) {
    const g = mat(v, `gram_matrices.${L}`);
    if (g) grams.set(L, g);
  }
  const bases: LayerBasis[] = [];
  (rots ?? []).forEach((r, i) => {
    const L = String(r.node_layer);
    const w = (k: string) => `interaction_rotations[${i}].${k}`;
    bases.push({
      nodeLayer: L,
      origDim: typeof r.orig_dim === 'number' ? r.orig_dim : Number(r.orig_dim),
      C: mat(r.C, w('C')), Cpinv: mat(r.C_pinv, w('C_pinv')), W: mat(r.W, w('W')), Wpinv: mat(r.W_pinv, w('W_pinv')),
      V: mat(r.V, w('V')), Lambda: vec(r.Lambda, w('Lambda')),
    });
  });
  const edges: EdgeMatrix[] = [];
  ((dump.edges ?? []) as Array<Record<string, unknown>>).forEach((e, i) => {
    const E = mat(e.E_hat, `edges[${i}].E_hat`);
    if (!E) bad(`edges[${i}].E_hat is null`);
    edges.push({ inLayer: String(e.in_node_layer), outLayer: String(e.out_node_layer), E: E! });
  });
  const info: Record<string, unknown> = { ...extraInfo };
  for (const k of ['exp_name', 'dist_info', 'contains_all_edges', 'ml_model_config', 'calc_grams_time', 'calc_C_time', 'calc_edges_time']) {
    if (k in dump) info[k] = dump[k];
  }
  const r: RibResults = { config, nodeLayers: layers, means, grams, bases, edges, info };
  // only keep layers we know; a reference dump may hold a gram for 'output'
  for (const L of [...means.keys()]) if (!layers.includes(L)) means.delete(L);
  for (const L of [...grams.keys()]) if (!layers.includes(L)) grams.delete(L);
  validateResults(r);
  return r;
}

/**
 * Results from a parsed safetensors file plus its sibling JSON document (browser-friendly core
 * of loadResults): our results.json, a refdata `rib_graph_*.json`, or none (then our safetensors
 * metadata must describe the layers). `labels` name the files in errors.
 */
export function resultsFromParsed(
  file: Pick<SafetensorsFile, 'tensors' | 'metadata'>,
  doc: Record<string, unknown> | null,
  labels: { tensors: string; json: string } = { tensors: 'results.safetensors', json: 'results.json' },
): RibResults {
  if (doc && doc.format === RESULTS_FORMAT) {
    if (!Array.isArray(doc.nodeLayers)) throw new UserError(`${labels.json}: nodeLayers is missing`);
    const dims = (doc.dims ?? {}) as Record<string, { orig?: number }>;
    const origDims: Record<string, number> = {};
    for (const [L, d] of Object.entries(dims)) if (typeof d?.orig === 'number') origDims[L] = d.orig;
    const edgeOrder = Array.isArray(doc.edges) ? (doc.edges as Array<{ in: string; out: string }>).map((e) => [e.in, e.out] as [string, string]) : undefined;
    return resultsFromTensors(file.tensors, {
      nodeLayers: doc.nodeLayers as string[], origDims, edgeOrder,
      config: (doc.config ?? {}) as Record<string, unknown>, info: (doc.info ?? {}) as Record<string, unknown>,
    }, labels.tensors);
  }
  if (doc && doc.results && typeof doc.results === 'object') {
    // refdata rib_graph_*.json: the model_dump with tensors replaced by {"tensor": key}
    const tensorOf = (field: unknown, what: string): Tensor | null => {
      if (field === null || field === undefined) return null;
      const key = (field as { tensor?: unknown }).tensor;
      if (typeof key !== 'string') throw new UserError(`${labels.json}: ${what} is not a tensor reference`);
      const t = file.tensors.get(key);
      if (!t) throw new UserError(`${labels.json}: ${what} refers to tensor ${key}, which ${labels.tensors} does not contain`);
      return t;
    };
    return resultsFromRibDump(doc.results as Record<string, unknown>, tensorOf, labels.json, { source: labels.tensors, format: 'rib-reference' });
  }
  if (doc) throw new UserError(`${labels.json}: neither an interbasis results.json nor a refdata rib_graph json (no "format" or "results" key)`);
  if (file.metadata.format === RESULTS_FORMAT && file.metadata.node_layers) {
    let nodeLayers: string[]; let origDims: Record<string, number>;
    try {
      nodeLayers = JSON.parse(file.metadata.node_layers);
      origDims = JSON.parse(file.metadata.orig_dims ?? '{}');
    } catch {
      throw new UserError(`${labels.tensors}: corrupt results metadata`);
    }
    return resultsFromTensors(file.tensors, { nodeLayers, origDims, info: { source: labels.tensors, warning: `${labels.json} missing: config and info unavailable` } }, labels.tensors);
  }
  throw new UserError(`${labels.tensors}: no ${labels.json}, and the file is not an interbasis results file; cannot tell the node layers`);
}

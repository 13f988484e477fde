/**
 * Edge normalisations for clustering and plotting (spec §8.5). Each is a function
 * (E, inLayer) → E' over an edge matrix E [out × in] (row-major). Browser-safe; log10 uses the
 * Wasm `log` (call initKernels() first).
 *
 *   identity                 E
 *   sqrt        (SqrtNorm)   √E
 *   abs         (AbsNorm)    E / Σ|E|
 *   max         (MaxNorm)    E / max(E)
 *   log         (LogEdgeNorm ε)          max(0, log10(E/ε)); E ≤ ε → 0
 *   bylayer-log (ByLayerLogEdgeNorm)     the same with ε per in-layer (one ε, a map, or from
 *                                        edge-ablation bisect results: see epsilonsFromAblation)
 *   node-log    (NodeNormalizedLogEdgeNorm)  log-norm(E) ⊙ √E / Σ_i √E[i, :] (per input node j)
 */
import { log } from '../linalg/index.js';
import type { Mat } from '../io/results.js';

export type EdgeNormFn = (E: Mat, inLayer: string) => Mat;

export const NORM_NAMES = ['identity', 'sqrt', 'abs', 'max', 'log', 'bylayer-log', 'node-log'] as const;
export type NormName = (typeof NORM_NAMES)[number];

const ALIASES: Record<string, NormName> = {
  identity: 'identity',
  sqrt: 'sqrt',
  sqrtnorm: 'sqrt',
  abs: 'abs',
  absnorm: 'abs',
  max: 'max',
  maxnorm: 'max',
  log: 'log',
  logedgenorm: 'log',
  'bylayer-log': 'bylayer-log',
  'by-layer-log': 'bylayer-log',
  bylayerlog: 'bylayer-log',
  bylayerlogedgenorm: 'bylayer-log',
  'node-log': 'node-log',
  nodelog: 'node-log',
  nodenormalizedlogedgenorm: 'node-log',
};

/** Canonical norm name, or an error listing the valid names. */
export function resolveNormName(name: string): NormName {
  const n = ALIASES[String(name).toLowerCase().replace(/_/g, '-')] ?? ALIASES[String(name).toLowerCase().replace(/[-_]/g, '')];
  if (!n) {
    throw new RangeError(
      `unknown edge norm '${name}'; valid names: ${NORM_NAMES.join(', ')} ` +
        `(or SqrtNorm, AbsNorm, MaxNorm, LogEdgeNorm, ByLayerLogEdgeNorm, NodeNormalizedLogEdgeNorm)`,
    );
  }
  return n;
}

export interface EdgeNormOptions {
  /** ε for the log norms: one value, or one per in-layer */
  epsilon?: number | Record<string, number>;
}

function checkEps(eps: number, what: string): number {
  if (typeof eps !== 'number' || !Number.isFinite(eps) || eps <= 0) {
    throw new RangeError(`${what}: epsilon must be a finite number > 0, got ${eps}`);
  }
  return eps;
}

function mapData(E: Mat, f: (x: number) => number): Mat {
  const out = new Float64Array(E.data.length);
  for (let i = 0; i < out.length; i++) out[i] = f(E.data[i]!);
  return { rows: E.rows, cols: E.cols, data: out };
}

/** max(0, log10(E/ε)), entries ≤ ε become exactly 0. */
export function logNorm(E: Mat, eps: number): Mat {
  checkEps(eps, 'log norm');
  return mapData(E, (x) => (x > eps ? Math.max(0, log(x / eps) / Math.LN10) : 0));
}

export function edgeNorm(name: string, opts: EdgeNormOptions = {}): EdgeNormFn {
  const norm = resolveNormName(name);
  const epsFor = (layer: string): number => {
    const e = opts.epsilon;
    if (e === undefined) throw new RangeError(`edge norm '${norm}' needs an epsilon (a number, or per-layer values)`);
    if (typeof e === 'number') return checkEps(e, norm);
    const v = e[layer];
    if (v === undefined) {
      throw new RangeError(`edge norm '${norm}': no epsilon for layer '${layer}' (have: ${Object.keys(e).join(', ') || 'none'})`);
    }
    return checkEps(v, `${norm} (layer ${layer})`);
  };
  if (norm === 'log' || norm === 'bylayer-log' || norm === 'node-log') {
    const e = opts.epsilon;
    if (e === undefined) throw new RangeError(`edge norm '${norm}' needs an epsilon (--epsilon E, or --ablation for per-layer ε)`);
    if (norm === 'log' && typeof e !== 'number') throw new RangeError(`edge norm 'log' takes a single epsilon; use 'bylayer-log' for per-layer values`);
    if (typeof e === 'number') checkEps(e, norm);
    else for (const [l, v] of Object.entries(e)) checkEps(v, `${norm} (layer ${l})`);
  }
  switch (norm) {
    case 'identity':
      return (E) => ({ rows: E.rows, cols: E.cols, data: Float64Array.from(E.data) });
    case 'sqrt':
      return (E) => mapData(E, (x) => Math.sqrt(x));
    case 'abs':
      return (E) => {
        let s = 0;
        for (let i = 0; i < E.data.length; i++) s += Math.abs(E.data[i]!);
        return mapData(E, (x) => (s > 0 ? x / s : 0));
      };
    case 'max':
      return (E) => {
        let mx = -Infinity;
        for (let i = 0; i < E.data.length; i++) if (E.data[i]! > mx) mx = E.data[i]!;
        return mapData(E, (x) => (mx > 0 ? x / mx : 0));
      };
    case 'log':
    case 'bylayer-log':
      return (E, inLayer) => logNorm(E, epsFor(inLayer));
    case 'node-log':
      return (E, inLayer) => {
        const L = logNorm(E, epsFor(inLayer));
        const { rows, cols } = E;
        const colSum = new Float64Array(cols);
        for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) colSum[j] += Math.sqrt(E.data[i * cols + j]!);
        const out = new Float64Array(rows * cols);
        for (let i = 0; i < rows; i++) {
          for (let j = 0; j < cols; j++) {
            const s = colSum[j]!;
            out[i * cols + j] = s > 0 ? (L.data[i * cols + j]! * Math.sqrt(E.data[i * cols + j]!)) / s : 0;
          }
        }
        return { rows, cols, data: out };
      };
  }
}

/** The parts of an edge-ablation results JSON (spec §8.4) that define per-layer ε. */
export interface EdgeAblationJson {
  n_edges_required?: Record<string, number>;
  edge_masks?: Record<string, Record<string, unknown>>;
  config?: { schedule?: { score_target_difference?: number } };
}

/**
 * ε_l = min{E_l[i, j] : mask_l[i, j] kept} for each layer l of the bisect results, with the mask
 * edge_masks[l][String(n_edges_required[l])] (shape [out × in], like E). When `centred`, row 0 and
 * column 0 are ignored. `edges` maps the in-layer to its edge matrix. Also returns the threshold
 * (score_target_difference) the ablation used.
 */
export function epsilonsFromAblation(
  json: unknown,
  edges: Map<string, Mat>,
  opts: { centred: boolean },
): { epsilon: Record<string, number>; threshold: number | null } {
  const j = json as EdgeAblationJson;
  if (!j || typeof j !== 'object' || !j.n_edges_required || !j.edge_masks) {
    throw new RangeError('edge-ablation results need n_edges_required and edge_masks (run a bisect edge ablation)');
  }
  const epsilon: Record<string, number> = {};
  for (const [layer, nReq] of Object.entries(j.n_edges_required)) {
    const E = edges.get(layer);
    if (!E) throw new RangeError(`edge-ablation results name layer '${layer}', but the results have no edges from it (have: ${[...edges.keys()].join(', ')})`);
    const mask = j.edge_masks[layer]?.[String(nReq)];
    if (!Array.isArray(mask)) throw new RangeError(`edge-ablation results: no mask edge_masks['${layer}']['${nReq}']`);
    if (mask.length !== E.rows || !mask.every((r) => Array.isArray(r) && r.length === E.cols)) {
      throw new RangeError(`edge-ablation mask for '${layer}' is not ${E.rows}×${E.cols} like its edge matrix`);
    }
    const r0 = opts.centred ? 1 : 0;
    let mn = Infinity;
    for (let r = r0; r < E.rows; r++) {
      const row = mask[r] as unknown[];
      for (let c = r0; c < E.cols; c++) if (row[c]) mn = Math.min(mn, E.data[r * E.cols + c]!);
    }
    if (!(mn > 0) || !Number.isFinite(mn)) {
      throw new RangeError(`edge-ablation mask for '${layer}' keeps no positive edge (min ${mn}); cannot derive epsilon`);
    }
    epsilon[layer] = mn;
  }
  return { epsilon, threshold: j.config?.schedule?.score_target_difference ?? null };
}

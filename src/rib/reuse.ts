/**
 * Reusing saved means/Grams (gram_matrices_path) or Cs (interaction_matrices_path): the saved
 * results must be compatible with this build, otherwise it is an error (not a warning).
 * Works for our results and for refdata `rib_graph_*` files (whose config uses the same keys).
 */
import { UserError } from '../errors.js';
import type { RibResults } from '../io/results.js';
import type { NodeLayerInfo } from '../models/types.js';
import type { BuildConfig } from './config.js';
import type { Activations } from './stages.js';

/** Keys whose values must agree between the saved config and this one. */
const STATS_KEYS = ['center', 'last_pos_module_type'] as const;
const CS_KEYS = [
  'center',
  'last_pos_module_type',
  'basis_formula',
  'truncation_threshold',
  'rotate_final_node_layer',
  'isolate_ln_var',
  'n_intervals',
  'integration_method',
  'n_stochastic_sources_basis_pos',
  'n_stochastic_sources_basis_hidden',
  'naive_gradient_flow',
] as const;

function norm(key: string, v: unknown): unknown {
  if (v === undefined) return undefined;
  if (key === 'basis_formula' && v === 'pca') return 'svd';
  return JSON.stringify(v);
}

export function checkReuse(c: BuildConfig, saved: RibResults, infos: NodeLayerInfo[], key: string, cs: boolean): void {
  const nl = c.node_layers;
  const have = saved.nodeLayers;
  // contiguous subsequence (spec §6.5)
  const start = have.indexOf(nl[0]!);
  const needed = cs ? nl : nl.filter((x) => x !== 'output');
  const ok = start >= 0 && needed.every((L, i) => have[start + i] === L);
  if (!ok) {
    throw new UserError(
      `${key}: node layers [${needed.join(', ')}] are not a contiguous run of the saved results' node layers [${have.join(', ')}]`,
    );
  }
  const sc = saved.config ?? {};
  const diffs: string[] = [];
  for (const k of cs ? CS_KEYS : STATS_KEYS) {
    const a = norm(k, (sc as Record<string, unknown>)[k]);
    if (a === undefined) continue;
    const b = norm(k, (c as unknown as Record<string, unknown>)[k]);
    if (a !== b) diffs.push(`${k} (saved ${a}, config ${b})`);
  }
  if (diffs.length) throw new UserError(`${key}: the saved results were built with a different config: ${diffs.join('; ')}`);
  // widths
  infos.forEach((info, l) => {
    const L = nl[l]!;
    const g = saved.grams.get(L);
    const b = saved.bases.find((x) => x.nodeLayer === L);
    const w = g?.rows ?? b?.origDim;
    if (w !== undefined && w !== info.dim) {
      throw new UserError(`${key}: node layer ${L} has width ${w} in the saved results but ${info.dim} in this model`);
    }
    if (cs && b?.C && b.C.rows !== info.dim) {
      throw new UserError(`${key}: C/${L} has ${b.C.rows} rows but the node layer has width ${info.dim}`);
    }
  });
  if (c.center && [...nl].filter((x) => x !== 'output').some((L) => !saved.means.has(L))) {
    throw new UserError(`${key}: the saved results have no means (built with center: false?) but this config centres`);
  }
  if (!c.center && nl.some((L) => saved.means.has(L) && L !== 'output') && (sc as Record<string, unknown>).center !== false) {
    throw new UserError(`${key}: the saved results are centred but this config has center: false`);
  }
}

/** Loaded means/Grams must describe this model and dataset: compare means and Gram diagonals. */
export function fingerprintCheck(
  c: BuildConfig,
  loaded: RibResults,
  g: Activations,
  dims: Array<[number, number]>,
  nl: string[],
  key: string,
): void {
  const nNonOut = nl.filter((x) => x !== 'output').length;
  for (let l = 0; l < nNonOut; l++) {
    const L = nl[l]!;
    const [P, d] = dims[l]!;
    const np = g.N * P;
    const mu = Float64Array.from(g.sums[l]!, (s) => s / np);
    const G = loaded.grams.get(L);
    if (!G) continue;
    if (G.rows !== d) throw new UserError(`${key}: node layer ${L} has width ${G.rows} in the saved results but ${d} in this model`);
    const lm = loaded.means.get(L);
    if (c.center && lm) {
      let num = 0;
      let den = 0;
      for (let j = 0; j < d; j++) {
        num += (lm[j]! - mu[j]!) ** 2;
        den += mu[j]! ** 2;
      }
      if (Math.sqrt(num) > 1e-8 * Math.sqrt(den) + 1e-300) {
        throw new UserError(`${key}: the saved mean of ${L} differs from this model's on this dataset (relative ${(Math.sqrt(num / den)).toExponential(2)}): the results were computed with a different model or dataset`);
      }
    }
    // Gram diagonal (of the stored layers: under a memory budget the means above are the check)
    const X = g.acts[l];
    if (!X) continue;
    const shift = c.center ? Float64Array.from(mu, (m, j) => (j === d - 1 ? 0 : -m)) : new Float64Array(d);
    const diag = new Float64Array(d);
    for (let r = 0; r < np; r++) for (let j = 0; j < d; j++) {
      const v = X[r * d + j]! + shift[j]!;
      diag[j]! += v * v;
    }
    let maxd = 0;
    let maxdiff = 0;
    for (let j = 0; j < d; j++) {
      diag[j]! /= np;
      maxd = Math.max(maxd, Math.abs(diag[j]!));
      maxdiff = Math.max(maxdiff, Math.abs(diag[j]! - G.data[j * d + j]!));
    }
    if (maxdiff > 1e-8 * maxd) {
      throw new UserError(`${key}: the saved Gram matrix of ${L} does not match this model and dataset (relative ${(maxdiff / maxd).toExponential(2)}${c.center ? '' : '; check center'}): the results were computed with a different model, dataset or centring`);
    }
  }
}

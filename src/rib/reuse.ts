/**
 * Reusing saved means/Grams (gram_matrices_path) or Cs (interaction_matrices_path): the saved
 * results must be compatible with this build, otherwise it is an error (not a warning).
 * Works for our results and for refdata `rib_graph_*` files (whose config uses the same keys).
 */
import { UserError } from '../errors.js';
import type { RibResults } from '../io/results.js';
import type { NodeLayerInfo } from '../models/types.js';
import type { BuildConfig } from './config.js';

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

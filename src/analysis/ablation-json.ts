/**
 * Ablation results as JSON in the reference's layout (indent 1, counts as descending string
 * keys, Python float spelling), and the reader of such files (ours or the reference's).
 */
import { UserError } from '../errors.js';
import type { AblationOutput } from './ablation-sweep.js';

// ---- JSON in the reference's layout ------------------------------------------------------------

/** A float as Python's json module writes it (1.0, not 1). */
function pyFloat(x: number): string {
  if (!Number.isFinite(x)) return x > 0 ? 'Infinity' : x < 0 ? '-Infinity' : 'NaN';
  return Number.isInteger(x) && Math.abs(x) < 1e16 ? `${x}.0` : JSON.stringify(x);
}

type J = string; // pre-rendered JSON text pieces

function obj(entries: Array<[string, J]>, ind: string): J {
  if (entries.length === 0) return '{}';
  const inner = ind + ' ';
  return `{\n${entries.map(([k, v]) => `${inner}${JSON.stringify(k)}: ${v}`).join(',\n')}\n${ind}}`;
}

function plain(v: unknown, ind: string): J {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : pyFloat(v);
  if (typeof v === 'string' || typeof v === 'boolean') return JSON.stringify(v);
  if (Array.isArray(v)) {
    if (v.length === 0) return '[]';
    const inner = ind + ' ';
    return `[\n${v.map((x) => inner + plain(x, inner)).join(',\n')}\n${ind}]`;
  }
  return obj(
    Object.entries(v as Record<string, unknown>)
      .filter(([, x]) => x !== undefined)
      .map(([k, x]) => [k, plain(x, ind + ' ')]),
    ind,
  );
}

/** The output as JSON text, laid out like the reference (indent 1, counts as descending string keys). */
export function ablationJson(out: AblationOutput): string {
  const I1 = ' ';
  const I2 = '  ';
  const I3 = '   ';
  const top: Array<[string, J]> = [
    ['config', plain(out.config, I1)],
    ['results', obj(Object.entries(out.results).map(([l, pts]) => [l, obj(pts.map(([k, s]) => [String(k), pyFloat(s)]), I2)]), I1)],
    ['time_taken', JSON.stringify(out.time_taken)],
    ['no_ablation_result', pyFloat(out.no_ablation_result)],
  ];
  if (out.n_edges_required) top.push(['n_edges_required', obj(Object.entries(out.n_edges_required).map(([k, v]) => [k, String(v)]), I1)]);
  if (out.edge_masks) {
    top.push([
      'edge_masks',
      obj(
        Object.entries(out.edge_masks).map(([l, ms]) => [
          l,
          obj(
            ms.map(([k, m]) => {
              const rows: boolean[][] = [];
              for (let i = 0; i < m.rows; i++) rows.push(Array.from(m.data.subarray(i * m.cols, (i + 1) * m.cols), (x) => x === 1));
              return [String(k), plain(rows, I3)];
            }),
            I2,
          ),
        ]),
        I1,
      ),
    ]);
  }
  return obj(top, '') + '\n';
}

/** Parse an ablation JSON (ours or the reference's) into per-layer [count, score] lists, descending. */
export function readAblationCurves(json: unknown): { type: string; results: Record<string, Array<[number, number]>>; noAblation: number | null; nEdgesRequired: Record<string, number> | null; edgeMasks: Record<string, Record<string, boolean[][]>> | null; scoreTargetDifference: number | null } {
  const j = json as Record<string, unknown>;
  if (!j || typeof j !== 'object' || !j.results || typeof j.results !== 'object') throw new UserError('ablation JSON: missing "results"');
  const cfg = (j.config ?? {}) as Record<string, unknown>;
  const results: Record<string, Array<[number, number]>> = {};
  for (const [l, pts] of Object.entries(j.results as Record<string, Record<string, number>>)) {
    results[l] = Object.entries(pts)
      .map(([k, v]) => [Number(k), Number(v)] as [number, number])
      .sort((a, b) => b[0] - a[0]);
  }
  const sched = (cfg.schedule ?? {}) as Record<string, unknown>;
  return {
    type: String(cfg.ablation_type ?? 'unknown'),
    results,
    noAblation: typeof j.no_ablation_result === 'number' ? j.no_ablation_result : null,
    nEdgesRequired: (j.n_edges_required as Record<string, number>) ?? null,
    edgeMasks: (j.edge_masks as Record<string, Record<string, boolean[][]>>) ?? null,
    scoreTargetDifference: typeof sched.score_target_difference === 'number' ? sched.score_target_difference : null,
  };
}

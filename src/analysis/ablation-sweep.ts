/**
 * Node and edge ablation sweeps (spec §8.1–§8.4), browser-safe.
 *
 * `runAblation` walks the schedule for every ablation node layer (nodes) or every pair of
 * consecutive layers (edges) with one sweep loop, and asks the worker pool to score the dataset
 * with the ablation applied (task `analysis.ablationEval`, src/analysis/tasks.ts). The output
 * object has the reference JSON's keys (ablation-json.ts writes it).
 */
import { UserError } from '../errors.js';
import type { Dataset } from '../data/types.js';
import type { Model } from '../models/types.js';
import type { RibResults, Mat, LayerBasis } from '../io/results.js';
import { modelToSpec } from '../models/index.js';
import { mapShards, toShared, type TaskPool } from '../parallel/index.js';
import { Bisect, staticSchedule, shouldStopEarly, type Schedule, type StaticSchedule } from './schedules.js';
import type { AblationCtx, AblationOp, AblationShardResult } from './tasks.js';
import { ABLATION_TASK } from './tasks.js';
import type { AblationConfig } from './ablation-config.js';

// ---- pure building blocks --------------------------------------------------------------------

/**
 * Edge mask [rows, cols] (1 = kept) keeping the top m entries of E by value (≥ the m-th largest, so
 * ties may keep more). With keepConst, column 0 (edges from the constant input node) is always
 * kept and not counted; m larger than the countable entries keeps everything; m = 0 keeps none.
 */
export function edgeMask(E: Float64Array, rows: number, cols: number, m: number, keepConst: boolean): Uint8Array {
  const mask = new Uint8Array(rows * cols);
  const c0 = keepConst ? 1 : 0;
  const vals: number[] = [];
  for (let i = 0; i < rows; i++) for (let j = c0; j < cols; j++) vals.push(E[i * cols + j]!);
  if (m > vals.length) return mask.fill(1);
  if (keepConst) for (let i = 0; i < rows; i++) mask[i * cols] = 1;
  if (m <= 0) return mask;
  vals.sort((a, b) => b - a);
  const thr = vals[m - 1]!;
  for (let i = 0; i < rows; i++) for (let j = c0; j < cols; j++) if (E[i * cols + j]! >= thr) mask[i * cols + j] = 1;
  return mask;
}

/** T = B_a B⁺ [d, d] where B_a is B [d, r] with its last `aPrime` columns zeroed. */
export function nodeRotation(B: Mat, Bpinv: Mat, aPrime: number): Float64Array {
  const d = B.rows;
  const r = B.cols;
  const keep = r - aPrime;
  const T = new Float64Array(d * d);
  for (let i = 0; i < d; i++) {
    for (let k = 0; k < keep; k++) {
      const b = B.data[i * r + k]!;
      if (b === 0) continue;
      const row = Bpinv.data.subarray(k * d, (k + 1) * d);
      const o = i * d;
      for (let j = 0; j < d; j++) T[o + j]! += b * row[j]!;
    }
  }
  return T;
}

const f32 = (a: Float64Array): Float64Array => {
  const o = new Float64Array(a.length);
  for (let i = 0; i < a.length; i++) o[i] = Math.fround(a[i]!);
  return o;
};

function identity(n: number): Float64Array {
  const I = new Float64Array(n * n);
  for (let i = 0; i < n; i++) I[i * n + i] = 1;
  return I;
}

// ---- orchestration ---------------------------------------------------------------------------

export interface AblationProgress {
  layer: string;
  /** evaluations done for this layer / expected (bisect: an estimate) */
  done: number;
  total: number;
  /** number kept (edges) or remaining (nodes) just scored */
  kept: number;
  score: number;
}

export interface AblationOutput {
  config: Record<string, unknown>;
  /** results[layer] = [[kept/remaining, score], …] sorted by kept descending */
  results: Record<string, Array<[number, number]>>;
  time_taken: string;
  no_ablation_result: number;
  /** edge ablations with a bisect schedule */
  n_edges_required?: Record<string, number>;
  /** edge ablations: edge_masks[layer] = [[kept, mask rows×cols], …] */
  edge_masks?: Record<string, Array<[number, { rows: number; cols: number; data: Uint8Array }]>>;
}

export interface RunAblationOptions {
  config: AblationConfig;
  results: RibResults;
  model: Model;
  dataset: Dataset;
  pool: TaskPool;
  /** samples per task (default 1024); fixed, so results do not depend on the worker count */
  shardSize?: number;
  onProgress?: (p: AblationProgress) => void;
  /** force the generic per-pattern forward in edge ablations (tests) */
  genericEdges?: boolean;
}

function basisFor(results: RibResults, layer: string): LayerBasis {
  const b = results.bases.find((x) => x.nodeLayer === layer);
  if (!b) throw new UserError(`ablation: node layer '${layer}' is not in the RIB results (layers: ${results.nodeLayers.join(', ')})`);
  return b;
}

const wantCentered = (results: RibResults): boolean => {
  const c = results.config?.center;
  return c === undefined ? true : Boolean(c);
};

/** Run the configured ablation experiment. */
export async function runAblation(o: RunAblationOptions): Promise<AblationOutput> {
  const t0 = Date.now();
  const { config: cfg, results, model, dataset, pool } = o;
  const layers = cfg.ablation_node_layers;
  const isEdge = cfg.ablation_type === 'edge';
  const cast = cfg.dtype === 'float32' ? f32 : (a: Float64Array) => a;
  if (!dataset.labels) throw new UserError(`ablation: dataset ${dataset.name} has no labels; accuracy/ce_loss need labels`);
  if ((dataset.labelWidth ?? 1) > 1) throw new UserError(`ablation: dataset ${dataset.name} has per-position labels [N, ${dataset.labelWidth}]; ablations score the last position only and need labels [N]`);

  const lastPos = (results.config?.last_pos_module_type ?? null) as 'add_resid1' | 'unembed' | null;
  const sectioned = model.sectioned(layers, { lastPosModuleType: lastPos });
  const info = sectioned.nodeLayers;

  // per-layer matrices (node: B, B⁺; edge: C, C⁺ or identity)
  const ctxLayers: AblationCtx['layers'] = [];
  const nodeBases: Array<{ B: Mat; Bpinv: Mat } | null> = [];
  for (let l = 0; l < layers.length; l++) {
    const name = layers[l]!;
    if (name === 'output') {
      ctxLayers.push(null);
      nodeBases.push(null);
      continue;
    }
    const b = basisFor(results, name);
    const dim = info[l]!.dim;
    if (b.origDim !== dim) throw new UserError(`ablation: node layer '${name}' has width ${dim} in the model but ${b.origDim} in the RIB results`);
    if (isEdge || cfg.ablation_type === 'rib') {
      if (!b.C || !b.Cpinv) {
        if (isEdge) {
          ctxLayers.push(null);
          nodeBases.push(null);
          continue;
        }
        throw new UserError(`ablation: the RIB results have no C matrix for '${name}' (unrotated layer); it cannot be ablated in the rib basis`);
      }
      nodeBases.push({ B: { ...b.C, data: cast(b.C.data) }, Bpinv: { ...b.Cpinv, data: cast(b.Cpinv.data) } });
    } else {
      if (!b.W || !b.Wpinv) throw new UserError(`ablation: the RIB results have no W (PCA basis) for '${name}'; orthogonal ablation needs it`);
      nodeBases.push({ B: { ...b.W, data: cast(b.W.data) }, Bpinv: { ...b.Wpinv, data: cast(b.Wpinv.data) } });
    }
    ctxLayers.push(null);
  }

  // edges between consecutive layers
  const edgeData: Array<{ E: Float64Array; rows: number; cols: number; n: number } | null> = [];
  if (isEdge) {
    for (let l = 0; l + 1 < layers.length; l++) {
      const a = layers[l]!;
      const bName = layers[l + 1]!;
      const e = results.edges.find((x) => x.inLayer === a && x.outLayer === bName);
      if (!e) {
        throw new UserError(
          `ablation: the RIB results have no edges ${a}->${bName}` +
            (results.edges.length ? ` (edges present: ${results.edges.map((x) => `${x.inLayer}->${x.outLayer}`).join(', ')})` : ' (the build computed no edges; rebuild with calculate_edges: true)'),
        );
      }
      const dIn = info[l]!.dim;
      const dOut = info[l + 1]!.dim;
      const inB = nodeBases[l];
      const outB = nodeBases[l + 1];
      const rIn = inB ? inB.B.cols : dIn;
      const rOut = outB ? outB.B.cols : dOut;
      if (e.E.rows !== rOut || e.E.cols !== rIn) {
        throw new UserError(`ablation: edges ${a}->${bName} are ${e.E.rows}×${e.E.cols}, expected ${rOut}×${rIn} from the bases`);
      }
      ctxLayers[l] = {
        Cin: toShared(inB ? inB.B.data : identity(dIn)),
        CinPinv: toShared(inB ? inB.Bpinv.data : identity(dIn)),
        Cout: toShared(outB ? outB.B.data : identity(dOut)),
        CoutPinv: toShared(outB ? outB.Bpinv.data : identity(dOut)),
        dIn,
        rIn,
        dOut,
        rOut,
      };
      edgeData.push({ E: cast(e.E.data), rows: rOut, cols: rIn, n: dIn * dOut });
    }
  }

  const spec = modelToSpec(model);
  const sharedSpec = { ...spec, tensors: Object.fromEntries(Object.entries(spec.tensors).map(([k, v]) => [k, toShared(v)])) };
  const inputs = dataset.inputs;
  const sharedInputs =
    inputs.kind === 'tokens' ? { ...inputs, data: toShared(inputs.data) } : { ...inputs, data: toShared(inputs.data) };
  const labels = dataset.labels instanceof Int32Array ? toShared(dataset.labels) : toShared(dataset.labels as Float64Array);
  const ctx: AblationCtx = {
    id: `ablation:${cfg.exp_name}:${Date.now()}:${Math.floor(Math.random() * 1e9)}`,
    model: sharedSpec,
    nodeLayers: layers,
    lastPos,
    inputs: sharedInputs,
    labels,
    layers: ctxLayers,
    evalType: cfg.eval_type,
    genericEdges: o.genericEdges ?? false,
  };

  // fixed shards inside fixed batches (CE is averaged per batch, as the reference's data loader)
  const shardSize = o.shardSize ?? 1024;
  const shards: Array<{ batch: number; range: [number, number] }> = [];
  for (let s = 0, bi = 0; s < dataset.n; s += cfg.batch_size, bi++) {
    const e = Math.min(dataset.n, s + cfg.batch_size);
    for (let t = s; t < e; t += shardSize) shards.push({ batch: bi, range: [t, Math.min(e, t + shardSize)] });
  }

  const evaluate = async (op: AblationOp): Promise<number> => {
    const parts = await mapShards<unknown, AblationShardResult>(
      pool,
      ABLATION_TASK,
      shards.map((s) => ({ ctx, range: s.range, op })),
    );
    if (cfg.eval_type === 'accuracy') {
      let correct = 0;
      let n = 0;
      for (const p of parts) {
        correct += p.correct;
        n += p.n;
      }
      return correct / n;
    }
    const perBatch = new Map<number, { s: number; n: number }>();
    parts.forEach((p, i) => {
      const b = shards[i]!.batch;
      const acc = perBatch.get(b) ?? { s: 0, n: 0 };
      acc.s += p.ceSum;
      acc.n += p.n;
      perBatch.set(b, acc);
    });
    let tot = 0;
    for (const v of perBatch.values()) tot += v.s / v.n;
    return tot / perBatch.size;
  };

  // schedule parameters are checked for every layer before any evaluation
  if (cfg.schedule.schedule_type !== 'bisect') {
    for (let l = 0; l < layers.length; l++) {
      if (isEdge && l + 1 < layers.length) staticSchedule(cfg.schedule, edgeData[l]!.n);
      if (!isEdge) staticSchedule(cfg.schedule, nodeBases[l]!.B.rows);
    }
  }
  const base = await evaluate({ kind: 'none' });
  const out: AblationOutput = { config: { ...cfg }, results: {}, time_taken: '', no_ablation_result: base };
  const sched: Schedule = cfg.schedule;
  const byCount = (res: Map<number, number>): Array<[number, number]> => [...res.entries()].sort((x, y) => y[0] - x[0]);

  if (!isEdge) {
    for (let l = 0; l < layers.length; l++) {
      const name = layers[l]!;
      const { B, Bpinv } = nodeBases[l]!;
      const d = B.rows;
      const nTrunc = d - B.cols;
      // a directions ablated; the first nTrunc of them are already truncated away (no change)
      const sw = await sweep(d, sched, cfg.eval_type, base, 1, async (a) => {
        const ap = Math.max(a - nTrunc, 0);
        if (ap === 0) return { score: base, updatesBisect: false }; // reference quirk: a' = 0 leaves the bounds alone
        const T = cast(nodeRotation(B, Bpinv, ap));
        return { score: await evaluate({ kind: 'node', layer: l, T }), updatesBisect: true };
      }, (p) => o.onProgress?.({ layer: name, ...p }));
      out.results[name] = byCount(sw.scores);
    }
  } else {
    out.n_edges_required = sched.schedule_type === 'bisect' ? {} : undefined;
    out.edge_masks = {};
    const keepConst = wantCentered(results);
    for (let l = 0; l + 1 < layers.length; l++) {
      const name = layers[l]!;
      const ed = edgeData[l]!;
      const n = ed.n;
      const masks: Array<[number, { rows: number; cols: number; data: Uint8Array }]> = [];
      // a edges ablated: the n - a largest are kept
      const sw = await sweep(n, sched, cfg.eval_type, base, 0, async (a) => {
        const m = n - a;
        const mask = edgeMask(ed.E, ed.rows, ed.cols, m, keepConst);
        if (cfg.save_all_edge_masks) masks.push([m, { rows: ed.rows, cols: ed.cols, data: mask }]);
        const score = mask.every((v) => v === 1) ? base : await evaluate({ kind: 'edge', layer: l, mask });
        return { score, updatesBisect: true };
      }, (p) => o.onProgress?.({ layer: name, ...p }));
      if (sw.bisect) {
        const required = n - sw.bisect.lower;
        out.n_edges_required![name] = required;
        if (!cfg.save_all_edge_masks) {
          // reference quirk: the stored mask uses the last evaluated proposal's m
          masks.push([required, { rows: ed.rows, cols: ed.cols, data: edgeMask(ed.E, ed.rows, ed.cols, n - sw.lastAblated, keepConst) }]);
        }
      }
      out.results[name] = byCount(sw.scores);
      out.edge_masks[name] = masks.sort((x, y) => y[0] - x[0]);
    }
  }
  out.time_taken = `${((Date.now() - t0) / 60000).toFixed(1)} minutes`;
  return out;
}

interface SweepResult {
  /** score by count left (n - a: nodes remaining, edges kept) */
  scores: Map<number, number>;
  /** the bisection, for bisect schedules */
  bisect: Bisect | null;
  /** the number ablated at the last evaluation */
  lastAblated: number;
}

/**
 * The one sweep loop of node and edge ablations: ablate a = 0…n units in the order the schedule
 * gives (bisect: proposals until the bounds meet; exponential/linear: the static list, largest
 * count left first, with early stopping). `score(a)` scores the model with a units ablated;
 * `updatesBisect: false` leaves the bisection bounds alone. `estExtra` is added to the bisect
 * progress estimate ⌈log₂(n+1)⌉.
 */
async function sweep(
  n: number,
  sched: Schedule,
  evalType: AblationConfig['eval_type'],
  base: number,
  estExtra: number,
  score: (a: number) => Promise<{ score: number; updatesBisect: boolean }>,
  progress: (p: Omit<AblationProgress, 'layer'>) => void,
): Promise<SweepResult> {
  const scores = new Map<number, number>();
  let lastAblated = 0;
  if (sched.schedule_type === 'bisect') {
    const bs = new Bisect(n, sched, evalType, base);
    const est = Math.ceil(Math.log2(n + 1)) + estExtra;
    while (!bs.done()) {
      const a = bs.propose();
      const r = await score(a);
      scores.set(n - a, r.score);
      if (r.updatesBisect) bs.update(a, r.score);
      lastAblated = a;
      progress({ done: bs.evaluated.length, total: Math.max(est, bs.evaluated.length), kept: n - a, score: r.score });
    }
    return { scores, bisect: bs, lastAblated };
  }
  const list = staticSchedule(sched as StaticSchedule, n).slice().reverse();
  let first: number | null = null;
  for (let i = 0; i < list.length; i++) {
    const a = list[i]!;
    const r = await score(a);
    scores.set(n - a, r.score);
    lastAblated = a;
    progress({ done: i + 1, total: list.length, kept: n - a, score: r.score });
    if (first === null) first = r.score;
    else if (shouldStopEarly(sched as StaticSchedule, first, r.score)) break;
  }
  return { scores, bisect: null, lastAblated };
}

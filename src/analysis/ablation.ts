/**
 * Node and edge ablations (spec §8.1–§8.4), browser-safe.
 *
 * `runAblation` walks the schedule for every ablation node layer and asks the worker pool to
 * score the dataset with the ablation applied (task `analysis.ablationEval`, src/analysis/tasks.ts).
 * The output object has the reference JSON's keys; `ablationJson` serialises it with the
 * reference's key order (counts as string keys, descending).
 */
import { z } from 'zod';
import { UserError } from '../errors.js';
import type { Dataset } from '../data/types.js';
import type { Model } from '../models/types.js';
import type { RibResults, Mat, LayerBasis } from '../io/results.js';
import { modelToSpec } from '../models/index.js';
import { mapShards, toShared, type TaskPool } from '../parallel/index.js';
import { ScheduleSchema, Bisect, staticSchedule, shouldStopEarly, type Schedule, type StaticSchedule } from './schedules.js';
import type { AblationCtx, AblationOp, AblationShardResult } from './tasks.js';
import { ABLATION_TASK } from './tasks.js';

// ---- config ---------------------------------------------------------------------------------

const subsetKeys = {
  return_set_frac: z.number().nullable().optional(),
  n_samples: z.number().int().positive().nullable().optional(),
  return_set_n_samples: z.number().int().positive().nullable().optional(),
};
const DatasetSchema = z.discriminatedUnion('dataset_type', [
  z.strictObject({
    dataset_type: z.literal('modular_arithmetic'),
    name: z.literal('modular_arithmetic').optional(),
    source: z.literal('custom').optional(),
    return_set: z.enum(['train', 'test', 'all']).default('test'),
    modulus: z.number().int().positive().nullable().optional(),
    fn_name: z.enum(['add', 'subtract', 'x2xyy2']).nullable().optional(),
    frac_train: z.number().gt(0).lt(1).nullable().optional(),
    seed: z.number().int().nonnegative().nullable().optional(),
    ...subsetKeys,
  }),
  z.strictObject({
    dataset_type: z.literal('block_vector'),
    return_set: z.enum(['train', 'test', 'all']).default('all'),
    size: z.number().int().positive().default(1000),
    length: z.number().int().positive().default(4),
    first_block_length: z.number().int().positive().nullable().optional(),
    data_variances: z.tuple([z.number(), z.number()]).default([1, 1]),
    data_perfect_correlation: z.boolean().default(false),
    seed: z.number().int().nonnegative().nullable().optional(),
    ...subsetKeys,
  }),
  z.strictObject({
    dataset_type: z.literal('torchvision'),
    name: z.string(),
    return_set: z.enum(['train', 'test']).default('test'),
    seed: z.number().int().nonnegative().nullable().optional(),
    ...subsetKeys,
  }),
]);
export type AblationDatasetConfig = z.infer<typeof DatasetSchema>;

export const AblationConfigSchema = z.strictObject({
  exp_name: z.string().min(1).default('ablation'),
  out_dir: z.string().min(1).nullable().optional(),
  ablation_type: z.enum(['rib', 'orthogonal', 'edge']),
  rib_results_path: z.string().min(1),
  schedule: ScheduleSchema,
  dataset: DatasetSchema,
  ablation_node_layers: z.array(z.string().min(1)).min(1),
  batch_size: z.number().int().positive().default(99999),
  dtype: z.enum(['float32', 'float64']).default('float64'),
  seed: z.number().int().nonnegative().default(0),
  eval_type: z.enum(['accuracy', 'ce_loss']),
  save_all_edge_masks: z.boolean().default(false),
  // our extensions: where the model is when the results' own path does not exist here
  model: z
    .strictObject({ type: z.enum(['mlp', 'transformer']).optional(), path: z.string().min(1), config: z.string().min(1).nullable().optional() })
    .nullable()
    .optional(),
  tlens_model_path: z.string().min(1).nullable().optional(),
  mlp_path: z.string().min(1).nullable().optional(),
});
export type AblationConfig = z.infer<typeof AblationConfigSchema>;

/** Validate a raw (YAML/JSON) ablation config; unknown keys and bad values are UserErrors. */
export function parseAblationConfig(raw: unknown): AblationConfig {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new UserError('ablation config: expected a mapping at the top level');
  const o = { ...(raw as Record<string, unknown>) };
  if (o.dataset && typeof o.dataset === 'object' && !Array.isArray(o.dataset)) {
    const d = { ...(o.dataset as Record<string, unknown>) };
    if (d.dataset_type === undefined && d.name === 'modular_arithmetic') d.dataset_type = 'modular_arithmetic';
    o.dataset = d;
  }
  const r = AblationConfigSchema.safeParse(o);
  if (!r.success) {
    const msgs = r.error.issues.map((i) => {
      const path = i.path.join('.') || '(top level)';
      if (i.code === 'unrecognized_keys') return `${path}: unknown key(s) ${(i as { keys: string[] }).keys.map((k) => `'${k}'`).join(', ')}`;
      return `${path}: ${i.message}`;
    });
    throw new UserError(`ablation config: ${msgs.join('; ')}`);
  }
  const c = r.data;
  const d = c.dataset;
  if (d.n_samples != null || d.return_set_frac != null || d.return_set_n_samples != null) {
    throw new UserError('ablation config: dataset.n_samples / return_set_frac / return_set_n_samples (random subsets) are not supported; use the whole split');
  }
  if (c.ablation_type === 'edge' && c.ablation_node_layers.length < 2) {
    throw new UserError('ablation config: edge ablation needs at least two ablation_node_layers (edges run between consecutive layers)');
  }
  if (c.ablation_type !== 'edge' && c.ablation_node_layers.includes('output')) {
    throw new UserError("ablation config: node ablation cannot ablate 'output' (there is no section after it)");
  }
  if (new Set(c.ablation_node_layers).size !== c.ablation_node_layers.length) {
    throw new UserError('ablation config: ablation_node_layers has duplicates');
  }
  return c;
}

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

  if (!isEdge) {
    for (let l = 0; l < layers.length; l++) {
      const name = layers[l]!;
      const { B, Bpinv } = nodeBases[l]!;
      const d = B.rows;
      const nTrunc = d - B.cols;
      const res = new Map<number, number>();
      const scoreFor = async (a: number): Promise<{ score: number; trivial: boolean }> => {
        const ap = Math.max(a - nTrunc, 0);
        if (ap === 0) return { score: base, trivial: true };
        const T = cast(nodeRotation(B, Bpinv, ap));
        return { score: await evaluate({ kind: 'node', layer: l, T }), trivial: false };
      };
      if (sched.schedule_type === 'bisect') {
        const bs = new Bisect(d, sched, cfg.eval_type, base);
        const est = Math.ceil(Math.log2(d + 1)) + 1;
        while (!bs.done()) {
          const a = bs.propose();
          const { score, trivial } = await scoreFor(a);
          res.set(d - a, score);
          if (!trivial) bs.update(a, score); // reference quirk: a' = 0 leaves the bounds alone
          o.onProgress?.({ layer: name, done: bs.evaluated.length, total: Math.max(est, bs.evaluated.length), kept: d - a, score });
        }
      } else {
        const list = staticSchedule(sched as StaticSchedule, d).slice().reverse();
        let first: number | null = null;
        for (let i = 0; i < list.length; i++) {
          const a = list[i]!;
          const { score } = await scoreFor(a);
          res.set(d - a, score);
          o.onProgress?.({ layer: name, done: i + 1, total: list.length, kept: d - a, score });
          if (first === null) first = score;
          else if (shouldStopEarly(sched as StaticSchedule, first, score)) break;
        }
      }
      out.results[name] = [...res.entries()].sort((x, y) => y[0] - x[0]);
    }
  } else {
    out.n_edges_required = sched.schedule_type === 'bisect' ? {} : undefined;
    out.edge_masks = {};
    const keepConst = wantCentered(results);
    for (let l = 0; l + 1 < layers.length; l++) {
      const name = layers[l]!;
      const ed = edgeData[l]!;
      const n = ed.n;
      const res = new Map<number, number>();
      const masks: Array<[number, { rows: number; cols: number; data: Uint8Array }]> = [];
      const scoreKept = async (m: number): Promise<number> => {
        const mask = edgeMask(ed.E, ed.rows, ed.cols, m, keepConst);
        if (cfg.save_all_edge_masks) masks.push([m, { rows: ed.rows, cols: ed.cols, data: mask }]);
        if (mask.every((v) => v === 1)) return base;
        return evaluate({ kind: 'edge', layer: l, mask });
      };
      if (sched.schedule_type === 'bisect') {
        const bs = new Bisect(n, sched, cfg.eval_type, base);
        const est = Math.ceil(Math.log2(n + 1));
        let lastM = n;
        while (!bs.done()) {
          const a = bs.propose();
          const m = n - a;
          const score = await scoreKept(m);
          res.set(m, score);
          bs.update(a, score);
          lastM = m;
          o.onProgress?.({ layer: name, done: bs.evaluated.length, total: Math.max(est, bs.evaluated.length), kept: m, score });
        }
        const required = n - bs.lower;
        out.n_edges_required![name] = required;
        if (!cfg.save_all_edge_masks) {
          // reference quirk: the stored mask uses the last evaluated proposal's m
          masks.push([required, { rows: ed.rows, cols: ed.cols, data: edgeMask(ed.E, ed.rows, ed.cols, lastM, keepConst) }]);
        }
      } else {
        const list = staticSchedule(sched as StaticSchedule, n).slice().reverse();
        let first: number | null = null;
        for (let i = 0; i < list.length; i++) {
          const m = n - list[i]!;
          const score = await scoreKept(m);
          res.set(m, score);
          o.onProgress?.({ layer: name, done: i + 1, total: list.length, kept: m, score });
          if (first === null) first = score;
          else if (shouldStopEarly(sched as StaticSchedule, first, score)) break;
        }
      }
      out.results[name] = [...res.entries()].sort((x, y) => y[0] - x[0]);
      out.edge_masks[name] = masks.sort((x, y) => y[0] - x[0]);
    }
  }
  out.time_taken = `${((Date.now() - t0) / 60000).toFixed(1)} minutes`;
  return out;
}

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

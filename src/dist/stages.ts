/**
 * The stage graph of a build and the adapter that runs one stage shard (or replays a whole build)
 * through the build itself. Browser-safe.
 *
 * The build (`ribBuild`) cuts every heavy step into fixed sample blocks, runs one worker task per
 * block and folds the results in block order. A distributed run uses that same code: `ribBuild` is
 * given a `StagePool`, a TaskPool that sees every block task the build asks for, names its stage,
 * and answers it by
 * - running it for real (blocks of the target stage that this shard owns; their results are kept),
 * - replaying the stored partial result of an earlier stage (so folds and finishes downstream are
 *   the build's own, in ascending block order, with the same bits), or
 * - never answering (tasks of later stages; blocks of other shards), or answering with zeros where
 *   the build must go on to ask for the rest of the stage (Grams and edges are asked layer by
 *   layer; the zeros only reach folds whose results this shard discards).
 * With the edges split over output dimensions, a shard runs every edge block for its rows only
 * (the same task with those columns of C_out). So payloads, block boundaries, seeds and folds are
 * the build's: nothing here recomputes them.
 *
 * Coupling to the build's internals (all of it is in this file): the task names `rib.forward`,
 * `rib.gram`, `rib.gramStream`, `rib.pca`, `rib.mprime`, `rib.edges` and these payload fields —
 * forward: `outs` (null entries: not stored under a memory budget), `dims`, `start`, `end`; gram:
 * `X`, `d`, `start`, `end`; gramStream: `total`, `start`, `end`; mprime and edges read `X`, stored
 * activations or a recomputation from `X.base` (see `ensureForward`); pca: `o.nodeLayer`; mprime: `layer`,
 * `shard`, `model.id` (suffix `-ngf<l>` for naive gradient flow), `X`, `start`, `end`; edges:
 * `layer`, `shard`, `X`, `rin`, `rout`, `start`, `end`; and the order in which `ribBuild` asks:
 * the forward over `gram_dataset` (or `dataset`) first, a second forward over `dataset` only when
 * both are given, Grams layer by layer, all PCA steps in one go, M′ per layer from the output
 * backwards, edges last.
 */
import { UserError } from '../errors.js';
import type { RibResults } from '../io/results.js';
import type { TaskPool } from '../parallel/pool.js';
import { ribBuild, type BuildInputs } from '../rib/build.js';
import type { BuildConfig } from '../rib/config.js';
import { decodeValue, encodeValue, type Encoded } from './codec.js';

export type StageKind = 'sums' | 'grams' | 'eig' | 'mprime' | 'edges';

export interface PlanStage {
  name: string;
  kind: StageKind;
  /** node layer of an M′ stage */
  layer: string | null;
  /** number of shard indices (1 for stages that run on one node) */
  shards: number;
  /** stages whose merged partials this stage reads */
  needs: string[];
  /** how the stage's work is divided: sample blocks, output dimensions (edges), or not at all */
  split: 'dataset' | 'out_dim' | 'one-node';
  /** which dataset's samples are divided ('gram_dataset' falls back to 'dataset') */
  samples: 'gram_dataset' | 'dataset' | null;
  what: string;
}

/** The stages of a build of config `c` in `n` shards, in execution order. */
export function stageGraph(c: BuildConfig, n: number): PlanStage[] {
  if (c.gram_matrices_path !== null || c.interaction_matrices_path !== null) {
    throw new UserError('gram_matrices_path / interaction_matrices_path: a distributed build computes everything itself; remove them (or use interbasis build)');
  }
  const nl = c.node_layers;
  const K = nl.length - 1;
  const stages: PlanStage[] = [];
  const add = (s: Omit<PlanStage, 'needs'>) => stages.push({ ...s, needs: stages.length ? [stages[stages.length - 1]!.name] : [] });
  const statSamples = c.gram_dataset ? 'gram_dataset' : 'dataset';
  add({ name: 'sums', kind: 'sums', layer: null, shards: n, split: 'dataset', samples: statSamples, what: 'forward pass: column sums of every node layer (for the means)' });
  add({ name: 'grams', kind: 'grams', layer: null, shards: n, split: 'dataset', samples: statSamples, what: 'forward pass: centred Gram sums of every node layer' });
  if (c.calculate_Cs && c.basis_formula !== 'neuron' && K > 0) {
    add({ name: 'eig', kind: 'eig', layer: null, shards: 1, split: 'one-node', samples: null, what: 'Gram eigendecompositions (PCA step) of every node layer' });
  }
  if (c.calculate_Cs && c.basis_formula !== 'svd' && c.basis_formula !== 'neuron') {
    for (let l = K - 1; l >= 0; l--) {
      add({
        name: `mprime.${nl[l]}`,
        kind: 'mprime',
        layer: nl[l]!,
        shards: n,
        split: 'dataset',
        samples: 'dataset',
        what: `M′ sums of ${nl[l]} (needs C of ${nl[l + 1]}); its finish (M eigendecomposition, C) runs on one node where it is read`,
      });
    }
  }
  if (c.calculate_edges) {
    const outDim = c.dist_split_over === 'out_dim';
    add({
      name: 'edges',
      kind: 'edges',
      layer: null,
      shards: n,
      split: outDim ? 'out_dim' : 'dataset',
      samples: outDim ? null : 'dataset',
      what: outDim
        ? 'edge sums of every adjacent node-layer pair, each shard over all samples for its slice of the output dimensions'
        : 'edge sums of every adjacent node-layer pair',
    });
  }
  return stages;
}

/** Shard i's samples [start, end) of n: a block belongs to the shard whose range holds its first sample. */
export function sampleRange(n: number, shards: number, i: number): [number, number] {
  return [Math.floor((i * n) / shards), Math.floor(((i + 1) * n) / shards)];
}

export interface BlockRef {
  job: string;
  block: number;
  start: number;
  end: number;
}

export interface StoredBlock extends BlockRef {
  /** out_dim split: this block holds output rows [rows[0], rows[1]) of rows[2] */
  rows?: [number, number, number];
  value: Encoded;
}

/** Replay data: stage → `job#block` → stored block (out_dim split: one per output slice). */
export type Store = Map<string, Map<string, StoredBlock[]>>;

/** Output rows [start, end) of `rout` owned by shard `index` of `shards` (out_dim split). */
export function outDimRange(rout: number, shards: number, index: number): [number, number] {
  return [Math.floor((index * rout) / shards), Math.floor(((index + 1) * rout) / shards)];
}

export const blockKey = (b: { job: string; block: number }): string => `${b.job}#${b.block}`;

interface Classified extends BlockRef {
  /** index into the stage list; -1 for the forward over `dataset` (no stage of its own) */
  stage: number;
  fwd: number | null;
}

const NEVER = new Promise<never>(() => undefined);

/** One turn of the event loop (setImmediate where there is one: setTimeout(0) waits ≥ 1 ms in Node). */
const macrotask = (): Promise<void> =>
  new Promise((r) => ((globalThis as { setImmediate?: (f: () => void) => void }).setImmediate ?? ((f: () => void) => setTimeout(f, 0)))(r));

type BuildData = Omit<BuildInputs, 'pool' | 'progress' | 'warn' | 'loadedGrams' | 'loadedCs' | 'buildId'>;

interface Mode {
  /** shard: one stage shard; replay: every task from `store`; local: stored stages replayed, the rest run and recorded */
  kind: 'shard' | 'replay' | 'local';
  /** target stage index (shard mode) */
  target: number;
  /** owned samples of the target stage (null: every block, for one-node and out_dim stages) */
  range: [number, number] | null;
  /** out_dim split of the target stage: this shard's index among `shards` */
  outDim: { index: number; shards: number } | null;
}

/** A stage of a local build whose blocks have all been asked for: its results as they settle. */
export type StageDone = (stage: number, observed: BlockRef[], blocks: Promise<StoredBlock[]>, atEnd: boolean) => void;

class StagePool implements TaskPool {
  readonly size: number;
  /** local mode: per stage, the blocks run here (results encoded as they arrive) */
  private readonly recorded = new Map<number, { observed: BlockRef[]; blocks: Array<Promise<StoredBlock>> }>();
  private readonly finalized = new Set<number>();
  onStageDone: StageDone = () => undefined;
  /** local mode: true while saves are in flight (tasks then first let the event loop run, see run) */
  busy: () => boolean = () => false;
  private readonly fwdJobs = new Map<unknown, number>();
  private readonly xToFwd = new Map<Float64Array, number>();
  private readonly fwdPayloads: unknown[][] = [];
  private readonly fwdRuns: Array<Map<number, Promise<unknown>>> = [];
  private readonly gramJobs = new Map<Float64Array, number>();
  private readonly counters = new Map<string, number>();
  private readonly stageIndex: Map<string, number>;
  /** blocks of the target stage seen (all of them, owned or not) */
  readonly observed: BlockRef[] = [];
  /** owned blocks of the target stage: their results, encoded when they arrive */
  readonly owned: Array<Promise<StoredBlock>> = [];
  targetSeen = false;
  private closeScheduled = false;
  private closeResolve!: () => void;
  readonly closed = new Promise<void>((r) => (this.closeResolve = r));
  replayError: unknown = null;

  constructor(
    private readonly inner: TaskPool,
    private readonly stages: PlanStage[],
    private readonly nodeLayers: string[],
    private readonly store: Store,
    private readonly mode: Mode,
    private readonly onOwnedDone: () => void,
  ) {
    this.stageIndex = new Map(stages.map((s, i) => [s.name, i]));
    // a local build keeps the inner pool's width (the build's scheduler sizes its queue by it)
    this.size = mode.kind === 'local' ? inner.size : 1 << 20;
  }

  private stageNamed(name: string, task: string): number {
    const i = this.stageIndex.get(name);
    if (i === undefined) throw new Error(`distributed build: the build ran ${task} for stage ${name}, which the plan does not have (plan and build disagree)`);
    return i;
  }

  private next(job: string): number {
    const b = this.counters.get(job) ?? 0;
    this.counters.set(job, b + 1);
    return b;
  }

  private classify(task: string, p: Record<string, unknown>): Classified {
    const start = (p.start as number) ?? 0;
    const end = (p.end as number) ?? 0;
    switch (task) {
      case 'rib.forward': {
        const outs = p.outs as Array<Float64Array | null>;
        let f = this.fwdJobs.get(outs);
        if (f === undefined) {
          f = this.fwdJobs.size;
          this.fwdJobs.set(outs, f);
          for (const o of outs) if (o) this.xToFwd.set(o, f);
          this.fwdPayloads.push([]);
          this.fwdRuns.push(new Map());
        }
        const block = this.next(`forward.${f}`);
        this.fwdPayloads[f]![block] = p;
        return { stage: f === 0 ? this.stageNamed('sums', task) : -1, job: 'forward', block, start, end, fwd: f };
      }
      case 'rib.gram': {
        const X = p.X as Float64Array;
        let g = this.gramJobs.get(X);
        if (g === undefined) {
          g = this.gramJobs.size;
          this.gramJobs.set(X, g);
        }
        const job = `gram.${g}`;
        return { stage: this.stageNamed('grams', task), job, block: this.next(job), start, end, fwd: null };
      }
      case 'rib.gramStream': {
        // the Grams of every layer in one pass over blocks (under a memory budget)
        const job = 'gramStream';
        return { stage: this.stageNamed('grams', task), job, block: this.next(job), start, end, fwd: null };
      }
      case 'rib.pca': {
        const L = (p.o as { nodeLayer: string }).nodeLayer;
        return { stage: this.stageNamed('eig', task), job: `pca.${L}`, block: 0, start: 0, end: 0, fwd: null };
      }
      case 'rib.mprime': {
        const ngf = /-ngf(\d+)$/.exec((p.model as { id: string }).id);
        const l = ngf ? Number(ngf[1]) : (p.layer as number);
        return { stage: this.stageNamed(`mprime.${this.nodeLayers[l]}`, task), job: 'mprime', block: p.shard as number, start, end, fwd: null };
      }
      case 'rib.edges':
        return { stage: this.stageNamed('edges', task), job: `edges.${p.layer}`, block: p.shard as number, start, end, fwd: null };
      default:
        throw new Error(`distributed build: unknown build task "${task}" (the stage adapter src/dist/stages.ts needs to learn it)`);
    }
  }

  private replay(stage: number, c: BlockRef, p: Record<string, unknown>): unknown {
    const name = this.stages[stage]!.name;
    const fail = (msg: string) => {
      const e = new Error(`distributed build: ${msg}`);
      this.replayError ??= e;
      throw e;
    };
    const bs = this.store.get(name)?.get(blockKey(c));
    if (!bs || bs.length === 0) fail(`no stored result for stage ${name} block ${blockKey(c)} (samples ${c.start}–${c.end})`);
    for (const b of bs!) {
      if (b.start !== c.start || b.end !== c.end) fail(`stored block ${name} ${blockKey(c)} covers samples ${b.start}–${b.end}, the build asks for ${c.start}–${c.end}`);
    }
    if (this.stages[stage]!.split !== 'out_dim') return decodeValue(bs![0]!.value.json, bs![0]!.value.data);
    // out_dim: the output-row slices of all shards, in row order, make the block's rout × rin sums
    const rout = p.rout as number;
    const rin = p.rin as number;
    const out = new Float64Array(rout * rin);
    let next = 0;
    for (const b of [...bs!].sort((x, y) => x.rows![0] - y.rows![0])) {
      const [r0, r1, rr] = b.rows!;
      if (rr !== rout || r0 !== next) fail(`stage ${name} block ${blockKey(c)}: output rows ${r0}–${r1} of ${rr} do not continue at row ${next} of ${rout}`);
      out.set(decodeValue(b.value.json, b.value.data) as Float64Array, r0 * rin);
      next = r1;
    }
    if (next !== rout) fail(`stage ${name} block ${blockKey(c)}: output rows ${next}–${rout} are in no shard`);
    return out;
  }

  private scheduleClose(): void {
    if (this.closeScheduled) return;
    this.closeScheduled = true;
    // every block of one job is asked for synchronously: one macrotask later the set is complete
    setTimeout(() => this.closeResolve(), 0);
  }

  /** Runs the forward blocks that produce X's rows [start, end) (activations for an owned block). */
  private async ensureForward(src: unknown, start: number, end: number): Promise<void> {
    // stored activations, or the stored layer a recomputation starts from (memory budget)
    const X = src instanceof Float64Array ? src : (src as { base?: unknown } | undefined)?.base;
    if (!(X instanceof Float64Array)) return;
    const f = this.xToFwd.get(X);
    if (f === undefined) throw new Error('distributed build: a block reads activations no forward pass writes');
    const runs: Promise<unknown>[] = [];
    this.fwdPayloads[f]!.forEach((p, b) => {
      const q = p as { start: number; end: number };
      if (q.end <= start || q.start >= end) return;
      let r = this.fwdRuns[f]!.get(b);
      if (!r) {
        r = this.inner.run('rib.forward', p);
        this.fwdRuns[f]!.set(b, r);
      }
      runs.push(r);
    });
    await Promise.all(runs);
  }

  private runOwned(task: string, p: Record<string, unknown>, c: Classified, rows: [number, number, number] | null = null): Promise<unknown> {
    const res = (async () => {
      if (task !== 'rib.forward') await this.ensureForward(p.X, c.start, c.end);
      return this.inner.run(task, p);
    })();
    this.owned.push(
      res.then((v) => {
        this.onOwnedDone();
        return { job: c.job, block: c.block, start: c.start, end: c.end, ...(rows ? { rows } : {}), value: encodeValue(v) };
      }),
    );
    return res;
  }

  /**
   * out_dim split: the edge block for this shard's output rows only — the same task with the
   * matching columns of C_out (each output row of the edges depends on its column alone, so the
   * rows are bit-identical to the full block's). The build gets zeros (its fold is discarded).
   */
  private runOutDimSlice(p: Record<string, unknown>, c: Classified, od: { index: number; shards: number }): unknown {
    const rout = p.rout as number;
    const rin = p.rin as number;
    const [j0, j1] = outDimRange(rout, od.shards, od.index);
    const w = j1 - j0;
    const Cout = p.Cout as Float64Array | null;
    const d = Cout ? Cout.length / rout : rout;
    const Cs = new Float64Array(d * w);
    if (Cout) for (let a = 0; a < d; a++) for (let b = j0; b < j1; b++) Cs[a * w + b - j0] = Cout[a * rout + b]!;
    else for (let b = j0; b < j1; b++) Cs[b * w + b - j0] = 1;
    if (w > 0) void this.runOwned('rib.edges', { ...p, Cout: Cs, rout: w }, c, [j0, j1, rout]).catch(() => undefined);
    else this.owned.push(Promise.resolve({ job: c.job, block: c.block, start: c.start, end: c.end, rows: [j0, j1, rout] as [number, number, number], value: encodeValue(new Float64Array(0)) }));
    return new Float64Array(rout * rin);
  }

  /**
   * Local mode: the stages before `c`'s whose blocks the build has all asked for by now are handed
   * to `onStageDone`. The build asks for stages in plan order, except that the edges of a pair start
   * once both of its bases are known: an edges task of pair l means every M′ stage of layers ≥ l is
   * complete.
   */
  private finalizeBefore(c: Classified, p: Record<string, unknown>): void {
    if (c.stage < 0) return;
    const edges = this.stages[c.stage]!.kind === 'edges';
    for (let s = 0; s < c.stage; s++) {
      if (this.finalized.has(s)) continue;
      const st = this.stages[s]!;
      if (edges && (st.kind === 'edges' || (st.kind === 'mprime' && this.nodeLayers.indexOf(st.layer!) < (p.layer as number)))) continue;
      this.finalize(s);
    }
  }

  private finalize(s: number, atEnd = false): void {
    this.finalized.add(s);
    if (this.store.has(this.stages[s]!.name)) return;
    const r = this.recorded.get(s) ?? { observed: [], blocks: [] };
    this.onStageDone(s, r.observed, Promise.all(r.blocks), atEnd);
  }

  /** Local mode, at the end of the build: every stage not handed on yet. */
  finalizeAll(): void {
    for (let s = 0; s < this.stages.length; s++) if (!this.finalized.has(s)) this.finalize(s, true);
  }

  private runLocal(task: string, p: Record<string, unknown>, c: Classified): Promise<unknown> | unknown {
    if (c.stage === -1) {
      // forward over `dataset` (beside `gram_dataset`): run now unless every stage reading it is stored
      const f = c.fwd!;
      const eager = this.stages.some((s) => (s.kind === 'mprime' || s.kind === 'edges') && !this.store.has(s.name));
      if (!eager) return (p.dims as Array<[number, number]>).map(([, d]) => new Float64Array(d));
      const r = this.inner.run(task, p);
      this.fwdRuns[f]!.set(c.block, r);
      return r;
    }
    this.finalizeBefore(c, p);
    if (this.store.has(this.stages[c.stage]!.name)) return this.replay(c.stage, c, p);
    let rec = this.recorded.get(c.stage);
    if (!rec) this.recorded.set(c.stage, (rec = { observed: [], blocks: [] }));
    const ref = { job: c.job, block: c.block, start: c.start, end: c.end };
    rec.observed.push(ref);
    const res = (async () => {
      // an inline pool runs the whole build as one chain of microtasks: without a turn of the
      // event loop between tasks, the saves' file operations would only complete after the build
      if (this.busy()) await macrotask();
      if (task !== 'rib.forward') await this.ensureForward(p.X, c.start, c.end);
      return this.inner.run(task, p);
    })();
    if (task === 'rib.forward') this.fwdRuns[c.fwd!]!.set(c.block, res);
    // an out_dim stage's block holds all of its output rows here
    const rows: [number, number, number] | null = this.stages[c.stage]!.split === 'out_dim' ? [0, p.rout as number, p.rout as number] : null;
    rec.blocks.push(res.then((v) => ({ ...ref, ...(rows ? { rows } : {}), value: encodeValue(v) })));
    return res;
  }

  async run<R>(task: string, payload: unknown): Promise<R> {
    const p = payload as Record<string, unknown>;
    const c = this.classify(task, p);
    const m = this.mode;
    if (m.kind === 'local') return this.runLocal(task, p, c) as R;
    if (c.stage === -1) {
      // forward over `dataset` (beside `gram_dataset`): only its activations are used, lazily
      return (p.dims as Array<[number, number]>).map(([, d]) => new Float64Array(d)) as R;
    }
    if (m.kind === 'replay' || c.stage < m.target) return this.replay(c.stage, c, p) as R;
    if (c.stage > m.target) {
      this.scheduleClose();
      return NEVER;
    }
    // the target stage
    this.targetSeen = true;
    this.observed.push({ job: c.job, block: c.block, start: c.start, end: c.end });
    const kind = this.stages[c.stage]!.kind;
    if (kind === 'sums' || kind === 'eig' || kind === 'mprime') this.scheduleClose();
    if (m.outDim) return this.runOutDimSlice(p, c, m.outDim) as R;
    const mine = m.range === null || (c.start >= m.range[0] && c.start < m.range[1]);
    if (mine) return this.runOwned(task, p, c) as Promise<R>;
    // other shards' blocks: Grams and edges are asked layer by layer, so the build is let through
    // with zeros (its results are discarded); elsewhere the block is simply never answered
    if (kind === 'grams') return new Float64Array(task === 'rib.gramStream' ? (p.total as number) : (p.d as number) ** 2) as R;
    if (kind === 'edges') return new Float64Array((p.rin as number) * (p.rout as number)) as R;
    return NEVER;
  }

  async destroy(): Promise<void> {
    /* the inner pool belongs to the caller */
  }
}

export interface ShardRun {
  /** every block of the target stage, in the order the build asked for them */
  observed: BlockRef[];
  /** this shard's blocks with their raw results */
  blocks: StoredBlock[];
}

/**
 * Computes shard `range` of stage `target`: runs the build with earlier stages replayed from
 * `store`, and returns the raw per-block results of the owned blocks.
 */
export async function runStageShard(o: {
  data: BuildData;
  stages: PlanStage[];
  target: string;
  range: [number, number] | null;
  /** out_dim split of the target stage (edges): this shard's index among `shards` */
  outDim?: { index: number; shards: number } | null;
  store: Store;
  pool: TaskPool;
  buildId: string;
  onProgress?: (done: number, total: number) => void;
}): Promise<ShardRun> {
  const t = o.stages.findIndex((s) => s.name === o.target);
  if (t < 0) throw new UserError(`unknown stage ${o.target}`);
  let done = 0;
  const sp: StagePool = new StagePool(o.pool, o.stages, o.data.config.node_layers, o.store, { kind: 'shard', target: t, range: o.range, outDim: o.outDim ?? null }, () => o.onProgress?.(++done, sp.owned.length));
  let buildError: unknown = null;
  let settled = false;
  const build = ribBuild({ ...o.data, loadedGrams: null, loadedCs: null, pool: sp, buildId: o.buildId, warn: () => undefined, progress: () => undefined });
  const ended = build.then(
    () => {
      settled = true;
    },
    (e) => {
      settled = true;
      buildError = e;
    },
  );
  await Promise.race([sp.closed, ended]);
  if (sp.replayError) throw sp.replayError;
  if (settled && buildError && !sp.targetSeen) throw buildError;
  // blocks are all asked for; wait for the owned ones (a failed task fails the shard)
  const blocks = await Promise.all(sp.owned);
  if (sp.replayError) throw sp.replayError;
  return { observed: sp.observed, blocks };
}

/** Runs the whole build with every block task answered from `store` (the final merge). */
export async function replayBuild(o: { data: BuildData; stages: PlanStage[]; store: Store; pool: TaskPool; buildId: string; warn?: (m: string) => void }): Promise<RibResults> {
  const sp = new StagePool(o.pool, o.stages, o.data.config.node_layers, o.store, { kind: 'replay', target: o.stages.length, range: null, outDim: null }, () => undefined);
  try {
    return await ribBuild({ ...o.data, loadedGrams: null, loadedCs: null, pool: sp, buildId: o.buildId, warn: o.warn, progress: () => undefined });
  } catch (e) {
    throw sp.replayError ?? e;
  }
}

/**
 * The local build (`interbasis build`): the whole build on `pool`, with the stages held in `store`
 * replayed (a resumed build) and every other stage run for real; each stage's blocks go to
 * `onStageDone` as soon as the build has asked for all of them (to be saved for a later resume).
 */
export async function localBuild(o: {
  data: BuildData;
  stages: PlanStage[];
  store: Store;
  pool: TaskPool;
  onStageDone: StageDone;
  /** true while saves are in flight */
  busy?: () => boolean;
  progress?: BuildInputs['progress'];
  warn?: (m: string) => void;
}): Promise<RibResults> {
  const sp = new StagePool(o.pool, o.stages, o.data.config.node_layers, o.store, { kind: 'local', target: -1, range: null, outDim: null }, () => undefined);
  sp.onStageDone = o.onStageDone;
  if (o.busy) sp.busy = o.busy;
  try {
    const res = await ribBuild({ ...o.data, loadedGrams: null, loadedCs: null, pool: sp, warn: o.warn, progress: o.progress });
    sp.finalizeAll();
    return res;
  } catch (e) {
    throw sp.replayError ?? e;
  }
}

/**
 * The stage drivers of the LIB build (browser-safe). Each data stage is a `ShardPlan`: the fixed
 * shard payloads (sample blocks that never depend on the worker count), the worker task that
 * turns one payload into a partial sum, the fold that adds partial sums in ascending shard order,
 * and `finish`, which turns the total into the stage's result. `runPlan` runs a plan on a
 * TaskPool; any other runner that executes the same payloads and folds them in the same order
 * gets the same bits (e.g. shards on several machines, merged in ascending block order).
 *
 *   activationsPlan  rib.forward  dataset rows → node-layer activations (shared) + column sums
 *   gramPlan         rib.gram     activations of one layer → mean and centred Gram
 *   mprimePlan       rib.mprime   activations + C_out → M′ (and Λ′), through the section structure
 *   edgesPlan        rib.edges    activations + C_in, C_in⁺, C_out → E, through the section structure
 */
import { UserError } from '../errors.js';
import { AttnOut } from '../models/modules.js';
import type { Dataset } from '../data/types.js';
import type { LayerBasis, Mat } from '../io/results.js';
import { modelToSpec, type ModelSpec } from '../models/index.js';
import type { Inputs, Model, SectionedModel } from '../models/types.js';
import { mapReduceShards, sharedMemoryAvailable, toShared, type TaskPool } from '../parallel/pool.js';
import { shardRanges } from '../parallel/shards.js';
import { mat } from './basis.js';
import { integrationMethodFor, type BuildConfig } from './config.js';
import type { ModelCtx } from './context.js';
import { integrationPoints } from './integration.js';
import type { ForwardShardPayload, GramShardPayload, GramStreamPayload } from './stats.js';
import type { EvalSpec } from './evaluate.js';
import { attnForwardAlloc, detectAttention, type AttnForwardAll } from './structures/attention-core.js';
import { structureFor, type ActSource, type EdgesShardPayload, type MprimeShardPayload, type MprimeShardResult } from './structures/index.js';

/** Fixed shard sizes (samples) of the statistics pass; M′ and edges take their structure's. */
export const SHARD = { forward: 256, gram: 256 } as const;

/** Rows (sample × position) and attention cells (sample × position²) a block holds at most. */
const BLOCK_ROWS = 8192;
const BLOCK_CELLS = 1 << 20;

/**
 * The samples of one block of a stage whose base size is `base` samples, at P positions: long
 * sequences get fewer samples per block, so that a task's working set (activations ∝ P, attention
 * patterns ∝ P²) stays bounded. A function of (base, P) only, never of the workers or the memory
 * budget; every sequence of ≤ 4 positions (the toy models) keeps `base`.
 */
export function blockSamples(base: number, P: number): number {
  return Math.max(1, Math.min(base, Math.floor(BLOCK_ROWS / P), Math.floor(BLOCK_CELLS / (P * P))));
}

/** Positions of a dataset's samples (token sequences; 1 for vectors). */
export function samplePositions(d: Dataset): number {
  return d.inputs.kind === 'tokens' ? d.inputs.seqLen : 1;
}

/** Samples of one block of the forward pass over `d` (its Gram blocks are the same). */
export function forwardBlock(d: Dataset): number {
  return blockSamples(SHARD.forward, samplePositions(d));
}

export interface ProgressEvent {
  stage: string;
  done: number;
  total: number;
}
export type ProgressSink = (ev: ProgressEvent) => void;

/**
 * One data stage: `payloads[i]` is shard i; `task` (a registered worker task) maps a payload to a
 * partial result R; the partial results are folded in ascending shard order (`first` on shard 0,
 * then `add`); `finish` turns the total into the stage's output.
 */
export interface ShardPlan<P, R, O> {
  stage: string;
  task: string;
  payloads: P[];
  add(acc: R, r: R): void;
  finish(acc: R): O;
}

/** Runs a plan on the pool: shards in parallel, partial results folded in shard order. */
export async function runPlan<P, R, O>(pool: TaskPool, plan: ShardPlan<P, R, O>, progress: ProgressSink = () => undefined): Promise<O> {
  const total = plan.payloads.length;
  let done = 0;
  progress({ stage: plan.stage, done, total });
  const tick = () => progress({ stage: plan.stage, done: ++done, total });
  const acc = await mapReduceShards<P, R, R>(
    pool,
    plan.task,
    plan.payloads,
    (r0) => {
      tick();
      return r0;
    },
    (a, r) => {
      tick();
      plan.add(a, r);
      return a;
    },
  );
  return plan.finish(acc);
}

/** acc[i] += x[i] (the fixed reduction of every stage). */
export function addInPlace(acc: Float64Array, x: Float64Array): void {
  for (let i = 0; i < acc.length; i++) acc[i]! += x[i]!;
}

// ---- shared memory ----------------------------------------------------------------------------

/**
 * The model with SharedArrayBuffer-backed weights, unfolded and folded (workers read them without
 * a copy and fold nothing). The model's own weights move into the shared copies (same values), so
 * the process holds each once; sections made after this call use them.
 */
export function sharedSpec(m: Model): ModelSpec {
  for (const [k, v] of m.tensors) m.tensors.set(k, toShared(v));
  const folded = m.folded?.(toShared);
  return { ...modelToSpec(m), ...(folded ? { folded } : {}) };
}

function sharedInputs(inp: Inputs): Inputs {
  return inp.kind === 'tokens' ? { ...inp, data: toShared(inp.data) } : { ...inp, data: toShared(inp.data) };
}

/** A zeroed shared array (a fresh SharedArrayBuffer is already zero: no zero-filled copy). */
export function sharedZeros(n: number): Float64Array {
  return sharedMemoryAvailable() ? new Float64Array(new SharedArrayBuffer(n * 8)) : new Float64Array(n);
}

// ---- activations ------------------------------------------------------------------------------

/**
 * Activations of the stat layers ([N, P_l, d_l], shared; null for a layer a memory budget does not
 * keep: its rows are recomputed from `inputs` where needed) and their column sums.
 */
export interface Activations {
  acts: Array<Float64Array | null>;
  /** the dataset's inputs (shared), for recomputing layers that are not kept */
  inputs: Inputs;
  /** the stat layers' [P, d] */
  dims: Array<[number, number]>;
  /** the context the activations were computed with */
  ctx: ModelCtx;
  /** samples per forward block (the Gram blocks are the same) */
  block: number;
  sums: Float64Array[];
  N: number;
  /** the folded eval scores when the pass scored the logits (`score` of activationsPlan), else null */
  scores: Float64Array | null;
}

/**
 * The forward pass over `d` in blocks of SHARD.forward samples: each shard writes its rows of
 * every stored layer (`dims` [P_l, d_l]; a last entry beyond the node layers holds the logits) and
 * returns the column sums; `attn` caches are filled for the attention sections whose M′ reads them.
 * `keep[l]` false: layer l is not stored (a memory budget; its sums are still taken).
 */
export function activationsPlan(
  ctx: ModelCtx,
  d: Dataset,
  dims: Array<[number, number]>,
  nNonOut: number,
  stage: string,
  attn: Array<AttnForwardAll | null> | null = null,
  score: EvalSpec | null = null,
  keep: boolean[] | null = null,
): ShardPlan<ForwardShardPayload, Float64Array[], Activations> {
  const N = d.n;
  const block = forwardBlock(d);
  if (score && !forwardScores(score, d)) throw new Error(`forward: eval ranges of ${score.rangeSize} samples do not match the forward shards`);
  const inputs = sharedInputs(d.inputs);
  const outs = dims.map(([P, w], l) => (keep && !keep[l] ? null : sharedZeros(N * P * w)));
  const payloads: ForwardShardPayload[] = shardRanges(N, block).map(([start, end]) => ({ model: ctx, inputs, start, end, outs, dims, nNonOut, attn, score }));
  return {
    stage,
    task: 'rib.forward',
    payloads,
    add: (acc, r) => acc.forEach((a, i) => addInPlace(a, r[i]!)),
    finish: (sums) => ({ acts: outs, inputs, dims, ctx, block, sums: sums.slice(0, outs.length), N, scores: score ? sums[outs.length]! : null }),
  };
}

/**
 * Where a shard of stat layer l reads its rows: the stored activations, or (not kept under a
 * memory budget) a recomputation from the nearest stored layer below, or from the inputs.
 */
export function actSource(a: Activations, l: number): ActSource {
  const X = a.acts[l];
  if (X) return X;
  for (let b = l - 1; b >= 0; b--) {
    const base = a.acts[b];
    if (base) return { inputs: a.inputs, base, baseLayer: b };
  }
  return { inputs: a.inputs, base: null, baseLayer: -1 };
}

/**
 * Whether the forward pass over N samples can score `e` (its shards are the eval's ranges, so the
 * scores are the same bits as `evaluateModel`'s).
 */
export function forwardScores(e: EvalSpec, d: Dataset): boolean {
  return e.rangeSize === forwardBlock(d) && e.n === d.n;
}

// ---- means and Grams --------------------------------------------------------------------------

/**
 * Mean and centred Gram of one stored layer (spec §3): μ = Σ/(N·P) from the forward's column sums,
 * G = Σ (f + σ)ᵀ(f + σ)/(N·P) with σ = −μ except the constant slot (none without `center`).
 */
export function gramPlan(center: boolean, a: Activations, l: number, P: number, d: number, name: string): ShardPlan<GramShardPayload, Float64Array, { mean: Float64Array | null; G: Mat }> {
  const np = a.N * P;
  const { mean, shift } = meanShift(center, a.sums[l]!, np, d, name);
  const X = a.acts[l];
  if (!X) throw new Error(`grams: layer ${name} is not stored (use gramStreamPlan)`);
  const payloads: GramShardPayload[] = shardRanges(a.N, a.block).map(([start, end]) => ({ X, P, d, start, end, shift }));
  return {
    stage: 'grams',
    task: 'rib.gram',
    payloads,
    add: addInPlace,
    finish: (G) => {
      for (let i = 0; i < G.length; i++) G[i]! /= np;
      return { mean, G: mat(d, d, G) };
    },
  };
}

/** μ and σ of one stat layer from the forward's column sums (σ = −μ except the constant slot). */
function meanShift(center: boolean, sum: Float64Array, np: number, d: number, name: string): { mean: Float64Array | null; shift: Float64Array | null } {
  if (!center) return { mean: null, shift: null };
  const mean = new Float64Array(d);
  for (let j = 0; j < d; j++) mean[j] = sum[j]! / np;
  const shift = new Float64Array(d);
  for (let j = 0; j < d; j++) shift[j] = -mean[j]!;
  if (name !== 'output') shift[d - 1] = 0;
  return { mean, shift };
}

/**
 * Means and centred Grams of every stat layer in one more forward pass (the activations are not
 * all stored): each block recomputes its rows and returns the concatenated Gram sums of every
 * layer. Same blocks, shifts and kernels as `gramPlan` over stored activations, hence the same bits.
 */
export function gramStreamPlan(center: boolean, a: Activations, names: string[]): ShardPlan<GramStreamPayload, Float64Array, Array<{ mean: Float64Array | null; G: Mat }>> {
  const ms = a.dims.map(([P, d], l) => meanShift(center, a.sums[l]!, a.N * P, d, names[l]!));
  const total = a.dims.reduce((n, [, d]) => n + d * d, 0);
  const payloads: GramStreamPayload[] = shardRanges(a.N, a.block).map(([start, end]) => ({
    model: a.ctx,
    inputs: a.inputs,
    start,
    end,
    dims: a.dims,
    shifts: ms.map((m) => m.shift),
    total,
  }));
  return {
    stage: 'grams',
    task: 'rib.gramStream',
    payloads,
    add: addInPlace,
    finish: (acc) => {
      let o = 0;
      return a.dims.map(([P, d], l) => {
        const G = acc.slice(o, o + d * d);
        o += d * d;
        const np = a.N * P;
        for (let i = 0; i < G.length; i++) G[i]! /= np;
        return { mean: ms[l]!.mean, G: mat(d, d, G) };
      });
    },
  };
}

// ---- M′ ---------------------------------------------------------------------------------------

/**
 * The shared attention forward cache of section l for M′ (null where M′ does not read one): a
 * deterministic jacobian M′ through the attention structure with α = 1 among the integration points.
 */
export function attnCacheFor(c: BuildConfig, sm: SectionedModel, l: number, N: number): AttnForwardAll | null {
  if (!sharedMemoryAvailable()) return null;
  if (c.naive_gradient_flow && l < sm.sections.length - 1) return null;
  const stochastic = c.n_stochastic_sources_basis_pos !== null || c.n_stochastic_sources_basis_hidden !== null;
  const sec = sm.sections[l]!;
  // a section without an attention module is no attention section: its structure (linear maps
  // formed from the weights) is then left to be found when a stage needs it, not before the forward
  if (!sec.modules.some((m) => m instanceof AttnOut)) return null;
  if (structureFor(sec, 'mprime', { formula: c.basis_formula, stochastic }).name !== 'attention') return null;
  const { alphas } = integrationPoints(integrationMethodFor(c, c.node_layers[l]!), c.n_intervals);
  if (!alphas.includes(1)) return null;
  return attnForwardAlloc(detectAttention(sec)!, N, sec.inPos, sharedZeros);
}

export type MprimeOut = { M: Float64Array; Lp: Float64Array | null };

/**
 * M′ (and Λ′) of section l (spec §5.4) with the next layer's basis: a plan over the section
 * structure's shards, or `{ closed }` when the structure needs no data pass (linear sections).
 */
export function mprimePlan(
  c: BuildConfig,
  ctx: ModelCtx,
  sm: SectionedModel,
  l: number,
  X: ActSource,
  N: number,
  outBasis: LayerBasis,
  attnFw: AttnForwardAll | null,
  structured: boolean,
): { closed: MprimeOut } | { plan: ShardPlan<MprimeShardPayload, MprimeShardResult, MprimeOut> } {
  const sec = sm.sections[l]!;
  const L = c.node_layers[l]!;
  const { alphas, weights } = integrationPoints(integrationMethodFor(c, L), c.n_intervals);
  const Cout = outBasis.C ? toShared(outBasis.C.data) : null;
  const r = outBasis.C ? outBasis.C.cols : sec.outDim;
  const formula = c.basis_formula as MprimeShardPayload['formula'];
  const nPos = c.n_stochastic_sources_basis_pos;
  const nHid = c.n_stochastic_sources_basis_hidden;
  const stoch = nPos !== null || nHid !== null;
  const st = structureFor(sec, 'mprime', { formula, stochastic: stoch, structured, positionSourcesOnly: nHid === null });
  // a closed form computes the deterministic M′ (what position sources give on this section)
  const norm = N * sec.inPos * (st.name === 'generic' ? (nPos ?? 1) * (nHid ?? 1) : 1);
  const closed = st.mprimeWithoutData(sec, Cout, r, weights);
  if (closed) return { closed: { M: closed, Lp: null } };
  const fwAll = st.name === 'attention' ? attnFw : null;
  const payloads: MprimeShardPayload[] = shardRanges(N, blockSamples(st.shards.mprime, sec.inPos)).map(([start, end], shard) => ({
    attnFw: fwAll,
    model: ctx,
    layer: l,
    X,
    start,
    end,
    Cout,
    r,
    formula,
    alphas,
    weights,
    nPos,
    nHidden: nHid,
    seed: c.seed,
    shard,
    closedForm: structured,
  }));
  return {
    plan: {
      stage: `M' ${L}`,
      task: 'rib.mprime',
      payloads,
      add: (acc, r1) => {
        addInPlace(acc.M, r1.M);
        if (acc.Lp && r1.Lp) addInPlace(acc.Lp, r1.Lp);
      },
      finish: (res) => {
        const M = st.mprimeAssemble(sec, res.M, Cout, r);
        for (let i = 0; i < M.length; i++) M[i]! /= norm;
        if (res.Lp) {
          const nl = N * sec.inPos;
          for (let i = 0; i < res.Lp.length; i++) res.Lp[i]! /= nl;
          let mean = 0;
          for (const v of res.Lp) mean += v;
          mean /= res.Lp.length;
          let v2 = 0;
          for (const v of res.Lp) v2 += (v - mean) ** 2;
          if (!(v2 > 0)) throw new UserError(`${L}: Λ′ is constant (zero gradients?) — ${c.basis_formula} needs trapezoidal or gauss-legendre integration`);
        }
        return { M, Lp: res.Lp };
      },
    },
  };
}

/** Runs a `mprimePlan` on the pool (a closed form needs no pass). */
export function runMprime(pool: TaskPool, p: ReturnType<typeof mprimePlan>, progress: ProgressSink = () => undefined): Promise<MprimeOut> {
  return 'closed' in p ? Promise.resolve(p.closed) : runPlan(pool, p.plan, progress);
}

// ---- edges ------------------------------------------------------------------------------------

/** Edges of the pair (l, l+1) (spec §6), E [r_out × r_in], over the section structure's shards. */
export function edgesPlan(
  c: BuildConfig,
  ctx: ModelCtx,
  sm: SectionedModel,
  l: number,
  X: ActSource,
  N: number,
  inB: LayerBasis,
  outB: LayerBasis,
  structured: boolean,
): ShardPlan<EdgesShardPayload, Float64Array, Mat> {
  const sec = sm.sections[l]!;
  const L = c.node_layers[l]!;
  if (!inB.C || !inB.Cpinv) throw new UserError(`edges: node layer ${L} has no C matrix`);
  if (inB.C.rows !== sec.inDim) throw new UserError(`edges: C/${L} has ${inB.C.rows} rows, but the node layer has width ${sec.inDim}`);
  if (outB.C && outB.C.rows !== sec.outDim) throw new UserError(`edges: C/${outB.nodeLayer} has ${outB.C.rows} rows, but the node layer has width ${sec.outDim}`);
  const { alphas, weights } = integrationPoints(integrationMethodFor(c, L), c.n_intervals);
  const rin = inB.C.cols;
  const rout = outB.C ? outB.C.cols : sec.outDim;
  const R = c.n_stochastic_sources_edges;
  const st = structureFor(sec, 'edges', { formula: c.edge_formula, stochastic: R !== null, structured });
  const Cin = toShared(inB.C.data);
  const Cinp = toShared(inB.Cpinv.data);
  const Cout = outB.C ? toShared(outB.C.data) : null;
  const payloads: EdgesShardPayload[] = shardRanges(N, blockSamples(st.shards.edges, sec.inPos)).map(([start, end], shard) => ({
    model: ctx,
    layer: l,
    X,
    start,
    end,
    Cin,
    Cinp,
    rin,
    Cout,
    rout,
    formula: c.edge_formula,
    alphas,
    weights,
    nSources: R,
    seed: c.seed,
    shard,
    closedForm: structured,
  }));
  const norm = N * sec.inPos * (R ?? 1);
  return {
    stage: `edges ${L}->${c.node_layers[l + 1]}`,
    task: 'rib.edges',
    payloads,
    add: addInPlace,
    finish: (E) => {
      for (let i = 0; i < E.length; i++) E[i]! /= norm;
      return mat(rout, rin, E);
    },
  };
}

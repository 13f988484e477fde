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
import type { ForwardShardPayload, GramShardPayload } from './stats.js';
import type { EvalSpec } from './evaluate.js';
import { attnForwardAlloc, detectAttention, type AttnForwardAll } from './structures/attention-core.js';
import { structureFor, type EdgesShardPayload, type MprimeShardPayload, type MprimeShardResult } from './structures/index.js';

/** Fixed shard sizes (samples) of the statistics pass; M′ and edges take their structure's. */
export const SHARD = { forward: 256, gram: 256 } as const;

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

/** The model with SharedArrayBuffer-backed weights (workers read it without a copy). */
export function sharedSpec(m: Model): ModelSpec {
  const s = modelToSpec(m);
  const tensors: Record<string, Float64Array> = {};
  for (const [k, v] of Object.entries(s.tensors)) tensors[k] = toShared(v);
  return { ...s, tensors };
}

function sharedInputs(inp: Inputs): Inputs {
  return inp.kind === 'tokens' ? { ...inp, data: toShared(inp.data) } : { ...inp, data: toShared(inp.data) };
}

/** A zeroed shared array (a fresh SharedArrayBuffer is already zero: no zero-filled copy). */
export function sharedZeros(n: number): Float64Array {
  return sharedMemoryAvailable() ? new Float64Array(new SharedArrayBuffer(n * 8)) : new Float64Array(n);
}

// ---- activations ------------------------------------------------------------------------------

/** Activations of every stored layer ([N, P_l, d_l], shared) and their column sums. */
export interface Activations {
  acts: Float64Array[];
  sums: Float64Array[];
  N: number;
  /** the folded eval scores when the pass scored the logits (`score` of activationsPlan), else null */
  scores: Float64Array | null;
}

/**
 * The forward pass over `d` in blocks of SHARD.forward samples: each shard writes its rows of
 * every stored layer (`dims` [P_l, d_l]; a last entry beyond the node layers holds the logits) and
 * returns the column sums; `attn` caches are filled for the attention sections whose M′ reads them.
 */
export function activationsPlan(
  ctx: ModelCtx,
  d: Dataset,
  dims: Array<[number, number]>,
  nNonOut: number,
  stage: string,
  attn: Array<AttnForwardAll | null> | null = null,
  score: EvalSpec | null = null,
): ShardPlan<ForwardShardPayload, Float64Array[], Activations> {
  const N = d.n;
  if (score && !forwardScores(score, N)) throw new Error(`forward: eval ranges of ${score.rangeSize} samples do not match the forward shards`);
  const inputs = sharedInputs(d.inputs);
  const outs = dims.map(([P, w]) => sharedZeros(N * P * w));
  const payloads: ForwardShardPayload[] = shardRanges(N, SHARD.forward).map(([start, end]) => ({ model: ctx, inputs, start, end, outs, dims, nNonOut, attn, score }));
  return {
    stage,
    task: 'rib.forward',
    payloads,
    add: (acc, r) => acc.forEach((a, i) => addInPlace(a, r[i]!)),
    finish: (sums) => ({ acts: outs, sums: sums.slice(0, outs.length), N, scores: score ? sums[outs.length]! : null }),
  };
}

/**
 * Whether the forward pass over N samples can score `e` (its shards are the eval's ranges, so the
 * scores are the same bits as `evaluateModel`'s).
 */
export function forwardScores(e: EvalSpec, N: number): boolean {
  return e.rangeSize === SHARD.forward && e.n === N;
}

// ---- means and Grams --------------------------------------------------------------------------

/**
 * Mean and centred Gram of one stored layer (spec §3): μ = Σ/(N·P) from the forward's column sums,
 * G = Σ (f + σ)ᵀ(f + σ)/(N·P) with σ = −μ except the constant slot (none without `center`).
 */
export function gramPlan(center: boolean, a: Activations, l: number, P: number, d: number, name: string): ShardPlan<GramShardPayload, Float64Array, { mean: Float64Array | null; G: Mat }> {
  const np = a.N * P;
  let mean: Float64Array | null = null;
  let shift: Float64Array | null = null;
  if (center) {
    const mu = new Float64Array(d);
    for (let j = 0; j < d; j++) mu[j] = a.sums[l]![j]! / np;
    mean = mu;
    shift = new Float64Array(d);
    for (let j = 0; j < d; j++) shift[j] = -mu[j]!;
    if (name !== 'output') shift[d - 1] = 0;
  }
  const payloads: GramShardPayload[] = shardRanges(a.N, SHARD.gram).map(([start, end]) => ({ X: a.acts[l]!, P, d, start, end, shift }));
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
  X: Float64Array,
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
  const norm = N * sec.inPos * (nPos ?? 1) * (nHid ?? 1);
  const st = structureFor(sec, 'mprime', { formula, stochastic: stoch, structured });
  const closed = st.mprimeWithoutData(sec, Cout, r, weights);
  if (closed) return { closed: { M: closed, Lp: null } };
  const fwAll = st.name === 'attention' ? attnFw : null;
  const payloads: MprimeShardPayload[] = shardRanges(N, st.shards.mprime).map(([start, end], shard) => ({
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

/** Runs `mprimePlan` on the pool. */
export async function computeMprime(
  pool: TaskPool,
  c: BuildConfig,
  ctx: ModelCtx,
  sm: SectionedModel,
  l: number,
  X: Float64Array,
  N: number,
  outBasis: LayerBasis,
  progress: ProgressSink,
  attnFw: AttnForwardAll | null = null,
  structured = true,
): Promise<MprimeOut> {
  const p = mprimePlan(c, ctx, sm, l, X, N, outBasis, attnFw, structured);
  return 'closed' in p ? p.closed : runPlan(pool, p.plan, progress);
}

// ---- edges ------------------------------------------------------------------------------------

/** Edges of the pair (l, l+1) (spec §6), E [r_out × r_in], over the section structure's shards. */
export function edgesPlan(
  c: BuildConfig,
  ctx: ModelCtx,
  sm: SectionedModel,
  l: number,
  X: Float64Array,
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
  const payloads: EdgesShardPayload[] = shardRanges(N, st.shards.edges).map(([start, end], shard) => ({
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

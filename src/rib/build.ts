/**
 * The LIB build (spec Appendix A), browser-safe: statistics → bases (backwards) → edges, with the
 * heavy work cut into fixed shards run on a TaskPool and reduced in shard order, so the result is
 * bit-identical for any worker count.
 */
import { UserError } from '../errors.js';
import { gemm } from '../linalg/index.js';
import type { Dataset } from '../data/types.js';
import type { EdgeMatrix, LayerBasis, Mat, RibResults } from '../io/results.js';
import { modelToSpec, type ModelSpec } from '../models/index.js';
import type { Inputs, Model, SectionedModel } from '../models/types.js';
import { mapReduceShards, sharedMemoryAvailable, toShared, type TaskPool } from '../parallel/pool.js';
import { shardRanges } from '../parallel/shards.js';
import { PriorityScheduler } from '../parallel/priority.js';
import { finishRotation, isLnOut, mat, nearThreshold, neuronBasis, pcaFromW, pcaStage, svdBasis, type PcaStage, type PcaTaskPayload } from './basis.js';
import { integrationMethodFor, type BuildConfig } from './config.js';
import type { ModelCtx } from './context.js';
import type { EdgesShardPayload } from './edges.js';
import { integrationPoints } from './integration.js';
import type { MprimeShardPayload, MprimeShardResult } from './mprime.js';
import { checkReuse } from './reuse.js';
import { attnForwardAlloc, cotRows, detectAttention, type AttnForwardAll } from './attention.js';
import { attnMprimeAssemble } from './attention-mprime.js';
import type { ForwardShardPayload, GramShardPayload } from './stats.js';

export const VERSION = '0.1.0';

/** Fixed shard sizes (samples). They never depend on the worker count. */
export const SHARD = { forward: 256, gram: 256, mprime: 128, mprimeMlp: 2048, mprimeAttn: 512, edges: 128, edgesFast: 512, edgesMlp: 1024 } as const;

export interface ProgressEvent {
  stage: string;
  done: number;
  total: number;
}
export type ProgressSink = (ev: ProgressEvent) => void;

export interface BuildInputs {
  config: BuildConfig;
  model: Model;
  /** `dataset` of the config (M′ and edges) */
  dataset: Dataset | null;
  /** `gram_dataset` (null → dataset) */
  gramDataset: Dataset | null;
  /** results to take means/Grams from (gram_matrices_path) */
  loadedGrams?: RibResults | null;
  /** results to take means/Grams/Cs from (interaction_matrices_path) */
  loadedCs?: RibResults | null;
  pool: TaskPool;
  progress?: ProgressSink;
  warn?: (msg: string) => void;
  /** unique id for the worker-side model cache */
  buildId?: string;
}

export interface NearThresholdEntry {
  index: number;
  value: number;
  kept: boolean;
}

interface Stats {
  means: Map<string, Float64Array>;
  grams: Map<string, Mat>;
}

let buildCounter = 0;

export async function ribBuild(inp: BuildInputs): Promise<RibResults> {
  const c = inp.config;
  const warn = inp.warn ?? (() => undefined);
  const progress = inp.progress ?? (() => undefined);
  const times: Record<string, number> = {};
  const t0 = now();
  const nl = c.node_layers;
  const K = nl.length - 1;
  const hasOutput = nl[K] === 'output';
  // token datasets run at their own sequence length (the Gram dataset's may differ, spec LM §8)
  const seqOf = (d: Dataset | null) => (d && d.inputs.kind === 'tokens' ? d.inputs.seqLen : undefined);
  const seqLen = seqOf(inp.dataset ?? inp.gramDataset);
  const sm = inp.model.sectioned(nl, { lastPosModuleType: c.last_pos_module_type, seqLen });
  const infos = sm.nodeLayers;
  const nNonOut = hasOutput ? nl.length - 1 : nl.length;
  const stochBasis = c.n_stochastic_sources_basis_pos !== null || c.n_stochastic_sources_basis_hidden !== null;
  if ((stochBasis || c.n_stochastic_sources_edges !== null) && inp.model.kind === 'mlp') {
    throw new UserError('stochastic sources need a position axis; MLP node layers have none (remove n_stochastic_sources_*)');
  }
  const collectOut = hasOutput && c.rotate_final_node_layer;
  const ds = inp.dataset;
  const gds = inp.gramDataset ?? inp.dataset;
  checkInputsMatch(sm, ds, 'dataset');
  checkInputsMatch(sm, gds, 'gram_dataset');
  const loaded = inp.loadedCs ?? inp.loadedGrams ?? null;
  if (inp.loadedCs) checkReuse(c, inp.loadedCs, infos, 'interaction_matrices_path', true);
  if (inp.loadedGrams) checkReuse(c, inp.loadedGrams, infos, 'gram_matrices_path', false);

  const spec = sharedSpec(inp.model);
  const ctx: ModelCtx = {
    id: inp.buildId ?? `b${++buildCounter}-${Math.floor(Math.random() * 1e9).toString(36)}`,
    spec,
    nodeLayers: nl,
    lastPosModuleType: c.last_pos_module_type,
    ...(seqLen !== undefined ? { seqLen } : {}),
  };
  // which layers' activations the forward pass stores: non-output node layers (+ logits)
  const statDims: Array<[number, number]> = infos.slice(0, nNonOut).map((i) => [i.positions, i.dim]);
  if (collectOut) statDims.push([infos[K]!.positions, infos[K]!.dim]);
  // a Gram dataset with another sequence length gets its own sectioning (same widths, other P)
  const gSeq = seqOf(gds);
  const gCtx: ModelCtx = gSeq !== seqLen ? { ...ctx, id: `${ctx.id}-gram`, seqLen: gSeq } : ctx;
  const gStatDims = gCtx === ctx ? statDims : inp.model.sectioned(nl, { lastPosModuleType: c.last_pos_module_type, seqLen: gSeq }).nodeLayers.filter((_, i) => i < nNonOut || collectOut).map((i): [number, number] => [i.positions, i.dim]);

  // ---- 1. statistics -----------------------------------------------------------------------
  let ts = now();
  let stats: Stats;
  let gAct: { acts: Float64Array[]; sums: Float64Array[]; N: number } | null = null;
  const needData = (c.calculate_Cs && !inp.loadedCs) || c.calculate_edges;
  // attention sections' forward cache for M′, filled by the forward pass over `dataset`
  const attnFw: Array<AttnForwardAll | null> = new Array(K).fill(null);
  if (ds && c.calculate_Cs && !inp.loadedCs) for (let l = 0; l < K; l++) attnFw[l] = attnCacheFor(c, sm, l, ds.n);
  if (gds) gAct = await forwardAll(inp.pool, gCtx, gds, gStatDims, nNonOut, progress, 'forward', gds === ds ? attnFw : null);
  if (loaded) {
    stats = { means: new Map(loaded.means), grams: new Map(loaded.grams) };
    if (gAct) fingerprintCheck(c, loaded, gAct, gStatDims, nl, inp.loadedCs ? 'interaction_matrices_path' : 'gram_matrices_path');
    for (let l = 0; l < nNonOut; l++) {
      if (!stats.grams.has(nl[l]!)) throw new UserError(`${inp.loadedCs ? 'interaction_matrices_path' : 'gram_matrices_path'}: no Gram matrix for node layer ${nl[l]}`);
    }
  } else {
    if (!gAct) throw new UserError('dataset: required to compute means and Gram matrices');
    const names = [...nl.slice(0, nNonOut), ...(collectOut ? ['output'] : [])];
    stats = await gramsFromActs(inp.pool, c, gAct, gStatDims, names, progress);
  }
  times.grams = now() - ts;

  // activations of `dataset` for M′ and edges
  let acts: Float64Array[] | null = null;
  let N = 0;
  if (needData && ds) {
    if (gds === ds && gAct) {
      acts = gAct.acts;
      N = gAct.N;
    } else {
      const a = await forwardAll(inp.pool, ctx, ds, statDims.slice(0, nNonOut), nNonOut, progress, 'forward (dataset)', attnFw);
      acts = a.acts;
      N = a.N;
    }
  }

  // ---- 2. bases ----------------------------------------------------------------------------
  ts = now();
  const bases: LayerBasis[] = new Array(nl.length);
  const near: Record<string, { gram: NearThresholdEntry[]; lambda: NearThresholdEntry[] }> = {};
  // kept values below the resolution of a standard (backward-stable) eigensolver, ε·n·max
  const floorInfo: Record<string, { gram: { floor: number; kept_below: number }; lambda: { floor: number; kept_below: number } | null }> = {};
  const belowFloor = (v: Float64Array, from: number, rule: 'gram' | 'lambda') => {
    let mx = 0;
    for (const x of v) mx = Math.max(mx, Math.abs(x));
    const floor = 2.220446049250313e-16 * v.length * mx;
    let n = 0;
    for (let i = from; i < v.length; i++) if ((rule === 'gram' ? v[i]! > thr : v[i]! >= thr) && v[i]! < floor) n++;
    return { floor, kept_below: n };
  };
  const thr = c.truncation_threshold;
  let haveCs = false;
  // while the bases are computed, M′ (the critical path) goes first on the workers; edges of pairs
  // whose bases are known fill the remaining slots; the PCA steps run ahead of both
  const sched = new PriorityScheduler(inp.pool);
  const pools = { pca: sched.view(3), mprime: sched.view(2), edges: sched.view(1) };
  // edges of a pair start as soon as both of its bases are known (overlapping the remaining Cs)
  const edgeJobs: Array<Promise<Mat> | null> = new Array(K).fill(null);
  const startEdges = (l: number) => {
    if (!c.calculate_edges || !acts || edgeJobs[l]) return;
    const p = computeEdges(pools.edges, c, ctx, sm, l, acts[l]!, N, bases[l]!, bases[l + 1]!, progress);
    p.catch(() => undefined); // awaited in the edges stage
    edgeJobs[l] = p;
  };
  if (inp.loadedCs) {
    for (let l = 0; l <= K; l++) {
      const b = inp.loadedCs.bases.find((x) => x.nodeLayer === nl[l]);
      if (!b) throw new UserError(`interaction_matrices_path: no basis for node layer ${nl[l]}`);
      if (l < K && !b.C) throw new UserError(`interaction_matrices_path: node layer ${nl[l]} has no C matrix`);
      bases[l] = b;
    }
    haveCs = true;
  } else if (c.calculate_Cs) {
    const totalSteps = K + 1;
    let done = 0;
    progress({ stage: 'Cs', done, total: totalSteps });
    // final node layer
    const finalDim = infos[K]!.dim;
    if (c.rotate_final_node_layer) {
      const G = stats.grams.get(nl[K]!);
      if (!G) throw new Error(`no Gram matrix for the final node layer ${nl[K]}`);
      const p = pcaStage(G.data, finalDim, stats.means.get(nl[K]!) ?? null, {
        nodeLayer: nl[K]!,
        center: c.center,
        lnOut: isLnOut(nl[K]!, c.isolate_ln_var),
        thr,
      });
      near[nl[K]!] = { gram: nearThreshold(p.Dall, thr, 'gram'), lambda: [] };
      bases[K] = svdBasis(p);
    } else {
      bases[K] = { nodeLayer: nl[K]!, origDim: finalDim, C: null, Cpinv: null, W: null, Wpinv: null, V: null, Lambda: null };
    }
    progress({ stage: 'Cs', done: ++done, total: totalSteps });
    // every layer's PCA step needs only its Gram matrix: all of them start on the workers now
    const pcaJobs: Array<Promise<PcaStage> | null> = new Array(K).fill(null);
    if (c.basis_formula !== 'neuron') {
      for (let l = K - 1; l >= 0; l--) {
        const L = nl[l]!;
        const payload: PcaTaskPayload = {
          G: stats.grams.get(L)!.data,
          d: infos[l]!.dim,
          mean: stats.means.get(L) ?? null,
          o: { nodeLayer: L, center: c.center, lnOut: isLnOut(L, c.isolate_ln_var), thr },
        };
        pcaJobs[l] = pools.pca.run<PcaStage>('rib.pca', payload);
        pcaJobs[l]!.catch(() => undefined); // awaited in the loop below
      }
    }
    for (let l = K - 1; l >= 0; l--) {
      const L = nl[l]!;
      const d = infos[l]!.dim;
      if (c.basis_formula === 'neuron') {
        bases[l] = neuronBasis(L, d);
      } else {
        // M′ needs only the next layer's C: start it on the workers, then finish this layer's PCA
        let mpPromise: Promise<{ M: Float64Array; Lp: Float64Array | null }> | null = null;
        if (c.basis_formula !== 'svd') {
          if (!acts) throw new UserError('dataset: required to compute the interaction basis');
          if (c.naive_gradient_flow && l < K - 1) {
            // spec §5.5: C^l from a single section l → K (the final node layer), with C_out = C^K
            const sub = [L, nl[K]!];
            const sm2 = inp.model.sectioned(sub, { lastPosModuleType: c.last_pos_module_type, seqLen });
            const ctx2: ModelCtx = { ...ctx, id: `${ctx.id}-ngf${l}`, nodeLayers: sub };
            const c2 = { ...c, node_layers: sub } as BuildConfig;
            mpPromise = computeMprime(pools.mprime, c2, ctx2, sm2, 0, acts[l]!, N, bases[K]!, progress);
          } else mpPromise = computeMprime(pools.mprime, c, ctx, sm, l, acts[l]!, N, bases[l + 1]!, progress, attnFw[l]);
          mpPromise.catch(() => undefined); // awaited below; avoid an unhandled rejection meanwhile
        }
        // the next pair's bases are known: its edges fill the workers while this layer finishes
        if (l + 1 < K) startEdges(l + 1);
        const p = await pcaJobs[l]!;
        near[L] = { gram: nearThreshold(p.Dall, thr, 'gram'), lambda: [] };
        floorInfo[L] = { gram: belowFloor(p.Dall, 0, 'gram'), lambda: null };
        if (c.basis_formula === 'svd') bases[l] = svdBasis(p);
        else {
          const mp = await mpPromise!;
          const { M, Lp } = mp;
          const f = finishRotation(p, c.basis_formula, M, Lp, thr);
          near[L]!.lambda = nearThreshold(f.lambda, thr, 'lambda');
          floorInfo[L]!.lambda = belowFloor(f.lambda, p.nMasked, 'lambda');
          bases[l] = f.basis;
        }
      }
      progress({ stage: 'Cs', done: ++done, total: totalSteps });
    }
    haveCs = true;
  }
  times.Cs = now() - ts;

  // ---- 3. edges ----------------------------------------------------------------------------
  ts = now();
  const edges: EdgeMatrix[] = [];
  if (c.calculate_edges) {
    if (!haveCs) throw new UserError('calculate_edges needs Cs (calculate_Cs or interaction_matrices_path)');
    if (!acts) throw new UserError('dataset: required to compute edges');
    for (let l = 0; l < K; l++) startEdges(l);
    for (let l = 0; l < K; l++) {
      const E = await edgeJobs[l]!;
      if (E.data.every((v) => v === 0)) warn(`edges ${nl[l]}->${nl[l + 1]} are all zero`);
      edges.push({ inLayer: nl[l]!, outLayer: nl[l + 1]!, E });
    }
  }
  times.edges = now() - ts;
  times.total = now() - t0;

  // diagnostics
  const nearSummary: Record<string, unknown> = {};
  for (const [L, v] of Object.entries(near)) {
    if (v.gram.length || v.lambda.length) {
      nearSummary[L] = v;
      const fmt = (a: NearThresholdEntry[]) => a.map((e) => `${e.value.toExponential(2)}${e.kept ? '' : ' (dropped)'}`).join(', ');
      if (v.gram.length) warn(`${L}: ${v.gram.length} Gram eigenvalue(s) within 100× of truncation_threshold ${thr}: ${fmt(v.gram)} — the kept dimension rests on rounding noise`);
      if (v.lambda.length) warn(`${L}: ${v.lambda.length} Λ value(s) within 100× of truncation_threshold ${thr}: ${fmt(v.lambda)} — the RIB dimension rests on rounding noise`);
    }
  }
  for (const [L, f] of Object.entries(floorInfo)) {
    for (const [kind, v] of [['Gram', f.gram], ['Λ', f.lambda]] as const) {
      if (v && v.kept_below > 0) {
        warn(`${L}: ${v.kept_below} kept ${kind} value(s) lie below ε·n·max = ${v.floor.toExponential(2)}, the resolution of a standard eigensolver; implementations (and the reference) may disagree on the rank here`);
      }
    }
  }
  const dims: Record<string, { orig: number; positions: number; trunc: number | null; rib: number | null }> = {};
  nl.forEach((L, l) => {
    const b = bases[l];
    dims[L] = { orig: infos[l]!.dim, positions: infos[l]!.positions, trunc: b?.W ? b.W.cols : null, rib: b?.C ? b.C.cols : null };
  });
  const means = c.center ? stats.means : new Map<string, Float64Array>();
  return {
    config: c as unknown as Record<string, unknown>,
    nodeLayers: [...nl],
    means,
    grams: stats.grams,
    bases: haveCs ? bases : [],
    edges,
    info: {
      exp_name: c.exp_name,
      dims,
      n_samples: N,
      n_gram_samples: gAct?.N ?? null,
      times_s: times,
      workers: inp.pool.size,
      versions: { interbasis: VERSION },
      near_threshold: { threshold: thr, factor: 100, layers: nearSummary, solver_noise_floor: floorInfo },
      contains_all_edges: true,
      model_kind: inp.model.kind,
      ml_model_config: inp.model.config,
    },
  };
}

function now(): number {
  return (globalThis.performance?.now() ?? Date.now()) / 1000;
}

function checkInputsMatch(sm: SectionedModel, d: Dataset | null, key: string): void {
  if (!d) return;
  if (d.n < 1) throw new UserError(`${key}: the dataset is empty`);
  const inp = d.inputs;
  if (inp.batch !== d.n) throw new UserError(`${key}: inputs batch ${inp.batch} ≠ n ${d.n}`);
  void sm;
}

function sharedSpec(m: Model): ModelSpec {
  const s = modelToSpec(m);
  const tensors: Record<string, Float64Array> = {};
  for (const [k, v] of Object.entries(s.tensors)) tensors[k] = toShared(v);
  return { ...s, tensors };
}

function sharedInputs(inp: Inputs): Inputs {
  return inp.kind === 'tokens' ? { ...inp, data: toShared(inp.data) } : { ...inp, data: toShared(inp.data) };
}

function sharedZeros(n: number): Float64Array {
  // a fresh SharedArrayBuffer is already zero (no zero-filled copy on the main thread)
  return sharedMemoryAvailable() ? new Float64Array(new SharedArrayBuffer(n * 8)) : new Float64Array(n);
}

async function forwardAll(
  pool: TaskPool,
  ctx: ModelCtx,
  d: Dataset,
  dims: Array<[number, number]>,
  nNonOut: number,
  progress: ProgressSink,
  stage: string,
  attn: Array<AttnForwardAll | null> | null = null,
): Promise<{ acts: Float64Array[]; sums: Float64Array[]; N: number }> {
  const N = d.n;
  const inputs = sharedInputs(d.inputs);
  const outs = dims.map(([P, w]) => sharedZeros(N * P * w));
  const ranges = shardRanges(N, SHARD.forward);
  let done = 0;
  progress({ stage, done, total: ranges.length });
  const payloads: ForwardShardPayload[] = ranges.map(([start, end]) => ({ model: ctx, inputs, start, end, outs, dims, nNonOut, attn }));
  const sums = await reduceShardsInOrder<ForwardShardPayload, Float64Array[]>(
    pool,
    'rib.forward',
    payloads,
    () => progress({ stage, done: ++done, total: ranges.length }),
    (acc, r) => acc.forEach((a, i) => addInPlace(a, r[i]!)),
  );
  return { acts: outs, sums, N };
}

async function gramsFromActs(
  pool: TaskPool,
  c: BuildConfig,
  g: { acts: Float64Array[]; sums: Float64Array[]; N: number },
  dims: Array<[number, number]>,
  names: string[],
  progress: ProgressSink,
): Promise<Stats> {
  const means = new Map<string, Float64Array>();
  const grams = new Map<string, Mat>();
  const ranges = shardRanges(g.N, SHARD.gram);
  const total = ranges.length * dims.length;
  let done = 0;
  progress({ stage: 'grams', done, total });
  for (let l = 0; l < dims.length; l++) {
    const [P, d] = dims[l]!;
    const L = names[l]!;
    const np = g.N * P;
    let shift: Float64Array | null = null;
    if (c.center) {
      const mu = new Float64Array(d);
      for (let j = 0; j < d; j++) mu[j] = g.sums[l]![j]! / np;
      means.set(L, mu);
      shift = new Float64Array(d);
      for (let j = 0; j < d; j++) shift[j] = -mu[j]!;
      if (L !== 'output') shift[d - 1] = 0;
    }
    const payloads: GramShardPayload[] = ranges.map(([start, end]) => ({ X: g.acts[l]!, P, d, start, end, shift }));
    const G = await reduceShardsInOrder<GramShardPayload, Float64Array>(
      pool,
      'rib.gram',
      payloads,
      () => progress({ stage: 'grams', done: ++done, total }),
      addInPlace,
    );
    for (let i = 0; i < G.length; i++) G[i]! /= np;
    grams.set(L, mat(d, d, G));
  }
  return { means, grams };
}

/** Loaded means/Grams must describe this model and dataset: compare means and Gram diagonals. */
function fingerprintCheck(
  c: BuildConfig,
  loaded: RibResults,
  g: { acts: Float64Array[]; sums: Float64Array[]; N: number },
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
    // Gram diagonal
    const shift = c.center ? Float64Array.from(mu, (m, j) => (j === d - 1 ? 0 : -m)) : new Float64Array(d);
    const X = g.acts[l]!;
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

/**
 * Starts the attention forward cache of section l at X on the workers (null when M′ of this section
 * does not take the attention fast path at alpha 1, or without shared memory).
 */
/**
 * The shared attention cache of section l for M′ (null where M′ does not read one): deterministic
 * jacobian M′ of an attention section with α = 1 among the integration points.
 */
function attnCacheFor(c: BuildConfig, sm: SectionedModel, l: number, N: number): AttnForwardAll | null {
  if (!sharedMemoryAvailable()) return null;
  if (c.basis_formula !== 'jacobian' || c.n_stochastic_sources_basis_pos !== null || c.n_stochastic_sources_basis_hidden !== null) return null;
  if (c.naive_gradient_flow && l < sm.sections.length - 1) return null;
  const sec = sm.sections[l]!;
  const st = sec.structure;
  if (st && st.type === 'mlp' && sec.inPos === sec.outPos) return null;
  const at = detectAttention(sec);
  if (!at) return null;
  const { alphas } = integrationPoints(integrationMethodFor(c, c.node_layers[l]!), c.n_intervals);
  if (!alphas.includes(1)) return null;
  return attnForwardAlloc(at, N, sec.inPos, sharedZeros);
}

async function computeMprime(
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
): Promise<{ M: Float64Array; Lp: Float64Array | null }> {
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
  const st = sec.structure;
  // linear section, deterministic jacobian: M′ = (P_out/P_in)·sw²·(W C)(W C)ᵀ (no data needed)
  if (formula === 'jacobian' && !stoch && st && st.type === 'linear' && sec.inPos === sec.outPos) {
    const sw = weights.reduce((a, b) => a + b, 0);
    const C = Cout ?? eyeN(sec.outDim);
    const WC = gemm(false, false, sec.inDim, r, sec.outDim, st.W, C, new Float64Array(sec.inDim * r));
    const M = gemm(false, true, sec.inDim, sec.inDim, r, WC, WC, new Float64Array(sec.inDim * sec.inDim), sw * sw);
    return { M, Lp: null };
  }
  const mlpClosed = formula === 'jacobian' && !stoch && st && st.type === 'mlp' && sec.inPos === sec.outPos;
  const attnFast = formula === 'jacobian' && !stoch && !mlpClosed && detectAttention(sec) !== null;
  const ranges = shardRanges(N, mlpClosed ? SHARD.mprimeMlp : attnFast ? SHARD.mprimeAttn : SHARD.mprime);
  const fwAll = attnFast ? attnFw : null;
  const stage = `M' ${L}`;
  let done = 0;
  progress({ stage, done, total: ranges.length });
  const payloads: MprimeShardPayload[] = ranges.map(([start, end], shard) => ({
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
  }));
  const res = await reduceShardsInOrder<MprimeShardPayload, MprimeShardResult>(
    pool,
    'rib.mprime',
    payloads,
    () => progress({ stage, done: ++done, total: ranges.length }),
    (acc, r1) => {
      addInPlace(acc.M, r1.M);
      if (acc.Lp && r1.Lp) addInPlace(acc.Lp, r1.Lp);
    },
  );
  if (res.attn) {
    const at = detectAttention(sec);
    if (!at) throw new Error(`${L}: attention accumulators for a section that is not an attention block`);
    res.M = attnMprimeAssemble(at, res.M, cotRows(Cout, sec.inDim, r), r);
  }
  for (let i = 0; i < res.M.length; i++) res.M[i]! /= norm;
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
  return res;
}

function eyeN(n: number): Float64Array {
  const I = new Float64Array(n * n);
  for (let i = 0; i < n; i++) I[i * n + i] = 1;
  return I;
}

async function computeEdges(
  pool: TaskPool,
  c: BuildConfig,
  ctx: ModelCtx,
  sm: SectionedModel,
  l: number,
  X: Float64Array,
  N: number,
  inB: LayerBasis,
  outB: LayerBasis,
  progress: ProgressSink,
): Promise<Mat> {
  const sec = sm.sections[l]!;
  const L = c.node_layers[l]!;
  if (!inB.C || !inB.Cpinv) throw new UserError(`edges: node layer ${L} has no C matrix`);
  if (inB.C.rows !== sec.inDim) throw new UserError(`edges: C/${L} has ${inB.C.rows} rows, but the node layer has width ${sec.inDim}`);
  if (outB.C && outB.C.rows !== sec.outDim) throw new UserError(`edges: C/${outB.nodeLayer} has ${outB.C.rows} rows, but the node layer has width ${sec.outDim}`);
  const { alphas, weights } = integrationPoints(integrationMethodFor(c, L), c.n_intervals);
  const rin = inB.C.cols;
  const rout = outB.C ? outB.C.cols : sec.outDim;
  const R = c.n_stochastic_sources_edges;
  // closed forms (MLP) and the attention fast path: per-shard set-up is amortised over larger shards
  const mlpClosed = c.edge_formula === 'squared' && R === null && sec.structure?.type === 'mlp' && sec.inPos === sec.outPos;
  const fast = mlpClosed || (c.edge_formula === 'squared' && R === null && detectAttention(sec) !== null);
  // (MLP: a longer row chain within a shard means fewer unit changes per row)
  const ranges = shardRanges(N, mlpClosed ? SHARD.edgesMlp : fast ? SHARD.edgesFast : SHARD.edges);
  const stage = `edges ${L}->${c.node_layers[l + 1]}`;
  let done = 0;
  progress({ stage, done, total: ranges.length });
  const Cin = toShared(inB.C.data);
  const Cinp = toShared(inB.Cpinv.data);
  const Cout = outB.C ? toShared(outB.C.data) : null;
  const payloads: EdgesShardPayload[] = ranges.map(([start, end], shard) => ({
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
  }));
  const E = await reduceShardsInOrder<EdgesShardPayload, Float64Array>(
    pool,
    'rib.edges',
    payloads,
    () => progress({ stage, done: ++done, total: ranges.length }),
    addInPlace,
  );
  const norm = N * sec.inPos * (R ?? 1);
  for (let i = 0; i < E.length; i++) E[i]! /= norm;
  return mat(rout, rin, E);
}

/**
 * Stage C on its own: node layer l's basis from a given Gram/mean and a given next-layer basis
 * (used to check the stage against the reference's own next-layer C).
 */
export async function layerBasisFromNext(o: {
  config: BuildConfig;
  model: Model;
  dataset: Dataset;
  layer: number;
  G: Float64Array;
  mean: Float64Array | null;
  outBasis: LayerBasis;
  pool: TaskPool;
  /** use this PCA basis W (d×r′) instead of eigendecomposing G (isolates the stage from the first truncation) */
  W?: Mat | null;
}): Promise<{ basis: LayerBasis; lambda: Float64Array | null }> {
  const c = o.config;
  const nl = c.node_layers;
  const sm = o.model.sectioned(nl, { lastPosModuleType: c.last_pos_module_type });
  const infos = sm.nodeLayers;
  const ctx: ModelCtx = { id: `stage-${++buildCounter}`, spec: sharedSpec(o.model), nodeLayers: nl, lastPosModuleType: c.last_pos_module_type };
  const dims: Array<[number, number]> = infos.slice(0, o.layer + 1).map((i) => [i.positions, i.dim]);
  const nNonOut = nl.filter((x) => x !== 'output').length;
  const a = await forwardAll(o.pool, ctx, o.dataset, dims, nNonOut, () => undefined, 'forward');
  const L = nl[o.layer]!;
  const d = infos[o.layer]!.dim;
  const po = { nodeLayer: L, center: c.center, lnOut: isLnOut(L, c.isolate_ln_var), thr: c.truncation_threshold };
  const p = o.W ? pcaFromW(o.G, d, o.mean, o.W.data, o.W.cols, po) : pcaStage(o.G, d, o.mean, po);
  if (c.basis_formula === 'svd') return { basis: svdBasis(p), lambda: null };
  const { M, Lp } = await computeMprime(o.pool, c, ctx, sm, o.layer, a.acts[o.layer]!, a.N, o.outBasis, () => undefined);
  const f = finishRotation(p, c.basis_formula, M, Lp, c.truncation_threshold);
  return { basis: f.basis, lambda: f.lambda };
}

/** acc[i] += x[i] (same order as the shard sums it replaces, so results are unchanged). */
function addInPlace(acc: Float64Array, x: Float64Array): void {
  for (let i = 0; i < acc.length; i++) acc[i]! += x[i]!;
}

/**
 * Runs one task per payload on the pool and folds the results left to right in payload order
 * (fixed reduction order → bit-identical for any worker count), calling `tick` once per shard.
 */
function reduceShardsInOrder<P, R>(
  pool: TaskPool,
  task: string,
  payloads: P[],
  tick: () => void,
  add: (acc: R, r: R) => void,
): Promise<R> {
  return mapReduceShards<P, R, R>(
    pool,
    task,
    payloads,
    (r0) => {
      tick();
      return r0;
    },
    (acc, r) => {
      tick();
      add(acc, r);
      return acc;
    },
  );
}

/**
 * The LIB build (spec Appendix A), browser-safe, top to bottom:
 *   dataset → activations (forward) → means and Grams → bases C (backwards from the last node
 *   layer: PCA, M′, rotation) → edges.
 * Every data stage is a fixed-shard plan (src/rib/stages.ts) run on a TaskPool and folded in shard
 * order, so the result is bit-identical for any worker count; M′ and edges go through each
 * section's structure (src/rib/structures). Diagnostics: src/rib/diagnostics.ts.
 */
import { UserError } from '../errors.js';
import type { Dataset } from '../data/types.js';
import type { EdgeMatrix, LayerBasis, Mat, RibResults } from '../io/results.js';
import type { Model, SectionedModel } from '../models/types.js';
import { type TaskPool } from '../parallel/pool.js';
import { PriorityScheduler } from '../parallel/priority.js';
import { finishRotation, isLnOut, neuronBasis, pcaFromW, pcaStage, svdBasis, type FinishResult, type PcaStage, type PcaTaskPayload } from './basis.js';
import type { BuildConfig } from './config.js';
import type { ModelCtx } from './context.js';
import { PACKAGE_VERSION } from '../version.js';
import { Diagnostics, layerDims } from './diagnostics.js';
import { checkReuse, fingerprintCheck } from './reuse.js';
import { gbToBytes, planMemory, type MemoryPlan } from './memory.js';
import {
  activationsPlan,
  actSource,
  attnCacheFor,
  blockSamples,
  gramStreamPlan,
  samplePositions,
  SHARD,
  mprimePlan,
  runMprime,
  edgesPlan,
  forwardScores,
  gramPlan,
  runPlan,
  sharedSpec,
  type Activations,
  type MprimeOut,
  type ProgressSink,
} from './stages.js';
import type { AttnForwardAll } from './structures/attention-core.js';
import { evalResultOf, type EvalSpec } from './evaluate.js';

export { SHARD, type ProgressEvent, type ProgressSink } from './stages.js';
export type { NearThresholdEntry } from './diagnostics.js';

export const VERSION = PACKAGE_VERSION;

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
  /** false: every section takes the generic VJP path (the benchmark baseline; default true) */
  structured?: boolean;
  /**
   * eval_type of `dataset` (`prepareEval`): scored in the statistics forward pass over `dataset`
   * when that pass can (`forwardScores`), and then stored in `info.eval`; otherwise left to the caller
   */
  evaluation?: EvalSpec | null;
  /** finished rotations (M eigendecomposition, C) by node layer, kept from an earlier replay of the same inputs */
  finishes?: FinishCache;
  /** memory budget in bytes (default: the config's `memory_budget_gb`): activations beyond it are recomputed, not stored (src/rib/memory.ts) */
  memoryBudget?: number | null;
  /** store only every k-th node layer's activations of `dataset` (0: none) and stream the Grams, whatever the budget (tests, benchmarks) */
  storeEvery?: number;
}

/** Where a replayed build (src/dist) takes finished rotations from and leaves new ones. */
export interface FinishCache {
  get(nodeLayer: string): FinishResult | null;
  put(nodeLayer: string, f: FinishResult): void;
}

interface Stats {
  means: Map<string, Float64Array>;
  grams: Map<string, Mat>;
}

let buildCounter = 0;

export async function ribBuild(inp: BuildInputs): Promise<RibResults> {
  const c = inp.config;
  const structured = inp.structured !== false;
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
  // the weights in shared memory first (the sections below and every worker then use them)
  const spec = sharedSpec(inp.model);
  const sm = inp.model.sectioned(nl, { lastPosModuleType: c.last_pos_module_type, seqLen });
  const infos = sm.nodeLayers;
  const nNonOut = hasOutput ? nl.length - 1 : nl.length;
  const stochBasis = c.n_stochastic_sources_basis_pos !== null || c.n_stochastic_sources_basis_hidden !== null;
  if ((stochBasis || c.n_stochastic_sources_edges !== null) && inp.model.kind === 'mlp') {
    throw new UserError('stochastic sources need a position axis; MLP node layers have none (remove n_stochastic_sources_*)');
  }
  const collectOut = hasOutput && c.rotate_final_node_layer;
  const thr = c.truncation_threshold;

  // ---- 0. datasets, saved results, the model for the workers ------------------------------
  const ds = inp.dataset;
  const gds = inp.gramDataset ?? inp.dataset;
  checkInputsMatch(ds, 'dataset');
  checkInputsMatch(gds, 'gram_dataset');
  const loaded = inp.loadedCs ?? inp.loadedGrams ?? null;
  const loadedKey = inp.loadedCs ? 'interaction_matrices_path' : 'gram_matrices_path';
  if (inp.loadedCs) checkReuse(c, inp.loadedCs, infos, 'interaction_matrices_path', true);
  if (inp.loadedGrams) checkReuse(c, inp.loadedGrams, infos, 'gram_matrices_path', false);
  const ctx: ModelCtx = {
    id: inp.buildId ?? `b${++buildCounter}-${Math.floor(Math.random() * 1e9).toString(36)}`,
    spec,
    nodeLayers: nl,
    lastPosModuleType: c.last_pos_module_type,
    ...(seqLen !== undefined ? { seqLen } : {}),
  };
  // the layers the forward pass stores: non-output node layers (+ the logits for a rotated output)
  const statDims: Array<[number, number]> = infos.slice(0, nNonOut).map((i) => [i.positions, i.dim]);
  if (collectOut) statDims.push([infos[K]!.positions, infos[K]!.dim]);
  const statNames = [...nl.slice(0, nNonOut), ...(collectOut ? ['output'] : [])];
  const computeCs = c.calculate_Cs && !inp.loadedCs;
  // a Gram dataset with another sequence length gets its own sectioning (same widths, other P)
  const gSeq = seqOf(gds);
  const gCtx: ModelCtx = gSeq !== seqLen ? { ...ctx, id: `${ctx.id}-gram`, seqLen: gSeq } : ctx;
  const gStatDims = gCtx === ctx ? statDims : inp.model.sectioned(nl, { lastPosModuleType: c.last_pos_module_type, seqLen: gSeq }).nodeLayers.filter((_, i) => i < nNonOut || collectOut).map((i): [number, number] => [i.positions, i.dim]);

  // ---- 1. activations, means and Grams -----------------------------------------------------
  let ts = now();
  // which activations are stored (all, without a memory budget) and which are recomputed
  const needActs = (computeCs || c.calculate_edges) && !!ds;
  const mem = memoryPlanFor(inp, ctx, ds, gds, needActs ? statDims.slice(0, nNonOut) : null, gds !== ds || !needActs ? gStatDims : null);
  const allKept = mem.keep.every(Boolean);
  // the forward over the Gram dataset stores: when it is `dataset`, the kept layers (and the logits
  // of a rotated output only if every layer is kept); a separate Gram dataset all or nothing
  let keepGram: boolean[] | null = null;
  if (gds === ds && needActs) keepGram = gStatDims.map((_, l) => (l < nNonOut ? mem.keep[l]! : allKept));
  else if (!mem.keepGram) keepGram = gStatDims.map(() => false);
  // attention sections' forward cache for M′, filled by the forward pass over `dataset` (not under a budget)
  const attnFw: Array<AttnForwardAll | null> = new Array(K).fill(null);
  if (ds && computeCs && structured && mem.budget === null && allKept) for (let l = 0; l < K; l++) attnFw[l] = attnCacheFor(c, sm, l, ds.n);
  // eval_type rides on the forward over `dataset` (the logits are scored there, no second forward)
  const ev = inp.evaluation && ds && forwardScores(inp.evaluation, ds) ? inp.evaluation : null;
  const gAct = gds ? await runPlan(inp.pool, activationsPlan(gCtx, gds, gStatDims, nNonOut, 'forward', gds === ds ? attnFw : null, gds === ds ? ev : null, keepGram), progress) : null;
  let stats: Stats;
  if (loaded) {
    stats = { means: new Map(loaded.means), grams: new Map(loaded.grams) };
    if (gAct) fingerprintCheck(c, loaded, gAct, gStatDims, nl, loadedKey);
    for (let l = 0; l < nNonOut; l++) if (!stats.grams.has(nl[l]!)) throw new UserError(`${loadedKey}: no Gram matrix for node layer ${nl[l]}`);
  } else {
    if (!gAct) throw new UserError('dataset: required to compute means and Gram matrices');
    stats = await meansAndGrams(inp.pool, c.center, gAct, gStatDims, statNames, progress);
  }
  times.grams = now() - ts;
  // activations of `dataset` for M′ and edges
  let acts: Activations | null = null;
  if (needActs) {
    acts = gds === ds && gAct ? gAct : await runPlan(inp.pool, activationsPlan(ctx, ds!, statDims.slice(0, nNonOut), nNonOut, 'forward (dataset)', attnFw, ev, mem.keep), progress);
  }
  const scores = ev ? ((gds === ds ? gAct : acts)?.scores ?? null) : null;
  const N = acts?.N ?? 0;

  // ---- 2. bases, backwards from the last node layer ----------------------------------------
  // M′ (the critical path) goes first on the workers; the PCA steps run ahead of it; edges of a
  // pair start as soon as both of its bases are known and fill the remaining slots
  ts = now();
  const bases: LayerBasis[] = new Array(nl.length);
  const diag = new Diagnostics(thr);
  const sched = new PriorityScheduler(inp.pool);
  const pools = { pca: sched.view(3), mprime: sched.view(2), edges: sched.view(1) };
  const edgeJobs: Array<Promise<Mat> | null> = new Array(K).fill(null);
  const startEdges = (l: number) => {
    if (!c.calculate_edges || !acts || edgeJobs[l]) return;
    const p = runPlan(pools.edges, edgesPlan(c, ctx, sm, l, actSource(acts, l), N, bases[l]!, bases[l + 1]!, structured), progress);
    p.catch(() => undefined); // awaited in the edges stage
    edgeJobs[l] = p;
  };
  let haveCs = false;
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
    // the final node layer: its PCA basis (svd form), or unrotated
    const finalDim = infos[K]!.dim;
    if (c.rotate_final_node_layer) {
      const G = stats.grams.get(nl[K]!);
      if (!G) throw new Error(`no Gram matrix for the final node layer ${nl[K]}`);
      const p = pcaStage(G.data, finalDim, stats.means.get(nl[K]!) ?? null, { nodeLayer: nl[K]!, center: c.center, lnOut: isLnOut(nl[K]!, c.isolate_ln_var), thr });
      diag.gram(nl[K]!, p.Dall, false);
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
        const payload: PcaTaskPayload = { G: stats.grams.get(L)!.data, d: infos[l]!.dim, mean: stats.means.get(L) ?? null, o: { nodeLayer: L, center: c.center, lnOut: isLnOut(L, c.isolate_ln_var), thr } };
        pcaJobs[l] = pools.pca.run<PcaStage>('rib.pca', payload);
        pcaJobs[l]!.catch(() => undefined); // awaited in the loop below
      }
    }
    for (let l = K - 1; l >= 0; l--) {
      const L = nl[l]!;
      if (c.basis_formula === 'neuron') {
        bases[l] = neuronBasis(L, infos[l]!.dim);
      } else {
        // M′ needs only the next layer's C: start it on the workers, then finish this layer's PCA
        let mp: Promise<MprimeOut> | null = null;
        if (c.basis_formula !== 'svd') {
          if (!acts) throw new UserError('dataset: required to compute the interaction basis');
          if (c.naive_gradient_flow && l < K - 1) {
            // spec §5.5: C^l from a single section l → K (the final node layer), with C_out = C^K
            const sub = [L, nl[K]!];
            const sm2 = inp.model.sectioned(sub, { lastPosModuleType: c.last_pos_module_type, seqLen });
            const ctx2: ModelCtx = { ...ctx, id: `${ctx.id}-ngf${l}`, nodeLayers: sub };
            const c2 = { ...c, node_layers: sub } as BuildConfig;
            // from layer l's stored activations, or recomputed by the one-section model from the inputs
            const X = acts.acts[l] ?? { inputs: acts.inputs, base: null, baseLayer: -1 };
            mp = runMprime(pools.mprime, mprimePlan(c2, ctx2, sm2, 0, X, N, bases[K]!, null, structured), progress);
          } else mp = runMprime(pools.mprime, mprimePlan(c, ctx, sm, l, actSource(acts, l), N, bases[l + 1]!, attnFw[l], structured), progress);
          mp.catch(() => undefined); // awaited below; avoid an unhandled rejection meanwhile
        }
        // the next pair's bases are known: its edges fill the workers while this layer finishes
        if (l + 1 < K) startEdges(l + 1);
        const p = await pcaJobs[l]!;
        diag.gram(L, p.Dall);
        if (c.basis_formula === 'svd') bases[l] = svdBasis(p);
        else {
          const { M, Lp } = await mp!;
          let f = inp.finishes?.get(L) ?? null;
          if (!f) {
            f = finishRotation(p, c.basis_formula, M, Lp, thr);
            inp.finishes?.put(L, f);
          }
          diag.lambda(L, f.lambda, p.nMasked);
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

  // ---- 4. results ----------------------------------------------------------------------------
  const nearThresholdInfo = diag.report(warn);
  return {
    config: c as unknown as Record<string, unknown>,
    nodeLayers: [...nl],
    means: c.center ? stats.means : new Map<string, Float64Array>(),
    grams: stats.grams,
    bases: haveCs ? bases : [],
    edges,
    info: {
      exp_name: c.exp_name,
      dims: layerDims(nl, infos, bases),
      n_samples: N,
      n_gram_samples: gAct?.N ?? null,
      times_s: times,
      workers: inp.pool.size,
      versions: { interbasis: VERSION },
      near_threshold: nearThresholdInfo,
      memory: { budget_gb: mem.budget === null ? null : mem.budget / 1024 ** 3, estimate_gb: +(mem.estimate / 1024 ** 3).toFixed(3), stored_every: mem.every },
      contains_all_edges: true,
      model_kind: inp.model.kind,
      ml_model_config: inp.model.config,
      ...(ev && scores ? { eval: evalResultOf(ev, scores) } : {}),
    },
  };
}

function now(): number {
  return (globalThis.performance?.now() ?? Date.now()) / 1000;
}

function checkInputsMatch(d: Dataset | null, key: string): void {
  if (!d) return;
  if (d.n < 1) throw new UserError(`${key}: the dataset is empty`);
  const inp = d.inputs;
  if (inp.batch !== d.n) throw new UserError(`${key}: inputs batch ${inp.batch} ≠ n ${d.n}`);
}

/** The memory plan of this build (src/rib/memory.ts). */
function memoryPlanFor(inp: BuildInputs, ctx: ModelCtx, ds: Dataset | null, gds: Dataset | null, dims: Array<[number, number]> | null, gramDims: Array<[number, number]> | null): MemoryPlan {
  const P = Math.max(ds ? samplePositions(ds) : 1, gds ? samplePositions(gds) : 1);
  const block = blockSamples(SHARD.forward, P);
  const widest = Math.max(1, ...[...(dims ?? []), ...(gramDims ?? [])].map(([, d]) => d));
  const heads = Number((inp.model.config as { n_heads?: number } | null)?.n_heads ?? 0);
  const plan = planMemory({
    budget: inp.memoryBudget !== undefined ? inp.memoryBudget : inp.config.memory_budget_gb !== null ? gbToBytes(inp.config.memory_budget_gb) : null,
    workers: inp.pool.size,
    modelValues: Object.values(ctx.spec.tensors).reduce((s, t) => s + t.length, 0),
    inputBytes: (ds?.inputs.data.byteLength ?? 0) + (gds && gds !== ds ? gds.inputs.data.byteLength : 0),
    dims,
    samples: ds?.n ?? 0,
    gramDims,
    gramSamples: gds?.n ?? 0,
    blockRows: block * P * widest,
    blockCells: P > 1 ? block * Math.max(1, heads) * P * P : 0,
  });
  const k = inp.storeEvery;
  if (k === undefined) return plan;
  return { ...plan, keep: plan.keep.map((_, l) => k > 0 && l % k === 0), keepGram: false, every: k };
}

/** Means and Grams of every stat layer: one plan per layer over stored activations, or one streamed pass. */
async function meansAndGrams(pool: TaskPool, center: boolean, a: Activations, dims: Array<[number, number]>, names: string[], progress: ProgressSink): Promise<Stats> {
  const means = new Map<string, Float64Array>();
  const grams = new Map<string, Mat>();
  if (a.acts.some((x) => !x)) {
    const res = await runPlan(pool, gramStreamPlan(center, a, names), progress);
    res.forEach(({ mean, G }, l) => {
      if (mean) means.set(names[l]!, mean);
      grams.set(names[l]!, G);
    });
    return { means, grams };
  }
  const plans = dims.map(([P, d], l) => gramPlan(center, a, l, P, d, names[l]!));
  const total = plans.reduce((n, p) => n + p.payloads.length, 0);
  let offset = 0;
  progress({ stage: 'grams', done: 0, total });
  for (let l = 0; l < plans.length; l++) {
    const o = offset;
    const { mean, G } = await runPlan(pool, plans[l]!, (ev) => ev.done > 0 && progress({ stage: 'grams', done: o + ev.done, total }));
    offset += plans[l]!.payloads.length;
    if (mean) means.set(names[l]!, mean);
    grams.set(names[l]!, G);
  }
  return { means, grams };
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
  const sm: SectionedModel = o.model.sectioned(nl, { lastPosModuleType: c.last_pos_module_type });
  const infos = sm.nodeLayers;
  const ctx: ModelCtx = { id: `stage-${++buildCounter}`, spec: sharedSpec(o.model), nodeLayers: nl, lastPosModuleType: c.last_pos_module_type };
  const dims: Array<[number, number]> = infos.slice(0, o.layer + 1).map((i) => [i.positions, i.dim]);
  const nNonOut = nl.filter((x) => x !== 'output').length;
  const a = await runPlan(o.pool, activationsPlan(ctx, o.dataset, dims, nNonOut, 'forward'));
  const L = nl[o.layer]!;
  const d = infos[o.layer]!.dim;
  const po = { nodeLayer: L, center: c.center, lnOut: isLnOut(L, c.isolate_ln_var), thr: c.truncation_threshold };
  const p = o.W ? pcaFromW(o.G, d, o.mean, o.W.data, o.W.cols, po) : pcaStage(o.G, d, o.mean, po);
  if (c.basis_formula === 'svd') return { basis: svdBasis(p), lambda: null };
  const { M, Lp } = await runMprime(o.pool, mprimePlan(c, ctx, sm, o.layer, actSource(a, o.layer), a.N, o.outBasis, null, true));
  const f = finishRotation(p, c.basis_formula, M, Lp, c.truncation_threshold);
  return { basis: f.basis, lambda: f.lambda };
}

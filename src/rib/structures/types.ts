/**
 * The contract of a section structure (src/rib/structures/<name>.ts): for the sections it
 * describes, it provides M′ accumulation over a shard and its assembly, squared edges over a shard,
 * the edge-ablated output, and the fixed shard sizes of those stages. Shard functions return
 * unnormalised partial sums; the caller adds them in shard order (`reduceInOrder`) and calls
 * `mprimeAssemble` once on the sum.
 */
import type { Inputs, Section } from '../../models/types.js';
import type { ModelCtx } from '../context.js';
import type { AttnForwardAll } from './attention-core.js';
import type { EdgeBasis } from './masks.js';

/**
 * Where a shard reads its node-layer activations: the stored [N, P_in, d] (shared), or, for a layer
 * a memory budget does not keep, a recomputation of its rows by the model's own forward pass
 * from stored layer `baseLayer` (`base`) or from the inputs (`baseLayer` −1).
 */
export type ActSource = Float64Array | Recompute;
export interface Recompute {
  inputs: Inputs;
  base: Float64Array | null;
  baseLayer: number;
}

export interface MprimeShardPayload {
  model: ModelCtx;
  /** section index l (node layer l → l+1) */
  layer: number;
  /** activations at node layer l, [N, P_in, d] (or how to recompute them) */
  X: ActSource;
  start: number;
  end: number;
  /** d_out × r (null = identity, r = d_out) */
  Cout: Float64Array | null;
  r: number;
  formula: 'jacobian' | '(1-0)*alpha' | '(1-alpha)^2';
  alphas: number[];
  weights: number[];
  /** stochastic sources (jacobian only) */
  nPos: number | null;
  nHidden: number | null;
  seed: number;
  shard: number;
  /** take the section's structure (default true); false forces the generic VJP path */
  closedForm?: boolean;
  /** attention sections: the section's forward cache at X for all samples (see AttnForwardAll) */
  attnFw?: AttnForwardAll | null;
}

export interface MprimeShardResult {
  /** unnormalised M′ [d × d], or the structure's packed accumulators (`mprimeAssemble` turns them into M′) */
  M: Float64Array;
  Lp: Float64Array | null;
}

export interface EdgesShardPayload {
  model: ModelCtx;
  layer: number;
  /** activations at node layer l, [N, P_in, d] (or how to recompute them) */
  X: ActSource;
  start: number;
  end: number;
  /** d × r_in */
  Cin: Float64Array;
  /** r_in × d */
  Cinp: Float64Array;
  rin: number;
  /** d_out × r_out (null = identity) */
  Cout: Float64Array | null;
  rout: number;
  formula: 'squared' | 'functional';
  alphas: number[];
  weights: number[];
  nSources: number | null;
  seed: number;
  shard: number;
  /** take the section's structure (default true); false forces the generic VJP path */
  closedForm?: boolean;
}

/** Per-shard state an ablation evaluator may keep between ablations of the same samples. */
export type AblationCache = Map<string, unknown>;

export interface Structure {
  readonly name: 'linear' | 'mlp' | 'attention' | 'positionwise' | 'generic';
  /** Fixed shard sizes in samples (never dependent on the worker count). */
  readonly shards: { mprime: number; edges: number };
  /**
   * M′ (normalised, [d × d]) without a data pass, when the structure has one (linear sections,
   * deterministic jacobian); null otherwise.
   */
  mprimeWithoutData(sec: Section, Cout: Float64Array | null, r: number, weights: readonly number[]): Float64Array | null;
  /** Partial sums of M′ over samples [p.start, p.end). */
  mprimeShard(sec: Section, p: MprimeShardPayload): MprimeShardResult;
  /** Unnormalised M′ [d × d] from the ordered sum of every shard's `M`. */
  mprimeAssemble(sec: Section, acc: Float64Array, Cout: Float64Array | null, r: number): Float64Array;
  /** Unnormalised edges [r_out × r_in] over samples [p.start, p.end). */
  edgesShard(sec: Section, p: EdgesShardPayload): Float64Array;
  /**
   * The section's output [B, outPos, outDim] for inputs x [B, inPos, inDim] with the edges outside
   * `mask` [r_out × r_in] ablated (spec §8.4). `cache` lives as long as the samples x.
   */
  edgeAblated(sec: Section, x: Float64Array, B: number, eb: EdgeBasis, mask: Uint8Array, cache: AblationCache): Float64Array;
  /** The section's output for the node-ablated inputs x·T (T [inDim × inDim], spec §8.3). */
  nodeAblated(sec: Section, x: Float64Array, B: number, T: Float64Array, cache: AblationCache): Float64Array;
}

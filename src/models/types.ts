/**
 * Contracts between the model runtime (src/models), the LIB build (src/rib) and the analysis
 * code (src/analysis). All arrays are row-major float64 with the shape in the comment.
 * B = batch (samples), P = positions, d = node-layer width (after bias folding).
 */
import type { Module } from './modules.js';

/** A batch of model inputs. Token models get ids [B, seqLen]; vector models get floats [B, width]. */
export type Inputs =
  | { kind: 'tokens'; data: Int32Array; batch: number; seqLen: number }
  | { kind: 'floats'; data: Float64Array; batch: number; width: number };

/** Width and number of positions of one node layer (spec §1). */
export interface NodeLayerInfo {
  /** rib module id, e.g. 'ln1.0', 'layers.1', 'output'. */
  name: string;
  /** Concatenated, bias-folded width d_l. */
  dim: number;
  /** Number of positions P_l (1 for MLPs). */
  positions: number;
}

/**
 * Closed-form structure of a section, when it has one (lets the build avoid per-output VJPs).
 * Decided once from the section's modules by `detectStructure` (src/models/structure.ts).
 */
export type SectionStructure =
  /** y = x·W per position; W [inDim, outDim]. lastPos: only the last input position reaches the (single) output position. */
  | { type: 'linear'; W: Float64Array; lastPos?: boolean }
  /**
   * y = act(x·Win)·Wout + skip(x) per position. Win [inDim, hidden], Wout [hidden, outDim];
   * skip: x itself when `residual`, x·skip when `skip` [inDim, outDim] is given, else none.
   */
  | {
      type: 'mlp';
      Win: Float64Array;
      Wout: Float64Array;
      hidden: number;
      act: ActivationName;
      residual: boolean;
      skip?: Float64Array;
    }
  /**
   * y_t = Σ_h softmax_{s≤t}(q_h[t]·k_h[s]·scale) v_h[s]·Wo_h + x_t·R (R = I when `residual` is null),
   * q = x·Wq, k = x·Wk [dIn, H·dh], v = x·Wv [dIn, H·dv]; Wo [H·dv, dOut]; only t = P−1 when lastPos.
   * The modules before `attnIndex` (the AttnOut) are linear; the cache of a forward through them
   * (q, k, v, pattern) is read from that AttnOut.
   */
  | {
      type: 'attention';
      Wq: Float64Array;
      Wk: Float64Array;
      Wv: Float64Array;
      Wo: Float64Array;
      residual: Float64Array | null;
      H: number;
      dh: number;
      dv: number;
      dIn: number;
      dOut: number;
      scale: number;
      /** keys of query i: i − window < j ≤ i (Infinity: all j ≤ i) */
      window: number;
      lastPos: boolean;
      attnIndex: number;
    }
  /** Every module acts on each position separately (e.g. LayerNorm), no closed form. */
  | { type: 'positionwise' };

export type ActivationName = 'relu' | 'gelu' | 'gelu_new' | 'identity' | 'tanh' | 'sigmoid';

/**
 * A graph section F^l: node layer l → node layer l+1 (or → logits for the last one).
 * It never mixes samples.
 */
export interface Section {
  readonly name: string; // 'section_0', ...
  readonly inLayer: string;
  readonly outLayer: string; // next node layer id, or 'output'
  readonly inPos: number;
  readonly inDim: number;
  readonly outPos: number;
  readonly outDim: number;
  /** y [B, outPos, outDim] = F(x [B, inPos, inDim]). */
  forward(x: Float64Array, batch: number): Float64Array;
  /**
   * Batched VJP at input x [B, inPos, inDim] for K cotangents per sample.
   * cot [K, B, outPos, outDim] → returns [K, B, inPos, inDim] (cotangent of the input).
   * Implementations run the forward once and reuse it for all K cotangents.
   */
  vjp(x: Float64Array, batch: number, cot: Float64Array, K: number): Float64Array;
  /**
   * The forward at x once, kept: the returned function maps any number of cotangent batches
   * cot [K, B, outPos, outDim] → [K, B, inPos, inDim], each exactly as `vjp(x, batch, cot, K)`.
   */
  vjpAt(x: Float64Array, batch: number): (cot: Float64Array, K: number) => Float64Array;
  /** The modules the section runs, in order (their forward and backward are the section's). */
  readonly modules: readonly Module[];
  /** Widths of the input tuple's parts (their sum is inDim) and of the output tuple's parts. */
  readonly inWidths: readonly number[];
  readonly outWidths: readonly number[];
  /** The section's closed-form structure, if any (src/models/structure.ts; undefined = generic). */
  readonly structure: SectionStructure | undefined;
}

/** A model cut at a list of node layers (spec §1.1). */
export interface SectionedModel {
  readonly nodeLayers: NodeLayerInfo[];
  /** Runs section `pre`: inputs → activations at node layer 0, [B, P_0, d_0]. */
  pre(inputs: Inputs): Float64Array;
  /**
   * One section per non-output node layer: sections[l] maps node layer l to l+1, and the last
   * one maps the last non-output node layer to the logits (whether or not 'output' is a node layer).
   */
  readonly sections: Section[];
  /** Logits [B, P_out, vocab/out] for inputs (pre + all sections). */
  logits(inputs: Inputs): Float64Array;
}

/** Options of Model.sectioned. */
export interface SectionOptions {
  /** Keep only the last position at every add_resid1 ('add_resid1') or at the unembed ('unembed') (spec §1.3.4). */
  lastPosModuleType?: 'add_resid1' | 'unembed' | null;
  /** Transformer sequence length (default n_ctx). */
  seqLen?: number;
}

/** A loaded model (weights kept unfolded; folding happens when it is sectioned). */
export interface Model {
  readonly kind: 'mlp' | 'transformer';
  /** Normalised config (rib MLP config, or transformer-lens config fields). */
  readonly config: Record<string, unknown>;
  /** Original (unfolded) weights as float64, keyed by checkpoint name, with their shapes. */
  readonly tensors: Map<string, Float64Array>;
  readonly shapes: Map<string, number[]>;
  /** Every module id in model order (spec §1.1/§1.3.1). */
  readonly moduleIds: string[];
  /**
   * Transformers: the folded weights (computed once, flat record). With `place`, they are first
   * moved through it (e.g. into shared memory), and every later `sectioned` uses the placed arrays.
   */
  folded?(place?: (a: Float64Array) => Float64Array): Record<string, Float64Array>;
  /** Folds biases (and LN weights) and cuts the model at `nodeLayers` (spec §1.1, §2). */
  sectioned(nodeLayers: string[], opts?: SectionOptions): SectionedModel;
  /**
   * Logits [B, P, out] computed directly from the unfolded checkpoint weights (an independent,
   * plain implementation: biases, learned LN weights), P = seqLen (transformer) or 1 (MLP).
   */
  forwardUnfolded(inputs: Inputs): Float64Array;
}

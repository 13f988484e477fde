import type { Inputs } from '../models/types.js';

/** A dataset held in memory: inputs for all N samples plus labels. */
export interface Dataset {
  readonly name: string;
  readonly n: number;
  /** All inputs (tokens [N, seqLen] or floats [N, width]). */
  readonly inputs: Inputs;
  /**
   * Class labels [N] (Int32Array) or float targets; [N, labelWidth] for per-position labels (LM
   * next tokens); null for unlabelled data (block_vector). The build never needs labels.
   */
  readonly labels: Int32Array | Float64Array | null;
  /** Labels per sample (1 when absent): T for language-model next-token labels [N, T]. */
  readonly labelWidth?: number;
}

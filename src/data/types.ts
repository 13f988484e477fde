import type { Inputs } from '../models/types.js';

/** A dataset held in memory: inputs for all N samples plus labels. */
export interface Dataset {
  readonly name: string;
  readonly n: number;
  /** All inputs (tokens [N, seqLen] or floats [N, width]). */
  readonly inputs: Inputs;
  /** Class labels [N] (Int32Array) or float targets; null for unlabelled data (block_vector). */
  readonly labels: Int32Array | Float64Array | null;
}

/**
 * The memory plan of a build under a budget (`--memory GB`, `memory_budget_gb`), browser-safe.
 *
 * Without a budget every stat layer's activations are stored ([N, P_l, d_l] f64, shared by the
 * workers) and read by the Gram, M′ and edge stages. Under a budget the build stores only every
 * k-th node layer of `dataset` (the smallest k whose layers fit) and recomputes the others, block
 * by block, from the nearest stored layer below (or from the inputs); the Grams then come from one
 * more forward pass that accumulates every layer block by block (`gramStreamPlan`), and a separate
 * `gram_dataset` is never stored. Blocks, shifts and kernels are the same in both modes, so a
 * budget changes the memory and the time, never the result.
 *
 * The estimate counts what grows with the problem: the model (held by the main thread and shared
 * with the workers, plus each worker's sectioned copy), the inputs, the stored activations, the
 * Gram accumulators and each worker's working set for one block. The process's measured peak
 * (`info.peak_rss_gb`, written by the CLI) is the check on it.
 */
import { UserError } from '../errors.js';

const GB = 1024 ** 3;
/** the Node runtime, the loaded code and the Wasm arenas: main thread and each worker */
const RUNTIME_MAIN = 200 * 1024 ** 2;
const RUNTIME_WORKER = 120 * 1024 ** 2;
/** share of the budget left to the activations after the other estimates (the rest is slack) */
const ACT_SHARE = 0.85;

export interface MemoryInputs {
  /** bytes; null = no budget (store everything) */
  budget: number | null;
  workers: number;
  /** f64 values of the model's tensors */
  modelValues: number;
  /** bytes of the datasets' inputs */
  inputBytes: number;
  /** [P_l, d_l] of the stat layers of `dataset` (null: no dataset pass) */
  dims: Array<[number, number]> | null;
  samples: number;
  /** the same for `gram_dataset` when it is another dataset (null: the Grams come from `dataset`) */
  gramDims: Array<[number, number]> | null;
  gramSamples: number;
  /** samples of one forward block, and the widest intermediate of one position (max width × modules) */
  blockRows: number;
  /** attention cells of one block (samples × heads × P²; 0 without attention) */
  blockCells: number;
}

export interface MemoryPlan {
  budget: number | null;
  /** which stat layers of `dataset` are stored */
  keep: boolean[];
  /** `gram_dataset` (when separate) stored: only without a budget */
  keepGram: boolean;
  /** every k-th node layer is stored (1 = all; 0 = none) */
  every: number;
  /** the estimated peak, bytes */
  estimate: number;
}

const actBytes = (dims: Array<[number, number]>, N: number, keep: (l: number) => boolean): number =>
  dims.reduce((s, [P, d], l) => s + (keep(l) ? N * P * d * 8 : 0), 0);

/** Decides which activations a build stores (see the file comment). */
export function planMemory(m: MemoryInputs): MemoryPlan {
  const nL = m.dims?.length ?? 0;
  const gramVals = (m.gramDims ?? m.dims ?? []).reduce((s, [, d]) => s + d * d, 0);
  const fixed =
    RUNTIME_MAIN +
    m.workers * RUNTIME_WORKER +
    m.modelValues * 8 * (2 + m.workers) +
    m.inputBytes +
    gramVals * 8 * (m.workers + 3) +
    m.workers * 8 * (m.blockRows * 16 + m.blockCells * 4);
  const all = (m.dims ? actBytes(m.dims, m.samples, () => true) : 0) + (m.gramDims ? actBytes(m.gramDims, m.gramSamples, () => true) : 0);
  if (m.budget === null) return { budget: null, keep: new Array(nL).fill(true), keepGram: true, every: 1, estimate: fixed + all };
  if (!(m.budget > 0)) throw new UserError(`memory budget: must be a positive number of GB, got ${m.budget / GB}`);
  if (fixed > m.budget) {
    throw new UserError(
      `memory budget ${fmt(m.budget)} GB is below this build's estimated minimum of ${fmt(fixed)} GB (model, inputs, Gram accumulators and ${m.workers} worker(s)); raise --memory / memory_budget_gb or use fewer workers`,
    );
  }
  const room = (m.budget - fixed) * ACT_SHARE;
  if (all <= room) return { budget: m.budget, keep: new Array(nL).fill(true), keepGram: true, every: 1, estimate: fixed + all };
  for (let k = 1; k <= nL; k++) {
    const bytes = actBytes(m.dims!, m.samples, (l) => l % k === 0);
    if (bytes <= room) return { budget: m.budget, keep: Array.from({ length: nL }, (_, l) => l % k === 0), keepGram: false, every: k, estimate: fixed + bytes };
  }
  return { budget: m.budget, keep: new Array(nL).fill(false), keepGram: false, every: 0, estimate: fixed };
}

const fmt = (b: number): string => (b / GB).toFixed(2);

/** GB → bytes (the config key and the CLI flag are in GB). */
export const gbToBytes = (gb: number): number => gb * GB;

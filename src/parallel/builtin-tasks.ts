/**
 * Built-in tasks of the pool (registered on import; src/tasks.ts imports this module).
 * - `gram`: partial Gram XᵀX of one row shard of a (SharedArrayBuffer-backed) matrix X [n×d].
 * - `sum`: plain left-to-right sum of a range of a Float64Array (no Wasm; pool self-tests).
 * - `ping`: echoes its payload (pool round trip).
 * - `__fail`: throws (`UserError` when payload.user is true) — used to test error propagation.
 * - `__stats`: this thread's task count, context-cache size and heap use (leak checks).
 */
import { syrk } from '../linalg/index.js';
import { UserError } from '../errors.js';
import { registerTask } from './registry.js';
import { contextCacheSize, withContext } from './context.js';
import { moveResult } from './envelope.js';

export interface GramShardPayload {
  /** X [n×d] row-major, preferably SharedArrayBuffer-backed (see toShared) so it is not copied. */
  X: Float64Array | Float32Array;
  n: number;
  d: number;
  /** Row range [start, end) of this shard. */
  start: number;
  end: number;
}

let tasksRun = 0;

/** G_shard [d×d] = X[start:end]ᵀ X[start:end] (f64 accumulation; a new array). */
export function gramShard(p: GramShardPayload): Float64Array {
  tasksRun++;
  const { X, n, d, start, end } = p;
  if (!Number.isSafeInteger(n) || !Number.isSafeInteger(d) || n < 0 || d < 1) {
    throw new RangeError(`gram: bad shape n=${n}, d=${d}`);
  }
  if (X.length !== n * d) throw new RangeError(`gram: X has length ${X.length}, expected n·d = ${n * d}`);
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end > n || start > end) {
    throw new RangeError(`gram: bad row range [${start}, ${end}) for n=${n}`);
  }
  const G = new Float64Array(d * d);
  if (end === start) return G;
  return moveResult(syrk(X.subarray(start * d, end * d), end - start, d, G));
}
registerTask('gram', gramShard);

export interface SumPayload {
  x: Float64Array;
  start: number;
  end: number;
}
registerTask('sum', (p: SumPayload): number => {
  tasksRun++;
  let s = 0;
  for (let i = p.start; i < p.end; i++) s += p.x[i]!;
  return s;
});

registerTask('ping', <T>(p: T): T => {
  tasksRun++;
  return p;
});

registerTask('__fail', (p: { message?: string; user?: boolean; ctxId?: string }): never => {
  tasksRun++;
  const msg = p?.message ?? 'deliberate failure';
  throw p?.user ? new UserError(msg) : new Error(msg);
});

/** Touch a context (to exercise the per-thread cache) and report this thread's counters. */
registerTask('__stats', (p: { ctxId?: string } | undefined) => {
  if (p?.ctxId) withContext(p.ctxId, () => new Float64Array(1024));
  type Mem = { heapUsed: number; external: number };
  const mem = (globalThis as { process?: { memoryUsage?: () => Mem } }).process?.memoryUsage?.();
  return { tasksRun, contexts: contextCacheSize(), heapUsed: mem?.heapUsed ?? -1, external: mem?.external ?? -1 };
});

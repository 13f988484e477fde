/**
 * Parallel Gram matrix G = XᵀX over fixed row shards (pure; works on any TaskPool).
 * Shards come from `shardRanges(n, shardRows)` and are summed left to right, so G is
 * bit-identical for any worker count (and for InlinePool) at a given `shardRows`.
 */
import type { TaskPool } from './pool.js';
import { mapReduceShards, toShared } from './pool.js';
import { addInto, defaultShardRows, shardRanges } from './shards.js';
import type { GramShardPayload } from './builtin-tasks.js';

export interface ParallelGramOptions {
  /** Rows per shard (default `defaultShardRows(d)`); must not depend on the worker count. */
  shardRows?: number;
  maxInFlight?: number;
}

/** G [d×d] = XᵀX for X [n×d] (f32 or f64, row-major), computed as a sum of shard Grams. */
export async function parallelGram(
  pool: TaskPool,
  X: Float64Array | Float32Array,
  n: number,
  d: number,
  opts: ParallelGramOptions = {},
): Promise<Float64Array> {
  if (X.length !== n * d) throw new RangeError(`parallelGram: X has length ${X.length}, expected n·d = ${n * d}`);
  if (n === 0) return new Float64Array(d * d);
  const Xs = toShared(X);
  const payloads: GramShardPayload[] = shardRanges(n, opts.shardRows ?? defaultShardRows(d)).map(
    ([start, end]) => ({ X: Xs, n, d, start, end }),
  );
  return mapReduceShards<GramShardPayload, Float64Array, Float64Array>(
    pool,
    'gram',
    payloads,
    (g) => g, // shard results are fresh arrays: accumulate into the first one
    (acc, g, i) => addInto(acc, g, `gram shard ${i}`),
    { maxInFlight: opts.maxInFlight },
  );
}

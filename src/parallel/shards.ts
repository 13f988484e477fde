/**
 * Fixed shard boundaries and fixed-order reductions (pure: no Node or DOM APIs).
 *
 * Why results are bit-identical for any worker count:
 * 1. The work is cut by `shardRanges(n, shardSize)`, a function of the problem size and a shard
 *    size only — never of the number of workers. Each shard is computed by one task, with the same
 *    (single-threaded, deterministic) Wasm kernels, whichever worker runs it.
 * 2. Partial results are combined with `reduceSum` / `reduceRecords` (or the streaming
 *    `OrderedFold`) strictly left to right in shard order: ((p0 + p1) + p2) + … . Floating-point
 *    addition is not associative, but a fixed order gives fixed bits.
 * 3. Randomness inside a task is drawn from a stream derived from (seed, shard index), never from
 *    the worker (see src/rng.ts).
 * So 1, 2, 4 workers or the in-thread pool all perform the same floating-point operations in the
 * same order. Changing `shardSize` changes the summation tree, hence possibly the last bits.
 */

/** Half-open row ranges [start, end) of at most `shardSize` rows covering [0, n) in order. */
export function shardRanges(n: number, shardSize: number): Array<[number, number]> {
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new RangeError(`shardRanges: n must be a non-negative integer, got ${n}`);
  }
  if (!Number.isSafeInteger(shardSize) || shardSize < 1) {
    throw new RangeError(`shardRanges: shardSize must be a positive integer, got ${shardSize}`);
  }
  const out: Array<[number, number]> = [];
  for (let s = 0; s < n; s += shardSize) out.push([s, Math.min(n, s + shardSize)]);
  return out;
}

/**
 * A default row-shard size for matrices with `cols` columns: about `targetBytes` of f64 per shard
 * (default 8 MiB), clamped to [minRows, maxRows]. Depends on the column count only, so it is
 * worker-count independent.
 */
export function defaultShardRows(
  cols: number,
  opts: { targetBytes?: number; minRows?: number; maxRows?: number } = {},
): number {
  if (!Number.isSafeInteger(cols) || cols < 1) {
    throw new RangeError(`defaultShardRows: cols must be a positive integer, got ${cols}`);
  }
  const targetBytes = opts.targetBytes ?? 8 * 1024 * 1024;
  const minRows = opts.minRows ?? 256;
  const maxRows = opts.maxRows ?? 16384;
  return Math.max(minRows, Math.min(maxRows, Math.floor(targetBytes / (8 * cols))));
}

/** Element-wise sum of equally long arrays, left to right: out = ((p0 + p1) + p2) + … (new array). */
export function reduceSum(parts: Float64Array[]): Float64Array {
  if (parts.length === 0) throw new RangeError('reduceSum: no parts to reduce');
  const out = new Float64Array(parts[0]!);
  for (let i = 1; i < parts.length; i++) addInto(out, parts[i]!, `reduceSum: part ${i}`);
  return out;
}

/** acc += part (element-wise, in place); throws if the lengths differ. */
export function addInto(acc: Float64Array, part: Float64Array, what = 'addInto'): Float64Array {
  if (part.length !== acc.length) {
    throw new RangeError(`${what} has length ${part.length}, expected ${acc.length}`);
  }
  const n = acc.length;
  for (let j = 0; j < n; j++) acc[j] += part[j]!;
  return acc;
}

export type F64Record = Record<string, Float64Array>;

/**
 * Field-by-field left-to-right sum of records of Float64Arrays (e.g. {gram, mean} per shard).
 * Every record must have the same field names and lengths. Returns new arrays.
 */
export function reduceRecords<T extends F64Record>(parts: T[]): T {
  if (parts.length === 0) throw new RangeError('reduceRecords: no parts to reduce');
  const fold = new OrderedFold<T>(copyRecord, addRecordInto);
  parts.forEach((p, i) => fold.push(i, p));
  return fold.result(parts.length);
}

function copyRecord<T extends F64Record>(r: T): T {
  const out: F64Record = {};
  for (const k of Object.keys(r)) out[k] = new Float64Array(r[k]!);
  return out as T;
}

/** acc[k] += part[k] for every field k (same keys and lengths required). */
export function addRecordInto<T extends F64Record>(acc: T, part: T, index = -1): T {
  const keys = Object.keys(acc);
  const pk = Object.keys(part);
  if (pk.length !== keys.length || !keys.every((k) => k in part)) {
    throw new RangeError(
      `reduceRecords: part ${index} has fields [${pk.join(', ')}], expected [${keys.join(', ')}]`,
    );
  }
  for (const k of keys) addInto(acc[k]!, part[k]!, `reduceRecords: part ${index} field "${k}"`);
  return acc;
}

/**
 * Streaming left-to-right fold over results that arrive out of order: `push(i, part)` buffers
 * part i until all parts < i have been folded, so the result is the same as folding the full list
 * in order, while holding only the out-of-order window in memory.
 */
export class OrderedFold<T, A = T> {
  private acc: A | undefined;
  private next = 0;
  private readonly pending = new Map<number, T>();

  /** `first` makes the accumulator from part 0 (copy it if the part must stay untouched). */
  constructor(
    private readonly first: (part: T) => A,
    private readonly add: (acc: A, part: T, index: number) => A,
  ) {}

  push(index: number, part: T): void {
    if (!Number.isSafeInteger(index) || index < this.next || this.pending.has(index)) {
      throw new RangeError(`OrderedFold: part ${index} pushed twice or out of range`);
    }
    this.pending.set(index, part);
    while (this.pending.has(this.next)) {
      const p = this.pending.get(this.next)!;
      this.pending.delete(this.next);
      this.acc = this.next === 0 ? this.first(p) : this.add(this.acc as A, p, this.next);
      this.next++;
    }
  }

  /** Number of parts buffered while waiting for an earlier one. */
  get buffered(): number {
    return this.pending.size;
  }

  /** The folded value once all `count` parts have been pushed. */
  result(count: number): A {
    if (count < 1) throw new RangeError('OrderedFold: no parts to reduce');
    if (this.next !== count) {
      throw new RangeError(`OrderedFold: ${this.next} of ${count} parts folded (missing part ${this.next})`);
    }
    return this.acc as A;
  }
}

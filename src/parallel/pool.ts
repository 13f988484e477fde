/**
 * The pool interface and the pure parts of the pool (no Node APIs): `InlinePool` runs tasks in
 * the current thread (browsers without workers, tests); `mapShards` / `mapReduceShards` run one
 * task per shard on any `TaskPool` and give results in shard order; `toShared` places large
 * read-only arrays in SharedArrayBuffer so tasks carry them without copying.
 * Node pool: workers/pool.nodejs.ts (`createNodePool`); browser pool: workers/browser.ts.
 */
import { runTask } from './registry.js';
import { serializeError, taskError } from './envelope.js';
import { OrderedFold } from './shards.js';

export interface TaskPool {
  /** Number of threads that run tasks concurrently (1 for InlinePool). */
  readonly size: number;
  /** Run the registered task `task` on `payload`; `transfer` lists buffers to move (not copy). */
  run<R>(task: string, payload: unknown, transfer?: Transferable[]): Promise<R>;
  /** Stop the threads; later `run` calls reject. Idempotent. */
  destroy(): Promise<void>;
}

/** Runs tasks in the current thread, through the same registry and error format as the workers. */
export class InlinePool implements TaskPool {
  readonly size = 1;
  private destroyed = false;

  async run<R>(task: string, payload: unknown, _transfer?: Transferable[]): Promise<R> {
    if (this.destroyed) throw new Error(`task "${task}" not run: the pool has been destroyed`);
    try {
      return (await runTask(task, payload)) as R;
    } catch (e) {
      throw taskError(task, serializeError(e));
    }
  }

  async destroy(): Promise<void> {
    this.destroyed = true;
  }
}

export interface MapOptions {
  /** Most tasks submitted at once (default 2·pool.size + 2); bounds memory for many shards. */
  maxInFlight?: number;
  /** Per-payload transfer list (buffers moved to the worker; they become unusable here). */
  transfer?: (payload: unknown, index: number) => Transferable[] | undefined;
}

/**
 * Run `task` once per payload and return the results in payload order (independent of which
 * worker finished first). At most `maxInFlight` tasks are queued at a time. On the first failure
 * the remaining payloads are not submitted and the error is thrown.
 */
export async function mapShards<P, R>(
  pool: TaskPool,
  task: string,
  payloads: P[],
  opts: MapOptions = {},
): Promise<R[]> {
  const out = new Array<R>(payloads.length);
  await forEachResult<P, R>(pool, task, payloads, opts, (i, r) => {
    out[i] = r;
  });
  return out;
}

/**
 * Run `task` once per payload and fold the results left to right in payload order while they
 * arrive: result = add(…add(first(r0), r1)…, r_{k-1}). Bit-identical to folding `mapShards`'s
 * array in order, but holds only the out-of-order window of results in memory.
 */
export async function mapReduceShards<P, R, A>(
  pool: TaskPool,
  task: string,
  payloads: P[],
  first: (r: R) => A,
  add: (acc: A, r: R, index: number) => A,
  opts: MapOptions = {},
): Promise<A> {
  if (payloads.length === 0) throw new RangeError(`mapReduceShards: no payloads for task "${task}"`);
  const fold = new OrderedFold<R, A>(first, add);
  await forEachResult<P, R>(pool, task, payloads, opts, (i, r) => fold.push(i, r));
  return fold.result(payloads.length);
}

async function forEachResult<P, R>(
  pool: TaskPool,
  task: string,
  payloads: P[],
  opts: MapOptions,
  onResult: (index: number, r: R) => void,
): Promise<void> {
  const maxInFlight = opts.maxInFlight ?? 2 * pool.size + 2;
  if (!Number.isSafeInteger(maxInFlight) || maxInFlight < 1) {
    throw new RangeError(`mapShards: maxInFlight must be a positive integer, got ${maxInFlight}`);
  }
  let next = 0;
  let failed: unknown = null;
  const lane = async (): Promise<void> => {
    while (failed === null && next < payloads.length) {
      const i = next++;
      const p = payloads[i]!;
      try {
        onResult(i, await pool.run<R>(task, p, opts.transfer?.(p, i)));
      } catch (e) {
        if (failed === null) failed = e;
      }
    }
  };
  const lanes: Promise<void>[] = [];
  for (let k = 0; k < Math.min(maxInFlight, payloads.length); k++) lanes.push(lane());
  await Promise.all(lanes);
  if (failed !== null) throw failed;
}

type SharableArray = Float64Array | Float32Array | Int32Array | Uint32Array | Uint8Array | Uint16Array | Int16Array | Int8Array;

/** True when `SharedArrayBuffer` can be used (Node; browsers only when cross-origin isolated). */
export function sharedMemoryAvailable(): boolean {
  return typeof SharedArrayBuffer === 'function' && (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated !== false;
}

/**
 * A SharedArrayBuffer-backed copy of `arr` (or `arr` itself if it already is one), so that passing
 * it to tasks shares memory instead of copying it. Treat it as read-only while tasks run. Where
 * SharedArrayBuffer is unavailable (non-isolated browser pages) `arr` is returned unchanged and
 * each task receives a structured-clone copy.
 */
export function toShared<T extends SharableArray>(arr: T): T {
  if (!sharedMemoryAvailable() || arr.buffer instanceof SharedArrayBuffer) return arr;
  const Ctor = arr.constructor as new (b: SharedArrayBuffer) => T;
  const sab = new SharedArrayBuffer(arr.byteLength);
  const out = new Ctor(sab);
  out.set(arr as never);
  return out;
}

/** True if the array's memory is a SharedArrayBuffer. */
export function isShared(arr: ArrayBufferView): boolean {
  return typeof SharedArrayBuffer === 'function' && arr.buffer instanceof SharedArrayBuffer;
}

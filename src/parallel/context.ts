/**
 * Per-thread cache of derived objects keyed by a context id (pure).
 *
 * Tasks receive their large read-only inputs as SharedArrayBuffer-backed typed arrays with every
 * call (no copy: only the SAB handle crosses the thread boundary). Objects derived from them (a
 * model built from shared weights, a packed matrix, ...) are built once per thread with
 * `withContext(ctxId, build)` and reused by later tasks carrying the same id. The cache is a small
 * LRU, so a long run over many contexts cannot grow without bound.
 */

const cache = new Map<string, unknown>();
let capacity = 8;

/** The cached object for `ctxId`, building it with `build()` on a miss. */
export function withContext<T>(ctxId: string, build: () => T): T {
  if (typeof ctxId !== 'string' || ctxId.length === 0) {
    throw new TypeError('withContext: ctxId must be a non-empty string');
  }
  if (cache.has(ctxId)) {
    const v = cache.get(ctxId) as T;
    cache.delete(ctxId); // move to most-recently-used position
    cache.set(ctxId, v);
    return v;
  }
  const v = build();
  cache.set(ctxId, v);
  while (cache.size > capacity) cache.delete(cache.keys().next().value as string);
  return v;
}

export function dropContext(ctxId: string): boolean {
  return cache.delete(ctxId);
}

export function clearContexts(): void {
  cache.clear();
}

export function contextCacheSize(): number {
  return cache.size;
}

/** Set the LRU capacity (default 8 contexts per thread). */
export function setContextCapacity(n: number): void {
  if (!Number.isSafeInteger(n) || n < 1) throw new RangeError(`setContextCapacity: bad capacity ${n}`);
  capacity = n;
  while (cache.size > capacity) cache.delete(cache.keys().next().value as string);
}

let ctxCounter = 0;
/** A fresh context id, unique within this thread (prefix it with something meaningful). */
export function newContextId(prefix = 'ctx'): string {
  ctxCounter++;
  return `${prefix}:${ctxCounter}:${Math.floor(Math.random() * 0x7fffffff).toString(36)}`;
}

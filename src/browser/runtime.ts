/**
 * The browser runtime: the Wasm kernels (compiled once, instantiated on the page and in every
 * worker), the comlink worker pool, and AbortSignal handling.
 */
import { initKernels } from '../linalg/index.js';
import '../tasks.js';
import { InlinePool, sharedMemoryAvailable, type TaskPool } from '../parallel/pool.js';
import { compileKernels, createBrowserPool } from '../../workers/browser.js';

export interface PoolOptions {
  /** A pool to run on (kept open); by default a fresh one is started and stopped per call. */
  pool?: TaskPool;
  /** Worker count of a fresh pool (default navigator.hardwareConcurrency; 0 = the page's thread). */
  workers?: number;
  /** The kernels: URL of kernels.wasm, its bytes or a compiled module (default: beside the package). */
  wasm?: WebAssembly.Module | BufferSource | URL | string;
}

/** Default location of build/kernels.wasm (the same relative path from src/browser and dist/src/browser). */
export const DEFAULT_WASM_URL = new URL('../../build/kernels.wasm', import.meta.url);

let modulePromise: Promise<WebAssembly.Module> | null = null;

/** Compiles the kernels once per page and initialises them on the page's thread. */
export async function loadKernels(wasm: PoolOptions['wasm'] = DEFAULT_WASM_URL): Promise<WebAssembly.Module> {
  const compile = (): Promise<WebAssembly.Module> => compileKernels(wasm);
  const isDefault = wasm === DEFAULT_WASM_URL;
  const p = isDefault ? (modulePromise ??= compile()) : compile();
  p.catch(() => {
    if (isDefault) modulePromise = null;
  });
  const mod = await p;
  await initKernels(mod);
  return mod;
}

export function abortError(signal: AbortSignal): Error {
  const r = signal.reason;
  if (r instanceof Error) return r;
  return new DOMException(typeof r === 'string' ? r : 'the build was cancelled', 'AbortError');
}

/** The promise, or a rejection as soon as the signal aborts. */
export function abortable<T>(p: Promise<T>, signal?: AbortSignal): Promise<T> {
  if (!signal) return p;
  if (signal.aborted) return Promise.reject(abortError(signal));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(abortError(signal));
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

/** A view of a pool that refuses new tasks once the signal aborts. */
function stopOnAbort(pool: TaskPool, signal?: AbortSignal): TaskPool {
  if (!signal) return pool;
  return {
    size: pool.size,
    run: <R>(task: string, payload: unknown, transfer?: Transferable[]) =>
      signal.aborted ? Promise.reject(abortError(signal)) : pool.run<R>(task, payload, transfer),
    destroy: () => pool.destroy(),
  };
}

/**
 * Tasks that write their results into output arrays passed in the payload (shared memory) rather
 * than returning them: `rib.forward` fills the activation buffers and the attention cache. On a
 * page that is not cross-origin isolated a worker would write into a copy, so these run in the
 * page's thread there; every other task runs on the workers with copied inputs.
 */
export const TASKS_WRITING_OUTPUTS: ReadonlySet<string> = new Set(['rib.forward']);

/** A pool for pages without SharedArrayBuffer: output-writing tasks inline, the rest on the workers. */
function copyModePool(pool: TaskPool): TaskPool {
  const inline = new InlinePool();
  return {
    size: pool.size,
    run: <R>(task: string, payload: unknown, transfer?: Transferable[]) =>
      TASKS_WRITING_OUTPUTS.has(task) ? inline.run<R>(task, payload) : pool.run<R>(task, payload, transfer),
    destroy: () => pool.destroy(),
  };
}

/** The pool for one call: the caller's, or a fresh one whose workers stop on release or abort. */
export async function acquirePool(o: PoolOptions, signal?: AbortSignal): Promise<{ pool: TaskPool; release: () => Promise<void>; shared: boolean }> {
  const mod = await abortable(loadKernels(o.wasm), signal);
  const shared = sharedMemoryAvailable();
  const wrap = (p: TaskPool) => (shared || p instanceof InlinePool ? p : copyModePool(p));
  if (o.pool) return { pool: stopOnAbort(wrap(o.pool), signal), release: async () => undefined, shared };
  const canWork = typeof Worker === 'function';
  const pool = o.workers === 0 || !canWork ? new InlinePool() : await createBrowserPool({ wasm: mod, workers: o.workers });
  // terminate the workers at once on abort: in-flight tasks stop, the call rejects
  const onAbort = () => void pool.destroy();
  signal?.addEventListener('abort', onAbort, { once: true });
  return {
    pool: stopOnAbort(wrap(pool), signal),
    shared,
    release: async () => {
      signal?.removeEventListener('abort', onAbort);
      await pool.destroy();
    },
  };
}

/** A worker pool for repeated calls (builds, ablations): `await pool.destroy()` when done. */
export async function createPool(o: Omit<PoolOptions, 'pool'> = {}): Promise<TaskPool> {
  const mod = await loadKernels(o.wasm);
  if (o.workers === 0 || typeof Worker !== 'function') return new InlinePool();
  const pool = await createBrowserPool({ wasm: mod, workers: o.workers });
  return sharedMemoryAvailable() ? pool : copyModePool(pool);
}

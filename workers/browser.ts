/**
 * Browser TaskPool: module workers driven through comlink, each with its own Wasm instance, running
 * the same task registry, shard and reduce code as the Node pool. Usable with vite:
 *
 *   const pool = await createBrowserPool({ wasm: new URL('…/kernels.wasm', import.meta.url) });
 *   const G = await parallelGram(pool, X, n, d);
 *
 * SharedArrayBuffer (toShared) needs a cross-origin-isolated page (COOP/COEP headers); otherwise
 * arrays are structured-cloned into each task. Where Worker is missing, use InlinePool.
 */
import * as Comlink from 'comlink';
import type { TaskPool } from '../src/parallel/pool.js';
import { taskError, unwrapEnvelope, type Envelope } from '../src/parallel/envelope.js';
import type { BrowserWorkerApi } from './browser-worker.js';

export interface BrowserPoolOptions {
  /** The kernels: compiled module, bytes, or the URL of build/kernels.wasm. */
  wasm: WebAssembly.Module | BufferSource | URL | string;
  /** Worker count (default navigator.hardwareConcurrency, at least 1). */
  workers?: number;
  /** Make a worker (default: the module worker ./browser-worker.js beside this file). */
  createWorker?: () => Worker;
}

interface Slot {
  worker: Worker;
  api: Comlink.Remote<BrowserWorkerApi>;
}

interface Job {
  task: string;
  payload: unknown;
  transfer?: Transferable[];
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
}

/** The kernels' module from a Module, bytes or a URL (compiled once by the caller, shared by every worker). */
export async function compileKernels(wasm: BrowserPoolOptions['wasm']): Promise<WebAssembly.Module> {
  if (wasm instanceof WebAssembly.Module) return wasm;
  if (typeof wasm === 'string' || wasm instanceof URL) {
    const res = await fetch(wasm);
    if (!res.ok) throw new Error(`could not fetch the kernels from ${String(wasm)}: HTTP ${res.status}`);
    return WebAssembly.compile(await res.arrayBuffer());
  }
  return WebAssembly.compile(wasm);
}

export async function createBrowserPool(opts: BrowserPoolOptions): Promise<TaskPool> {
  const nav = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator;
  const workers = opts.workers ?? Math.max(1, nav?.hardwareConcurrency ?? 1);
  if (!Number.isSafeInteger(workers) || workers < 1) {
    throw new RangeError(`createBrowserPool: workers must be a positive integer, got ${opts.workers}`);
  }
  const module = await compileKernels(opts.wasm);
  const make =
    opts.createWorker ?? (() => new Worker(new URL('./browser-worker.js', import.meta.url), { type: 'module' }));
  const slots: Slot[] = [];
  try {
    for (let i = 0; i < workers; i++) {
      const worker = make();
      slots.push({ worker, api: Comlink.wrap<BrowserWorkerApi>(worker) });
    }
    await Promise.all(slots.map((s) => s.api.init(module)));
  } catch (e) {
    for (const s of slots) s.worker.terminate();
    throw new Error(`browser worker pool failed to start: ${(e as Error).message}`);
  }
  return new BrowserPool(slots);
}

class BrowserPool implements TaskPool {
  readonly size: number;
  private readonly idle: Slot[];
  private readonly queue: Job[] = [];
  private destroyed = false;

  constructor(private readonly slots: Slot[]) {
    this.size = slots.length;
    this.idle = [...slots];
  }

  run<R>(task: string, payload: unknown, transfer?: Transferable[]): Promise<R> {
    if (this.destroyed) return Promise.reject(new Error(`task "${task}" not run: the pool has been destroyed`));
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ task, payload, transfer, resolve: resolve as (v: unknown) => void, reject });
      this.pump();
    });
  }

  private pump(): void {
    while (this.idle.length > 0 && this.queue.length > 0) {
      const slot = this.idle.pop()!;
      const job = this.queue.shift()!;
      const msg = { task: job.task, payload: job.payload };
      slot.api
        .run(job.transfer && job.transfer.length > 0 ? Comlink.transfer(msg, job.transfer) : msg)
        .then(
          (env: Envelope) => {
            try {
              job.resolve(unwrapEnvelope(job.task, env));
            } catch (e) {
              job.reject(e);
            }
          },
          (e: unknown) => job.reject(taskError(job.task, e)),
        )
        .finally(() => {
          if (this.destroyed) return;
          this.idle.push(slot);
          this.pump();
        });
    }
  }

  async destroy(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    for (const job of this.queue.splice(0)) {
      job.reject(new Error(`task "${job.task}" not run: the pool has been destroyed`));
    }
    for (const s of this.slots) {
      s.api[Comlink.releaseProxy]();
      s.worker.terminate();
    }
  }
}

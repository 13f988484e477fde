/**
 * Node TaskPool backed by piscina: `workers` threads (min = max), each with its own Wasm instance,
 * running the compiled worker `dist/workers/worker.js`.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { Piscina } from 'piscina';
import type { TaskPool } from '../src/parallel/pool.js';
import { taskError, unwrapEnvelope, type Envelope } from '../src/parallel/envelope.js';

export interface NodePoolOptions {
  /** Worker threads (default: os.availableParallelism()). */
  workers?: number;
  /** Override the worker script (a compiled worker.js). */
  workerFile?: string | URL;
}

/**
 * The compiled worker script: beside this file when running from dist/, or
 * `<repo>/dist/workers/worker.js` when this file runs as TypeScript source (vitest, tsx).
 */
export function workerScriptPath(): string {
  const here = import.meta.url;
  const url = /\.[cm]?ts$/.test(new URL(here).pathname)
    ? new URL('../dist/workers/worker.js', here)
    : new URL('./worker.js', here);
  return fileURLToPath(url);
}

let warnedStale = false;

/**
 * When running from TypeScript sources (vitest), warn once if a source file under src/ or workers/
 * is newer than the compiled worker: the workers would run stale code (`npm run build:ts`).
 */
function warnIfStale(workerJs: string): void {
  if (warnedStale || !/\.[cm]?ts$/.test(new URL(import.meta.url).pathname)) return;
  const root = fileURLToPath(new URL('..', import.meta.url));
  const built = statSync(workerJs).mtimeMs;
  let newest = '';
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.ts') && statSync(p).mtimeMs > built) newest = p;
    }
  };
  try {
    walk(join(root, 'src'));
    walk(join(root, 'workers'));
  } catch {
    return;
  }
  if (newest) {
    warnedStale = true;
    console.warn(`interbasis pool: ${newest} is newer than ${workerJs}; workers run the old build (npm run build:ts)`);
  }
}

let ownThreadOpt = false;

/**
 * The pool keeps every core busy, so V8's background compiler threads find no free core: a hot
 * loop would run in unoptimised code until a worker yields, which on 2 cores made a cold build
 * ~10% slower. With --no-concurrent-recompilation each thread optimises its own hot functions at
 * once. A process-wide V8 flag that changes only speed, never results; it applies to isolates
 * created after it is set (the workers). INTERBASIS_V8_CONCURRENT_RECOMPILATION=1 keeps V8's default.
 */
function optimizeOnOwnThread(): void {
  if (ownThreadOpt || process.env.INTERBASIS_V8_CONCURRENT_RECOMPILATION === '1') return;
  ownThreadOpt = true;
  setFlagsFromString('--no-concurrent-recompilation');
}

export async function createNodePool(opts: NodePoolOptions = {}): Promise<TaskPool> {
  const workers = opts.workers ?? availableParallelism();
  if (!Number.isSafeInteger(workers) || workers < 1) {
    throw new RangeError(`createNodePool: workers must be a positive integer, got ${opts.workers}`);
  }
  const filename =
    opts.workerFile === undefined
      ? workerScriptPath()
      : opts.workerFile instanceof URL
        ? fileURLToPath(opts.workerFile)
        : opts.workerFile;
  if (!existsSync(filename)) {
    throw new Error(
      `worker script not found at ${filename}: run npm run build first ` +
        '(the worker pool runs the compiled dist/workers/worker.js)',
    );
  }
  warnIfStale(filename);
  optimizeOnOwnThread();
  const piscina = new Piscina({
    filename,
    minThreads: workers,
    maxThreads: workers,
    idleTimeout: Infinity,
    concurrentTasksPerWorker: 1,
  });
  // Wait until every worker has loaded its Wasm instance, so a broken build fails here, clearly,
  // and timings of the first tasks do not include start-up.
  await Promise.all(
    Array.from({ length: workers }, () => piscina.run({ task: 'ping', payload: null }).then(
      (env: Envelope) => unwrapEnvelope(`ping`, env),
    )),
  ).catch(async (e) => {
    await piscina.destroy().catch(() => {});
    throw new Error(`worker pool failed to start: ${(e as Error).message}`);
  });
  return new NodePool(piscina, workers);
}

class NodePool implements TaskPool {
  private destroyed = false;

  constructor(
    private readonly piscina: Piscina,
    readonly size: number,
  ) {}

  async run<R>(task: string, payload: unknown, transfer?: Transferable[]): Promise<R> {
    if (this.destroyed) throw new Error(`task "${task}" not run: the pool has been destroyed`);
    let env: Envelope;
    try {
      env = await this.piscina.run(
        { task, payload },
        transfer && transfer.length > 0 ? { transferList: transfer as never } : undefined,
      );
    } catch (e) {
      // the worker crashed or the pool was closed while the task was queued
      throw taskError(task, e);
    }
    return unwrapEnvelope<R>(task, env);
  }

  async destroy(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    await this.piscina.destroy();
  }
}

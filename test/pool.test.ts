// Worker pool (piscina): bit-identical results for 1, 2 and 4 workers and InlinePool, errors,
// destroy, bounded memory over many shards. Needs the compiled worker: run `npm run build:ts` first
// (`npm test` builds in its pretest step); without it createNodePool fails with "run npm run build".
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNodePool } from '../workers/pool.nodejs.js';
import { initKernels } from '../src/linalg/index.js';
import '../src/tasks.js';
import { InlinePool, mapShards, type TaskPool } from '../src/parallel/pool.js';
import { parallelGram } from '../src/parallel/gram.js';
import { reduceSum, shardRanges } from '../src/parallel/shards.js';
import { UserError } from '../src/errors.js';
import { Rng } from '../src/rng.js';
import { maxAbsRelErr } from './helpers/compare.js';

function bytes(a: Float64Array): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

function randomMatrix(n: number, d: number, seed: number): Float64Array {
  const rng = new Rng(seed);
  const X = new Float64Array(n * d);
  // wide dynamic range so that a different summation order would change the last bits
  for (let i = 0; i < X.length; i++) X[i] = (rng.uniform() - 0.5) * 10 ** Math.floor(rng.uniform() * 6 - 3);
  return X;
}

function naiveGram(X: Float64Array, n: number, d: number): Float64Array {
  const G = new Float64Array(d * d);
  for (let r = 0; r < n; r++) {
    for (let i = 0; i < d; i++) {
      const xi = X[r * d + i]!;
      for (let j = 0; j < d; j++) G[i * d + j] += xi * X[r * d + j]!;
    }
  }
  return G;
}

/** Wraps a real pool and records the payload row ranges it was asked to run. */
class RecordingPool implements TaskPool {
  ranges: Array<[number, number]> = [];
  constructor(private readonly inner: TaskPool) {}
  get size() {
    return this.inner.size;
  }
  run<R>(task: string, payload: unknown, transfer?: Transferable[]): Promise<R> {
    const p = payload as { start: number; end: number };
    this.ranges.push([p.start, p.end]);
    return this.inner.run<R>(task, payload, transfer);
  }
  destroy() {
    return this.inner.destroy();
  }
}

describe('node worker pool', () => {
  const n = 3001;
  const d = 67;
  const shardRows = 97; // 31 shards, last one partial
  let X: Float64Array;

  beforeAll(async () => {
    await initKernels();
    X = randomMatrix(n, d, 1234);
  });

  it('fails clearly when the compiled worker is missing', async () => {
    await expect(createNodePool({ workers: 1, workerFile: '/nonexistent/dist/workers/worker.js' })).rejects.toThrow(
      /worker script not found at .*run npm run build first/,
    );
  });

  it('Gram over many shards is bit-identical for InlinePool and 1, 2, 4 workers', async () => {
    const inline = new RecordingPool(new InlinePool());
    const ref = await parallelGram(inline, X, n, d, { shardRows });
    expect(inline.ranges).toEqual(shardRanges(n, shardRows));
    // sanity: it is the Gram matrix
    const G0 = naiveGram(X, n, d);
    expect(maxAbsRelErr(ref, G0)).toBeLessThan(1e-13);
    for (const workers of [1, 2, 4]) {
      const pool = new RecordingPool(await createNodePool({ workers }));
      try {
        expect(pool.size).toBe(workers);
        const G = await parallelGram(pool, X, n, d, { shardRows });
        expect(bytes(G).equals(bytes(ref)), `${workers} workers`).toBe(true);
        // the same shards whatever the worker count
        expect([...pool.ranges].sort((a, b) => a[0] - b[0])).toEqual(shardRanges(n, shardRows));
        // and per-shard partials reduced by reduceSum match the streaming fold
        const parts = await mapShards<object, Float64Array>(
          pool,
          'gram',
          shardRanges(n, shardRows).map(([start, end]) => ({ X, n, d, start, end })),
        );
        expect(bytes(reduceSum(parts)).equals(bytes(ref))).toBe(true);
      } finally {
        await pool.destroy();
      }
    }
  });

  describe('with 2 workers', () => {
    let pool: TaskPool;
    beforeAll(async () => {
      pool = await createNodePool({ workers: 2 });
    });
    afterAll(async () => {
      await pool.destroy();
    });

    it('task errors reach the caller with their message', async () => {
      await expect(pool.run('__fail', { message: 'boom at shard 3' })).rejects.toThrow(
        'task "__fail" failed: boom at shard 3',
      );
      const e = await pool.run('__fail', { message: 'config.yaml: missing key', user: true }).catch((x) => x);
      expect(e).toBeInstanceOf(UserError);
      expect(e.message).toBe('config.yaml: missing key');
      await expect(pool.run('gram', { X, n, d: d + 1, start: 0, end: 1 })).rejects.toThrow(
        /task "gram" failed: gram: X has length/,
      );
      // the pool still works afterwards
      expect(await pool.run('ping', { a: 1 })).toEqual({ a: 1 });
    });

    it('unknown task names give a clear error', async () => {
      await expect(pool.run('nope', {})).rejects.toThrow(/unknown task "nope".*registered: .*gram/);
    });

    it('many shards: bounded context cache and no memory growth in the workers', async () => {
      const stats = await mapShards<object, { contexts: number; tasksRun: number }>(
        pool,
        '__stats',
        Array.from({ length: 400 }, (_, i) => ({ ctxId: `leak-${i}` })),
      );
      for (const s of stats) expect(s.contexts).toBeLessThanOrEqual(8);
      const dd = 128;
      const Y = randomMatrix(64 * 100, dd, 7);
      const heap = async () => {
        const h = await mapShards<object, { heapUsed: number; external: number }>(pool, '__stats', [{}, {}, {}, {}]);
        return Math.max(...h.map((x) => x.heapUsed + x.external));
      };
      await parallelGram(pool, Y, 6400, dd, { shardRows: 64 }); // warm up
      const before = await heap();
      for (let k = 0; k < 3; k++) await parallelGram(pool, Y, 6400, dd, { shardRows: 16 }); // 1200 shards, 128 KiB each
      const after = await heap();
      expect(after - before).toBeLessThan(32 * 1024 * 1024);
    });
  });

  it('destroy works and later runs reject', async () => {
    const pool = await createNodePool({ workers: 2 });
    expect(await pool.run('sum', { x: new Float64Array([1, 2, 3]), start: 0, end: 3 })).toBe(6);
    await pool.destroy();
    await pool.destroy();
    await expect(pool.run('ping', 1)).rejects.toThrow(/destroyed/);
  });

  it('defaults to the available cores', async () => {
    const { availableParallelism } = await import('node:os');
    const pool = await createNodePool();
    try {
      expect(pool.size).toBe(availableParallelism());
    } finally {
      await pool.destroy();
    }
  });
});

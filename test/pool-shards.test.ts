// Pure parts of the pool: shard boundaries, fixed-order reductions, registry, InlinePool, mapShards.
import { describe, expect, it } from 'vitest';
import {
  OrderedFold,
  defaultShardRows,
  reduceRecords,
  reduceSum,
  shardRanges,
} from '../src/parallel/shards.js';
import { hasTask, registerTask, runTask } from '../src/parallel/registry.js';
import { InlinePool, mapReduceShards, mapShards, toShared, isShared, type TaskPool } from '../src/parallel/pool.js';
import { withContext, contextCacheSize, clearContexts } from '../src/parallel/context.js';
import { collectTransferables, moveResult } from '../src/parallel/envelope.js';
import { UserError } from '../src/errors.js';

registerTask('test:delay', async (p: { i: number; ms: number }) => {
  await new Promise((r) => setTimeout(r, p.ms));
  return p.i;
});
registerTask('test:vec', (p: { i: number; len: number }) => {
  const v = new Float64Array(p.len);
  for (let j = 0; j < p.len; j++) v[j] = Math.sqrt(p.i + 1) * 1e16 + (j % 7) * 0.1 + 1 / (p.i + 3);
  return v;
});
registerTask('test:throw', (p: { user: boolean }) => {
  throw p.user ? new UserError('bad input file x.json') : new TypeError('kaboom');
});

/** Wraps a real pool, counting concurrent tasks (to check bounded in-flight work). */
class CountingPool implements TaskPool {
  inFlight = 0;
  peak = 0;
  calls = 0;
  constructor(private readonly inner: TaskPool) {}
  get size() {
    return this.inner.size;
  }
  async run<R>(task: string, payload: unknown): Promise<R> {
    this.calls++;
    this.inFlight++;
    this.peak = Math.max(this.peak, this.inFlight);
    try {
      return await this.inner.run<R>(task, payload);
    } finally {
      this.inFlight--;
    }
  }
  destroy() {
    return this.inner.destroy();
  }
}

describe('shardRanges', () => {
  it('covers [0, n) exactly, in order, with at most shardSize rows', () => {
    for (const n of [0, 1, 2, 7, 64, 100, 1000, 20000]) {
      for (const s of n > 1000 ? [64, 97, 2048, 50000] : [1, 3, 64, 97, 2048]) {
        const r = shardRanges(n, s);
        let pos = 0;
        for (const [a, b] of r) {
          expect(a).toBe(pos);
          expect(b).toBeGreaterThan(a);
          expect(b - a).toBeLessThanOrEqual(s);
          pos = b;
        }
        expect(pos).toBe(n);
        expect(r.length).toBe(Math.ceil(n / s));
      }
    }
  });
  it('rejects bad sizes clearly', () => {
    expect(() => shardRanges(10, 0)).toThrow(/shardSize must be a positive integer/);
    expect(() => shardRanges(-1, 4)).toThrow(/n must be a non-negative integer/);
    expect(() => shardRanges(10, 2.5)).toThrow(/shardSize/);
  });
  it('default shard rows depend on the column count only', () => {
    expect(defaultShardRows(513)).toBe(2044);
    expect(defaultShardRows(1)).toBe(16384);
    expect(defaultShardRows(100000)).toBe(256);
  });
});

describe('fixed-order reductions', () => {
  it('reduceSum is the left-to-right fold (and order matters in floating point)', () => {
    const parts = [1e16, 1, -1e16, 1].map((v) => new Float64Array([v, v * 0.5]));
    const r = reduceSum(parts);
    expect(Array.from(r)).toEqual([((1e16 + 1) - 1e16) + 1, ((5e15 + 0.5) - 5e15) + 0.5]);
    const reversed = reduceSum([...parts].reverse());
    expect(r[0]).not.toBe(reversed[0]); // a different order gives different bits
    expect(parts[0]![0]).toBe(1e16); // inputs untouched
    expect(() => reduceSum([])).toThrow(/no parts/);
    expect(() => reduceSum([new Float64Array(2), new Float64Array(3)])).toThrow(/part 1 has length 3, expected 2/);
  });
  it('reduceRecords sums field by field in order', () => {
    const parts = [0, 1, 2].map((i) => ({ g: new Float64Array([i, 1e16 * (i - 1)]), m: new Float64Array([i * 2]) }));
    const r = reduceRecords(parts);
    expect(Array.from(r.g)).toEqual([3, 0]);
    expect(Array.from(r.m)).toEqual([6]);
    expect(() => reduceRecords([{ g: new Float64Array(1) }, { h: new Float64Array(1) } as never])).toThrow(
      /part 1 has fields \[h\], expected \[g\]/,
    );
  });
  it('OrderedFold gives the in-order result whatever the arrival order', () => {
    const vals = Array.from({ length: 50 }, (_, i) => new Float64Array([Math.sin(i) * 10 ** (i % 17)]));
    const want = reduceSum(vals);
    const order = vals.map((_, i) => i).sort((a, b) => ((a * 37) % 50) - ((b * 37) % 50));
    const f = new OrderedFold<Float64Array>(
      (p) => new Float64Array(p),
      (a, p) => {
        a[0] += p[0]!;
        return a;
      },
    );
    for (const i of order) f.push(i, vals[i]!);
    expect(f.result(50)[0]).toBe(want[0]);
    expect(() => f.push(3, vals[3]!)).toThrow(/pushed twice/);
    expect(() => new OrderedFold<number>((x) => x, (a, x) => a + x).result(2)).toThrow(/0 of 2 parts/);
  });
});

describe('registry and InlinePool', () => {
  it('unknown task names give a clear error', async () => {
    await expect(runTask('no-such-task', {})).rejects.toThrow(/unknown task "no-such-task".*registered: .*test:delay/);
    const pool = new InlinePool();
    await expect(pool.run('no-such-task', {})).rejects.toThrow(/task "no-such-task" failed: unknown task "no-such-task"/);
  });
  it('refuses a second, different task under a taken name', () => {
    const f = (x: number) => x;
    registerTask('test:dup', f);
    registerTask('test:dup', f); // same function: fine
    expect(() => registerTask('test:dup', (x: number) => x + 1)).toThrow(/already registered as "test:dup"/);
    expect(hasTask('test:dup')).toBe(true);
  });
  it('task errors reach the caller: UserError kept, others name the task', async () => {
    const pool = new InlinePool();
    const e1 = await pool.run('test:throw', { user: true }).catch((e) => e);
    expect(e1).toBeInstanceOf(UserError);
    expect(e1.message).toBe('bad input file x.json');
    await expect(pool.run('test:throw', { user: false })).rejects.toThrow('task "test:throw" failed: kaboom');
  });
  it('destroyed pools refuse work', async () => {
    const pool = new InlinePool();
    await pool.destroy();
    await pool.destroy();
    await expect(pool.run('test:delay', { i: 0, ms: 0 })).rejects.toThrow(/destroyed/);
  });
  it('mapShards returns results in payload order even when they finish out of order', async () => {
    const pool = new CountingPool(new InlinePool());
    const payloads = Array.from({ length: 12 }, (_, i) => ({ i, ms: (12 - i) % 4 }));
    expect(await mapShards(pool, 'test:delay', payloads, { maxInFlight: 5 })).toEqual(payloads.map((p) => p.i));
    expect(pool.peak).toBe(5);
  });
  it('mapReduceShards equals reduceSum of mapShards, with bounded in-flight work', async () => {
    const pool = new CountingPool(new InlinePool());
    const payloads = Array.from({ length: 300 }, (_, i) => ({ i, len: 33 }));
    const all = await mapShards<typeof payloads[0], Float64Array>(pool, 'test:vec', payloads);
    const want = reduceSum(all);
    pool.peak = 0;
    const got = await mapReduceShards<typeof payloads[0], Float64Array, Float64Array>(
      pool,
      'test:vec',
      payloads,
      (r) => r,
      (a, r) => {
        for (let j = 0; j < a.length; j++) a[j] += r[j]!;
        return a;
      },
    );
    expect(Buffer.from(got.buffer).equals(Buffer.from(want.buffer))).toBe(true);
    expect(pool.peak).toBeLessThanOrEqual(4); // 2·size + 2
  });
  it('a failing shard stops the map and rejects', async () => {
    const pool = new CountingPool(new InlinePool());
    const payloads = Array.from({ length: 100 }, () => ({ user: false }));
    await expect(mapShards(pool, 'test:throw', payloads, { maxInFlight: 2 })).rejects.toThrow(/kaboom/);
    expect(pool.calls).toBeLessThanOrEqual(2);
  });
});

describe('shared arrays, contexts and transferables', () => {
  it('toShared gives a SAB-backed copy once', () => {
    const a = new Float64Array([1, 2, 3]);
    const s = toShared(a);
    expect(isShared(s)).toBe(true);
    expect(Array.from(s)).toEqual([1, 2, 3]);
    expect(toShared(s)).toBe(s);
    const i = toShared(new Int32Array([4, 5]));
    expect(i).toBeInstanceOf(Int32Array);
    expect(isShared(i)).toBe(true);
  });
  it('the context cache builds once per id and stays bounded', () => {
    clearContexts();
    let builds = 0;
    for (let k = 0; k < 3; k++) withContext('a', () => ++builds);
    expect(builds).toBe(1);
    for (let k = 0; k < 100; k++) withContext(`c${k}`, () => k);
    expect(contextCacheSize()).toBeLessThanOrEqual(8);
  });
  it('collectTransferables: only results marked with moveResult, whole non-shared buffers only', () => {
    const a = new Float64Array(4);
    const big = new Float64Array(10);
    const shared = toShared(new Float64Array(2));
    expect(collectTransferables({ a, b: [a, big.subarray(2, 4)], s: shared })).toEqual([]);
    const t = collectTransferables(moveResult({ a, b: [a, big.subarray(2, 4)], s: shared }));
    expect(t).toEqual([a.buffer]);
    expect(collectTransferables(moveResult(a))).toEqual([a.buffer]);
  });
});

// PriorityScheduler: highest priority first, first come first served within a priority, bounded
// in-flight work, errors reach the caller, results unchanged.
import { describe, expect, it } from 'vitest';
import { PriorityScheduler } from '../src/parallel/priority.js';
import { InlinePool, mapReduceShards, type TaskPool } from '../src/parallel/pool.js';
import { registerTask } from '../src/parallel/registry.js';

registerTask('test:prio-echo', (p: { tag: string }) => p.tag);
registerTask('test:prio-fail', () => {
  throw new TypeError('prio kaboom');
});

/** A pool whose tasks finish only when the test releases them (records the start order). */
class GatedPool implements TaskPool {
  readonly started: string[] = [];
  private readonly gates: Array<() => void> = [];
  inFlight = 0;
  peak = 0;
  constructor(readonly size: number) {}
  run<R>(_task: string, payload: unknown): Promise<R> {
    const tag = (payload as { tag: string }).tag;
    this.started.push(tag);
    this.inFlight++;
    this.peak = Math.max(this.peak, this.inFlight);
    return new Promise<R>((resolve) => {
      this.gates.push(() => {
        this.inFlight--;
        resolve(tag as R);
      });
    });
  }
  /** Finish the oldest running task. */
  release(): void {
    this.gates.shift()!();
  }
  async destroy(): Promise<void> {}
}

const tick = () => new Promise((r) => setTimeout(r, 0));

describe('PriorityScheduler', () => {
  it('hands over the highest priority first, FIFO within a priority, at most maxInFlight at once', async () => {
    const pool = new GatedPool(1);
    const s = new PriorityScheduler(pool, 1);
    const lo = s.view(0);
    const hi = s.view(5);
    const done: Array<Promise<unknown>> = [];
    done.push(lo.run('t', { tag: 'lo1' })); // starts at once (free slot)
    done.push(lo.run('t', { tag: 'lo2' }));
    done.push(hi.run('t', { tag: 'hi1' }));
    done.push(lo.run('t', { tag: 'lo3' }));
    done.push(hi.run('t', { tag: 'hi2' }));
    expect(pool.started).toEqual(['lo1']);
    expect(s.pending).toBe(4);
    for (let i = 0; i < 5; i++) {
      pool.release();
      await tick();
    }
    expect(await Promise.all(done)).toEqual(['lo1', 'lo2', 'hi1', 'lo3', 'hi2']);
    expect(pool.started).toEqual(['lo1', 'hi1', 'hi2', 'lo2', 'lo3']);
    expect(pool.peak).toBe(1);
  });

  it('defaults to two tasks per thread in flight', async () => {
    const pool = new GatedPool(2);
    const s = new PriorityScheduler(pool);
    expect(s.maxInFlight).toBe(4);
    const v = s.view(1);
    const all = Array.from({ length: 9 }, (_, i) => v.run('t', { tag: `t${i}` }));
    expect(pool.started.length).toBe(4);
    for (let i = 0; i < 9; i++) {
      pool.release();
      await tick();
    }
    expect(await Promise.all(all)).toEqual(Array.from({ length: 9 }, (_, i) => `t${i}`));
    expect(pool.peak).toBe(4);
  });

  it('passes errors to the caller and keeps going', async () => {
    const s = new PriorityScheduler(new InlinePool());
    const v = s.view(0);
    await expect(v.run('test:prio-fail', {})).rejects.toThrow(/prio kaboom/);
    expect(await v.run('test:prio-echo', { tag: 'after' })).toBe('after');
    expect(s.pending).toBe(0);
  });

  it('leaves ordered reductions unchanged', async () => {
    const s = new PriorityScheduler(new InlinePool(), 3);
    const payloads = Array.from({ length: 7 }, (_, i) => ({ tag: String(i) }));
    const a = await mapReduceShards<{ tag: string }, string, string>(s.view(1), 'test:prio-echo', payloads, (r) => r, (acc, r) => acc + r);
    expect(a).toBe('0123456');
  });

  it('refuses a bad maxInFlight or priority', () => {
    expect(() => new PriorityScheduler(new InlinePool(), 0)).toThrow(/maxInFlight/);
    expect(() => new PriorityScheduler(new InlinePool()).view(Number.NaN)).toThrow(/priority/);
  });
});

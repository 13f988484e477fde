/**
 * Priorities over one TaskPool (no Node APIs). Jobs that run at the same time (e.g. the M′ shards
 * on the critical path and edge shards that only fill idle workers) submit through `view(p)`;
 * the scheduler keeps at most `maxInFlight` tasks in the pool and always submits the queued task of
 * highest priority next (first come, first served within a priority). Which task runs when never
 * changes a result: every job still reduces its shards in shard order.
 */
import type { TaskPool } from './pool.js';

interface Queued {
  priority: number;
  seq: number;
  task: string;
  payload: unknown;
  transfer?: Transferable[];
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
}

export class PriorityScheduler {
  private readonly queue: Queued[] = [];
  private inFlight = 0;
  private seq = 0;
  readonly maxInFlight: number;

  /**
   * maxInFlight: tasks handed to the pool at once; 2 per thread by default, so each worker has
   * its next task queued while this thread is busy (a task of lower priority already handed over
   * may run before a later one of higher priority).
   */
  constructor(
    readonly pool: TaskPool,
    maxInFlight = 2 * pool.size,
  ) {
    if (!Number.isInteger(maxInFlight) || maxInFlight < 1) throw new RangeError(`PriorityScheduler: maxInFlight must be a positive integer, got ${maxInFlight}`);
    this.maxInFlight = maxInFlight;
  }

  /** A TaskPool whose tasks run at `priority` (higher first). destroy() destroys the shared pool. */
  view(priority: number): TaskPool {
    if (!Number.isFinite(priority)) throw new RangeError(`PriorityScheduler: priority must be a finite number, got ${priority}`);
    return {
      size: this.pool.size,
      run: <R>(task: string, payload: unknown, transfer?: Transferable[]) =>
        new Promise<R>((resolve, reject) => {
          this.queue.push({ priority, seq: this.seq++, task, payload, transfer, resolve: resolve as (v: unknown) => void, reject });
          this.pump();
        }),
      destroy: () => this.pool.destroy(),
    };
  }

  /** Tasks waiting for a slot (not yet handed to the pool). */
  get pending(): number {
    return this.queue.length;
  }

  private pump(): void {
    while (this.inFlight < this.maxInFlight && this.queue.length > 0) {
      let best = 0;
      for (let i = 1; i < this.queue.length; i++) {
        const a = this.queue[i]!;
        const b = this.queue[best]!;
        if (a.priority > b.priority || (a.priority === b.priority && a.seq < b.seq)) best = i;
      }
      const q = this.queue.splice(best, 1)[0]!;
      this.inFlight++;
      let p: Promise<unknown>;
      try {
        p = this.pool.run(q.task, q.payload, q.transfer);
      } catch (e) {
        p = Promise.reject(e);
      }
      p.then(q.resolve, q.reject).finally(() => {
        this.inFlight--;
        this.pump();
      });
    }
  }
}

/**
 * Option conventions shared by the CLI commands: value parsers for commander's
 * `.option(..., parser)`, and the one `--workers` option of every command that runs tasks.
 */
import type { Command } from 'commander';
import { availableParallelism } from 'node:os';
import { UserError } from '../errors.js';
import { InlinePool, type TaskPool } from '../parallel/pool.js';

/** Parser of an integer option ≥ 1; `name` (e.g. "--top-k") names it in the error. */
export const positiveInt = (name: string) => (v: string): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new UserError(`${name} must be a positive integer, got ${v}`);
  return n;
};

/** Most worker threads `--workers` accepts. */
export const MAX_WORKERS = 256;

/**
 * The `--workers` value: undefined (option not given) → the available cores; an integer from 0
 * to MAX_WORKERS otherwise. 0 and 1 both mean "run the tasks in this thread" (no worker
 * start-up); results never depend on the number.
 */
export function parseWorkers(v: string | number | undefined): number {
  if (v === undefined) return Math.max(1, availableParallelism());
  const n = typeof v === 'number' ? v : v.trim() === '' ? NaN : Number(v);
  if (!Number.isInteger(n) || n < 0 || n > MAX_WORKERS) {
    throw new UserError(`--workers must be an integer from 0 to ${MAX_WORKERS} (0 or 1: run in this thread), got '${v}'`);
  }
  return n;
}

/** Adds the `--workers <n>` option (parsed by parseWorkers; absent = available cores). */
export function workersOption(cmd: Command): Command {
  return cmd.option('--workers <n>', 'worker threads (default: available cores; 0 or 1: run in this thread)', (v: string) => parseWorkers(v));
}

/**
 * A pool of n threads (n from parseWorkers): in this thread for n ≤ 1 (identical results, no
 * worker start-up), else n worker threads.
 */
export async function makePool(n: number): Promise<TaskPool> {
  if (n <= 1) {
    await import('../tasks.js'); // the tasks run here: register them in this thread
    return new InlinePool();
  }
  const { createNodePool } = await import('../../workers/pool.nodejs.js');
  return createNodePool({ workers: n });
}

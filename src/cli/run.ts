/**
 * `interbasis run DIR [--workers N] [--force]`: runs a plan (from interbasis plan) on this machine:
 * every missing shard of every stage on a worker pool, then the merge into DIR/results.safetensors.
 * Interrupted, it continues from the partials on disk.
 */
import type { Command } from 'commander';
import { initKernels } from '../linalg/index.js';
import '../tasks.js';
import { runPlanLocally } from '../dist/run.nodejs.js';
import { makePool, parseWorkers } from './build.js';

export function register(program: Command): void {
  program
    .command('run')
    .description('run a plan here (all missing shards, then the merge); resumes from the partials on disk')
    .argument('<dir>', 'plan directory (from interbasis plan)')
    .option('--workers <n>', 'worker threads (default: available cores)')
    .option('--force', 'overwrite existing results')
    .action(async (dir: string, o: { workers?: string; force?: boolean }) => {
      const workers = parseWorkers(o.workers);
      await initKernels();
      const pool = await makePool(workers);
      const err = process.stderr;
      try {
        await runPlanLocally(dir, pool, { info: (m) => err.write(`interbasis run: ${m}\n`), warn: (m) => err.write(`interbasis: warning: ${m}\n`) }, { force: !!o.force });
      } finally {
        await pool.destroy();
      }
    });
}

/**
 * `interbasis shard DIR --stage S --index i [--workers N]`: one partial result of a planned
 * distributed build (DIR/partials/S/<i>.<key>.part).
 */
import type { Command } from 'commander';
import { initKernels } from '../linalg/index.js';
import '../tasks.js';
import { runShard } from '../dist/run.nodejs.js';
import { makePool, parseWorkers } from './build.js';

export interface ShardCliOptions {
  stage: string;
  index: string;
  workers?: string;
}

export async function runShardCli(dir: string, o: ShardCliOptions, err: NodeJS.WritableStream = process.stderr) {
  const workers = parseWorkers(o.workers ?? '1');
  await initKernels();
  const pool = await makePool(workers);
  try {
    return await runShard(dir, o.stage, o.index, pool, {
      info: (m) => err.write(`interbasis shard: ${m}\n`),
      warn: (m) => err.write(`interbasis: warning: ${m}\n`),
    });
  } finally {
    await pool.destroy();
  }
}

export function register(program: Command): void {
  program
    .command('shard')
    .description('compute one shard of one stage of a planned build (idempotent)')
    .argument('<dir>', 'plan directory (from interbasis plan)')
    .requiredOption('--stage <name>', 'stage name (see plan.json or interbasis slurm status)')
    .requiredOption('--index <i>', 'shard index (0-based), e.g. $SLURM_ARRAY_TASK_ID or $JOB_COMPLETION_INDEX')
    .option('--workers <n>', 'worker threads (default 1)')
    .action(async (dir: string, o: ShardCliOptions) => {
      await runShardCli(dir, o);
    });
}

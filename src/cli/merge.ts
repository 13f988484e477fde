/**
 * `interbasis merge DIR [--stage S] [--force]`: check a stage's partials and record it as merged;
 * after the last stage, fold everything into DIR/results.{safetensors,json}.
 */
import type { Command } from 'commander';
import { initKernels } from '../linalg/index.js';
import '../tasks.js';
import { runMerge } from '../dist/run.nodejs.js';
import { makePool, parseWorkers } from './build.js';

export interface MergeCliOptions {
  stage?: string;
  workers?: string;
  force?: boolean;
}

export async function runMergeCli(dir: string, o: MergeCliOptions, err: NodeJS.WritableStream = process.stderr) {
  const workers = parseWorkers(o.workers ?? '1');
  await initKernels();
  const pool = await makePool(workers);
  try {
    return await runMerge(
      dir,
      o.stage,
      pool,
      { info: (m) => err.write(`interbasis merge: ${m}\n`), warn: (m) => err.write(`interbasis: warning: ${m}\n`) },
      { force: !!o.force },
    );
  } finally {
    await pool.destroy();
  }
}

export function register(program: Command): void {
  program
    .command('merge')
    .description('verify and merge the partials of a stage; the last stage writes DIR/results.safetensors')
    .argument('<dir>', 'plan directory')
    .option('--stage <name>', 'stage to merge (default: the last stage, which writes the results)')
    .option('--workers <n>', 'worker threads (default 1)')
    .option('--force', 'overwrite existing results')
    .action(async (dir: string, o: MergeCliOptions) => {
      await runMergeCli(dir, o);
    });
}

/**
 * `interbasis slurm submit CONFIG --shards N --out DIR [--partition P] [--sbatch-arg A]… [--wait]`
 * and `interbasis slurm status DIR`: a planned build as Slurm job arrays (docs/distributed.md).
 */
import type { Command } from 'commander';
import { parseShardCount } from '../dist/plan.nodejs.js';
import { planStatus } from '../dist/run.nodejs.js';
import { formatStatus, SlurmJobError, slurmSubmit } from '../dist/slurm.nodejs.js';
import { UserError } from '../errors.js';
import { parseWorkers } from './build.js';

export interface SlurmSubmitCliOptions {
  shards?: string;
  out?: string;
  partition?: string;
  sbatchArg?: string[];
  wait?: boolean;
  workers?: string;
  json?: boolean;
}

export async function runSlurmSubmitCli(config: string, o: SlurmSubmitCliOptions, err: NodeJS.WritableStream = process.stderr) {
  if (!o.out) throw new UserError('--out DIR is required');
  return slurmSubmit(config, {
    shards: parseShardCount(o.shards),
    out: o.out,
    partition: o.partition,
    sbatchArgs: o.sbatchArg ?? [],
    wait: !!o.wait,
    workers: parseWorkers(o.workers ?? '1'),
    log: (m) => err.write(`interbasis slurm: ${m}\n`),
  });
}

export function register(program: Command): void {
  const slurm = program.command('slurm').description('run a planned build as Slurm job arrays');
  slurm
    .command('submit')
    .description('plan the build and submit one job array per stage (only what is missing), then a merge job')
    .argument('<config>', 'build config (.yaml/.yml/.json)')
    .requiredOption('--shards <n>', 'number of data shards')
    .requiredOption('--out <dir>', 'plan directory (shared by all nodes)')
    .option('--partition <p>', 'Slurm partition')
    .option('--sbatch-arg <arg>', 'extra sbatch argument, repeatable (e.g. --sbatch-arg=--time=30)', (v: string, acc: string[] = []) => [...acc, v])
    .option('--workers <n>', 'worker threads per shard (and --cpus-per-task), default 1')
    .option('--wait', 'wait for the merge; exit non-zero if any job failed')
    .option('--json', 'print the submitted jobs as JSON')
    .action(async (config: string, o: SlurmSubmitCliOptions) => {
      try {
        const r = await runSlurmSubmitCli(config, o);
        if (o.json) process.stdout.write(JSON.stringify({ planId: r.plan.planId, jobs: r.jobs, results: r.results }) + '\n');
      } catch (e) {
        if (!(e instanceof SlurmJobError)) throw e;
        process.stderr.write(`interbasis slurm: ${e.message}\n`);
        process.exitCode = 1;
      }
    });
  slurm
    .command('status')
    .description('progress per stage, from the partials on disk')
    .argument('<dir>', 'plan directory')
    .option('--json', 'JSON output')
    .action(async (dir: string, o: { json?: boolean }) => {
      const st = await planStatus(dir);
      if (o.json) process.stdout.write(JSON.stringify({ planId: st.plan.planId, stages: st.stages, results: st.results }) + '\n');
      else process.stdout.write(formatStatus(st) + '\n');
    });
}

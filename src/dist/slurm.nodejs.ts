/**
 * Slurm: a planned build as one job array per stage, chained with afterok, plus a merge job.
 * The job scripts are written into DIR/slurm/ (readable; `submit.sh` submits them by hand).
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UserError } from '../errors.js';
import { writeFileAtomic } from '../io/files.nodejs.js';
import { makePlan, writePlan, type Plan } from './plan.nodejs.js';
import { planStatus, type StageStatus } from './run.nodejs.js';

export interface SubmitOptions {
  shards: number;
  out: string;
  partition?: string;
  sbatchArgs?: string[];
  wait?: boolean;
  /** worker threads per shard (and CPUs asked per array task) */
  workers?: number;
  log?: (m: string) => void;
}

export interface SubmittedJob {
  stage: string;
  jobId: string;
  indices: number[] | null;
}

export interface SubmitResult {
  plan: Plan;
  jobs: SubmittedJob[];
  /** states of every submitted job (with --wait) */
  states?: Array<{ jobId: string; task: string | null; state: string; exitCode: string }>;
  results: string | null;
}

/** A Slurm job of the chain ended in another state than COMPLETED. */
export class SlurmJobError extends Error {}

function cliEntry(): string {
  // <repo>/bin/interbasis.js from src/dist (sources) or dist/src/dist (compiled)
  let d = dirname(fileURLToPath(import.meta.url));
  for (let k = 0; k < 5; k++) {
    const p = join(d, 'bin', 'interbasis.js');
    if (existsSync(p) && existsSync(join(d, 'package.json'))) return p;
    d = dirname(d);
  }
  throw new Error('cannot find bin/interbasis.js above the installed package');
}

const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

function run(cmd: string, args: string[]): Promise<{ stdout: string; stderr: string }> {
  return new Promise((res, rej) => {
    execFile(cmd, args, { maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (err) {
        const e = err as NodeJS.ErrnoException & { code?: unknown };
        if (e.code === 'ENOENT') rej(new UserError(`${cmd} not found: is Slurm installed here? (scripts/slurm-local.sh start sets up a one-node cluster)`));
        else rej(new UserError(`${cmd} ${args.join(' ')} failed: ${(stderr || err.message).trim()}`));
      } else res({ stdout, stderr });
    });
  });
}

/** Compact Slurm array spec: 0-2,5,7-9. */
export function arraySpec(indices: number[]): string {
  const parts: string[] = [];
  for (let i = 0; i < indices.length; ) {
    let j = i;
    while (j + 1 < indices.length && indices[j + 1] === indices[j]! + 1) j++;
    parts.push(i === j ? `${indices[i]}` : `${indices[i]}-${indices[j]}`);
    i = j + 1;
  }
  return parts.join(',');
}

/** Writes DIR/slurm/<stage>.sh, merge.sh and submit.sh; returns the script paths. */
export async function writeJobScripts(dir: string, plan: Plan, o: { workers: number; partition?: string; sbatchArgs?: string[] }): Promise<{ stages: Map<string, string>; merge: string; submit: string }> {
  const root = resolve(dir);
  const sdir = join(root, 'slurm');
  try {
    await mkdir(join(sdir, 'logs'), { recursive: true });
  } catch (e) {
    throw new UserError(`cannot create ${sdir}: ${(e as Error).message}`);
  }
  const node = process.execPath;
  const cli = cliEntry();
  const header = (name: string, log: string) =>
    [
      '#!/bin/bash',
      `#SBATCH --job-name=ib-${plan.planId.slice(0, 8)}-${name}`,
      `#SBATCH --output=${join(sdir, 'logs', log)}`,
      `#SBATCH --cpus-per-task=${o.workers}`,
      ...(o.partition ? [`#SBATCH --partition=${o.partition}`] : []),
      ...(o.sbatchArgs ?? []).map((a) => `#SBATCH ${a}`),
      `# plan ${plan.planId} (${plan.config.exp_name}, ${plan.shards} shards)`,
      'set -euo pipefail',
    ].join('\n');
  const stages = new Map<string, string>();
  for (const s of plan.stages) {
    const p = join(sdir, `${s.name}.sh`);
    const text =
      header(s.name, `${s.name}-%a.out`) +
      `\n# one array task per shard index: sbatch --array=0-${s.shards - 1} ${p}\n` +
      `exec ${q(node)} ${q(cli)} shard ${q(root)} --stage ${q(s.name)} --index "$SLURM_ARRAY_TASK_ID" --workers ${o.workers}\n`;
    await writeFileAtomic(p, text);
    stages.set(s.name, p);
  }
  const merge = join(sdir, 'merge.sh');
  await writeFileAtomic(merge, header('merge', 'merge.out') + `\nexec ${q(node)} ${q(cli)} merge ${q(root)} --workers ${o.workers}\n`);
  const lines = ['#!/bin/bash', `# submits the whole build of plan ${plan.planId.slice(0, 12)} by hand (what interbasis slurm submit does)`, 'set -euo pipefail', 'dep=""'];
  for (const s of plan.stages) {
    lines.push(`j=$(sbatch --parsable --array=0-${s.shards - 1} --kill-on-invalid-dep=yes \${dep:+--dependency=afterok:$dep} ${q(stages.get(s.name)!)})`, 'dep=${j%%;*}', `echo "${s.name}: job $dep"`);
  }
  lines.push(`j=$(sbatch --parsable --kill-on-invalid-dep=yes \${dep:+--dependency=afterok:$dep} ${q(merge)})`, 'echo "merge: job ${j%%;*}"');
  const submit = join(sdir, 'submit.sh');
  await writeFileAtomic(submit, lines.join('\n') + '\n');
  return { stages, merge, submit };
}

/** What to submit per stage: missing indices, or all of them once an earlier stage is incomplete. */
function toSubmit(st: StageStatus[]): Array<{ stage: string; indices: number[] }> {
  return st.filter((s) => s.missing.length > 0).map((s) => ({ stage: s.stage, indices: s.missing }));
}

/** Job states (one per array task) from `scontrol show job`. */
export async function jobStates(jobId: string): Promise<Array<{ jobId: string; task: string | null; state: string; exitCode: string }>> {
  const { stdout } = await run('scontrol', ['show', 'job', '-o', jobId]);
  return stdout
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => {
      const f = (k: string) => new RegExp(`(?:^|\\s)${k}=(\\S+)`).exec(l)?.[1] ?? null;
      return { jobId: f('JobId') ?? jobId, task: f('ArrayTaskId'), state: f('JobState') ?? 'UNKNOWN', exitCode: f('ExitCode') ?? '' };
    });
}

/** Plans, writes the job scripts and submits what is missing (see SubmitOptions). */
export async function slurmSubmit(config: string, o: SubmitOptions): Promise<SubmitResult> {
  const log = o.log ?? (() => undefined);
  const workers = o.workers ?? 1;
  const { plan } = await makePlan(config, o.shards, log);
  await writePlan(o.out, plan);
  const scripts = await writeJobScripts(o.out, plan, { workers, partition: o.partition, sbatchArgs: o.sbatchArgs });
  const st = await planStatus(o.out);
  if (st.results) {
    log(`${join(resolve(o.out), 'results.safetensors')} exists: nothing to submit`);
    return { plan, jobs: [], results: resolve(o.out) };
  }
  // jobs of this plan still queued or running would race with a new chain
  const active = (await run('squeue', ['-h', '-o', '%i %j %T'])).stdout
    .split('\n')
    .filter((l) => l.split(' ')[1]?.startsWith(`ib-${plan.planId.slice(0, 8)}-`) && l.split(' ')[2] !== 'COMPLETING');
  if (active.length) {
    throw new UserError(`jobs of this plan are still in the queue: ${active.map((l) => l.split(' ').slice(0, 1).join('')).join(', ')}; wait for them (interbasis slurm status ${resolve(o.out)}) or scancel them, then submit again`);
  }
  const common = ['--parsable', '--kill-on-invalid-dep=yes', ...(o.partition ? ['--partition', o.partition] : []), ...(o.sbatchArgs ?? [])];
  const jobs: SubmittedJob[] = [];
  let dep: string | null = null;
  for (const { stage, indices } of toSubmit(st.stages)) {
    const args: string[] = [...common, `--array=${arraySpec(indices)}`, ...(dep ? [`--dependency=afterok:${dep}`] : []), scripts.stages.get(stage)!];
    const id: string = (await run('sbatch', args)).stdout.trim().split(';')[0]!;
    log(`${stage}: job array ${id} (indices ${arraySpec(indices)})`);
    jobs.push({ stage, jobId: id, indices });
    dep = id;
  }
  const mergeArgs = [...common, ...(dep ? [`--dependency=afterok:${dep}`] : []), ...(o.wait ? ['--wait'] : []), scripts.merge];
  if (!o.wait) {
    const id = (await run('sbatch', mergeArgs)).stdout.trim().split(';')[0]!;
    jobs.push({ stage: 'merge', jobId: id, indices: null });
    log(`merge: job ${id}`);
    await recordJobs(o.out, jobs);
    return { plan, jobs, results: null };
  }
  // --wait: sbatch returns when the merge job ends (also when it was cancelled: check states)
  let waitErr: unknown = null;
  const mergeRun = await run('sbatch', mergeArgs).catch((e: unknown) => {
    waitErr = e;
    return { stdout: '', stderr: '' };
  });
  const mergeId = mergeRun.stdout.trim().split('\n')[0]!.split(';')[0]!;
  if (mergeId) jobs.push({ stage: 'merge', jobId: mergeId, indices: null });
  await recordJobs(o.out, jobs);
  const states = (await Promise.all(jobs.map((j) => jobStates(j.jobId).catch(() => [{ jobId: j.jobId, task: null, state: 'UNKNOWN', exitCode: '' }])))).flat();
  const bad = states.filter((s) => s.state !== 'COMPLETED');
  const resultsFile = join(resolve(o.out), 'results.safetensors');
  if (bad.length || waitErr || !existsSync(resultsFile)) {
    const lines = [`the Slurm build of ${plan.config.exp_name} did not complete:`];
    for (const b of bad) lines.push(`  job ${b.jobId}${b.task ? ` (array task ${b.task})` : ''}: ${b.state} exit ${b.exitCode}`);
    if (waitErr) lines.push(`  ${(waitErr as Error).message}`);
    if (!existsSync(resultsFile)) lines.push(`  no ${resultsFile}`);
    lines.push(`  logs: ${join(resolve(o.out), 'slurm', 'logs')}`);
    lines.push(`  progress: interbasis slurm status ${resolve(o.out)}; submitting again runs only what is missing`);
    const e = new SlurmJobError(lines.join('\n'));
    (e as SlurmJobError & { states?: unknown }).states = states;
    throw e;
  }
  log(`results: ${resultsFile}`);
  return { plan, jobs, states, results: resolve(o.out) };
}

async function recordJobs(dir: string, jobs: SubmittedJob[]): Promise<void> {
  const p = join(resolve(dir), 'slurm', 'jobs.json');
  let hist: unknown[] = [];
  try {
    hist = JSON.parse(await readFile(p, 'utf8')) as unknown[];
    if (!Array.isArray(hist)) hist = [];
  } catch {
    /* first submission */
  }
  hist.push({ submitted: new Date().toISOString(), jobs });
  await writeFileAtomic(p, JSON.stringify(hist, null, 2) + '\n');
}

/** Human-readable progress per stage. */
export function formatStatus(st: Awaited<ReturnType<typeof planStatus>>): string {
  const lines = [`plan ${st.plan.planId.slice(0, 12)} (${st.plan.config.exp_name}, ${st.plan.shards} shards)`];
  lines.push('stage'.padEnd(20) + 'done'.padStart(9) + '  state');
  for (const s of st.stages) {
    const state = !s.ready ? 'waiting for earlier stages' : s.missing.length === 0 ? (s.merged ? 'merged' : 'complete') : `missing ${arraySpec(s.missing)}`;
    const extra = [...(s.corrupt.length ? [`invalid: ${s.corrupt.join(', ')}`] : []), ...(s.foreign.length ? [`other plan: ${s.foreign.join(', ')}`] : [])];
    lines.push(s.stage.padEnd(20) + `${s.done.length}/${s.shards}`.padStart(9) + `  ${state}${extra.length ? `; ${extra.join('; ')}` : ''}`);
  }
  lines.push(st.results ? 'results: results.safetensors written' : 'results: not yet');
  return lines.join('\n');
}

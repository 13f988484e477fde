/**
 * `interbasis shard` / `merge` / status over a plan directory: one shard of one stage, the check
 * of a stage's partials, the final merge into results.safetensors, and progress from disk.
 */
import { access, constants, mkdir, stat, unlink } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { UserError } from '../errors.js';
import { writeFileAtomic, writeTempFile, tempPathFor } from '../io/files.nodejs.js';
import { RESULTS_TENSORS, saveResults } from '../io/results.nodejs.js';
import type { RibResults } from '../io/results.js';
import type { TaskPool } from '../parallel/pool.js';
import { loadPlanInputs, ownedRange, readPlan, type Plan } from './plan.nodejs.js';
import { checkStage, encodePartial, inputsSha, loadUpstream, partialKey, partialName, partialsDir, readPartial, stageError, type StageCheck } from './partials.nodejs.js';
import { replayBuild, runStageShard, type PlanStage } from './stages.js';
import { finishFiles } from './finishes.nodejs.js';

export interface Log {
  info: (m: string) => void;
  warn: (m: string) => void;
}

function stageOf(plan: Plan, name: string): { stage: PlanStage; index: number } {
  const index = plan.stages.findIndex((s) => s.name === name);
  if (index < 0) throw new UserError(`unknown stage '${name}': this plan has ${plan.stages.map((s) => s.name).join(', ')}`);
  return { stage: plan.stages[index]!, index };
}

function parseIndex(v: string | number, stage: PlanStage): number {
  const i = Number(v);
  if (String(v).trim() === '' || !Number.isInteger(i) || i < 0 || i >= stage.shards) {
    throw new UserError(`--index must be an integer in 0…${stage.shards - 1} for stage ${stage.name}, got '${v}'`);
  }
  return i;
}

/** Fails early (before any work) when `dir` (inside plan directory `root`) cannot take new files. */
async function checkWritable(root: string, dir: string): Promise<void> {
  try {
    await access(root, constants.W_OK);
    await mkdir(dir, { recursive: true });
    await access(dir, constants.W_OK);
    const probe = tempPathFor(join(dir, 'probe'));
    await writeTempFile(probe, 'x');
    await unlink(probe);
  } catch (e) {
    throw new UserError(`cannot write partial results into ${dir}: ${(e as NodeJS.ErrnoException).code ?? ''} ${(e as Error).message}`.replace(/\s+/g, ' '));
  }
}

export interface ShardResult {
  file: string;
  skipped: boolean;
  blocks: number;
}

/** Computes shard `index` of `stageName` (nothing when its valid file already exists). */
export async function runShard(dir: string, stageName: string, indexArg: string | number, pool: TaskPool, log: Log): Promise<ShardResult> {
  const plan = await readPlan(dir);
  const { stage, index: s } = stageOf(plan, stageName);
  const index = parseIndex(indexArg, stage);
  const pdir = partialsDir(dir, stage.name);
  await checkWritable(resolve(dir), pdir);
  const { up } = await loadUpstream(dir, plan, s, { writeMerged: true }).catch((e: unknown) => {
    if (e instanceof UserError) throw new UserError(`stage ${stage.name} needs the earlier stages complete: ${e.message}`);
    throw e;
  });
  const inSha = inputsSha(plan.planId, up.digests);
  const key = partialKey(plan.planId, stage.name, index, inSha);
  const file = join(pdir, partialName(index, key));
  try {
    const old = await readPartial(file);
    if (old.header.planId === plan.planId && old.header.key === key) {
      log.info(`${stage.name} ${index}: already done (${relative(resolve(dir), file)})`);
      return { file, skipped: true, blocks: old.blocks.length };
    }
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') log.warn(`${relative(resolve(dir), file)} is not valid (${(e as Error).message}): computing it again`);
  }
  const inputs = await loadPlanInputs(plan, () => undefined);
  const range = ownedRange(plan, stage, index);
  const t0 = performance.now();
  const fin = await finishFiles(dir, plan, up.digests);
  const run = await runStageShard({
    data: { config: plan.config, ...inputs, finishes: fin.cache },
    stages: plan.stages,
    target: stage.name,
    range,
    outDim: stage.split === 'out_dim' ? { index, shards: stage.shards } : null,
    store: up.store,
    pool,
    buildId: `${plan.planId.slice(0, 12)}-${stage.name}-${index}`,
  });
  const bytes = encodePartial(
    { format: 'interbasis-partial', planId: plan.planId, exp_name: plan.config.exp_name, stage: stage.name, index, inputs_sha256: inSha, key, range, observed: run.observed },
    run.blocks,
  );
  await writeFileAtomic(file, bytes);
  const saved = await fin.save(log.warn);
  const finNote = [fin.loaded.length ? `finishes replayed: ${fin.loaded.join(', ')}` : '', saved.length ? `finishes saved: ${saved.join(', ')}` : ''].filter(Boolean).join('; ');
  log.info(`${stage.name} ${index}: ${run.blocks.length} of ${run.observed.length} blocks in ${((performance.now() - t0) / 1000).toFixed(2)} s → ${relative(resolve(dir), file)}${finNote ? ` (${finNote})` : ''}`);
  return { file, skipped: false, blocks: run.blocks.length };
}

export interface MergeResult {
  stage: string;
  /** results directory when the stage was the last one */
  results: string | null;
  build?: RibResults;
}

/**
 * Checks every partial of `stageName` (and the stages before it), records the stage as merged,
 * and after the last stage folds everything into DIR/results.{safetensors,json}.
 */
export async function runMerge(dir: string, stageName: string | undefined, pool: TaskPool, log: Log, o: { force?: boolean } = {}): Promise<MergeResult> {
  const plan = await readPlan(dir);
  const last = plan.stages.length - 1;
  const { stage, index: s } = stageOf(plan, stageName ?? plan.stages[last]!.name);
  const { up } = await loadUpstream(dir, plan, s + 1, { writeMerged: true });
  log.info(`${stage.name}: ${stage.shards} partial(s) complete and verified`);
  if (s !== last) return { stage: stage.name, results: null };
  const out = resolve(dir);
  if (!o.force) {
    try {
      await stat(join(out, RESULTS_TENSORS));
      throw new UserError(`${join(out, RESULTS_TENSORS)} already exists: refusing to overwrite it (use --force)`);
    } catch (e) {
      if (e instanceof UserError) throw e;
    }
  }
  const inputs = await loadPlanInputs(plan, log.warn);
  const fin = await finishFiles(dir, plan, up.digests);
  const results = await replayBuild({
    data: { config: plan.config, ...inputs, finishes: fin.cache },
    stages: plan.stages,
    store: up.store,
    pool,
    buildId: `${plan.planId.slice(0, 12)}-merge`,
    warn: log.warn,
  });
  (results.info as Record<string, unknown>).distributed = { planId: plan.planId, shards: plan.shards, stages: plan.stages.map((x) => x.name) };
  await saveResults(out, results, { force: !!o.force });
  log.info(`results: ${join(out, RESULTS_TENSORS)}`);
  return { stage: stage.name, results: out, build: results };
}

export interface StageStatus {
  stage: string;
  shards: number;
  done: number[];
  missing: number[];
  corrupt: string[];
  foreign: string[];
  merged: boolean;
  /** false when an earlier stage is incomplete (this stage's inputs are not known yet) */
  ready: boolean;
}

/** Progress per stage from the partials on disk. */
export async function planStatus(dir: string): Promise<{ plan: Plan; stages: StageStatus[]; results: boolean }> {
  const plan = await readPlan(dir);
  const digests: string[] = [];
  const stages: StageStatus[] = [];
  let ready = true;
  for (const stage of plan.stages) {
    const all = Array.from({ length: stage.shards }, (_, i) => i);
    if (!ready) {
      stages.push({ stage: stage.name, shards: stage.shards, done: [], missing: all, corrupt: [], foreign: [], merged: false, ready: false });
      continue;
    }
    const c: StageCheck = await checkStage(dir, plan, stage, inputsSha(plan.planId, digests));
    const complete = stageError(dir, c) === null;
    let merged = false;
    if (complete) {
      try {
        await stat(join(resolve(dir), 'merged', `${stage.name}.json`));
        merged = true;
      } catch {
        /* not merged yet */
      }
    }
    stages.push({
      stage: stage.name,
      shards: stage.shards,
      done: [...c.valid.keys()].sort((a, b) => a - b),
      missing: c.missing,
      corrupt: c.corrupt.map((x) => relative(resolve(dir), x.file)),
      foreign: c.foreign.map((x) => relative(resolve(dir), x.file)),
      merged,
      ready: true,
    });
    if (complete) digests.push(c.digest!);
    else ready = false;
  }
  let results = false;
  try {
    await stat(join(resolve(dir), RESULTS_TENSORS));
    results = true;
  } catch {
    /* none yet */
  }
  return { plan, stages, results };
}


/**
 * Runs every missing shard of every stage here (stage by stage, on `pool`), then the final merge:
 * the local engine of a plan. An interrupted run continues from the partials on disk.
 */
export async function runPlanLocally(dir: string, pool: TaskPool, log: Log, o: { force?: boolean } = {}): Promise<MergeResult> {
  const plan = await readPlan(dir);
  for (const stage of plan.stages) {
    for (let i = 0; i < stage.shards; i++) await runShard(dir, stage.name, i, pool, log);
  }
  return runMerge(dir, undefined, pool, log, o);
}

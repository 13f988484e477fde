/**
 * `interbasis build` on the stage graph: the build of one config on this machine as the one-shard
 * plan of that config (what `interbasis plan CONFIG --shards 1` writes), with each stage's partial
 * saved under DIR/.interbasis-build/ as soon as the stage is complete. A build started again with
 * the same command replays the stages found there (same planId, complete and verified) and runs
 * the rest; another config, model or data set gives another planId, and the old partials are
 * removed, never mixed in. Once the results are saved the directory is removed (unless kept).
 */
import { mkdir, rm } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { UserError } from '../errors.js';
import { writeFileAtomic } from '../io/files.nodejs.js';
import type { RibResults } from '../io/results.js';
import type { TaskPool } from '../parallel/pool.js';
import type { BuildConfig } from '../rib/config.js';
import type { ProgressSink } from '../rib/build.js';
import { toHex } from './codec.js';
import type { EvalSpec } from '../rib/evaluate.js';
import { encodePartial, inputsSha, loadUpstream, partialKey, partialName, partialsDir } from './partials.nodejs.js';
import { ownedRange, planFor, readPlanIfAny, writePlan, sha256Hex, type LoadedInputs, type Plan } from './plan.nodejs.js';
import { localBuild, stageGraph, type BlockRef, type StoredBlock } from './stages.js';

/** Where a build in DIR keeps its partials until it succeeds. */
export const BUILD_STATE_DIR = '.interbasis-build';

/** Whether a build of `c` can keep partials (a plan cannot hold builds that reuse saved results). */
export function canKeepPartials(c: BuildConfig): boolean {
  return c.gram_matrices_path === null && c.interaction_matrices_path === null;
}

export interface LocalBuildOptions {
  /** the results folder; the partials go to DIR/.interbasis-build */
  dir: string;
  config: BuildConfig;
  inputs: LoadedInputs;
  /** eval_type of the dataset, scored in the build's forward pass (as `ribBuild` does) */
  evaluation?: EvalSpec | null;
  pool: TaskPool;
  /** keep the partials after success (default: remove them) */
  keep?: boolean;
  progress?: ProgressSink;
  warn?: (m: string) => void;
  info?: (m: string) => void;
}

export interface LocalBuildResult {
  results: RibResults;
  /** stages replayed from an earlier, interrupted build */
  resumed: string[];
  /** stages computed by this build */
  ran: string[];
  stateDir: string;
}

/** Runs the build of `o.config` with its partials on disk (resuming from them when they match). */
export async function buildWithPartials(o: LocalBuildOptions): Promise<LocalBuildResult> {
  const info = o.info ?? (() => undefined);
  const warn = o.warn ?? (() => undefined);
  const root = resolve(o.dir);
  const sdir = join(root, BUILD_STATE_DIR);
  const rel = relative(process.cwd(), sdir);
  const shown = rel && !rel.startsWith('..') ? rel : sdir;
  stageGraph(o.config, 1);
  const plan: Plan = await planFor(o.config, 1, o.inputs);
  const old = await readPlanIfAny(sdir).catch((e: unknown) => (e instanceof UserError ? ({ planId: `unreadable (${e.message})` } as Plan) : Promise.reject(e)));
  if (old && old.planId !== plan.planId) {
    info(`${shown} holds partials of another config, model or data set (plan ${old.planId.slice(0, 12)}, now ${plan.planId.slice(0, 12)}): removing them`);
    await rm(sdir, { recursive: true, force: true });
  }
  const { up } = old && old.planId === plan.planId ? await loadUpstream(sdir, plan, plan.stages.length, { writeMerged: false, prefix: true }) : { up: { store: new Map(), digests: [] } };
  const resumed = plan.stages.slice(0, up.digests.length).map((s) => s.name);
  const ran = plan.stages.slice(up.digests.length).map((s) => s.name);
  if (resumed.length) info(`resuming from ${shown}: ${resumed.length} of ${plan.stages.length} stages done (${resumed.join(', ')}), running ${ran.length ? ran.join(', ') : 'none'}`);

  // partials are written in stage order, each as soon as its stage is complete, off the build's path
  const digests = [...up.digests];
  // set once the build has succeeded: saves not started yet are skipped (the partials go anyway)
  let done = false;
  let pending = 0;
  let chain: Promise<void> = old && old.planId === plan.planId ? Promise.resolve() : writePlan(sdir, plan);
  let failed: unknown = null;
  chain = chain.catch((e: unknown) => void (failed = e));
  const save = async (s: number, observed: BlockRef[], blocks: StoredBlock[]): Promise<void> => {
    const stage = plan.stages[s]!;
    const inSha = inputsSha(plan.planId, digests);
    const key = partialKey(plan.planId, stage.name, 0, inSha);
    const bytes = encodePartial(
      { format: 'interbasis-partial', planId: plan.planId, exp_name: plan.config.exp_name, stage: stage.name, index: 0, inputs_sha256: inSha, key, range: ownedRange(plan, stage, 0), observed },
      blocks,
    );
    const pdir = partialsDir(sdir, stage.name);
    await mkdir(pdir, { recursive: true });
    await writeFileAtomic(join(pdir, partialName(0, key)), bytes);
    digests.push(sha256Hex(`0:${toHex(bytes.subarray(bytes.length - 32))}`));
  };
  const results = await localBuild({
    data: { config: o.config, model: o.inputs.model, dataset: o.inputs.dataset, gramDataset: o.inputs.gramDataset, evaluation: o.evaluation ?? null },
    stages: plan.stages,
    store: up.store,
    pool: o.pool,
    progress: o.progress,
    warn,
    onStageDone: (s, observed, blocks, atEnd) => {
      blocks.catch(() => undefined); // a failed task fails the build itself
      // stages that end with the build are only worth saving when the partials are kept
      if (atEnd && !o.keep) return;
      pending++;
      chain = chain.then(async () => {
        try {
          if (!failed && !done) await save(s, observed, await blocks);
        } catch (e) {
          failed = e;
        } finally {
          pending--;
        }
      });
    },
    busy: () => pending > 0,
  });
  done = !o.keep;
  await chain;
  if (failed) warn(`could not save the partials in ${shown} (${(failed as Error).message}); an interrupted build would start over`);
  return { results, resumed, ran, stateDir: sdir };
}

/** Removes DIR/.interbasis-build (after the results are saved). */
export async function removeBuildState(dir: string): Promise<void> {
  await rm(join(resolve(dir), BUILD_STATE_DIR), { recursive: true, force: true });
}

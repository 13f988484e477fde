/**
 * The engine-neutral plan of a distributed build: DIR/plan.json holds the resolved config, the
 * package version, the sha256 of the model and dataset files, the shard ranges and the stage
 * graph; planId is the sha256 of its canonical JSON (without the planId field).
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { UserError } from '../errors.js';
import { writeFileAtomic } from '../io/files.nodejs.js';
import { initKernels } from '../linalg/index.js';
import type { Dataset } from '../data/types.js';
import { findConfig } from '../models/load.nodejs.js';
import { resolveHfFiles } from '../models/hf/load.nodejs.js';
import { VERSION } from '../rib/build.js';
import { datasetFor, loadModelFor } from '../rib/build.nodejs.js';
import { parseBuildConfig, type BuildConfig } from '../rib/config.js';
import { checkInputFiles, loadBuildConfig } from '../rib/config.nodejs.js';
import type { Model } from '../models/types.js';
import { canonicalJson } from './codec.js';
import { sampleRange, stageGraph, type PlanStage } from './stages.js';

export const PLAN_FILE = 'plan.json';
export const PLAN_FORMAT = 'interbasis-plan';

export interface FileHash {
  role: string;
  path: string;
  bytes: number;
  sha256: string;
}

export interface DatasetInfo {
  name: string;
  n: number;
  /** sha256 of the inputs array's bytes (and labels, if any) as the build sees them */
  sha256: string;
}

export interface Plan {
  format: typeof PLAN_FORMAT;
  format_version: 1;
  planId: string;
  package_version: string;
  config: BuildConfig;
  files: FileHash[];
  datasets: { dataset: DatasetInfo | null; gram_dataset: DatasetInfo | null };
  shards: number;
  /** samples [start, end) of each shard index, per divided dataset */
  shard_ranges: { dataset: Array<[number, number]> | null; gram_dataset: Array<[number, number]> | null };
  block_rule: string;
  edges_split: { requested: string; used: 'dataset' | 'out_dim'; note: string };
  stages: PlanStage[];
}

export function sha256Hex(b: Uint8Array | string): string {
  return createHash('sha256').update(b).digest('hex');
}

export function sha256Bytes(b: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(b).digest());
}

async function hashFile(role: string, path: string): Promise<FileHash> {
  const b = await readFile(path);
  return { role, path, bytes: b.length, sha256: sha256Hex(b) };
}

/** sha256 of what the build reads from a dataset: its inputs (and labels). */
export function datasetInfo(d: Dataset): DatasetInfo {
  const h = createHash('sha256');
  const inp = d.inputs;
  h.update(`${inp.kind}:${inp.batch}:${inp.kind === 'tokens' ? inp.seqLen : inp.width}:`);
  h.update(new Uint8Array(inp.data.buffer, inp.data.byteOffset, inp.data.byteLength));
  if (d.labels) h.update(new Uint8Array(d.labels.buffer, d.labels.byteOffset, d.labels.byteLength));
  return { name: d.name, n: d.n, sha256: h.digest('hex') };
}

/** The model and dataset files a config reads (what the plan hashes). */
async function inputFiles(c: BuildConfig): Promise<Array<[string, string]>> {
  const out: Array<[string, string]> = [];
  if (c.model?.type === 'hf') {
    // a Hugging Face file or folder: the checkpoint (every shard of a sharded one) and config.json
    const f = await resolveHfFiles(c.model.path, c.model.config);
    if (f.checkpoint.endsWith('.index.json')) {
      const index = JSON.parse(await readFile(f.checkpoint, 'utf8')) as { weight_map?: Record<string, string> };
      out.push(['model index', f.checkpoint]);
      for (const shard of [...new Set(Object.values(index.weight_map ?? {}))].sort()) out.push(['model', join(f.folder, shard)]);
    } else out.push(['model', f.checkpoint]);
    out.push(['model config', f.config]);
    return [...out, ...datasetFiles(c)];
  }
  const ck = c.tlens_model_path ?? c.mlp_path ?? c.model?.path ?? null;
  if (ck) {
    out.push(['model', ck]);
    const cfg = c.model?.config ?? (await findConfig(ck).catch(() => null));
    if (cfg) out.push(['model config', cfg]);
  }
  return [...out, ...datasetFiles(c)];
}

function datasetFiles(c: BuildConfig): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  if (c.dataset?.dataset_type === 'file') out.push(['dataset', c.dataset.path]);
  if (c.gram_dataset?.dataset_type === 'file') out.push(['gram_dataset', c.gram_dataset.path]);
  return out;
}

export interface LoadedInputs {
  model: Model;
  dataset: Dataset | null;
  gramDataset: Dataset | null;
}

export async function loadInputs(c: BuildConfig, warn: (m: string) => void): Promise<LoadedInputs> {
  const model = await loadModelFor(c);
  const dataset = c.dataset ? await datasetFor(c.dataset, c, 'dataset', warn) : null;
  const gramDataset = c.gram_dataset ? await datasetFor(c.gram_dataset, c, 'gram_dataset', warn) : null;
  return { model, dataset, gramDataset };
}

export function parseShardCount(v: string | number | undefined): number {
  const n = Number(v);
  if (v === undefined || !Number.isInteger(n) || n < 1 || n > 10000) throw new UserError(`--shards must be an integer between 1 and 10000, got '${v}'`);
  return n;
}

/** Builds the plan of `configPath` in `shards` shards (loads the model and data to hash them). */
export async function makePlan(configPath: string, shards: number, warn: (m: string) => void): Promise<{ plan: Plan; inputs: LoadedInputs }> {
  const c = await loadBuildConfig(configPath);
  checkInputFiles(c);
  await initKernels();
  stageGraph(c, shards); // refuses what a plan cannot hold before anything is loaded
  const inputs = await loadInputs(c, warn);
  return { plan: await planFor(c, shards, inputs), inputs };
}

/** The plan of config `c` in `shards` shards, for its loaded model and data. */
export async function planFor(c: BuildConfig, shards: number, inputs: LoadedInputs): Promise<Plan> {
  const stages = stageGraph(c, shards);
  const files = await Promise.all((await inputFiles(c)).map(([r, p]) => hashFile(r, p)));
  const dsi = inputs.dataset ? datasetInfo(inputs.dataset) : null;
  const gdsi = inputs.gramDataset ? datasetInfo(inputs.gramDataset) : null;
  const ranges = (n: number | undefined) => (n === undefined ? null : Array.from({ length: shards }, (_, i) => sampleRange(n, shards, i)));
  const body: Omit<Plan, 'planId'> = {
    format: PLAN_FORMAT,
    format_version: 1,
    package_version: VERSION,
    config: c,
    files,
    datasets: { dataset: dsi, gram_dataset: gdsi },
    shards,
    shard_ranges: { dataset: ranges(dsi?.n), gram_dataset: ranges(gdsi?.n) },
    block_rule:
      'each stage is cut into the build\'s fixed sample blocks; a block belongs to the shard whose sample range holds its first sample; ' +
      'partials hold every owned block\'s raw sums, and merges fold all blocks in ascending block order',
    edges_split: {
      requested: c.dist_split_over,
      used: c.dist_split_over === 'out_dim' ? 'out_dim' : 'dataset',
      note:
        c.dist_split_over === 'out_dim'
          ? 'each edges shard computes every sample block for its slice of the output dimensions; the merge joins the slices row-wise'
          : 'edges are summed over data shards',
    },
    stages,
  };
  return { ...body, planId: planIdOf(body) };
}

export function planIdOf(body: Omit<Plan, 'planId'> | Plan): string {
  const { planId: _drop, ...rest } = body as Plan;
  void _drop;
  // the memory budget changes what is stored, never a result: partials survive a new --memory
  const { memory_budget_gb: _mem, ...config } = rest.config as unknown as Record<string, unknown>;
  void _mem;
  return sha256Hex(canonicalJson({ ...rest, config }));
}

/** Writes DIR/plan.json; an existing plan of another config is never replaced. */
export async function writePlan(dir: string, plan: Plan): Promise<void> {
  const abs = resolve(dir);
  try {
    await mkdir(abs, { recursive: true });
  } catch (e) {
    throw new UserError(`cannot create ${abs}: ${(e as Error).message}`);
  }
  const p = join(abs, PLAN_FILE);
  const old = await readPlanIfAny(abs);
  if (old) {
    if (old.planId === plan.planId) return;
    throw new UserError(`${p} holds another plan (${old.planId.slice(0, 12)}, config ${old.config.exp_name}, ${old.shards} shards); use a new directory`);
  }
  await writeFileAtomic(p, JSON.stringify(plan, null, 2) + '\n');
}

export async function readPlanIfAny(dir: string): Promise<Plan | null> {
  try {
    await stat(join(dir, PLAN_FILE));
  } catch {
    return null;
  }
  return readPlan(dir);
}

/** Reads and checks DIR/plan.json (format, planId, config). */
export async function readPlan(dir: string): Promise<Plan> {
  const p = join(resolve(dir), PLAN_FILE);
  let text: string;
  try {
    text = await readFile(p, 'utf8');
  } catch (e) {
    throw new UserError(`no plan in ${dir}: cannot read ${p} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); run interbasis plan first`);
  }
  let plan: Plan;
  try {
    plan = JSON.parse(text) as Plan;
  } catch (e) {
    throw new UserError(`${p}: not valid JSON (${(e as Error).message})`);
  }
  if (plan?.format !== PLAN_FORMAT || plan.format_version !== 1) throw new UserError(`${p}: not an interbasis plan (format ${JSON.stringify(plan?.format)})`);
  if (planIdOf(plan) !== plan.planId) throw new UserError(`${p}: planId ${String(plan.planId).slice(0, 12)} does not match its content (the file was edited); make a new plan`);
  plan.config = parseBuildConfig(plan.config);
  return plan;
}

/** Loads the plan's model and data and checks them against the plan's hashes. */
export async function loadPlanInputs(plan: Plan, warn: (m: string) => void): Promise<LoadedInputs> {
  for (const f of plan.files) {
    let h: FileHash;
    try {
      h = await hashFile(f.role, f.path);
    } catch (e) {
      throw new UserError(`${f.role} ${f.path}: cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); the plan needs the same files on every node`);
    }
    if (h.sha256 !== f.sha256) throw new UserError(`${f.role} ${f.path} changed since the plan was made (sha256 ${h.sha256.slice(0, 12)}, plan ${f.sha256.slice(0, 12)})`);
  }
  const inputs = await loadInputs(plan.config, warn);
  const check = (key: 'dataset' | 'gram_dataset', d: Dataset | null) => {
    const want = plan.datasets[key];
    if (!want && !d) return;
    const got = d ? datasetInfo(d) : null;
    if (!got || !want || got.sha256 !== want.sha256 || got.n !== want.n) {
      throw new UserError(`${key}: the data differ from the plan's (${got ? `${got.n} samples, sha256 ${got.sha256.slice(0, 12)}` : 'none'} vs ${want ? `${want.n}, ${want.sha256.slice(0, 12)}` : 'none'})`);
    }
  };
  check('dataset', inputs.dataset);
  check('gram_dataset', inputs.gramDataset);
  return inputs;
}

/** Samples owned by shard `index` of `stage`: null for one-node and out_dim stages (all blocks). */
export function ownedRange(plan: Plan, stage: PlanStage, index: number): [number, number] | null {
  if (stage.split !== 'dataset') return null;
  const key = stage.samples === 'gram_dataset' && plan.shard_ranges.gram_dataset ? 'gram_dataset' : 'dataset';
  const r = plan.shard_ranges[key];
  if (!r) throw new UserError(`stage ${stage.name}: the plan has no ${key} to divide`);
  return r[index]!;
}

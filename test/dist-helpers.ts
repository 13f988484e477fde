/** Helpers for the distributed-build tests: run a whole plan in-process, compare results bytes. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runBuildCli } from '../src/cli/build.js';
import { makePlan, writePlan } from '../src/dist/plan.nodejs.js';
import { runMerge, runShard, type Log } from '../src/dist/run.nodejs.js';
import { InlinePool } from '../src/parallel/pool.js';
import '../src/tasks.js';
import { tmpDir, writeConfig } from './rib-helpers.js';

export const quietLog: Log = { info: () => undefined, warn: () => undefined };
export const quietIo = { out: { write: () => true } as unknown as NodeJS.WritableStream, err: { write: () => true } as unknown as NodeJS.WritableStream };

/** A small block-diagonal ReLU MLP on block vectors: several blocks in every stage. */
export function tinyMlpConfig(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    exp_name: 'tiny_mlp',
    modular_mlp_config: { n_hidden_layers: 2, width: 8, first_block_width: 3, weight_variances: [1, 1], bias: 0.1, activation_fn: 'relu', seed: 1 },
    node_layers: ['layers.0', 'layers.1', 'layers.2', 'output'],
    rotate_final_node_layer: false,
    dataset: { dataset_type: 'block_vector', size: 2600, length: 8, data_variances: [1, 2], seed: 3 },
    batch_size: 100,
    truncation_threshold: 1e-12,
    out_dir: null,
    ...extra,
  };
}

/** results.safetensors of a one-process `interbasis build` (1 worker). */
export async function buildBytes(config: string, out: string): Promise<Buffer> {
  await runBuildCli(config, { out, workers: '1' }, quietIo);
  return readFileSync(join(out, 'results.safetensors'));
}

/** plan → every shard of every stage (in-process, ascending) → final merge; returns the plan dir. */
export async function runPlanInProcess(config: string, shards: number, dir = join(tmpDir('dist-'), 'plan')): Promise<string> {
  const { plan } = await makePlan(config, shards, () => undefined);
  await writePlan(dir, plan);
  const pool = new InlinePool();
  for (const s of plan.stages) for (let i = 0; i < s.shards; i++) await runShard(dir, s.name, i, pool, quietLog);
  await runMerge(dir, undefined, pool, quietLog);
  return dir;
}

export function writeTmpConfig(cfg: Record<string, unknown>): string {
  return writeConfig(tmpDir('dist-cfg-'), cfg);
}

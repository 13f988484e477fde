/**
 * `interbasis plan CONFIG.yaml --shards N --out DIR`: the engine-neutral plan of a distributed
 * build (DIR/plan.json; see docs/distributed.md).
 */
import type { Command } from 'commander';
import { resolve } from 'node:path';
import { makePlan, parseShardCount, writePlan } from '../dist/plan.nodejs.js';
import { UserError } from '../errors.js';

export async function runPlanCli(config: string, o: { shards?: string; out?: string; json?: boolean }, out: NodeJS.WritableStream = process.stdout): Promise<string> {
  const shards = parseShardCount(o.shards);
  if (!o.out) throw new UserError('--out DIR is required');
  const { plan } = await makePlan(config, shards, (m) => process.stderr.write(`interbasis: warning: ${m}\n`));
  await writePlan(o.out, plan);
  if (o.json) out.write(JSON.stringify({ event: 'plan', dir: resolve(o.out), planId: plan.planId, stages: plan.stages.map((s) => ({ name: s.name, shards: s.shards })) }) + '\n');
  else {
    out.write(`plan ${plan.planId} → ${resolve(o.out, 'plan.json')}\n`);
    for (const s of plan.stages) out.write(`  ${s.name.padEnd(18)} ${String(s.shards).padStart(4)} shard(s)  ${s.what}\n`);
  }
  return plan.planId;
}

export function register(program: Command): void {
  program
    .command('plan')
    .description('write the plan of a distributed build (stages, shard ranges, input hashes) into DIR/plan.json')
    .argument('<config>', 'build config (.yaml/.yml/.json)')
    .requiredOption('--shards <n>', 'number of data shards')
    .requiredOption('--out <dir>', 'plan directory (partials and results go there too)')
    .option('--json', 'print a JSON summary')
    .action(async (config: string, o: { shards?: string; out?: string; json?: boolean }) => {
      await runPlanCli(config, o);
    });
}

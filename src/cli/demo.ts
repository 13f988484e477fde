/**
 * `interbasis demo [--out DIR] [--workers N] [--force] [--json]` (`npm run demo`): the whole pipeline
 * on a built-in block-diagonal MLP with hidden blocks (src/rib/demo.ts), in both the RIB and the PCA
 * basis. Writes DIR/{model.safetensors, config.json, data.safetensors, rib.yaml, pca.yaml} (so the
 * builds can be re-run with `interbasis build`) and DIR/rib, DIR/pca results. Without --out, DIR is
 * a fresh timestamped folder under out/demo, so a demo never overwrites earlier output.
 */
import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { stringify } from 'yaml';
import { UserError } from '../errors.js';
import { initKernels } from '../linalg/index.js';
import { writeFileAtomic } from '../io/files.nodejs.js';
import { serializeSafetensors } from '../io/safetensors.js';
import type { RibResults } from '../io/results.js';
import { loadBuildConfig } from '../rib/config.nodejs.js';
import { runBuildFromConfig } from '../rib/build.nodejs.js';
import { DEMO_DEFAULTS, demoConfig, demoDataset, demoHooks, demoModel, demoRecovery, demoSummary, formatDemo, formatRecovery, registerDemoHook, type DemoRow, type Recovery } from '../rib/demo.js';
import { writeReport } from '../analysis/report/write.nodejs.js';
import { makeProgress } from '../rib/progress.nodejs.js';
import { checkWritableDir } from '../io/preflight.nodejs.js';
import { makePool, parseWorkers, workersOption } from './options.js';

// the demo also writes the report for its built-in model (DIR/report.html)
registerDemoHook(async (dirs) => {
  const path = await writeReport({ resultsDir: dirs.rib, out: join(dirs.root, 'report.html'), force: true, title: 'interbasis demo — block-diagonal MLP (RIB basis)' });
  process.stderr.write(`report: ${path}\n`);
});

export interface DemoCliOptions {
  out?: string;
  /** worker threads (see parseWorkers; default: available cores) */
  workers?: number;
  force?: boolean;
  json?: boolean;
}

function stamp(): string {
  return new Date().toISOString().replace(/[:.]/g, '-');
}

export async function runDemoCli(o: DemoCliOptions, io: { out?: NodeJS.WritableStream; err?: NodeJS.WritableStream } = {}): Promise<{ dir: string; rows: DemoRow[]; recovery: Recovery[]; rib: RibResults; pca: RibResults }> {
  const out = io.out ?? process.stdout;
  const workers = parseWorkers(o.workers);
  const dir = resolve(o.out ?? join('out', 'demo', stamp()));
  if (existsSync(join(dir, 'rib', 'results.safetensors')) && !o.force) {
    throw new UserError(`${dir} already holds demo results; use --force to overwrite them or another --out`);
  }
  checkWritableDir(dir);
  await initKernels();
  await mkdir(dir, { recursive: true });
  const opts = DEMO_DEFAULTS;
  const { model, Q0 } = demoModel(opts);
  const data = demoDataset(Q0, opts);
  // the model and data as files, so `interbasis build DIR/rib.yaml` reproduces the demo
  await writeFileAtomic(join(dir, 'model.safetensors'), serializeSafetensors(Object.fromEntries([...model.tensors].map(([k, v]) => [k, { dtype: 'F64' as const, shape: model.shapes.get(k)!, data: v }]))));
  await writeFileAtomic(join(dir, 'config.json'), JSON.stringify({ model: model.config, demo: opts }, null, 2) + '\n');
  await writeFileAtomic(join(dir, 'data.safetensors'), serializeSafetensors({ inputs: { dtype: 'F64', shape: [data.n, opts.width], data: (data.inputs as { data: Float64Array }).data } }));
  const pr = makeProgress({ json: !!o.json, out, err: io.err });
  const pool = await makePool(workers);
  const results: Record<string, RibResults> = {};
  try {
    for (const basis of ['jacobian', 'svd'] as const) {
      const name = basis === 'svd' ? 'pca' : 'rib';
      const raw = { ...demoConfig(basis, opts), out_dir: '.', modular_mlp_config: null, model: { type: 'mlp', path: 'model.safetensors', config: 'config.json' }, dataset: { dataset_type: 'file', path: 'data.safetensors', inputs: 'inputs' } };
      const cfgPath = join(dir, `${name}.yaml`);
      await writeFileAtomic(cfgPath, stringify(raw));
      const cfg = await loadBuildConfig(cfgPath);
      const r = await runBuildFromConfig(cfg, { out: join(dir, name), force: !!o.force, pool, progress: pr.sink, warn: pr.warn });
      results[name] = r.results;
    }
  } finally {
    pr.stop();
    await pool.destroy();
  }
  const rows = demoSummary(results.rib!, results.pca!);
  const recovery = [demoRecovery(results.rib!, 'rib', opts), demoRecovery(results.pca!, 'pca', opts)];
  for (const h of demoHooks()) await h({ root: dir, rib: join(dir, 'rib'), pca: join(dir, 'pca') });
  if (o.json) out.write(JSON.stringify({ event: 'done', dir, rows, recovery }) + '\n');
  else {
    out.write(
      `interbasis demo: block-diagonal ReLU MLP (${opts.hiddenLayers} hidden layers, width ${opts.width}, blocks ${opts.firstBlock}+${opts.width - opts.firstBlock}) ` +
        `with blocks hidden by a random input/output rotation and random hidden-unit permutations; ${opts.samples} rotated block vectors\n\n`,
    );
    out.write(formatDemo(rows) + '\n\n');
    out.write(formatRecovery(recovery) + '\n\n');
    out.write(`edge sparsity = share of the layer's outgoing edge entries below 1e-3 of the largest\nresults: ${dir}/{rib,pca}  (re-run: interbasis build ${join(dir, 'rib.yaml')} --force)\n`);
  }
  return { dir, rows, recovery, rib: results.rib!, pca: results.pca! };
}

export function register(program: Command): void {
  const cmd = program
    .command('demo')
    .description('run the whole pipeline on a built-in block-diagonal MLP with hidden blocks (RIB vs PCA)')
    .option('--out <dir>', 'output directory (default: a fresh out/demo/<timestamp>)');
  workersOption(cmd)
    .option('--force', 'overwrite demo results already in --out')
    .option('--json', 'NDJSON progress and summary')
    .action(async (o: DemoCliOptions) => {
      await runDemoCli(o);
    });
}

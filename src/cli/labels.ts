/**
 * `interbasis labels RESULTS` — Fourier labels of the RIB directions of a modular-addition model
 * (spec §8.7), written as CSV in the reference's format (one row per rotated node layer, then the
 * output row; cells "NN% term|NN% term…").
 */
import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { dirname, resolve, basename } from 'node:path';
import { UserError } from '../errors.js';
import { writeFileAtomic } from '../io/files.nodejs.js';
import { loadResults } from '../io/results.nodejs.js';
import { initKernels } from '../linalg/index.js';
import { modAddLabels, toCsv } from '../analysis/labels.js';
import { modelForResults } from '../analysis/inputs.nodejs.js';
import { positiveInt } from './options.js';
import { checkOutputFile } from '../io/preflight.nodejs.js';

export interface LabelsCliOptions {
  out?: string;
  model?: string;
  modelConfig?: string;
  maxDim?: number;
  force?: boolean;
}

/** Compute the labels of a results file/folder and write the CSV; returns the path and rows. */
export async function labelsFromResults(resultsPath: string, opts: LabelsCliOptions = {}): Promise<{ path: string; rows: string[][] }> {
  const rp = resolve(resultsPath);
  if (!existsSync(rp)) throw new UserError(`RIB results not found: ${resultsPath}`);
  const out = opts.out ? resolve(opts.out) : resolve(dirname(rp), `${basename(rp).replace(/\.(safetensors|json)$/, '')}_labels.csv`);
  checkOutputFile(out, !!opts.force);
  await initKernels();
  const results = await loadResults(rp);
  const ds = (results.config?.dataset ?? null) as Record<string, unknown> | null;
  if (ds && ds.dataset_type !== undefined && ds.dataset_type !== 'modular_arithmetic') {
    throw new UserError(`labels: only modular-arithmetic models have Fourier labels (this build used dataset_type ${String(ds.dataset_type)})`);
  }
  const model = await modelForResults(results, rp, opts.model ? { type: 'transformer', path: resolve(opts.model), config: opts.modelConfig ? resolve(opts.modelConfig) : null } : null);
  const modulus = typeof ds?.modulus === 'number' ? ds.modulus : 113;
  const { rows } = modAddLabels(results, model, { maxDim: opts.maxDim ?? 50, modulus });
  await writeFileAtomic(out, toCsv(rows));
  return { path: out, rows };
}

export function register(program: Command): void {
  program
    .command('labels')
    .description('Fourier labels of the RIB directions of a modular-addition model (CSV, reference format)')
    .argument('<results>', 'RIB results (our results folder, results.safetensors, or a refdata rib_graph_*.safetensors)')
    .option('--out <file>', 'output CSV (default: <results>_labels.csv beside the results)')
    .option('--model <file>', 'model checkpoint (when the path stored in the results does not exist here)')
    .option('--model-config <file>', 'model config JSON (default: config.json beside the checkpoint)')
    .option('--max-dim <n>', 'directions labelled per layer (default 50)', positiveInt('--max-dim'))
    .option('--force', 'overwrite an existing output file')
    .action(async (results: string, opts: LabelsCliOptions) => {
      const { path } = await labelsFromResults(results, opts);
      process.stderr.write(`wrote ${path}\n`);
    });
}

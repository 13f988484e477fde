/**
 * `interbasis compare A B [--json]`: compare two LIB results (our result directories or
 * results.safetensors, refdata rib_graph_*.safetensors, reference .pt files).
 */
import type { Command } from 'commander';
import { initKernels } from '../linalg/index.js';
import { loadResults } from '../io/results.nodejs.js';
import { compareResults, formatComparison, type Comparison } from '../rib/compare.js';

export async function runCompareCli(a: string, b: string, o: { json?: boolean }, out: NodeJS.WritableStream = process.stdout): Promise<Comparison> {
  await initKernels();
  const ra = await loadResults(a);
  const rb = await loadResults(b);
  const c = compareResults(ra, rb);
  if (o.json) out.write(JSON.stringify({ a, b, ...c }) + '\n');
  else out.write(`A: ${a}\nB: ${b}\n\n${formatComparison(c)}\n`);
  return c;
}

export function register(program: Command): void {
  program
    .command('compare')
    .description('compare two LIB results: dims, Λ, C subspaces and edges per layer')
    .argument('<a>', 'results directory, results.safetensors, rib_graph_*.safetensors or .pt')
    .argument('<b>', 'results to compare against')
    .option('--json', 'machine-readable output')
    .action(async (a: string, b: string, o: { json?: boolean }) => {
      await runCompareCli(a, b, o);
    });
}

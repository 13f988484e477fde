/**
 * `interbasis report RESULTS [--ablations FILE…] [--clusters FILE] [--out report.html]` — one
 * self-contained HTML file with the interaction graph, piano plot, Λ spectra and ablation curves.
 */
import type { Command } from 'commander';
import { UserError } from '../errors.js';
import { writeReport } from '../analysis/report/write.nodejs.js';
import { positiveInt } from './options.js';

interface ReportCliOptions {
  ablations?: string[];
  clusters?: string;
  out?: string;
  force?: boolean;
  title?: string;
  gamma?: number;
  maxNodes?: number;
  topK?: number;
  explorer?: boolean;
}

export function register(program: Command): void {
  program
    .command('report')
    .description('Write a self-contained HTML report (interaction graph, piano plot, Λ spectra, ablation curves)')
    .argument('<results>', 'RIB results (our results folder, results.safetensors, or a refdata rib_graph_*.safetensors)')
    .option('--ablations <files...>', 'ablation JSONs (ours or the reference\'s); bisect edge ablations also set the edge norm')
    .option('--clusters <file>', 'cluster JSON from `interbasis cluster` (default: Leiden computed here)')
    .option('--out <file>', 'output HTML', 'report.html')
    .option('--title <text>', 'report title')
    .option('--gamma <g>', 'resolution γ for clusters computed here (default 1)', (v) => {
      const g = Number(v);
      if (!(g > 0) || !Number.isFinite(g)) throw new UserError(`--gamma must be a number > 0, got ${v}`);
      return g;
    })
    .option('--max-nodes <n>', 'nodes drawn per layer (default 30)', positiveInt('--max-nodes'))
    .option('--top-k <n>', 'edges drawn between consecutive layers (default 80)', positiveInt('--top-k'))
    .option('--force', 'overwrite an existing output file')
    .option('--explorer', 'embed the interactive explorer (<interbasis-graph>) with the results inline (small results)')
    .action(async (results: string, o: ReportCliOptions) => {
      const path = await writeReport({ resultsDir: results, ablations: o.ablations, clusters: o.clusters ?? null, out: o.out ?? 'report.html', force: o.force, title: o.title, gamma: o.gamma, maxNodes: o.maxNodes, topK: o.topK, explorer: o.explorer });
      process.stderr.write(`wrote ${path}\n`);
    });
}

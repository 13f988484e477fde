/**
 * `interbasis cluster RESULTS`: normalise the RIB edges, build the interaction graph, find modules
 * with Leiden (or Louvain), print cluster statistics (with the other method's modularity for
 * comparison) and write the clusters as JSON.
 */
import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { UserError } from '../errors.js';
import { initKernels } from '../linalg/index.js';
import { loadResults } from '../io/results.nodejs.js';
import { readStructured, writeFileAtomic } from '../io/files.nodejs.js';
import { clusterResults, type ClusterRun } from '../analysis/clusters.js';
import { NORM_NAMES } from '../analysis/norms.js';

export interface ClusterCliOptions {
  gamma: string;
  norm?: string;
  epsilon?: string;
  ablation?: string;
  seed: string;
  method: string;
  iterations?: string;
  out: string;
  force?: boolean;
  json?: boolean;
  top: string;
  targetNClusters?: string;
}

function num(name: string, v: string): number {
  const x = Number(v);
  if (v.trim() === '' || !Number.isFinite(x)) throw new UserError(`--${name} must be a finite number, got '${v}'`);
  return x;
}

function int(name: string, v: string, min: number): number {
  const x = num(name, v);
  if (!Number.isInteger(x) || x < min) throw new UserError(`--${name} must be an integer ≥ ${min}, got '${v}'`);
  return x;
}

/** Runs the command; returns the run (for tests). */
export async function runClusterCli(results: string, o: ClusterCliOptions, log: (s: string) => void = (s) => process.stdout.write(s + '\n')): Promise<ClusterRun> {
  const gamma = num('gamma', o.gamma);
  if (!(gamma > 0)) throw new UserError(`--gamma must be > 0, got ${o.gamma}`);
  const seed = int('seed', o.seed, 0);
  if (o.method !== 'leiden' && o.method !== 'louvain') throw new UserError(`--method must be leiden or louvain, got '${o.method}'`);
  const top = int('top', o.top, 0);
  const iterations = o.iterations === undefined ? undefined : int('iterations', o.iterations, 1);
  const epsilon = o.epsilon === undefined ? undefined : num('epsilon', o.epsilon);
  const targetNClusters = o.targetNClusters === undefined ? undefined : int('target-n-clusters', o.targetNClusters, 1);

  const r = await loadResults(results);
  const ablation = o.ablation === undefined ? undefined : await readStructured(o.ablation);
  if (existsSync(o.out) && !o.force) throw new UserError(`${o.out} exists; choose another --out or pass --force to replace it`);
  await initKernels();
  let run: ClusterRun;
  try {
    run = clusterResults(r, { gamma, norm: o.norm, epsilon, ablation, seed, method: o.method, iterations, targetNClusters });
  } catch (e) {
    if (e instanceof RangeError) throw new UserError(`${results}: ${e.message}`);
    throw e;
  }
  const doc = {
    results: results,
    gamma: run.gamma,
    norm: run.norm,
    epsilon: run.epsilon,
    ablation: o.ablation ?? null,
    ablation_threshold: run.ablation_threshold,
    seed: run.seed,
    method: run.method,
    modularity: run.modularity,
    modularity_gamma: run.modularity_gamma,
    n_clusters: run.n_clusters,
    n_non_singleton: run.n_non_singleton,
    comparison: run.comparison,
    centred: run.centred,
    layers: run.layers,
    widths: run.widths,
    n_nodes: run.n_nodes,
    n_edges: run.n_edges,
    total_weight: run.total_weight,
    time_ms: run.time_ms,
    edges_kept: run.edges_kept,
    clusters: run.clusters,
    assignment: run.assignment,
    piano: run.piano,
    target_n_clusters: run.gamma_search ? { target: run.gamma_search.target, gamma: run.gamma_search.gamma, tries: run.gamma_search.tries } : null,
  };
  await writeFileAtomic(o.out, JSON.stringify(doc) + '\n');
  if (o.json) {
    log(JSON.stringify(doc, null, 1));
    return run;
  }
  const f = (x: number, d = 4) => x.toFixed(d);
  log(`graph: ${run.n_nodes} nodes in ${run.layers.length} layers (${run.layers.map((l, i) => `${l}:${run.widths[i]}`).join(', ')}), ` +
    `${run.n_edges} edges, norm ${run.norm}${run.epsilon === null ? '' : ` ε=${JSON.stringify(run.epsilon)}`}${run.centred ? ', constant nodes isolated' : ''}`);
  if (run.gamma_search) {
    const gs = run.gamma_search;
    log(`target_n_clusters ${gs.target}: ${gs.tries.filter((t) => t.n_non_singleton === gs.target).length} of ${gs.tries.length} γ draws hit it; kept γ=${gs.gamma.toPrecision(6)} (best modularity)`);
  }
  log(`${run.method} (γ=${run.gamma_search ? run.gamma.toPrecision(6) : gamma}, seed ${seed}): modularity ${f(run.modularity)}, Q_γ ${f(run.modularity_gamma)}, ` +
    `${run.n_clusters} clusters (${run.n_non_singleton} non-singleton), ${f(run.time_ms, 1)} ms`);
  if (run.comparison) {
    const c = run.comparison;
    log(`${c.method} (same γ, seed): modularity ${f(c.modularity)}, Q_γ ${f(c.modularity_gamma)}, ` +
      `${c.n_clusters} clusters (${c.n_non_singleton} non-singleton), ${f(c.time_ms, 1)} ms`);
  }
  log('edges kept inside clusters:');
  for (const e of run.edges_kept) {
    log(`  ${e.from} -> ${e.to}: ${e.num_edges_kept}/${e.num_edges} edges (${f(100 * e.fraction, 1)}%), weight ${f(100 * e.weight_fraction, 1)}%`);
  }
  const shown = run.clusters.filter((c) => c.size > 1).slice(0, top);
  if (shown.length > 0) {
    log(`top ${shown.length} clusters:`);
    log('  id   size  span  per layer');
    for (const c of shown) {
      const per = run.layers.map((l) => `${l}:${c.layers_counter[l] ?? 0}`).join(' ');
      log(`  ${String(c.id).padStart(3)} ${String(c.size).padStart(6)} ${String(c.span).padStart(5)}  ${per}`);
    }
  }
  log(`wrote ${o.out}`);
  return run;
}

export function register(program: Command): void {
  program
    .command('cluster')
    .description('find modules in the RIB interaction graph (Leiden, with Louvain for comparison) and write them as JSON')
    .argument('<results>', 'results directory, results.safetensors, or a reference rib_graph_*.safetensors')
    .option('--gamma <g>', 'modularity resolution γ > 0', '1')
    .option('--norm <name>', `edge normalisation: ${NORM_NAMES.join(', ')} (default: bylayer-log with --ablation, else identity)`)
    .option('--epsilon <e>', 'ε for the log norms')
    .option('--ablation <file>', 'edge-ablation (bisect) results JSON: per-layer ε for the log norms')
    .option('--seed <s>', 'random seed', '0')
    .option('--method <m>', 'leiden or louvain', 'leiden')
    .option('--iterations <n>', 'Leiden passes (default: until stable, at most 10)')
    .option('--target-n-clusters <n>', 'search γ (log-normal draws around --gamma) for n non-singleton clusters; keeps the best modularity of 10 hits')
    .option('--top <k>', 'print the k largest clusters', '10')
    .option('--out <file>', 'output JSON', 'clusters.json')
    .option('--force', 'replace an existing --out file')
    .option('--json', 'print the JSON document instead of the summary')
    .action(async (results: string, opts: ClusterCliOptions) => {
      await runClusterCli(results, opts);
    });
}

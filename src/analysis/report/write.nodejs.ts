/**
 * `writeReport`: load RIB results, ablation JSONs and a cluster JSON from disk and write the
 * self-contained HTML report atomically (refuses to overwrite unless `force`).
 */
import { existsSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { UserError } from '../../errors.js';
import { readStructuredFile, writeFileAtomic } from '../../io/files.nodejs.js';
import { loadResults } from '../../io/results.nodejs.js';
import type { RibResults } from '../../io/results.js';
import { initKernels } from '../../linalg/index.js';
import { buildReportHtml, type ClusterDoc } from './html.js';
import { explorerSection } from './explorer.nodejs.js';

export interface WriteReportOptions {
  /** a results folder / results.safetensors / refdata rib_graph_*.safetensors (or give `results`) */
  resultsDir?: string;
  /** already loaded results (e.g. from the demo) */
  results?: RibResults;
  /** ablation JSON paths, or already parsed objects with a name */
  ablations?: Array<string | { name: string; json: unknown }>;
  /** a cluster JSON path (from `interbasis cluster`) or its parsed object; computed when absent */
  clusters?: string | ClusterDoc | null;
  /** output HTML path */
  out: string;
  force?: boolean;
  title?: string;
  gamma?: number;
  maxNodes?: number;
  topK?: number;
  /** also embed the interactive explorer (<interbasis-graph>) with the results inline (small results) */
  explorer?: boolean;
}

/** Write the report; returns the absolute output path. */
export async function writeReport(o: WriteReportOptions): Promise<string> {
  const out = resolve(o.out);
  if (existsSync(out) && !o.force) throw new UserError(`output ${out} exists; pass --force to overwrite it`);
  await initKernels();
  let results = o.results;
  let name = o.title ? undefined : 'results';
  if (!results) {
    if (!o.resultsDir) throw new UserError('report: give RIB results (a results folder or .safetensors file)');
    const rp = resolve(o.resultsDir);
    if (!existsSync(rp)) throw new UserError(`RIB results not found: ${o.resultsDir}`);
    results = await loadResults(rp);
    name = basename(rp) === 'results.safetensors' ? basename(dirname(rp)) : basename(rp);
  }
  const ablations: Array<{ name: string; json: unknown }> = [];
  for (const a of o.ablations ?? []) {
    if (typeof a === 'string') ablations.push({ name: basename(a).replace(/\.json$/, ''), json: (await readStructuredFile(resolve(a), 'ablation results')).raw });
    else ablations.push(a);
  }
  let clusters: ClusterDoc | null = null;
  if (typeof o.clusters === 'string') {
    const j = (await readStructuredFile(resolve(o.clusters), 'cluster file')).raw as ClusterDoc;
    if (!j || typeof j !== 'object' || !j.assignment || !Array.isArray(j.clusters) || !Array.isArray(j.layers)) {
      throw new UserError(`cluster file ${o.clusters}: expected the JSON written by \`interbasis cluster\` (assignment, clusters, layers)`);
    }
    clusters = j;
  } else if (o.clusters) clusters = o.clusters;
  let html: string;
  try {
    html = buildReportHtml({ results, resultsName: name, ablations, clusters, title: o.title, gamma: o.gamma, maxNodes: o.maxNodes, topK: o.topK });
  } catch (e) {
    if (e instanceof RangeError) throw new UserError(`report: ${e.message}`);
    throw e;
  }
  if (o.explorer) html = html.replace(/<\/body>\s*<\/html>\s*$/i, '') + (await explorerSection(results)) + '</body></html>\n';
  await writeFileAtomic(out, html);
  return out;
}

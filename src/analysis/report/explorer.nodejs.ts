/**
 * The interactive explorer inside a report: the <interbasis-graph> web component (its one-file
 * build, dist/app/interbasis-graph.js, from `npm run build`) and the results as base64 inline,
 * so the HTML file stays self-contained. For small results only (EXPLORER_MAX_BYTES).
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UserError } from '../../errors.js';
import { resultsMetadata, resultsToSafetensors, type RibResults } from '../../io/results.js';
import { serializeSafetensors } from '../../io/safetensors.js';

/** Results larger than this (results.safetensors bytes) are not inlined: use `interbasis serve`. */
export const EXPLORER_MAX_BYTES = 16 * 1024 * 1024;

function packageRoot(): string {
  let d = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(d, 'package.json'))) {
    const up = dirname(d);
    if (up === d) throw new Error('package root not found');
    d = up;
  }
  return d;
}

/** The component's bundle (dist/app/interbasis-graph.js). */
export async function componentSource(): Promise<string> {
  const p = join(packageRoot(), 'dist', 'app', 'interbasis-graph.js');
  if (!existsSync(p)) throw new UserError(`the explorer component is not built (${p} is missing): run npm run build`);
  return readFile(p, 'utf8');
}

/** An HTML section with the component and the results inline. */
export async function explorerSection(r: RibResults, title = 'Explorer'): Promise<string> {
  const bytes = serializeSafetensors(resultsToSafetensors(r), resultsMetadata(r));
  if (bytes.length > EXPLORER_MAX_BYTES) {
    throw new UserError(`the results are ${(bytes.length / 1048576).toFixed(1)} MiB, too large to inline an explorer (limit ${EXPLORER_MAX_BYTES / 1048576} MiB); open them with interbasis serve instead`);
  }
  const js = (await componentSource()).replace(/<\/script/gi, '<\\/script');
  const b64 = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
  return (
    `<section class="explorer"><h2>${title}</h2>` +
    `<p>Interactive graph: drag the threshold, set top-k, hover a node to highlight its edges, click it for Λ and its C-column loadings.</p>` +
    `<interbasis-graph threshold="0.01" top-k="3" max-nodes="40" width="1100" height="520">` +
    `<script type="application/octet-stream" data-role="tensors">${b64}</script></interbasis-graph>` +
    `<script type="module">${js}</script></section>`
  );
}

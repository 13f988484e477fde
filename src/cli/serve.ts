/**
 * `interbasis serve [RESULTS…] [--port N] [--host H]` (and `npm run app`): serves the explorer
 * (dist/app, built by `npm run build`) as static files with COOP/COEP headers, so the page is
 * cross-origin isolated (SharedArrayBuffer for the worker pool). Results given on the command
 * line are checked, served under /results/<i>/ and preloaded (?results=…; a second one opens as
 * the diff).
 */
import type { Command } from 'commander';
import { existsSync, statSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import http from 'node:http';
import { basename, dirname, extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UserError } from '../errors.js';
import { loadResults, RESULTS_TENSORS } from '../io/results.nodejs.js';

/** dist/app beside the compiled CLI (dist/src/cli → dist/app). */
export const APP_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'app');

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.wasm': 'application/wasm',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.yaml': 'text/yaml; charset=utf-8',
  '.yml': 'text/yaml; charset=utf-8',
  '.safetensors': 'application/octet-stream',
};

export const ISOLATION_HEADERS = {
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-embedder-policy': 'require-corp',
  'cross-origin-resource-policy': 'same-origin',
};

export interface ServeOptions {
  appDir?: string;
  /** results paths (directories, results.safetensors or rib_graph_*.safetensors) */
  results?: string[];
  /** extra static folders: URL prefix → directory (tests) */
  mounts?: Record<string, string>;
  port?: number;
  host?: string;
  /** send the COOP/COEP headers (default true; false serves a page that is not cross-origin isolated) */
  isolation?: boolean;
}

export interface Served {
  url: string;
  /** the explorer's URL with the results preloaded */
  appUrl: string;
  close: () => Promise<void>;
}

/** Checks the results (loadResults) and returns the files to serve for each. */
async function resultFiles(paths: string[]): Promise<Array<{ tensors: string; json: string | null }>> {
  const out: Array<{ tensors: string; json: string | null }> = [];
  for (const p of paths) {
    await loadResults(p); // a clear UserError for anything the explorer could not open
    let t = resolve(p);
    if (statSync(t).isDirectory()) t = join(t, RESULTS_TENSORS);
    const j = t.replace(/\.safetensors$/i, '.json');
    out.push({ tensors: t, json: existsSync(j) ? j : null });
  }
  return out;
}

export async function startServer(o: ServeOptions = {}): Promise<Served> {
  const appDir = resolve(o.appDir ?? APP_DIR);
  if (!existsSync(join(appDir, 'index.html'))) throw new UserError(`the explorer is not built (no ${join(appDir, 'index.html')}): run npm run build first`);
  const results = await resultFiles(o.results ?? []);
  const routes = new Map<string, string>();
  results.forEach((r, i) => {
    routes.set(`/results/${i}/${basename(r.tensors)}`, r.tensors);
    if (r.json) routes.set(`/results/${i}/${basename(r.json)}`, r.json);
  });
  const mounts = Object.entries(o.mounts ?? {}).map(([prefix, dir]) => [prefix.replace(/\/?$/, '/'), resolve(dir)] as const);
  const inside = (root: string, rel: string): string | null => {
    const f = resolve(root, '.' + rel);
    return f === root || f.startsWith(root + sep) ? f : null;
  };
  const iso = o.isolation === false ? {} : ISOLATION_HEADERS;
  const server = http.createServer(async (req, res) => {
    try {
      const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
      let file = routes.get(path) ?? null;
      if (!file) {
        const m = mounts.find(([prefix]) => path.startsWith(prefix));
        file = m ? inside(m[1], path.slice(m[0].length - 1)) : inside(appDir, path === '/' ? '/index.html' : path);
      }
      if (!file || !(await stat(file).then((s) => s.isFile(), () => false))) {
        res.writeHead(404, iso);
        res.end('not found');
        return;
      }
      const body = await readFile(file);
      res.writeHead(200, { ...iso, 'content-type': TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream', 'cache-control': 'no-cache' });
      res.end(req.method === 'HEAD' ? undefined : body);
    } catch (e) {
      res.writeHead(500, iso);
      res.end(String((e as Error).message));
    }
  });
  const host = o.host ?? '127.0.0.1';
  await new Promise<void>((ok, fail) => {
    server.once('error', (e: NodeJS.ErrnoException) => fail(e.code === 'EADDRINUSE' ? new UserError(`port ${o.port} is in use; pick another with --port`) : e));
    server.listen(o.port ?? 0, host, () => ok());
  });
  const port = (server.address() as { port: number }).port;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}/`;
  const q = results.map((r, i) => `results=${encodeURIComponent(`results/${i}/${basename(r.tensors)}`)}`).join('&');
  return {
    url,
    appUrl: q ? `${url}?${q}` : url,
    close: () => new Promise<void>((ok) => server.close(() => ok())),
  };
}

export function register(program: Command): void {
  program
    .command('serve')
    .description('serve the explorer app (COOP/COEP) with local results preloaded')
    .argument('[results...]', 'results directories, results.safetensors or rib_graph_*.safetensors (the second opens as the diff)')
    .option('--port <n>', 'port (default 5177; 0 = any free port)', '5177')
    .option('--host <h>', 'interface to listen on', '127.0.0.1')
    .action(async (results: string[], opts: { port: string; host: string }) => {
      const port = Number(opts.port);
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UserError(`--port must be an integer 0…65535, got '${opts.port}'`);
      const s = await startServer({ results, port, host: opts.host });
      process.stdout.write(`interbasis explorer: ${s.appUrl}\n(cross-origin isolated; Ctrl-C stops the server)\n`);
      const stop = () => void s.close().then(() => process.exit(0));
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
}

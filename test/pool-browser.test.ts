// The comlink browser pool in a real browser (Debian chromium via playwright-core): bundled by
// vite from TS sources, 1/2/4 module workers, X in a SharedArrayBuffer (cross-origin isolated
// page). The Gram bytes must equal Node's InlinePool result; errors and destroy as in Node.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { extname, join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initKernels } from '../src/linalg/index.js';
import '../src/tasks.js';
import { InlinePool } from '../src/parallel/pool.js';
import { parallelGram } from '../src/parallel/gram.js';
import { REPO_ROOT } from './helpers/refdata.js';

const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium && process.env.CI === 'true') {
  throw new Error(`chromium not found at ${CHROMIUM} (npm test installs it in pretest; or set CHROMIUM_PATH)`);
}

describe.skipIf(!haveChromium)('browser worker pool (chromium)', () => {
  const n = 3001;
  const d = 67;
  const shardRows = 97;
  let outDir = '';
  let server: http.Server;
  let port = 0;

  beforeAll(async () => {
    const { build } = await import('vite');
    outDir = mkdtempSync(join(tmpdir(), 'interbasis-pool-browser-'));
    await build({
      root: resolve(REPO_ROOT, 'test/pool-browser-fixture'),
      configFile: false,
      logLevel: 'silent',
      build: { outDir, emptyOutDir: true, target: 'es2022' },
      worker: { format: 'es' },
    });
    const types: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.wasm': 'application/wasm' };
    server = http.createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0]!;
      const file = join(outDir, path === '/' ? 'index.html' : path);
      if (!file.startsWith(outDir) || !existsSync(file)) {
        res.writeHead(404);
        res.end();
        return;
      }
      res.writeHead(200, {
        'content-type': types[extname(file)] ?? 'application/octet-stream',
        'cross-origin-opener-policy': 'same-origin',
        'cross-origin-embedder-policy': 'require-corp',
      });
      res.end(readFileSync(file));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as { port: number }).port;
  });

  afterAll(() => {
    server?.close();
    if (outDir) rmSync(outDir, { recursive: true, force: true });
  });

  it('gives the same bytes as Node for 1, 2 and 4 workers; errors and destroy behave', async () => {
    await initKernels();
    const X = new Float64Array(n * d).map((_, i) => (((i * 2654435761) % 1000003) / 1000003 - 0.5) * (1 + (i % 13)));
    const G = await parallelGram(new InlinePool(), X, n, d, { shardRows });
    const want = Buffer.from(G.buffer).toString('hex');

    const { chromium } = await import('playwright-core');
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    try {
      const page = await browser.newPage();
      await page.goto(`http://127.0.0.1:${port}/?n=${n}&d=${d}&shardRows=${shardRows}`);
      await page.waitForFunction(() => (globalThis as { __result?: unknown }).__result !== undefined, null, {
        timeout: 60_000,
      });
      const r = (await page.evaluate(() => (globalThis as { __result?: unknown }).__result)) as Record<string, unknown>;
      expect(r.fatal).toBeUndefined();
      expect(r.shared).toBe(true);
      for (const w of [1, 2, 4]) {
        expect(r[`size${w}`]).toBe(w);
        expect(r[`gram${w}`] === want, `${w} browser workers`).toBe(true);
      }
      expect(r.error).toBe('task "__fail" failed: boom');
      expect(r.userError).toBe('UserError: bad');
      expect(r.unknown).toMatch(/unknown task "nope"/);
      expect(r.destroyed).toMatch(/destroyed/);
    } finally {
      await browser.close();
    }
  });
});

/**
 * In-browser build time of mod-add seed 0 (the explorer's ?config= build in Debian chromium,
 * 2 comlink workers, cross-origin isolated) next to Node's (piscina, 2 workers), in the same run.
 * Rows: the first build (cold: Wasm compile, worker start and JIT warm-up inside it) and the
 * median of 3 warm builds in the same tab and pool, each as `total` (ribBuild's own time, comparable with Node's). Skipped
 * with a message when chromium, refdata or the built app (npm run build) is missing. Also the
 * explorer's time to apply a threshold change on a 12-layer, 1000-node-per-layer, 1M-edge graph.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { modaddConfig, refdata } from './refdata.js';
import type { BenchContext, BenchRow } from './harness.js';
import { initKernels } from '../src/linalg/index.js';
import '../src/tasks.js';
import { parseBuildConfig } from '../src/rib/config.js';
import { runBuildFromConfig } from '../src/rib/build.nodejs.js';
import { createNodePool } from '../workers/pool.nodejs.js';
import { APP_DIR, startServer } from '../src/cli/serve.js';

const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const GROUP = 'browser/modadd-seed0-rib';
const SIZE = '3830 samples, f64, 2 workers';


const config = (model: string) => modaddConfig(model, 'bench_browser_modadd_rib_seed0');

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[(xs.length - 1) >> 1]!;

export async function run(ctx: BenchContext): Promise<BenchRow[]> {
  const rd = refdata();
  const missing = !existsSync(CHROMIUM) ? `chromium not found at ${CHROMIUM}` : !rd ? 'refdata not found' : !existsSync(join(APP_DIR, 'index.html')) ? 'the app is not built (npm run build)' : null;
  if (missing) {
    ctx.log(`browser bench: ${missing}, skipped`);
    return [{ group: GROUP, name: 'skipped', size: '-', seconds: NaN, note: missing }];
  }
  const reps = ctx.quick ? 1 : 3;
  const rows: BenchRow[] = [];
  // Node, 2 workers
  await initKernels();
  const pool = await createNodePool({ workers: 2 });
  const node: number[] = [];
  let nodeCold = NaN;
  try {
    const c = parseBuildConfig(config(resolve(rd!, 'modadd/seed0/model.safetensors')));
    for (let i = 0; i <= reps; i++) {
      ctx.log(`browser bench: Node build ${i === 0 ? '(cold)' : `${i}/${reps}`}`);
      const t = (await runBuildFromConfig(c, { pool })).results.info.times_s as Record<string, number>;
      if (i === 0) nodeCold = t.total!;
      else node.push(t.total!);
    }
  } finally {
    await pool.destroy();
  }
  // Chromium, 2 workers, cross-origin isolated
  const tmp = mkdtempSync(join(tmpdir(), 'ib-bench-browser-'));
  writeFileSync(join(tmp, 'modadd.json'), JSON.stringify(config('/refdata/modadd/seed0/model.safetensors')));
  const server = await startServer({ mounts: { '/case/': tmp, '/refdata/': rd! } });
  const { chromium } = await import('playwright-core');
  const userDir = mkdtempSync(join(tmpdir(), 'ib-bench-chrome-'));
  const browser = await chromium.launchPersistentContext(userDir, { executablePath: CHROMIUM, headless: true, args: ARGS });
  const web: number[] = [];
  const viewRows: BenchRow[] = [];
  let webCold = NaN;
  let webWall = NaN;
  try {
    const page = await browser.newPage();
    type Hook = { __interbasis: { buildInfo(): { times: Record<string, number>; sharedMemory: boolean } | null; app: { runBuild(c: string, f: null, u: string): Promise<unknown> } } };
    for (let i = 0; i <= reps; i++) {
      ctx.log(`browser bench: chromium build ${i === 0 ? '(cold)' : `${i}/${reps}`}`);
      // the first build opens the page (?config=); the next ones run again in the same tab and pool
      if (i === 0) await page.goto(`${server.url}?config=/case/modadd.json&workers=2`);
      else {
        await page.evaluate(async (u) => {
          const text = await (await fetch(u)).text();
          await (window as unknown as Hook).__interbasis.app.runBuild(text, null, u);
        }, `${server.url}case/modadd.json`);
      }
      await page.waitForFunction(() => ['done', 'error'].includes(document.body.dataset.state ?? ''), null, { timeout: 300_000 });
      const info = await page.evaluate(() => ({ error: document.body.dataset.error ?? null, b: (window as unknown as Hook).__interbasis.buildInfo() }));
      if (info.error || !info.b) throw new Error(`in-browser build failed: ${info.error}`);
      if (!info.b.sharedMemory) throw new Error('the bench page is not cross-origin isolated');
      if (i === 0) {
        webCold = info.b.times.total!;
        webWall = info.b.times.wall!;
      } else web.push(info.b.times.total!);
    }
    // the explorer at scale: threshold changes on the 12 × 1000-node, 1M-edge synthetic graph
    ctx.log('browser bench: explorer, 1M-edge graph');
    await page.goto(`${server.url}?synthetic=12x1000x1000000&t=-1`);
    await page.waitForFunction(() => document.body.dataset.state === 'done', null, { timeout: 300_000 });
    type View = { __interbasis: { setThreshold(t: number): number } };
    const steps = [-0.9, -1.1, -0.95, -1.2, -1.0, -0.8, -1.3, -0.85, -1.05, -1.15];
    const ms: number[] = [];
    for (const t of steps) ms.push(await page.evaluate((x) => (window as unknown as View).__interbasis.setThreshold(x), t));
    await page.evaluate(() => (window as unknown as View).__interbasis.setThreshold(0)); // only the strongest edge
    const jump = await page.evaluate(() => (window as unknown as View).__interbasis.setThreshold(-3));
    viewRows.push({ group: 'browser/explorer-1M-edges', name: `threshold change (median of ${ms.length} small steps)`, size: '12×1000 nodes, 10⁶ edges', seconds: median(ms) / 1000, note: `range ${Math.min(...ms).toFixed(1)}–${Math.max(...ms).toFixed(1)} ms; target < 100 ms` });
    viewRows.push({ group: 'browser/explorer-1M-edges', name: 'threshold change (jump from 1 edge to all drawn)', size: '12×1000 nodes, 10⁶ edges', seconds: jump / 1000, note: 'every one of the 30 000 drawn edges changes visibility' });
  } finally {
    await browser.close();
    await server.close();
    rmSync(tmp, { recursive: true, force: true });
    rmSync(userDir, { recursive: true, force: true });
  }
  const nodeMed = median(node);
  const webMed = median(web);
  rows.push({ group: GROUP, name: `Node total (median of ${node.length} warm)`, size: SIZE, seconds: nodeMed, note: `first build of the pool ${nodeCold.toFixed(2)} s` });
  rows.push({ group: GROUP, name: `chromium total (median of ${web.length})`, size: SIZE, seconds: webMed, baseline: 'Node total', ratio: nodeMed / webMed, note: 'warm: the same tab and worker pool; ribBuild time (inputs loaded before it)' });
  rows.push({ group: GROUP, name: 'chromium total (first build)', size: SIZE, seconds: webCold, baseline: 'Node total', ratio: nodeMed / webCold, note: `first page load: Wasm compile and JIT warm-up inside; whole call incl. fetching the model ${webWall.toFixed(2)} s` });
  rows.push(...viewRows);
  return rows;
}

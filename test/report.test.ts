/**
 * The HTML report: built from mod-add seed 0 refdata (results, ablation JSONs), opened in
 * Debian's headless chromium via playwright-core; counts graph nodes per layer and saves a PNG.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, rmSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { pathToFileURL } from 'node:url';
import { chromium, type BrowserContext } from 'playwright-core';
import { initKernels } from '../src/linalg/index.js';
import { loadResults } from '../src/io/results.nodejs.js';
import { writeReport } from '../src/analysis/report/write.nodejs.js';
import { buildReportHtml } from '../src/analysis/report/html.js';
import { UserError } from '../src/errors.js';
import { REFDATA, ref, TEST_OUTPUT } from './helpers/refdata.js';

const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

describe.skipIf(!REFDATA)('HTML report', () => {
  let dir: string;
  let browser: BrowserContext | null = null;
  let userDir: string;
  beforeAll(async () => {
    await initKernels();
    dir = mkdtempSync(join(tmpdir(), 'ib-report-'));
    userDir = mkdtempSync(join(tmpdir(), 'ib-chrome-'));
    mkdirSync(TEST_OUTPUT, { recursive: true });
  });
  afterAll(async () => {
    await browser?.close();
    rmSync(dir, { recursive: true, force: true });
    rmSync(userDir, { recursive: true, force: true });
  });

  it('is one self-contained file and renders in headless chromium with the expected nodes per layer', async () => {
    const seed0 = (f: string) => ref('modadd', 'seed0', f);
    const out = join(dir, 'report.html');
    await writeReport({
      resultsDir: seed0('rib_graph_rib.safetensors'),
      ablations: [seed0('node_ablation_results_rib.json'), seed0('node_ablation_results_pca.json'), seed0('edge_ablation_results_rib.json'), seed0('edge_ablation_results_pca.json')],
      out,
    });
    const html = readFileSync(out, 'utf8');
    writeFileSync(join(TEST_OUTPUT, 'report.html'), html);
    expect(html).not.toMatch(/<(script|link|img)[^>]+(src|href)=/i); // no external resources
    expect(html).not.toMatch(/https?:\/\/(?!www\.w3\.org\/2000\/svg)/);
    await expect(writeReport({ resultsDir: seed0('rib_graph_rib.safetensors'), out })).rejects.toThrow(/exists.*--force/);

    expect(existsSync(CHROMIUM), `${CHROMIUM} missing: run node scripts/setup-chromium.mjs`).toBe(true);
    // a fresh user-data-dir per run (launchPersistentContext passes it as --user-data-dir)
    browser = await chromium.launchPersistentContext(userDir, { executablePath: CHROMIUM, headless: true, args: ARGS, viewport: { width: 1320, height: 900 } });
    const page = await browser.newPage();
    const external: string[] = [];
    page.on('request', (r) => {
      if (!r.url().startsWith('file:') && !r.url().startsWith('data:')) external.push(r.url());
    });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(pathToFileURL(out).href);
    const counts = await page.evaluate(() => {
      const svg = document.querySelector('svg.graph-svg[data-order="rib"][data-const="hidden"]') as SVGElement;
      const o: Record<string, number> = {};
      svg.querySelectorAll('g.graph-layer').forEach((g) => (o[g.getAttribute('data-layer')!] = g.querySelectorAll('circle.node').length));
      return { o, visible: getComputedStyle(svg).display !== 'none', edges: svg.querySelectorAll('path.edge').length };
    });
    // rib widths 115/110/116 (constant direction hidden → first 30 of the rest), output 114 → 30
    expect(counts.o).toEqual({ 'ln1.0': 30, 'ln2.0': 30, unembed: 30, output: 30 });
    expect(counts.visible).toBe(true);
    expect(counts.edges).toBe(3 * 80);
    // the toggle shows the constant direction: node 0 appears as the first node of rotated layers
    await page.check('input[name="const"][value="shown"]');
    const shown = await page.evaluate(() => {
      const svg = [...document.querySelectorAll('svg.graph-svg')].find((s) => getComputedStyle(s).display !== 'none')!;
      return { c: svg.getAttribute('data-const'), consts: svg.querySelectorAll('circle.node.const').length };
    });
    expect(shown).toEqual({ c: 'shown', consts: 3 });
    await page.check('input[name="const"][value="hidden"]');
    expect(await page.locator('svg.piano rect.cell').count()).toBe(3 * 116);
    expect(await page.locator('svg.spectra path.spectrum').count()).toBe(3);
    expect(await page.locator('svg.ablation-curves').count()).toBe(2);
    await page.screenshot({ path: join(TEST_OUTPUT, 'report.png'), fullPage: true });
    expect(external).toEqual([]);
    expect(errors).toEqual([]);
  });

  it('--explorer embeds <interbasis-graph> with the data inline; it renders from file:// with no request', async () => {
    const out = join(dir, 'report-explorer.html');
    await writeReport({ resultsDir: ref('modadd', 'seed0', 'rib_graph_rib.safetensors'), out, explorer: true });
    const html = readFileSync(out, 'utf8');
    expect(html).not.toMatch(/<(script|link|img)[^>]+(src|href)=/i);
    expect(html).toMatch(/<interbasis-graph /);
    expect(browser, 'the first test launches chromium').not.toBeNull();
    const page = await browser!.newPage();
    const external: string[] = [];
    page.on('request', (r) => {
      if (!r.url().startsWith('file:') && !r.url().startsWith('data:')) external.push(r.url());
    });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(pathToFileURL(out).href);
    await page.waitForFunction(() => document.querySelector('interbasis-graph')?.getAttribute('state') === 'ready', null, { timeout: 30_000 });
    // 4 layers (ln1.0, ln2.0, unembed, output), at most 40 nodes each
    expect(await page.evaluate(() => document.querySelector('interbasis-graph')!.shadowRoot!.querySelectorAll('circle.node').length)).toBe(160);
    expect(Number(await page.getAttribute('interbasis-graph', 'edges'))).toBeGreaterThan(0);
    await page.locator('interbasis-graph').scrollIntoViewIfNeeded();
    await page.locator('interbasis-graph').screenshot({ path: join(TEST_OUTPUT, 'report-explorer.png') });
    expect(external).toEqual([]);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('rejects results without edges and bad cluster files with clear errors', async () => {
    const r = await loadResults(ref('modadd', 'seed0', 'rib_graph_rib.safetensors'));
    expect(() => buildReportHtml({ results: { ...r, edges: [] } })).toThrow(UserError);
    expect(() => buildReportHtml({ results: { ...r, edges: [] } })).toThrow(/no edges/);
    const bad = join(dir, 'bad-clusters.json');
    writeFileSync(bad, JSON.stringify({ hello: 1 }));
    await expect(writeReport({ resultsDir: ref('modadd', 'seed0', 'rib_graph_rib.safetensors'), clusters: bad, out: join(dir, 'x.html') })).rejects.toThrow(/interbasis cluster/);
    await expect(writeReport({ resultsDir: join(dir, 'nope'), out: join(dir, 'y.html') })).rejects.toThrow(/not found/);
  });
});

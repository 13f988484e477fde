/**
 * The explorer app and <interbasis-graph> in Debian chromium: nodes per layer, the threshold
 * and top-k change the edge count, γ changes the clusters, a click opens the details panel, the
 * web component renders, the 1M-edge graph stays interactive (the time to apply a threshold
 * change is reported, not asserted), screenshots are saved and are not blank.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initKernels } from '../src/linalg/index.js';
import { runDemoCli } from '../src/cli/demo.js';
import { loadResults } from '../src/io/results.nodejs.js';
import { ExplorerGraph, syntheticGraph } from '../src/browser/explorer/graph-model.js';
import { HAVE_CHROMIUM, harness, waitDone, type Harness } from './browser-harness.js';
import { REFDATA, ref, TEST_OUTPUT } from './helpers/refdata.js';

const sink = () => ({ write: () => true }) as unknown as NodeJS.WritableStream;
type Hook = {
  nodesPerLayer(): Record<string, number>;
  edgeCount(): number;
  setThreshold(t: number): number;
};
const hook = (page: Page) => ({
  nodes: () => page.evaluate(() => (window as unknown as { __interbasis: Hook }).__interbasis.nodesPerLayer()),
  edges: () => page.evaluate(() => (window as unknown as { __interbasis: Hook }).__interbasis.edgeCount()),
  threshold: (t: number) => page.evaluate((x) => (window as unknown as { __interbasis: Hook }).__interbasis.setThreshold(x), t),
});

/** Saves a screenshot under test-output/ and returns the grey-level variance of its pixels. */
async function shot(page: Page, name: string): Promise<number> {
  mkdirSync(TEST_OUTPUT, { recursive: true });
  const png = await page.screenshot({ path: join(TEST_OUTPUT, name) });
  return page.evaluate(async (b64) => {
    const img = new Image();
    img.src = `data:image/png;base64,${b64}`;
    await img.decode();
    const c = document.createElement('canvas');
    c.width = img.width;
    c.height = img.height;
    const ctx = c.getContext('2d')!;
    ctx.drawImage(img, 0, 0);
    const d = ctx.getImageData(0, 0, c.width, c.height).data;
    let s = 0;
    let s2 = 0;
    const n = d.length / 4;
    for (let i = 0; i < d.length; i += 4) {
      const g = (d[i]! + d[i + 1]! + d[i + 2]!) / 3;
      s += g;
      s2 += g * g;
    }
    return s2 / n - (s / n) ** 2;
  }, png.toString('base64'));
}

describe.skipIf(!HAVE_CHROMIUM)('explorer app (chromium)', () => {
  let h: Harness;
  let caseDir = '';
  let url = '';

  beforeAll(async () => {
    await initKernels();
    caseDir = mkdtempSync(join(tmpdir(), 'ib-app-case-'));
    await runDemoCli({ out: join(caseDir, 'demo'), workers: '1' }, { out: sink(), err: sink() });
    h = await harness();
    const mounts: Record<string, string> = { '/case/': caseDir };
    if (REFDATA) mounts['/refdata/'] = REFDATA;
    url = (await h.serve({ mounts })).url;
  }, 120_000);

  afterAll(async () => {
    await h?.close();
    if (caseDir) rmSync(caseDir, { recursive: true, force: true });
  });

  it('small build (SVG): nodes per layer, threshold/top-k, γ, click → details, exports', async () => {
    const r = await loadResults(join(caseDir, 'demo', 'rib'));
    const g = ExplorerGraph.fromResults(r);
    const { page, errors, external } = await h.page();
    await page.goto(`${url}?results=/case/demo/rib/results.safetensors&t=-6`);
    expect(await waitDone(page)).toEqual({ state: 'done', error: null });
    const H = hook(page);
    expect(await H.nodes()).toEqual(Object.fromEntries(g.layers.map((L, i) => [L, g.widths[i]])));
    const all = await H.edges();
    expect(all).toBe(g.visibleCount({ threshold: 1e-6, topK: 0 }));
    await H.threshold(-1);
    const some = await H.edges();
    expect(some).toBe(g.visibleCount({ threshold: 0.1, topK: 0 }));
    expect(some).toBeLessThan(all);
    expect(await page.locator('#graph line.edge').count()).toBe(some);
    await page.fill('#topk', '1');
    await page.dispatchEvent('#topk', 'change');
    expect(await H.edges()).toBe(g.visibleCount({ threshold: 0.1, topK: 1 }));
    expect(new URL(page.url()).searchParams.get('k')).toBe('1');
    // clusters: wait for the worker, then change γ
    await page.waitForFunction(() => !!document.getElementById('cluster-info')!.dataset.signature, null, { timeout: 30_000 });
    const before = await page.evaluate(() => ({ sig: document.getElementById('cluster-info')!.dataset.signature, n: document.getElementById('cluster-info')!.dataset.clusters }));
    await page.evaluate(() => {
      const s = document.getElementById('gamma') as HTMLInputElement;
      s.value = '1.2';
      s.dispatchEvent(new Event('input'));
    });
    await page.waitForFunction((sig) => document.getElementById('cluster-info')!.dataset.signature !== sig, before.sig, { timeout: 30_000 });
    const after = await page.evaluate(() => Number(document.getElementById('cluster-info')!.dataset.clusters));
    expect(after).toBeGreaterThan(Number(before.n));
    expect(await page.locator('#piano rect.cell').count()).toBeGreaterThan(0);
    // target number of clusters: γ is searched in the worker
    const sig2 = await page.evaluate(() => document.getElementById('cluster-info')!.dataset.signature);
    await page.fill('#target-n', '3');
    await page.dispatchEvent('#target-n', 'change');
    await page.waitForFunction((sig) => document.getElementById('cluster-info')!.dataset.signature !== sig, sig2, { timeout: 30_000 });
    expect(await page.evaluate(() => document.getElementById('cluster-info')!.dataset.clusters)).toBe('3');
    expect(await page.textContent('#cluster-info')).toMatch(/searched: \d+ draws/);
    const sig3 = await page.evaluate(() => document.getElementById('cluster-info')!.dataset.signature);
    await page.fill('#target-n', '0');
    await page.dispatchEvent('#target-n', 'change');
    await page.waitForFunction((sig) => document.getElementById('cluster-info')!.dataset.signature !== sig, sig3, { timeout: 30_000 });
    // click pins a node and opens the details panel
    expect(await page.isHidden('#details')).toBe(true);
    await page.click('#graph circle.node[data-l="1"][data-index="1"]');
    await page.waitForSelector('#details:not([hidden])');
    const details = await page.textContent('#details');
    expect(details).toContain(`${g.layers[1]} [1]`);
    expect(details).toMatch(/Λ = \d/);
    expect(await page.locator('#details table tr').count()).toBeGreaterThan(2);
    expect(new URL(page.url()).searchParams.get('pin')).toBe('1:1');
    // export: the pinned subgraph JSON
    const [dl] = await Promise.all([page.waitForEvent('download'), page.click('#export-json')]);
    expect(dl.suggestedFilename()).toBe('pinned-subgraph.json');
    const [svgDl] = await Promise.all([page.waitForEvent('download'), page.click('#export-svg')]);
    expect(readFileSync((await svgDl.path())!, 'utf8')).toMatch(/^<svg[^>]*xmlns="http:\/\/www\.w3\.org\/2000\/svg"[\s\S]*circle[\s\S]*<\/svg>$/);
    const [pngDl] = await Promise.all([page.waitForEvent('download'), page.click('#export-png')]);
    expect(readFileSync((await pngDl.path())!).subarray(1, 4).toString()).toBe('PNG');
    // drag and drop a second build: it opens as the diff
    await page.evaluate(async () => {
      const dt = new DataTransfer();
      for (const f of ['results.safetensors', 'results.json']) {
        const b = await (await fetch(`/case/demo/pca/${f}`)).blob();
        dt.items.add(new File([b], f));
      }
      window.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
    });
    await page.waitForSelector('table.diff');
    expect(await page.locator('table.diff tr').count()).toBe(6);
    await page.click('#tabs button[data-tab="clusters"]');
    expect(await shot(page, 'explorer-demo.png')).toBeGreaterThan(20);
    // the URL restores the view
    const p2 = await h.page();
    await p2.page.goto(page.url());
    expect((await waitDone(p2.page)).state).toBe('done');
    await p2.page.waitForSelector('#details:not([hidden])');
    expect(await hook(p2.page).edges()).toBe(g.visibleCount({ threshold: 0.1, topK: 1 }));
    await p2.page.close();
    expect(errors).toEqual([]);
    expect(external).toEqual([]);
    await page.close();
  });

  it.skipIf(!REFDATA)("the reference's rib_graph (WebGL): nodes per layer, threshold, diff with PCA", async () => {
    const r = await loadResults(ref('modadd', 'seed0', 'rib_graph_rib.safetensors'));
    const g = ExplorerGraph.fromResults(r);
    const { page, errors } = await h.page();
    await page.goto(`${url}?results=/refdata/modadd/seed0/rib_graph_rib.safetensors&diff=/refdata/modadd/seed0/rib_graph_pca.safetensors&tab=clusters`);
    expect(await waitDone(page)).toEqual({ state: 'done', error: null });
    const H = hook(page);
    expect(await H.nodes()).toEqual({ 'ln1.0': 115, 'ln2.0': 110, unembed: 116, output: 114 });
    expect(await page.textContent('#renderer')).toMatch(/WebGL/);
    await H.threshold(-2);
    expect(await H.edges()).toBe(g.visibleCount({ threshold: 0.01, topK: 0 }));
    await H.threshold(-0.5);
    expect(await H.edges()).toBe(g.visibleCount({ threshold: 10 ** -0.5, topK: 0 }));
    await page.waitForSelector('table.diff');
    expect(await page.locator('table.diff tr').count()).toBe(1 + r.nodeLayers.length);
    await page.waitForFunction(() => !!document.getElementById('cluster-info')!.dataset.signature, null, { timeout: 30_000 });
    expect(await shot(page, 'explorer-modadd.png')).toBeGreaterThan(20);
    expect(errors).toEqual([]);
    await page.close();
  });

  it.skipIf(!REFDATA)('interbasis serve preloads results (the second as the diff); ablation JSON draws curves', async () => {
    const served = await h.serve({ results: [join(caseDir, 'demo', 'rib'), join(caseDir, 'demo', 'pca', 'results.safetensors')], mounts: { '/refdata/': REFDATA! } });
    expect(served.appUrl).toMatch(/\?results=results%2F0%2Fresults\.safetensors&results=results%2F1%2Fresults\.safetensors$/);
    const { page, errors } = await h.page();
    await page.goto(`${served.appUrl}&ablation=/refdata/modadd/seed0/node_ablation_results_rib.json&ablation=/refdata/modadd/seed0/edge_ablation_results_rib.json`);
    expect(await waitDone(page)).toEqual({ state: 'done', error: null });
    await page.waitForSelector('table.diff');
    expect(await page.locator('table.diff tr').count()).toBe(6);
    await page.waitForFunction(() => document.querySelectorAll('svg.ablation-curve').length === 2);
    await page.click('#tabs button[data-tab="ablations"]');
    expect(await page.textContent('#ablations')).toMatch(/edges required: ln1\.0: 133/);
    await page.click('#tabs button[data-tab="spectra"]');
    expect(await page.locator('svg.spectra polyline.spectrum').count()).toBe(4);
    expect(await shot(page, 'explorer-ablations.png')).toBeGreaterThan(5);
    expect(errors).toEqual([]);
    await page.close();
    await expect(h.serve({ results: [join(caseDir, 'nope')] })).rejects.toThrow(/not found/);
  });

  it("the default page runs the demo in the tab and prints the ARI of RIB and PCA clusters", async () => {
    const { page, errors } = await h.page();
    await page.goto(`${url}?workers=2`);
    expect(await waitDone(page)).toEqual({ state: 'done', error: null });
    const text = await page.textContent('#demo-out');
    expect(text).toMatch(/rib\s+ARI 1\.000/);
    expect(text).toMatch(/pca\s+ARI \d\.\d{3}/);
    expect(await page.locator('table.diff tr').count()).toBe(6);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('the 1M-edge graph (12 layers × 1000 nodes): interactive threshold changes', async () => {
    const g = syntheticGraph(12, 1000, 1_000_000);
    const { page, errors } = await h.page();
    await page.goto(`${url}?synthetic=12x1000x1000000&t=-1`);
    expect(await waitDone(page, 120_000)).toEqual({ state: 'done', error: null });
    const H = hook(page);
    const nodes = await H.nodes();
    expect(Object.values(nodes)).toEqual(Array(12).fill(1000));
    const times: number[] = [];
    for (const t of [-0.5, -1.5, -0.8, -2, -0.3]) {
      times.push(await H.threshold(t));
      expect(await H.edges()).toBe(g.visibleCount({ threshold: 10 ** t, topK: 0 }));
    }
    const sorted = [...times].sort((a, b) => a - b);
    console.log(`[app] 1M-edge graph: threshold change applied in ${times.map((x) => x.toFixed(1)).join(', ')} ms (median ${sorted[2]!.toFixed(1)} ms; target < 100 ms)`);
    expect(times.every((x) => Number.isFinite(x) && x > 0)).toBe(true);
    expect(await shot(page, 'explorer-1m.png')).toBeGreaterThan(5);
    expect(errors).toEqual([]);
    await page.close();
  }, 180_000);

  it('<interbasis-graph> renders a build and reports clicks', async () => {
    const r = await loadResults(join(caseDir, 'demo', 'rib'));
    const g = ExplorerGraph.fromResults(r);
    const { page, errors } = await h.page();
    await page.goto(`${url}embed.html?src=/case/demo/rib/results.safetensors`);
    await page.waitForFunction(() => document.getElementById('g')!.getAttribute('state') === 'ready', null, { timeout: 30_000 });
    const nodes = await page.evaluate(() => document.getElementById('g')!.shadowRoot!.querySelectorAll('circle.node').length);
    expect(nodes).toBe(g.widths.reduce((a, b) => a + Math.min(b, 40), 0));
    const edges = Number(await page.getAttribute('#g', 'edges'));
    expect(edges).toBe(g.visibleCount({ threshold: 0.01, topK: 3 }));
    const clicked = page.evaluate(() => new Promise((r) => document.getElementById('g')!.addEventListener('node-click', (e) => r((e as CustomEvent).detail), { once: true })));
    await page.locator('interbasis-graph circle.node[data-l="0"][data-index="2"]').click();
    expect(await clicked).toMatchObject({ layer: g.layers[0], index: 2 });
    expect(await shot(page, 'component.png')).toBeGreaterThan(20);
    // a missing file: state error with the message
    await page.evaluate(() => document.getElementById('g')!.setAttribute('src', '/case/nope.safetensors'));
    await page.waitForFunction(() => document.getElementById('g')!.getAttribute('state') === 'error');
    expect(await page.getAttribute('#g', 'error')).toMatch(/not found/);
    expect(errors).toEqual([]);
    await page.close();
  });
});

/**
 * The interbasis explorer: open results (drop, picker, ?results=URL) or build in the tab
 * (?config=URL, or dropped config + files), then explore the layered interaction graph, Leiden
 * clusters, Λ spectra, ablation curves and the diff of two builds. View state lives in the URL.
 *
 * Test hook: with ?config=URL the build runs, then document.body.dataset.state is "done" (or
 * "error" with document.body.dataset.error) and window.__interbasis.resultsBytes() returns the
 * results.safetensors bytes.
 */
import * as Comlink from 'comlink';
import { build, type BrowserBuildResult } from '../browser/build.js';
import { readInput, fetchBytes } from '../browser/inputs.js';
import { resultsBytes, resultsFromBytes } from '../browser/results.js';
import { createPool, loadKernels } from '../browser/runtime.js';
import { ablate, labels as fourierLabels, loadModelFromFiles } from '../browser/analysis.js';
import { ExplorerGraph, syntheticGraph } from '../browser/explorer/graph-model.js';
import { readAblationCurves, ablationJson } from '../analysis/ablation.js';
import { ablationConfig, runDemoBuilds } from './in-tab.js';
import type { RibResults } from '../io/results.js';
import type { Model } from '../models/types.js';
import type { TaskPool } from '../parallel/pool.js';
import { GraphView, type Pin } from './graph-view.js';
import { ablationSvg, diffTable, pianoSvg, spectraSvg } from './plots.js';
import { readState, writeState, type ViewState } from './state.js';
import type { ClusterReply, ClusterWorkerApi } from './cluster-worker.js';

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;

interface Loaded {
  name: string;
  results: RibResults | null;
  graph: ExplorerGraph;
  model: Model | null;
  bytes: Uint8Array | null;
}

class App {
  state: ViewState = readState();
  main: Loaded | null = null;
  other: Loaded | null = null;
  view = new GraphView($('graph'));
  lastApplyMs = 0;
  clusterReply: ClusterReply | null = null;
  private worker: Comlink.Remote<ClusterWorkerApi> | null = null;
  private clusterSeq = 0;
  private workerHas: RibResults | null = null;
  private labelCache = new Map<string, string[]>();
  private abort: AbortController | null = null;

  constructor() {
    this.view.onPin = (p) => this.pin(p);
    this.view.onHover = (t) => ($('status').textContent = t ?? this.statusText);
    this.bindControls();
  }

  statusText = '';
  status(s: string): void {
    this.statusText = s;
    $('status').textContent = s;
  }

  setState(s: 'idle' | 'loading' | 'building' | 'done' | 'error', error?: string): void {
    document.body.dataset.state = s;
    if (error !== undefined) document.body.dataset.error = error;
    else delete document.body.dataset.error;
  }

  fail(e: unknown): void {
    const msg = e instanceof Error ? e.message : String(e);
    this.status(`error: ${msg}`);
    this.setState('error', msg);
    $('progress').hidden = true;
    $('cancel').hidden = true;
  }

  // ---- loading -------------------------------------------------------------------------------

  async openResults(name: string, tensors: Uint8Array, json: Uint8Array | null, asDiff = false): Promise<void> {
    const r = await resultsFromBytes(tensors, json, name);
    const loaded: Loaded = { name, results: r, graph: ExplorerGraph.fromResults(r), model: null, bytes: tensors };
    if (asDiff) this.setOther(loaded);
    else this.show(loaded);
  }

  show(l: Loaded): void {
    this.main = l;
    this.labelCache.clear();
    for (const id of ['controls', 'main', 'tabs']) $(id).hidden = false;
    this.view.setGraph(l.graph, this.filter(), this.state.pin);
    $('renderer').textContent = `${this.view.mode === 'svg' ? 'SVG' : 'WebGL (sigma.js)'} · ${l.graph.layers.length} layers · ${l.graph.widths.reduce((a, b) => a + b, 0)} nodes · ${l.graph.totalEdges()} edges`;
    this.updateCount();
    if (l.bytes) {
      const a = $<HTMLAnchorElement>('download');
      a.href = URL.createObjectURL(new Blob([l.bytes as Uint8Array<ArrayBuffer>], { type: 'application/octet-stream' }));
      a.hidden = false;
    }
    $('spectra').replaceChildren(l.results ? spectraSvg(l.results) : document.createTextNode('no results'));
    if (this.state.pin) this.pin(this.state.pin);
    this.selectTab(this.state.tab);
    if (l.results) void this.recluster();
    if (this.other) this.renderDiff();
  }

  setOther(l: Loaded): void {
    this.other = l;
    this.renderDiff();
    this.selectTab('diff');
  }

  renderDiff(): void {
    if (!this.main?.results || !this.other?.results) return;
    $('diff').replaceChildren(diffTable(this.main.results, this.other.results, [this.main.name, this.other.name]));
  }

  async openUrl(url: string, asDiff = false): Promise<void> {
    const abs = new URL(url, location.href);
    const tensors = await fetchBytes(abs, 'results');
    const jsonUrl = new URL(abs.pathname.replace(/\.safetensors$/i, '.json') + abs.search, abs);
    const json = await fetchBytes(jsonUrl, 'results json').catch(() => null);
    await this.openResults(abs.pathname.split('/').pop() ?? 'results', tensors, json, asDiff);
  }

  /** Files from a drop or the picker: results pairs, ablation JSONs, or a build (config + inputs). */
  async openFiles(files: File[]): Promise<void> {
    const byName = new Map(files.map((f) => [f.name, f]));
    const config = files.find((f) => /\.(ya?ml)$/i.test(f.name) && !/^(config|train_config)\./.test(f.name));
    if (config) {
      await this.runBuild(await config.text(), files.filter((f) => f !== config), null);
      return;
    }
    const tensors = files.filter((f) => /\.safetensors$/i.test(f.name));
    let first = !this.main;
    for (const t of tensors) {
      const j = byName.get(t.name.replace(/\.safetensors$/i, '.json'));
      await this.openResults(t.name, await readInput(t, t.name), j ? await readInput(j, j.name) : null, !first && !!this.main);
      first = false;
    }
    for (const f of files) {
      if (!/\.json$/i.test(f.name) || byName.has(f.name.replace(/\.json$/i, '.safetensors'))) continue;
      this.addAblation(f.name, JSON.parse(await f.text()));
    }
  }

  addAblation(name: string, json: unknown): void {
    const c = readAblationCurves(json);
    const wrap = document.createElement('div');
    wrap.className = 'ablation';
    wrap.appendChild(ablationSvg(`${name} (${c.type})`, c.results));
    if (c.nEdgesRequired) {
      const p = document.createElement('p');
      p.textContent = `edges required: ${Object.entries(c.nEdgesRequired).map(([k, v]) => `${k}: ${v}`).join(', ')}`;
      wrap.appendChild(p);
    }
    $('ablations').appendChild(wrap);
    $('tabs').hidden = false;
  }

  // ---- building ------------------------------------------------------------------------------

  private progress(stage: string, done: number, total: number): void {
    const p = $<HTMLProgressElement>('progress');
    p.hidden = false;
    p.max = total || 1;
    p.value = done;
    this.status(`building: ${stage} ${done}/${total}`);
  }

  async runBuild(config: string, files: File[] | null, baseUrl: string | null): Promise<BrowserBuildResult> {
    this.setState('building');
    this.abort = new AbortController();
    $('cancel').hidden = false;
    try {
      const res = await build({
        config,
        files: files ?? undefined,
        baseUrl: baseUrl ?? undefined,
        pool: await this.pool(),
        signal: this.abort.signal,
        onProgress: (e) => this.progress(e.stage, e.done, e.total),
      });
      const model = await this.modelOf(res, files, baseUrl);
      this.show({ name: `${res.config.exp_name}/results.safetensors`, results: res.results, graph: ExplorerGraph.fromResults(res.results), model, bytes: res.bytes });
      this.lastBuild = res;
      $('progress').hidden = true;
      $('cancel').hidden = true;
      this.status(`built ${res.config.exp_name} in ${res.times.wall.toFixed(2)} s (${res.sharedMemory ? 'shared memory' : 'copied inputs'})`);
      this.setState('done');
      return res;
    } catch (e) {
      this.fail(e);
      throw e;
    }
  }

  lastBuild: BrowserBuildResult | null = null;
  private poolPromise: Promise<TaskPool> | null = null;

  /** One worker pool for every build and ablation of the tab (?workers=N, default: all cores). */
  pool(): Promise<TaskPool> {
    const workers = Number(new URL(location.href).searchParams.get('workers') ?? '') || undefined;
    this.poolPromise ??= createPool({ workers });
    return this.poolPromise;
  }

  private async modelOf(res: BrowserBuildResult, files: File[] | null, baseUrl: string | null): Promise<Model | null> {
    try {
      return await loadModelFromFiles(res.config, files ?? undefined, baseUrl ?? undefined);
    } catch {
      return null;
    }
  }

  /** The built-in demo in the tab: RIB and PCA builds, then the ARI of Leiden clusters against the planted blocks. */
  async runDemo(): Promise<void> {
    this.setState('building');
    this.status('demo: building RIB and PCA bases…');
    const pool = await this.pool(); // loads the kernels on this thread too
    const d = await runDemoBuilds(pool, (basis, e) => this.progress(`${basis} ${e.stage}`, e.done, e.total));
    $('demo-out').textContent = d.text;
    document.body.dataset.demoAri = d.recovery.map((r) => `${r.basis}:${r.ari.toFixed(3)}`).join(' ');
    this.show({ name: 'demo RIB', results: d.rib, graph: ExplorerGraph.fromResults(d.rib), model: d.model, bytes: resultsBytes(d.rib) });
    this.setOther({ name: 'demo PCA', results: d.pca, graph: ExplorerGraph.fromResults(d.pca), model: d.model, bytes: null });
    this.selectTab('demo');
    $('progress').hidden = true;
    this.status('demo done');
    this.setState('done');
  }

  // ---- controls ------------------------------------------------------------------------------

  filter(): { threshold: number; topK: number } {
    return { threshold: 10 ** this.state.t, topK: this.state.k };
  }

  updateCount(): void {
    const g = this.main?.graph;
    if (!g) return;
    const n = g.visibleCount(this.filter());
    const c = $('edge-count');
    c.dataset.visible = String(n);
    c.dataset.drawn = String(this.view.drawnEdges());
    c.textContent = `${n.toLocaleString()} of ${g.totalEdges().toLocaleString()} edges${this.view.mode === 'webgl' && n > this.view.drawnEdges() ? ` (${this.view.drawnEdges().toLocaleString()} strongest drawn)` : ''}`;
    $('threshold-out').textContent = `≥ ${(10 ** this.state.t).toExponential(1)} × max`;
  }

  applyFilter(): void {
    this.lastApplyMs = this.view.applyFilter(this.filter());
    this.updateCount();
    $('apply-ms').textContent = `applied in ${this.lastApplyMs.toFixed(1)} ms`;
    $('apply-ms').dataset.ms = this.lastApplyMs.toFixed(2);
    writeState(this.state);
  }

  pin(p: Pin | null): void {
    this.state.pin = p;
    writeState(this.state);
    const d = $('details');
    const g = this.main?.graph;
    if (!p || !g || p.layer >= g.layers.length || p.index >= g.widths[p.layer]!) {
      d.hidden = true;
      this.view.setPinned(null);
      return;
    }
    const L = g.layers[p.layer]!;
    const lam = g.lambda(L, p.index);
    const load = g.loadings(L, p.index);
    const nb = g.neighbours(p.layer, p.index, this.filter());
    const cl = this.clusterReply?.assignment[L]?.[p.index];
    d.innerHTML =
      `<h3>${L} [${p.index}]</h3>` +
      `<p>Λ = ${lam === null ? '–' : lam.toPrecision(5)}${cl ? ` · cluster ${cl}` : ''}</p>` +
      `<p class="label">Fourier label: <span id="fourier">${this.main?.model ? '…' : '– (needs the model: build in the tab)'}</span></p>` +
      `<h4>C column (top loadings)</h4><table>${load.map((x) => `<tr><td>coord ${x.coord}</td><td>${x.value.toPrecision(4)}</td></tr>`).join('') || '<tr><td>no C (unrotated layer)</td></tr>'}</table>` +
      `<h4>edges</h4><table>${nb.map((x) => `<tr><td>${g.layers[x.layer]}[${x.index}]</td><td>${x.w.toPrecision(4)}</td></tr>`).join('') || '<tr><td>none visible</td></tr>'}</table>` +
      `<button id="unpin" type="button">unpin</button>`;
    d.hidden = false;
    this.view.setPinned(p); // after the panel opened, so the graph is drawn at its new width
    $('unpin').onclick = () => this.pin(null);
    void this.fourier(L, p.index);
  }

  private async fourier(L: string, i: number): Promise<void> {
    const m = this.main;
    if (!m?.model || !m.results) return;
    const cfg = m.results.config as { dataset?: { dataset_type?: string; modulus?: number } };
    const span = document.getElementById('fourier');
    if (cfg.dataset?.dataset_type !== 'modular_arithmetic') {
      if (span) span.textContent = '– (mod-add builds only)';
      return;
    }
    if (!this.labelCache.size) {
      const t = await fourierLabels(m.results, m.model, { modulus: cfg.dataset.modulus ?? 113 });
      t.layers.forEach((layer, k) => this.labelCache.set(layer, t.rows[k]!));
    }
    const s = document.getElementById('fourier');
    if (s) s.textContent = this.labelCache.get(L)?.[i] ?? '–';
  }

  async clusterWorker(): Promise<Comlink.Remote<ClusterWorkerApi>> {
    if (!this.worker) {
      const w = new Worker(new URL('./cluster-worker.ts', import.meta.url), { type: 'module' });
      this.worker = Comlink.wrap<ClusterWorkerApi>(w);
      await this.worker.init(await loadKernels());
    }
    return this.worker;
  }

  async recluster(): Promise<void> {
    const r = this.main?.results;
    if (!r) return;
    const seq = ++this.clusterSeq;
    const w = await this.clusterWorker();
    $('cluster-info').textContent = 'clustering…';
    try {
      if (this.workerHas !== r) {
        await w.setResults(r);
        this.workerHas = r;
      }
      const rep = await w.cluster({ gamma: 10 ** this.state.g, seed: this.state.seed, norm: this.state.norm, targetNClusters: this.state.n || undefined });
      if (seq !== this.clusterSeq) return;
      this.clusterReply = rep;
      const g = this.main!.graph;
      this.view.setClusters(g.layers.map((L, l) => Int32Array.from(rep.assignment[L] ?? new Array(g.widths[l]).fill(0))));
      const info = $('cluster-info');
      info.textContent = `γ = ${rep.gamma.toPrecision(3)}${this.state.n ? ` (searched: ${rep.tries} draws)` : ''} · Q = ${rep.modularity.toFixed(4)} · Q_γ = ${rep.modularity_gamma.toFixed(4)} · ${rep.n_non_singleton} non-singleton clusters (${rep.n_clusters} in all) · ${rep.time_ms.toFixed(0)} ms`;
      info.dataset.clusters = String(rep.n_non_singleton);
      info.dataset.signature = Object.values(rep.assignment).map((a) => a.join(',')).join('|');
      $('piano').replaceChildren(pianoSvg(rep.piano, rep.layers));
    } catch (e) {
      if (seq === this.clusterSeq) $('cluster-info').textContent = `clustering failed: ${(e as Error).message}`;
    }
  }

  selectTab(tab: string): void {
    this.state.tab = tab;
    writeState(this.state);
    document.querySelectorAll<HTMLButtonElement>('#tabs button').forEach((b) => b.classList.toggle('active', b.dataset.tab === tab));
    document.querySelectorAll<HTMLElement>('.panel').forEach((p) => (p.hidden = p.id !== `panel-${tab}`));
  }

  private exportFile(name: string, blob: Blob): void {
    const a = document.createElement('a');
    a.href = URL.createObjectURL(blob);
    a.download = name;
    a.click();
    setTimeout(() => URL.revokeObjectURL(a.href), 1000);
  }

  pinnedSubgraph(): unknown {
    const g = this.main?.graph;
    const p = this.state.pin;
    if (!g || !p) return null;
    const f = this.filter();
    const L = g.layers[p.layer]!;
    return {
      results: this.main!.name,
      node: { layer: L, index: p.index, lambda: g.lambda(L, p.index), loadings: g.loadings(L, p.index) },
      filter: f,
      edges: g.neighbours(p.layer, p.index, f, 1000).map((x) => ({ layer: g.layers[x.layer], index: x.index, weight: x.w })),
    };
  }

  private bindControls(): void {
    const th = $<HTMLInputElement>('threshold');
    const tk = $<HTMLInputElement>('topk');
    th.value = String(this.state.t);
    tk.value = String(this.state.k);
    th.addEventListener('input', () => {
      this.state.t = Number(th.value);
      this.applyFilter();
    });
    tk.addEventListener('change', () => {
      const k = Math.max(0, Math.floor(Number(tk.value) || 0));
      if (k === this.state.k) return; // (a change event on blur after an input one redraws nothing)
      this.state.k = k;
      this.applyFilter();
    });
    const gm = $<HTMLInputElement>('gamma');
    const sd = $<HTMLInputElement>('seed');
    const tn = $<HTMLInputElement>('target-n');
    const nm = $<HTMLSelectElement>('norm');
    gm.value = String(this.state.g);
    sd.value = String(this.state.seed);
    tn.value = String(this.state.n);
    nm.value = this.state.norm;
    $('gamma-out').textContent = (10 ** this.state.g).toPrecision(3);
    let timer = 0;
    const later = () => {
      clearTimeout(timer);
      timer = window.setTimeout(() => void this.recluster(), 120);
    };
    gm.addEventListener('input', () => {
      this.state.g = Number(gm.value);
      $('gamma-out').textContent = (10 ** this.state.g).toPrecision(3);
      writeState(this.state);
      later();
    });
    sd.addEventListener('change', () => {
      this.state.seed = Math.max(0, Math.floor(Number(sd.value) || 0));
      writeState(this.state);
      later();
    });
    tn.addEventListener('change', () => {
      this.state.n = Math.max(0, Math.floor(Number(tn.value) || 0));
      writeState(this.state);
      later();
    });
    nm.addEventListener('change', () => {
      this.state.norm = nm.value;
      writeState(this.state);
      later();
    });
    document.querySelectorAll<HTMLButtonElement>('#tabs button').forEach((b) => b.addEventListener('click', () => this.selectTab(b.dataset.tab!)));
    $('export-svg').onclick = () => this.exportFile('interbasis-graph.svg', new Blob([this.view.toSvgText()], { type: 'image/svg+xml' }));
    $('export-png').onclick = async () => this.exportFile('interbasis-graph.png', await this.view.toPng());
    $('export-json').onclick = () => this.exportFile('pinned-subgraph.json', new Blob([JSON.stringify(this.pinnedSubgraph(), null, 1)], { type: 'application/json' }));
    $('cancel').onclick = () => this.abort?.abort(new Error('cancelled'));
    $('demo-button').onclick = () => void this.runDemo().catch((e) => this.fail(e));
    $('run-ablation').onclick = () => void this.runAblationInTab('node').catch((e) => this.fail(e));
    $('run-edge-ablation').onclick = () => void this.runAblationInTab('edge').catch((e) => this.fail(e));
    const input = $<HTMLInputElement>('file-input');
    input.addEventListener('change', () => void this.openFiles([...(input.files ?? [])]).catch((e) => this.fail(e)));
    window.addEventListener('dragover', (e) => {
      e.preventDefault();
      document.body.classList.add('dragging');
    });
    window.addEventListener('dragleave', () => document.body.classList.remove('dragging'));
    window.addEventListener('drop', (e) => {
      e.preventDefault();
      document.body.classList.remove('dragging');
      void this.openFiles([...(e.dataTransfer?.files ?? [])]).catch((err) => this.fail(err));
    });
  }

  /** A node or edge ablation of the build on the page's model, on the worker pool (ablationConfig). */
  async runAblationInTab(kind: 'node' | 'edge' = 'node'): Promise<void> {
    const m = this.main;
    if (!m?.results || !m.model) throw new Error('running an ablation needs the model: build in the tab first');
    this.status('ablating…');
    const out = await ablate({
      config: ablationConfig(m.results, m.name, kind),
      results: m.results,
      model: m.model,
      pool: await this.pool(),
      onProgress: (p) => this.status(`ablating ${p.layer}: ${p.done}/${p.total}`),
    });
    this.addAblation(`in-tab ${kind} ablation`, JSON.parse(ablationJson(out)));
    this.selectTab('ablations');
    this.status('ablation done');
  }
}

const app = new App();
const w = window as unknown as { __interbasis: unknown };
w.__interbasis = {
  app,
  resultsBytes: (): Uint8Array | null => app.lastBuild?.bytes ?? app.main?.bytes ?? null,
  buildInfo: () => (app.lastBuild ? { sharedMemory: app.lastBuild.sharedMemory, times: app.lastBuild.times, warnings: app.lastBuild.warnings } : null),
  nodesPerLayer: () => app.view.nodesPerLayer(),
  edgeCount: () => Number($('edge-count').dataset.visible ?? 'NaN'),
  applyMs: () => app.lastApplyMs,
  setThreshold: (log10t: number) => {
    app.state.t = log10t;
    $<HTMLInputElement>('threshold').value = String(log10t);
    app.applyFilter();
    return app.lastApplyMs;
  },
};

async function start(): Promise<void> {
  const q = new URL(location.href).searchParams;
  const config = q.get('config');
  const results = q.getAll('results');
  const synthetic = q.get('synthetic');
  if (config) {
    app.setState('loading');
    const url = new URL(config, location.href);
    const text = new TextDecoder().decode(await fetchBytes(url, 'config'));
    await app.runBuild(text, null, url.href);
  } else if (results.length) {
    app.setState('loading');
    for (let i = 0; i < results.length; i++) await app.openUrl(results[i]!, i > 0);
    app.setState('done');
  } else if (synthetic) {
    const m = /^(\d+)x(\d+)x(\d+)$/.exec(synthetic);
    if (!m) throw new Error(`?synthetic=LAYERSxWIDTHxEDGES, got ${synthetic}`);
    app.setState('loading');
    const g = syntheticGraph(Number(m[1]), Number(m[2]), Number(m[3]));
    app.show({ name: `synthetic ${synthetic}`, results: null, graph: g, model: null, bytes: null });
    app.status(`synthetic graph: ${g.totalEdges().toLocaleString()} edges`);
    app.setState('done');
  } else if (!q.has('empty')) {
    await app.runDemo();
  } else app.setState('idle');
  const diff = q.get('diff');
  if (diff) await app.openUrl(diff, true);
  for (const a of q.getAll('ablation')) app.addAblation(a.split('/').pop()!, JSON.parse(new TextDecoder().decode(await fetchBytes(new URL(a, location.href), 'ablation'))));
}

start().catch((e) => app.fail(e));

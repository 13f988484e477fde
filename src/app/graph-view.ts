/**
 * The layered interaction graph view: SVG for small graphs, WebGL (sigma.js on graphology) for
 * large ones. In WebGL mode the strongest edges of each layer pair are added once (at most
 * MAX_DRAWN in all) and a threshold or top-k change only flips their visibility in the edge
 * reducer; the visible-edge count is computed on the columnar, sorted edges.
 */
import { DirectedGraph } from 'graphology';
import Sigma from 'sigma';
import { countAtLeast, type EdgeFilter, type ExplorerGraph } from '../browser/explorer/graph-model.js';
import { attachHover, clusterColour, drawSvg, SVG_STYLE } from '../browser/explorer/svg.js';

/** Graphs up to this many edges and nodes are drawn as SVG. */
export const SVG_MAX_EDGES = 6000;
export const SVG_MAX_NODES = 1500;
/** Edges handed to WebGL at most (the strongest per layer pair). */
export const MAX_DRAWN = 30_000;

export interface Pin {
  layer: number;
  index: number;
}

export class GraphView {
  private g: ExplorerGraph | null = null;
  private filter: EdgeFilter = { threshold: 0.01, topK: 0 };
  private clusters: Int32Array[] | null = null;
  private pinned: Pin | null = null;
  private sigma: Sigma | null = null;
  private sgraph: DirectedGraph | null = null;
  private cuts: Int32Array = new Int32Array(0);
  private hovered: string | null = null;
  private hoverSet = new Set<string>();
  mode: 'svg' | 'webgl' = 'svg';
  onPin: (p: Pin | null) => void = () => undefined;
  onHover: (text: string | null) => void = () => undefined;

  constructor(private readonly el: HTMLElement) {
    const style = document.createElement('style');
    style.textContent = SVG_STYLE;
    document.head.appendChild(style);
  }

  setGraph(g: ExplorerGraph, filter: EdgeFilter, pinned: Pin | null): void {
    this.destroy();
    this.g = g;
    this.filter = filter;
    this.pinned = pinned;
    this.clusters = null;
    const nodes = g.widths.reduce((a, b) => a + b, 0);
    const total = g.totalEdges();
    this.mode = total <= SVG_MAX_EDGES && nodes <= SVG_MAX_NODES ? 'svg' : 'webgl';
    if (this.mode === 'webgl' && !webglAvailable()) this.mode = 'svg';
    if (this.mode === 'svg') this.drawSvg();
    else this.buildSigma();
  }

  /** Applies a new filter; returns the time it took (ms), rendering included. */
  applyFilter(f: EdgeFilter): number {
    const t0 = performance.now();
    this.filter = f;
    if (this.mode === 'svg') this.drawSvg();
    else {
      const old = this.cuts;
      const oldK = this.shownTopK;
      this.updateCuts();
      if (oldK !== f.topK) this.sigma!.refresh();
      else {
        // only the edges between the old and the new cut change visibility
        const edges: string[] = [];
        for (let l = 0; l < this.cuts.length; l++) {
          const lo = Math.min(old[l]!, this.cuts[l]!);
          const hi = Math.min(Math.max(old[l]!, this.cuts[l]!), this.drawnPerPair[l]!);
          for (let k = lo; k < hi; k++) edges.push(`${l}:${k}`);
        }
        this.sigma!.refresh({ partialGraph: { edges }, skipIndexation: true });
      }
      this.shownTopK = f.topK;
    }
    return performance.now() - t0;
  }

  setClusters(c: Int32Array[] | null): void {
    this.clusters = c;
    if (this.mode === 'svg') this.drawSvg();
    else if (this.sgraph) {
      this.sgraph.updateEachNodeAttributes((_k, a) => ({ ...a, color: clusterColour(c?.[a.l as number]?.[a.i as number] ?? 0) }));
    }
  }

  setPinned(p: Pin | null): void {
    this.pinned = p;
    if (this.mode === 'svg') this.drawSvg();
    else this.sigma?.refresh();
  }

  /** Nodes drawn per layer name. */
  nodesPerLayer(): Record<string, number> {
    const o: Record<string, number> = {};
    if (!this.g) return o;
    if (this.mode === 'svg') {
      this.el.querySelectorAll('g.layer').forEach((g) => (o[g.getAttribute('data-layer')!] = g.querySelectorAll('circle.node').length));
    } else {
      this.g.layers.forEach((L) => (o[L] = 0));
      this.sgraph!.forEachNode((_k, a) => (o[this.g!.layers[a.l as number]!]! += 1));
    }
    return o;
  }

  /** Edges currently drawn. */
  drawnEdges(): number {
    if (this.mode === 'svg') return this.el.querySelectorAll('line.edge').length;
    let n = 0;
    for (let l = 0; l < this.cuts.length; l++) n += Math.min(this.cuts[l]!, this.drawnPerPair[l] ?? 0);
    return n;
  }

  /** The current view as an SVG document (large graphs: the first 200 nodes per layer). */
  toSvgText(): string {
    if (!this.g) return '';
    const svg = drawSvg(this.g, { ...this.filter, width: 1200, height: 700, clusters: this.clusters, pinned: this.pinned, maxNodes: this.mode === 'svg' ? undefined : 200 });
    return new XMLSerializer().serializeToString(svg);
  }

  /** PNG of the current view. */
  async toPng(): Promise<Blob> {
    if (this.mode === 'webgl' && this.sigma) {
      const canvases = [...this.el.querySelectorAll('canvas')];
      const w = canvases[0]!.width;
      const h = canvases[0]!.height;
      const out = document.createElement('canvas');
      out.width = w;
      out.height = h;
      const ctx = out.getContext('2d')!;
      ctx.fillStyle = '#fff';
      ctx.fillRect(0, 0, w, h);
      for (const c of canvases) ctx.drawImage(c, 0, 0);
      return new Promise((r) => out.toBlob((b) => r(b!), 'image/png'));
    }
    const text = this.toSvgText();
    const img = new Image();
    img.src = 'data:image/svg+xml;charset=utf-8,' + encodeURIComponent(text);
    await img.decode();
    const out = document.createElement('canvas');
    out.width = img.width;
    out.height = img.height;
    out.getContext('2d')!.drawImage(img, 0, 0);
    return new Promise((r) => out.toBlob((b) => r(b!), 'image/png'));
  }

  destroy(): void {
    this.sigma?.kill();
    this.sigma = null;
    this.sgraph = null;
    this.el.replaceChildren();
  }

  // ---- SVG ----
  private drawSvg(): void {
    const g = this.g!;
    const rect = this.el.getBoundingClientRect();
    const svg = drawSvg(g, { ...this.filter, width: Math.max(600, rect.width), height: Math.max(400, rect.height), clusters: this.clusters, pinned: this.pinned });
    svg.style.width = '100%';
    svg.style.height = '100%';
    attachHover(svg, (t) => this.onHover(t));
    svg.addEventListener('click', (ev) => {
      const t = ev.target as SVGElement;
      if (t.classList.contains('node')) this.onPin({ layer: Number(t.dataset.l), index: Number(t.dataset.index) });
    });
    this.el.replaceChildren(svg);
  }

  // ---- WebGL ----
  private drawnPerPair: number[] = [];
  private shownTopK = 0;

  private updateCuts(): void {
    const g = this.g!;
    this.cuts = new Int32Array(g.pairCount);
    for (let l = 0; l < g.pairCount; l++) {
      const p = g.pair(l);
      this.cuts[l] = countAtLeast(p.w, this.filter.threshold * p.max);
    }
  }

  private buildSigma(): void {
    const g = this.g!;
    const graph = new DirectedGraph({ allowSelfLoops: false });
    const maxW = Math.max(...g.widths);
    // the drawing is about 1.6× as wide as it is tall, whatever the number of layers
    const dx = (1.6 * maxW) / Math.max(1, g.layers.length - 1);
    g.layers.forEach((L, l) => {
      const w = g.widths[l]!;
      for (let i = 0; i < w; i++) {
        graph.addNode(`${l}:${i}`, { x: l * dx, y: -(i + (maxW - w) / 2), size: 2, color: clusterColour(0), label: `${L}[${i}]`, l, i });
      }
    });
    const budget = Math.floor(MAX_DRAWN / Math.max(1, g.pairCount));
    this.drawnPerPair = [];
    for (let l = 0; l < g.pairCount; l++) {
      const p = g.pair(l);
      const n = Math.min(p.w.length, budget);
      this.drawnPerPair.push(n);
      for (let k = 0; k < n; k++) {
        const rel = p.max ? p.w[k]! / p.max : 0;
        graph.addDirectedEdgeWithKey(`${l}:${k}`, `${l}:${p.src[k]}`, `${l + 1}:${p.dst[k]}`, { size: 0.3 + 2.5 * rel, color: greyFor(rel), l, k });
      }
    }
    this.sgraph = graph;
    this.updateCuts();
    this.shownTopK = this.filter.topK;
    const pairs = Array.from({ length: g.pairCount }, (_, l) => g.pair(l));
    this.sigma = new Sigma(graph, this.el, {
      renderEdgeLabels: false,
      labelRenderedSizeThreshold: 10,
      defaultEdgeType: 'line',
      hideEdgesOnMove: true,
      edgeReducer: (_key, a) => {
        const l = a.l as number;
        const k = a.k as number;
        const p = pairs[l]!;
        const topK = this.filter.topK;
        let hidden = k >= this.cuts[l]! || (topK > 0 && p.rankSrc[k]! >= topK && p.rankDst[k]! >= topK);
        if (!hidden && this.hovered !== null) {
          const [s, t] = [`${l}:${p.src[k]}`, `${l + 1}:${p.dst[k]}`];
          if (s !== this.hovered && t !== this.hovered) hidden = true;
          else return { ...a, color: '#d62728', size: (a.size as number) + 1 };
        }
        return hidden ? { ...a, hidden: true } : a;
      },
      nodeReducer: (key, a) => {
        const pin = this.pinned && key === `${this.pinned.layer}:${this.pinned.index}`;
        if (pin) return { ...a, size: 7, color: '#000', highlighted: true };
        if (this.hovered !== null && !this.hoverSet.has(key)) return { ...a, color: '#dde2e7' };
        return a;
      },
    });
    const labels = g.layers.map((L, l) => {
      const d = document.createElement('div');
      d.className = 'layer-label';
      d.textContent = g.layers.length <= 8 ? `${L} (${g.widths[l]})` : L;
      d.title = `${L}: ${g.widths[l]} nodes`;
      d.style.cssText = 'position:absolute;top:4px;transform:translateX(-50%);font:11px sans-serif;color:#222;pointer-events:none;white-space:nowrap';
      this.el.appendChild(d);
      return d;
    });
    const place = () =>
      labels.forEach((d, l) => {
        d.style.left = `${this.sigma!.graphToViewport({ x: l * dx, y: 0 }).x}px`;
      });
    this.sigma.on('afterRender', place);
    place();
    this.sigma.on('clickNode', ({ node }) => {
      const a = graph.getNodeAttributes(node);
      this.onPin({ layer: a.l as number, index: a.i as number });
    });
    this.sigma.on('enterNode', ({ node }) => {
      this.hovered = node;
      const a = graph.getNodeAttributes(node);
      const nb = g.neighbours(a.l as number, a.i as number, this.filter, 8);
      this.hoverSet = new Set([node, ...nb.map((x) => `${x.layer}:${x.index}`)]);
      this.onHover(`${a.label}: ${nb.length ? 'edges ' + nb.map((x) => `${g.layers[x.layer]}[${x.index}] ${x.w.toPrecision(3)}`).join(', ') : 'no visible edges'}`);
      this.sigma!.refresh({ skipIndexation: true });
    });
    this.sigma.on('leaveNode', () => {
      this.hovered = null;
      this.hoverSet.clear();
      this.onHover(null);
      this.sigma!.refresh({ skipIndexation: true });
    });
  }
}

/** Edge colour from white-ish (weak) to slate (strong), as opaque hex (sigma's WebGL programs blend no alpha). */
function greyFor(rel: number): string {
  const t = Math.min(1, Math.max(0, 0.15 + 0.85 * Math.sqrt(rel)));
  const c = (a: number, b: number) => Math.round(a + (b - a) * t).toString(16).padStart(2, '0');
  return `#${c(225, 60)}${c(230, 80)}${c(236, 100)}`;
}

function webglAvailable(): boolean {
  try {
    const c = document.createElement('canvas');
    return !!(c.getContext('webgl2') || c.getContext('webgl'));
  } catch {
    return false;
  }
}

/**
 * SVG drawing of a layered interaction graph (small graphs, the web component, SVG export):
 * one column per node layer, nodes in basis order, edges as lines with width ∝ weight.
 */
import { visibleEdges, type EdgeFilter, type ExplorerGraph } from './graph-model.js';

const NS = 'http://www.w3.org/2000/svg';

export interface SvgOptions extends EdgeFilter {
  width: number;
  height: number;
  /** cluster id per node, by layer (1..n; 0 = none), for colours */
  clusters?: Int32Array[] | null;
  /** at most this many nodes drawn per layer (the first ones, in basis order) */
  maxNodes?: number;
  pinned?: { layer: number; index: number } | null;
}

export const PALETTE = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac'];
export const clusterColour = (id: number): string => (id > 0 ? PALETTE[(id - 1) % PALETTE.length]! : '#9aa3ad');

export interface Layout {
  x: (layer: number) => number;
  y: (layer: number, index: number) => number;
  shown: number[];
  r: number;
}

export function layout(g: ExplorerGraph, o: Pick<SvgOptions, 'width' | 'height' | 'maxNodes'>): Layout {
  const padX = 60;
  const padY = 30;
  const shown = g.widths.map((w) => Math.min(w, o.maxNodes ?? Infinity));
  const maxN = Math.max(...shown, 1);
  const stepX = (o.width - 2 * padX) / Math.max(1, g.layers.length - 1);
  const stepY = (o.height - 2 * padY - 20) / Math.max(1, maxN - 1);
  return {
    x: (l) => padX + l * stepX,
    y: (l, i) => padY + 20 + (maxN - shown[l]!) * stepY * 0.5 + i * stepY,
    shown,
    r: Math.max(1.5, Math.min(6, stepY * 0.4)),
  };
}

function el<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number>): SVGElementTagNameMap[K] {
  const e = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  return e;
}

/** Draws the graph; returns the <svg> (nodes: circle.node[data-layer][data-index], edges: line.edge). */
export function drawSvg(g: ExplorerGraph, o: SvgOptions): SVGSVGElement {
  const L = layout(g, o);
  const svg = el('svg', { xmlns: NS, width: o.width, height: o.height, viewBox: `0 0 ${o.width} ${o.height}`, class: 'ib-graph' });
  svg.appendChild(el('rect', { x: 0, y: 0, width: o.width, height: o.height, fill: '#ffffff' }));
  const edges = el('g', { class: 'edges' });
  svg.appendChild(edges);
  let drawn = 0;
  for (let l = 0; l < g.pairCount; l++) {
    const p = g.pair(l);
    if (!p.max) continue;
    for (const k of visibleEdges(p, o)) {
      const i = p.src[k]!;
      const j = p.dst[k]!;
      if (i >= L.shown[l]! || j >= L.shown[l + 1]!) continue;
      const rel = p.w[k]! / p.max;
      const line = el('line', {
        class: 'edge', x1: L.x(l), y1: L.y(l, i), x2: L.x(l + 1), y2: L.y(l + 1, j),
        stroke: '#5b6b7c', 'stroke-opacity': (0.15 + 0.75 * rel).toFixed(3), 'stroke-width': (0.4 + 3.2 * rel).toFixed(2),
        'data-pair': l, 'data-src': i, 'data-dst': j, 'data-w': p.w[k]!.toPrecision(4),
      });
      edges.appendChild(line);
      drawn++;
    }
  }
  svg.dataset.edges = String(drawn);
  g.layers.forEach((name, l) => {
    const grp = el('g', { class: 'layer', 'data-layer': name });
    const label = el('text', { x: L.x(l), y: 16, 'text-anchor': 'middle', 'font-size': 12, 'font-family': 'sans-serif', fill: '#222' });
    label.textContent = `${name} (${g.widths[l]})`;
    grp.appendChild(label);
    for (let i = 0; i < L.shown[l]!; i++) {
      const cid = o.clusters?.[l]?.[i] ?? 0;
      const pinned = o.pinned && o.pinned.layer === l && o.pinned.index === i;
      grp.appendChild(el('circle', {
        class: pinned ? 'node pinned' : 'node', cx: L.x(l), cy: L.y(l, i), r: pinned ? L.r * 1.8 : L.r,
        fill: clusterColour(cid), stroke: pinned ? '#000' : '#fff', 'stroke-width': 0.8, 'data-layer': name, 'data-l': l, 'data-index': i,
      }));
    }
    svg.appendChild(grp);
  });
  return svg;
}

/** Hover: highlight a node's edges and neighbours, show the hovered edge weights in the title. */
export function attachHover(svg: SVGSVGElement, onHover?: (text: string | null) => void): void {
  const reset = () => {
    svg.classList.remove('hovering');
    svg.querySelectorAll('.hl').forEach((e) => e.classList.remove('hl'));
    onHover?.(null);
  };
  svg.addEventListener('mouseover', (ev) => {
    const t = ev.target as SVGElement;
    if (t.classList.contains('edge')) {
      onHover?.(`edge ${t.dataset.src}→${t.dataset.dst}: ${t.dataset.w}`);
      return;
    }
    if (!t.classList.contains('node')) return;
    reset();
    const l = Number(t.dataset.l);
    const i = Number(t.dataset.index);
    svg.classList.add('hovering');
    t.classList.add('hl');
    const ws: string[] = [];
    svg.querySelectorAll<SVGLineElement>('line.edge').forEach((e) => {
      const p = Number(e.dataset.pair);
      const hit = (p === l && Number(e.dataset.src) === i) || (p === l - 1 && Number(e.dataset.dst) === i);
      if (!hit) return;
      e.classList.add('hl');
      const ol = p === l ? l + 1 : l - 1;
      const oi = p === l ? e.dataset.dst : e.dataset.src;
      svg.querySelector(`circle.node[data-l="${ol}"][data-index="${oi}"]`)?.classList.add('hl');
      ws.push(e.dataset.w!);
    });
    onHover?.(`${t.dataset.layer}[${i}]: ${ws.length} edges${ws.length ? ', weights ' + ws.slice(0, 6).join(', ') : ''}`);
  });
  svg.addEventListener('mouseleave', reset);
}

export const SVG_STYLE = `
svg.ib-graph.hovering line.edge:not(.hl) { stroke-opacity: 0.04; }
svg.ib-graph.hovering circle.node:not(.hl) { opacity: 0.35; }
svg.ib-graph line.edge.hl { stroke: #d62728; }
svg.ib-graph circle.node { cursor: pointer; }
`;

/**
 * SVG figures of the report (browser-safe): the layered interaction graph, the piano plot,
 * Λ spectra and ablation curves. Elements carry classes / data attributes so that tests (and
 * readers of the HTML) can find them: `svg.graph-svg[data-order][data-const]` >
 * `g.graph-layer[data-layer]` > `circle.node`, `path.edge`; `svg.piano` > `rect.cell`; …
 */
import type { RibResults, Mat } from '../../io/results.js';
import type { EdgeNormFn } from '../norms.js';
import { esc, f, axes, path, clusterColor, PALETTE } from './svg.js';

export interface GraphFigureOptions {
  /** nodes drawn per layer (after hiding the constant direction), default 30 */
  maxNodes?: number;
  /** edges drawn per pair of layers (largest normalised weights), default 80 */
  topK?: number;
  order: 'rib' | 'cluster';
  showConst: boolean;
  /** cluster id (1-based, size order; 0 = none) per layer and RIB index */
  assignment?: Record<string, number[]> | null;
  /** clusters with more than one node (others are drawn uncoloured) */
  plotted?: Set<number>;
  norm: EdgeNormFn;
  centred: boolean;
  visible?: boolean;
}

export function layerWidth(r: RibResults, layer: string): number {
  const b = r.bases.find((x) => x.nodeLayer === layer);
  if (!b) throw new RangeError(`results have no node layer '${layer}'`);
  return b.C ? b.C.cols : b.origDim;
}

const isRotated = (r: RibResults, layer: string): boolean => !!r.bases.find((x) => x.nodeLayer === layer)?.C;

/** RIB indices of the nodes drawn for a layer, in drawing order (top to bottom). */
export function graphNodes(r: RibResults, layer: string, o: Pick<GraphFigureOptions, 'maxNodes' | 'order' | 'showConst' | 'assignment' | 'centred' | 'plotted'>): number[] {
  const w = layerWidth(r, layer);
  const start = !o.showConst && o.centred && isRotated(r, layer) ? 1 : 0;
  const idx: number[] = [];
  for (let i = start; i < w && idx.length < (o.maxNodes ?? 30); i++) idx.push(i);
  if (o.order === 'cluster' && o.assignment?.[layer]) {
    const a = o.assignment[layer]!;
    const key = (i: number) => {
      const c = a[i] ?? 0;
      return c > 0 && (!o.plotted || o.plotted.has(c)) ? c : Number.MAX_SAFE_INTEGER;
    };
    idx.sort((x, y) => key(x) - key(y) || x - y);
  }
  return idx;
}

/** The layered interaction graph as one SVG (one variant of order × constant direction). */
export function graphSvg(r: RibResults, o: GraphFigureOptions): string {
  const layers = r.nodeLayers;
  const topK = o.topK ?? 80;
  const nodes = layers.map((l) => graphNodes(r, l, o));
  const maxN = Math.max(1, ...nodes.map((n) => n.length));
  const colGap = 230;
  const rowGap = 16;
  const top = 46;
  const left = 70;
  const W = left * 2 + colGap * (layers.length - 1);
  const H = top + 24 + rowGap * (maxN - 1) + 30;
  const pos = nodes.map((ns, li) => {
    const m = new Map<number, [number, number]>();
    const off = ((maxN - ns.length) * rowGap) / 2;
    ns.forEach((i, k) => m.set(i, [left + li * colGap, top + off + k * rowGap]));
    return m;
  });
  const clusterOf = (layer: string, i: number): number => {
    const c = o.assignment?.[layer]?.[i] ?? 0;
    return c > 0 && (!o.plotted || o.plotted.has(c)) ? c : 0;
  };
  // edges: top-k normalised weights per consecutive pair among the drawn nodes
  type Ed = { a: number; b: number; la: number; lb: number; w: number };
  const drawn: Ed[] = [];
  for (let li = 0; li + 1 < layers.length; li++) {
    const e = r.edges.find((x) => x.inLayer === layers[li] && x.outLayer === layers[li + 1]);
    if (!e) continue;
    const En: Mat = o.norm(e.E, e.inLayer);
    const cand: Ed[] = [];
    for (const j of nodes[li]!) {
      for (const i of nodes[li + 1]!) {
        const w = En.data[i * En.cols + j]!;
        if (w > 0 && Number.isFinite(w)) cand.push({ a: j, b: i, la: li, lb: li + 1, w });
      }
    }
    cand.sort((x, y) => y.w - x.w);
    drawn.push(...cand.slice(0, topK));
  }
  const maxW = Math.max(1e-300, ...drawn.map((d) => d.w));
  const parts: string[] = [];
  const vis = o.visible === false ? ' style="display:none"' : '';
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" class="graph-svg" data-order="${o.order}" data-const="${o.showConst ? 'shown' : 'hidden'}" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}"${vis}>`,
  );
  parts.push('<g class="edges">');
  for (const d of drawn.sort((x, y) => x.w - y.w)) {
    const [x1, y1] = pos[d.la]!.get(d.a)!;
    const [x2, y2] = pos[d.lb]!.get(d.b)!;
    const ca = clusterOf(layers[d.la]!, d.a);
    const same = ca > 0 && ca === clusterOf(layers[d.lb]!, d.b);
    const width = 0.4 + 7.6 * (d.w / maxW);
    const col = same ? clusterColor(ca) : '#6b7280';
    const op = same ? 0.75 : 0.35 + 0.4 * (d.w / maxW);
    const mx = (x1 + x2) / 2;
    parts.push(
      `<path class="edge" d="M${f(x1)},${f(y1)} C${f(mx)},${f(y1)} ${f(mx)},${f(y2)} ${f(x2)},${f(y2)}" stroke="${col}" stroke-opacity="${f(op)}" stroke-width="${f(width)}" fill="none"><title>${esc(`${layers[d.la]}[${d.a}] → ${layers[d.lb]}[${d.b}]: ${d.w.toPrecision(4)}`)}</title></path>`,
    );
  }
  parts.push('</g>');
  layers.forEach((l, li) => {
    const x = left + li * colGap;
    parts.push(`<g class="graph-layer" data-layer="${esc(l)}" data-nodes="${nodes[li]!.length}">`);
    parts.push(`<text x="${x}" y="18" class="layer-name" text-anchor="middle">${esc(l)}</text>`);
    const w = layerWidth(r, l);
    const extra = w - nodes[li]!.length - (!o.showConst && o.centred && isRotated(r, l) ? 1 : 0);
    parts.push(`<text x="${x}" y="32" class="layer-sub" text-anchor="middle">${nodes[li]!.length} of ${w}${extra > 0 ? ' shown' : ''}</text>`);
    for (const i of nodes[li]!) {
      const [cx, cy] = pos[li]!.get(i)!;
      const c = clusterOf(l, i);
      const isConst = o.centred && i === 0 && isRotated(r, l);
      const fill = isConst ? '#111827' : c > 0 ? clusterColor(c) : '#cbd5e1';
      parts.push(
        `<circle class="node${isConst ? ' const' : ''}" data-index="${i}" cx="${f(cx)}" cy="${f(cy)}" r="5.5" fill="${fill}" stroke="#334155" stroke-width="0.8"><title>${esc(`${l}[${i}]${isConst ? ' (constant direction)' : ''}${c > 0 ? ` · cluster ${c}` : ''}`)}</title></circle>`,
      );
      parts.push(`<text x="${f(cx + (li === layers.length - 1 ? 9 : -9))}" y="${f(cy + 3.5)}" class="node-label" text-anchor="${li === layers.length - 1 ? 'start' : 'end'}">${i}</text>`);
    }
    parts.push('</g>');
  });
  parts.push('</svg>');
  return parts.join('');
}

/** Piano plot: columns = layers, rows = RIB index (0 at the bottom), colour = cluster. */
export function pianoSvg(layers: string[], widths: number[], assignment: Record<string, number[]>, plotted: Set<number>): string {
  const maxW = Math.max(1, ...widths);
  const cw = 70;
  const ch = Math.max(3, Math.min(14, Math.floor(560 / maxW)));
  const left = 60;
  const top = 20;
  const W = left + cw * layers.length + 20;
  const H = top + ch * maxW + 50;
  const parts: string[] = [`<svg xmlns="http://www.w3.org/2000/svg" class="piano" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}">`];
  layers.forEach((l, li) => {
    const x = left + li * cw;
    parts.push(`<g class="piano-layer" data-layer="${esc(l)}">`);
    for (let i = 0; i < maxW; i++) {
      const y = top + (maxW - 1 - i) * ch;
      let fill: string;
      let c = -1;
      if (i >= widths[li]!) fill = '#374151';
      else {
        c = assignment[l]?.[i] ?? 0;
        fill = c > 0 && plotted.has(c) ? clusterColor(c) : '#ffffff';
      }
      parts.push(`<rect class="cell" x="${x}" y="${y}" width="${cw - 2}" height="${ch}" fill="${fill}"><title>${esc(`${l}[${i}]${c > 0 ? ` cluster ${c}` : c === 0 ? ' (no cluster)' : ' (no such direction)'}`)}</title></rect>`);
    }
    parts.push(`<text x="${x + cw / 2 - 1}" y="${top + ch * maxW + 16}" class="tick" text-anchor="middle">${esc(l)}</text></g>`);
  });
  parts.push(`<rect x="${left}" y="${top}" width="${cw * layers.length - 2}" height="${ch * maxW}" fill="none" stroke="#9ca3af"/>`);
  for (let i = 0; i <= maxW; i += maxW > 60 ? 20 : 10) {
    const y = top + (maxW - i) * ch;
    parts.push(`<text x="${left - 6}" y="${y + 3}" class="tick" text-anchor="end">${i}</text>`);
  }
  parts.push(`<text transform="translate(16,${top + (ch * maxW) / 2}) rotate(-90)" class="label" text-anchor="middle">RIB index</text>`);
  parts.push('</svg>');
  return parts.join('');
}

/** Λ spectra per layer (log scale); layers without Λ (PCA builds) are listed as such. */
export function spectraSvg(r: RibResults): string {
  const series = r.bases
    .filter((b) => b.Lambda && b.Lambda.length)
    .map((b) => ({ layer: b.nodeLayer, pts: Array.from(b.Lambda!).map((v, i) => [i, v] as [number, number]).filter(([, v]) => v > 0) }));
  const W = 640;
  const H = 340;
  if (!series.length) {
    return `<svg xmlns="http://www.w3.org/2000/svg" class="spectra" viewBox="0 0 ${W} 60" width="${W}" height="60"><text x="10" y="30" class="label">No Λ in these results (a PCA/SVD build stores no interaction eigenvalues).</text></svg>`;
  }
  const all = series.flatMap((s) => s.pts.map(([, v]) => v));
  const lo = Math.max(Math.min(...all), Math.max(...all) * 1e-18);
  const hi = Math.max(...all);
  const xmax = Math.max(...series.map((s) => s.pts.length));
  const { svg, ax } = axes({ x: 70, y: 30, w: W - 190, h: H - 80, xlim: [0, xmax], ylim: [lo, hi], ylog: true, xlabel: 'index (sorted)', ylabel: 'Λ', title: 'Interaction eigenvalues Λ per layer' });
  const parts = [`<svg xmlns="http://www.w3.org/2000/svg" class="spectra" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}">`, svg];
  series.forEach((s, k) => {
    const col = PALETTE[k % PALETTE.length]!;
    parts.push(`<path class="spectrum" data-layer="${esc(s.layer)}" d="${path(s.pts.map(([i, v]) => [ax.sx(i), ax.sy(Math.max(v, lo))]))}" stroke="${col}" stroke-width="1.8" fill="none"/>`);
    parts.push(`<rect x="${W - 110}" y="${40 + k * 18}" width="12" height="12" fill="${col}"/><text x="${W - 92}" y="${50 + k * 18}" class="tick">${esc(s.layer)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('');
}

export interface AblationSeries {
  name: string;
  type: string;
  evalType: string;
  results: Record<string, Array<[number, number]>>;
  nEdgesRequired: Record<string, number> | null;
  noAblation: number | null;
}

/** One panel per layer: score against remaining directions (node) or edges kept (edge, log x). */
export function ablationSvg(series: AblationSeries[], kind: 'node' | 'edge'): string {
  const ss = series.filter((s) => (kind === 'edge' ? s.type === 'edge' : s.type !== 'edge'));
  if (!ss.length) return '';
  const layers = [...new Set(ss.flatMap((s) => Object.keys(s.results)))];
  const pw = 300;
  const ph = 220;
  const W = 70 + layers.length * (pw + 80);
  const H = ph + 120;
  const parts = [`<svg xmlns="http://www.w3.org/2000/svg" class="ablation-curves" data-kind="${kind}" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}">`];
  const ylabel = ss[0]!.evalType === 'ce_loss' ? 'CE loss' : 'accuracy';
  layers.forEach((l, li) => {
    const pts = ss.flatMap((s) => s.results[l] ?? []);
    if (!pts.length) return;
    const xs = pts.map(([x]) => x);
    const ys = pts.map(([, y]) => y);
    const xlog = kind === 'edge';
    const xlo = xlog ? Math.max(1, Math.min(...xs.filter((x) => x > 0)) / 1.3) : 0;
    const xhi = Math.max(...xs, xlo + 1);
    const ymin = Math.min(...ys);
    const ymax = Math.max(...ys);
    // edge bisects probe scores near the unablated one: zoom in on them
    const ylo = kind === 'edge' ? Math.max(0, ymin - 0.15 * (ymax - ymin || 0.01)) : Math.min(0, ymin);
    const yhi = kind === 'edge' ? ymax + 0.08 * (ymax - ymin || 0.01) : ymax * 1.02 || 1;
    const { svg, ax } = axes({
      x: 70 + li * (pw + 80),
      y: 30,
      w: pw,
      h: ph,
      xlim: [xlo, xhi],
      ylim: [ylo, yhi],
      xlog,
      xlabel: kind === 'edge' ? 'edges kept' : 'directions remaining',
      ylabel,
      title: `${kind === 'edge' ? 'Edge' : 'Node'} ablation · ${l}`,
    });
    parts.push(svg);
    ss.forEach((s, k) => {
      const col = PALETTE[k % PALETTE.length]!;
      const p = (s.results[l] ?? []).filter(([x]) => !xlog || x > 0).sort((a, b) => a[0] - b[0]);
      if (kind === 'node') parts.push(`<path class="curve" data-series="${esc(s.name)}" data-layer="${esc(l)}" d="${path(p.map(([x, y]) => [ax.sx(x), ax.sy(y)]))}" stroke="${col}" stroke-width="2" fill="none"/>`);
      for (const [x, y] of p) parts.push(`<circle class="pt" cx="${f(ax.sx(x))}" cy="${f(ax.sy(y))}" r="${kind === 'edge' ? 3.5 : 2.2}" fill="${col}"><title>${esc(`${s.name}: ${x} → ${y.toFixed(5)}`)}</title></circle>`);
      const req = s.nEdgesRequired?.[l];
      if (kind === 'edge' && req) {
        const X = ax.sx(Math.max(req, xlo));
        parts.push(`<line x1="${f(X)}" y1="${ax.y0}" x2="${f(X)}" y2="${ax.y0 + ax.h}" stroke="${col}" stroke-dasharray="4 3"/><text x="${f(X + 3)}" y="${ax.y0 + 12 + 13 * k}" class="tick" fill="${col}">${req}</text>`);
      }
    });
  });
  ss.forEach((s, k) => {
    const col = PALETTE[k % PALETTE.length]!;
    parts.push(`<rect x="${70 + k * 220}" y="${H - 26}" width="12" height="12" fill="${col}"/><text x="${88 + k * 220}" y="${H - 16}" class="tick">${esc(s.name)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('');
}

/** Small SVG plots of the explorer: piano plot, Λ spectra, ablation curves, diff table. */
import type { RibResults } from '../io/results.js';
import { clusterColour } from '../browser/explorer/svg.js';

const NS = 'http://www.w3.org/2000/svg';
function el(tag: string, attrs: Record<string, string | number>, text?: string): SVGElement {
  const e = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

/** Piano plot: one row per layer, one cell per RIB index, coloured by cluster (0 = singleton). */
export function pianoSvg(piano: number[][], layers: string[]): SVGSVGElement {
  const cols = Math.max(1, ...piano.map((r) => r.length));
  const cell = Math.max(2, Math.min(10, Math.floor(900 / cols)));
  const left = 70;
  const svg = el('svg', { width: left + cols * cell + 10, height: piano.length * (cell + 4) + 10, class: 'piano' }) as SVGSVGElement;
  piano.forEach((row, l) => {
    svg.appendChild(el('text', { x: 4, y: 5 + l * (cell + 4) + cell - 1, 'font-size': 11 }, layers[l] ?? ''));
    row.forEach((v, i) => {
      if (v < 0) return;
      svg.appendChild(el('rect', { class: 'cell', x: left + i * cell, y: 5 + l * (cell + 4), width: cell - 1, height: cell, fill: v === 0 ? '#eceff2' : clusterColour(v), 'data-cluster': v }));
    });
  });
  return svg;
}

function axes(svg: SVGElement, w: number, h: number, m: number, xl: string, yl: string): void {
  svg.appendChild(el('line', { x1: m, y1: h - m, x2: w - 10, y2: h - m, stroke: '#333' }));
  svg.appendChild(el('line', { x1: m, y1: 10, x2: m, y2: h - m, stroke: '#333' }));
  svg.appendChild(el('text', { x: w / 2, y: h - 8, 'font-size': 11, 'text-anchor': 'middle' }, xl));
  svg.appendChild(el('text', { x: 12, y: h / 2, 'font-size': 11, transform: `rotate(-90 12 ${h / 2})`, 'text-anchor': 'middle' }, yl));
}

/** Λ of every layer (log scale), one line per layer. */
export function spectraSvg(r: RibResults): SVGSVGElement {
  const w = 640;
  const h = 300;
  const m = 44;
  const svg = el('svg', { width: w, height: h, class: 'spectra' }) as SVGSVGElement;
  axes(svg, w, h, m, 'RIB index', 'log10 Λ');
  const series = r.bases.filter((b) => b.Lambda && b.Lambda.length).map((b) => ({ L: b.nodeLayer, v: Array.from(b.Lambda!) }));
  if (!series.length) {
    svg.appendChild(el('text', { x: w / 2, y: h / 2, 'text-anchor': 'middle' }, 'no Λ in these results (a PCA build)'));
    return svg;
  }
  const logs = series.flatMap((s) => s.v.filter((x) => x > 0).map(Math.log10));
  const lo = Math.min(...logs);
  const hi = Math.max(...logs);
  const n = Math.max(...series.map((s) => s.v.length));
  series.forEach((s, si) => {
    const pts = s.v
      .map((x, i) => (x > 0 ? `${m + (i / Math.max(1, n - 1)) * (w - m - 20)},${h - m - ((Math.log10(x) - lo) / Math.max(1e-9, hi - lo)) * (h - m - 20)}` : null))
      .filter(Boolean)
      .join(' ');
    svg.appendChild(el('polyline', { class: 'spectrum', points: pts, fill: 'none', stroke: clusterColour(si + 1), 'stroke-width': 1.6 }));
    svg.appendChild(el('text', { x: w - 120, y: 20 + 14 * si, 'font-size': 11, fill: clusterColour(si + 1) }, s.L));
  });
  svg.appendChild(el('text', { x: m + 4, y: 20, 'font-size': 10 }, `10^${hi.toFixed(1)}`));
  svg.appendChild(el('text', { x: m + 4, y: h - m - 4, 'font-size': 10 }, `10^${lo.toFixed(1)}`));
  return svg;
}

/** Score against the number of remaining nodes/edges, one line per layer. */
export function ablationSvg(title: string, curves: Record<string, Array<[number, number]>>): SVGSVGElement {
  const w = 520;
  const h = 260;
  const m = 44;
  const svg = el('svg', { width: w, height: h, class: 'ablation-curve' }) as SVGSVGElement;
  axes(svg, w, h, m, 'kept', 'score');
  svg.appendChild(el('text', { x: m + 6, y: 16, 'font-size': 12 }, title));
  const all = Object.values(curves).flat();
  const xmax = Math.max(1, ...all.map((p) => p[0]));
  const ys = all.map((p) => p[1]);
  const ylo = Math.min(0, ...ys);
  const yhi = Math.max(1e-9, ...ys);
  Object.entries(curves).forEach(([L, pts], i) => {
    const s = [...pts].sort((a, b) => a[0] - b[0]).map(([x, y]) => `${m + (x / xmax) * (w - m - 20)},${h - m - ((y - ylo) / (yhi - ylo)) * (h - m - 30)}`).join(' ');
    svg.appendChild(el('polyline', { points: s, fill: 'none', stroke: clusterColour(i + 1), 'stroke-width': 1.6 }));
    svg.appendChild(el('text', { x: w - 110, y: 30 + 14 * i, 'font-size': 11, fill: clusterColour(i + 1) }, L));
  });
  return svg;
}

function sparsity(E: Float64Array): number {
  let mx = 0;
  for (const v of E) mx = Math.max(mx, Math.abs(v));
  let small = 0;
  for (const v of E) if (Math.abs(v) < 1e-3 * mx) small++;
  return E.length ? small / E.length : 0;
}

/** Per layer: dims of both builds, edge sparsity, and nodes matched by |cos| of their C columns > 0.9. */
export function diffTable(a: RibResults, b: RibResults, names: [string, string]): HTMLTableElement {
  const t = document.createElement('table');
  t.className = 'diff';
  t.innerHTML = `<tr><th>layer</th><th>dim ${names[0]}</th><th>dim ${names[1]}</th><th>edge sparsity ${names[0]}</th><th>${names[1]}</th><th>matched nodes (|cos| > 0.9)</th></tr>`;
  for (const L of a.nodeLayers) {
    const ba = a.bases.find((x) => x.nodeLayer === L);
    const bb = b.bases.find((x) => x.nodeLayer === L);
    const ea = a.edges.find((e) => e.inLayer === L);
    const eb = b.edges.find((e) => e.inLayer === L);
    let matched = '-';
    if (ba?.C && bb?.C && ba.C.rows === bb.C.rows) {
      const A = ba.C;
      const B = bb.C;
      const norm = (M: typeof A, j: number) => Math.sqrt(Array.from({ length: M.rows }, (_, r) => M.data[r * M.cols + j]! ** 2).reduce((x, y) => x + y, 0)) || 1;
      const used = new Set<number>();
      let count = 0;
      for (let i = 0; i < A.cols; i++) {
        const na = norm(A, i);
        let best = -1;
        let bestV = 0.9;
        for (let j = 0; j < B.cols; j++) {
          if (used.has(j)) continue;
          let s = 0;
          for (let r = 0; r < A.rows; r++) s += A.data[r * A.cols + i]! * B.data[r * B.cols + j]!;
          const c = Math.abs(s) / (na * norm(B, j));
          if (c > bestV) {
            bestV = c;
            best = j;
          }
        }
        if (best >= 0) {
          used.add(best);
          count++;
        }
      }
      matched = `${count} of ${A.cols}`;
    }
    const pct = (e: typeof ea) => (e ? `${(100 * sparsity(e.E.data)).toFixed(0)}%` : '-');
    const tr = document.createElement('tr');
    tr.innerHTML = `<td>${L}</td><td>${ba?.C?.cols ?? ba?.origDim ?? '-'}</td><td>${bb?.C?.cols ?? bb?.origDim ?? '-'}</td><td>${pct(ea)}</td><td>${pct(eb)}</td><td>${matched}</td>`;
    t.appendChild(tr);
  }
  return t;
}

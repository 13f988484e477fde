/** Small SVG helpers for the report (browser-safe, no dependencies). */

export const esc = (s: string): string =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** Compact number for coordinates. */
export const f = (x: number): string => (Number.isFinite(x) ? String(Math.round(x * 100) / 100) : '0');

/** A glasbey-like categorical palette (distinct, readable on white). */
export const PALETTE = [
  '#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#bcbd22', '#393b79',
  '#ad494a', '#637939', '#e6550d', '#3182bd', '#31a354', '#756bb1', '#636363', '#843c39', '#7b4173', '#a55194',
  '#6baed6', '#fd8d3c', '#74c476', '#9e9ac8', '#fdae6b', '#c7c7c7', '#dbdb8d', '#9edae5', '#f7b6d2', '#c49c94',
];
export const clusterColor = (c: number): string => (c <= 0 ? '#ffffff' : PALETTE[(c - 1) % PALETTE.length]!);

/** "Nice" axis ticks over [lo, hi]. */
export function ticks(lo: number, hi: number, n = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / n;
  const p = Math.pow(10, Math.floor(Math.log10(raw)));
  const m = raw / p;
  const step = (m < 1.5 ? 1 : m < 3 ? 2 : m < 7 ? 5 : 10) * p;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Math.round(v / step) * step);
  return out;
}

export const fmtTick = (v: number): string => {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e4 || a < 1e-3) return v.toExponential(0).replace('e+', 'e');
  return String(Math.round(v * 1000) / 1000);
};

export interface Axes {
  x0: number;
  y0: number;
  w: number;
  h: number;
  sx: (v: number) => number;
  sy: (v: number) => number;
}

/** Axes frame with ticks, labels and grid; returns the SVG text and the scales. */
export function axes(o: {
  x: number;
  y: number;
  w: number;
  h: number;
  xlim: [number, number];
  ylim: [number, number];
  xlog?: boolean;
  ylog?: boolean;
  xlabel?: string;
  ylabel?: string;
  title?: string;
}): { svg: string; ax: Axes } {
  const tx = (v: number) => (o.xlog ? Math.log10(v) : v);
  const ty = (v: number) => (o.ylog ? Math.log10(v) : v);
  const [xa, xb] = [tx(o.xlim[0]), tx(o.xlim[1])];
  const [ya, yb] = [ty(o.ylim[0]), ty(o.ylim[1])];
  const sx = (v: number) => o.x + ((tx(v) - xa) / (xb - xa || 1)) * o.w;
  const sy = (v: number) => o.y + o.h - ((ty(v) - ya) / (yb - ya || 1)) * o.h;
  const parts: string[] = [];
  parts.push(`<rect x="${f(o.x)}" y="${f(o.y)}" width="${f(o.w)}" height="${f(o.h)}" fill="#fff" stroke="#888"/>`);
  const xt = o.xlog ? logTicks(o.xlim[0], o.xlim[1]) : ticks(o.xlim[0], o.xlim[1]);
  const yt = o.ylog ? logTicks(o.ylim[0], o.ylim[1]) : ticks(o.ylim[0], o.ylim[1]);
  for (const v of xt) {
    const X = sx(v);
    if (X < o.x - 0.5 || X > o.x + o.w + 0.5) continue;
    parts.push(`<line x1="${f(X)}" y1="${f(o.y)}" x2="${f(X)}" y2="${f(o.y + o.h)}" stroke="#eee"/>`);
    parts.push(`<text x="${f(X)}" y="${f(o.y + o.h + 14)}" class="tick" text-anchor="middle">${esc(fmtTick(v))}</text>`);
  }
  for (const v of yt) {
    const Y = sy(v);
    if (Y < o.y - 0.5 || Y > o.y + o.h + 0.5) continue;
    parts.push(`<line x1="${f(o.x)}" y1="${f(Y)}" x2="${f(o.x + o.w)}" y2="${f(Y)}" stroke="#eee"/>`);
    parts.push(`<text x="${f(o.x - 5)}" y="${f(Y + 4)}" class="tick" text-anchor="end">${esc(fmtTick(v))}</text>`);
  }
  parts.push(`<rect x="${f(o.x)}" y="${f(o.y)}" width="${f(o.w)}" height="${f(o.h)}" fill="none" stroke="#888"/>`);
  if (o.xlabel) parts.push(`<text x="${f(o.x + o.w / 2)}" y="${f(o.y + o.h + 32)}" class="label" text-anchor="middle">${esc(o.xlabel)}</text>`);
  if (o.ylabel) parts.push(`<text transform="translate(${f(o.x - 44)},${f(o.y + o.h / 2)}) rotate(-90)" class="label" text-anchor="middle">${esc(o.ylabel)}</text>`);
  if (o.title) parts.push(`<text x="${f(o.x + o.w / 2)}" y="${f(o.y - 8)}" class="ptitle" text-anchor="middle">${esc(o.title)}</text>`);
  return { svg: parts.join(''), ax: { x0: o.x, y0: o.y, w: o.w, h: o.h, sx, sy } };
}

function logTicks(lo: number, hi: number): number[] {
  const a = Math.floor(Math.log10(lo));
  const b = Math.ceil(Math.log10(hi));
  const step = Math.max(1, Math.ceil((b - a) / 6));
  const mult = b - a <= 2 ? [1, 2, 5] : [1];
  const out: number[] = [];
  for (let e = a; e <= b; e += step) for (const m of mult) out.push(m * Math.pow(10, e));
  return out;
}

/** Polyline path through points (skips non-finite). */
export function path(points: Array<[number, number]>): string {
  let d = '';
  let pen = false;
  for (const [x, y] of points) {
    if (!Number.isFinite(x) || !Number.isFinite(y)) {
      pen = false;
      continue;
    }
    d += `${pen ? 'L' : 'M'}${f(x)},${f(y)}`;
    pen = true;
  }
  return d;
}

/**
 * Fourier labels of RIB directions for modular-addition models (spec §8.7), browser-safe.
 *
 * For each direction: the fraction of |DFT|² power in the constant term, in `cos(i x) + cos(i y)`
 * terms (or `cos(i x)` / `cos(i y)` separately when they differ by ≥ 0.01), and in cross terms,
 * in whichever convention is more concentrated: `cos(i x ± j y)` or `cos(i x) * cos(j y)` /
 * `sin(i x) * sin(j y)`. The top labels up to 99.5% cumulative power (at most 7) are kept, and
 * a layer's cell is `NN% <term>|NN% <term>…`, as the reference's labels CSV.
 */
import { UserError } from '../errors.js';
import type { RibResults } from '../io/results.js';
import type { Model } from '../models/types.js';
import { modularArithmetic } from '../data/index.js';
import { gemm } from '../linalg/index.js';
import { dft2Real } from './fft.js';

export type LabelMap = Array<[string, number]>; // insertion order matters for ties

/**
 * Label power fractions for every direction k < maxDim of acts [p, p, r] (row-major, index
 * (x·p + y)·r + k). Returns, per direction, [label, fraction] in the reference's insertion order.
 */
export function computeLabelList(acts: Float64Array, p: number, r: number, maxDim = 50): LabelMap[] {
  if (p % 2 !== 1) throw new UserError(`labels: the modulus must be odd, got ${p}`);
  const { re, im } = dft2Real(acts, p, r);
  const h = (p - 1) / 2; // p // 2
  const out: LabelMap[] = [];
  const pw = (kx: number, ky: number, k: number): number => {
    const o = (kx * p + ky) * r + k;
    return re[o]! * re[o]! + im[o]! * im[o]!;
  };
  for (let k = 0; k < Math.min(maxDim, r); k++) {
    const labels: LabelMap = [];
    let total = 0;
    for (let kx = 0; kx < p; kx++) for (let ky = 0; ky < p; ky++) total += pw(kx, ky, k);
    if (!(total > 0)) {
      out.push([['zero', 1]]);
      continue;
    }
    labels.push(['const', pw(0, 0, k) / total]);
    for (let i = 1; i <= h; i++) {
      const cx = (pw(i, 0, k) + pw(p - i, 0, k)) / total;
      const cy = (pw(0, i, k) + pw(0, p - i, k)) / total;
      if (Math.abs(cx - cy) < 0.01) labels.push([`cos(${i}x) + cos(${i}y)`, cx + cy]);
      else {
        labels.push([`cos(${i}x)`, cx]);
        labels.push([`cos(${i}y)`, cy]);
      }
    }
    // cross terms: A_pp[i, j] = |F[i+1, j+1]|, A_pm[i, j] = |F[i+1, p−1−j]|
    const App = new Float64Array(h * h);
    const Apm = new Float64Array(h * h);
    let sPlus = 0;
    let sMinus = 0;
    let sCos = 0;
    let sSin = 0;
    for (let i = 0; i < h; i++) {
      for (let j = 0; j < h; j++) {
        const a = Math.sqrt(pw(i + 1, j + 1, k));
        const b = Math.sqrt(pw(i + 1, p - 1 - j, k));
        App[i * h + j] = a;
        Apm[i * h + j] = b;
        sPlus += 2 * a * a;
        sMinus += 2 * b * b;
        sCos += (a + b) * (a + b);
        sSin += (a - b) * (a - b);
      }
    }
    const SQ2 = Math.SQRT2;
    if (sPlus / sMinus > sCos / sSin) {
      for (let i = 0; i < h; i++) {
        for (let j = 0; j < h; j++) {
          const ap = SQ2 * App[i * h + j]!;
          const am = SQ2 * Apm[i * h + j]!;
          labels.push([`cos(${i + 1}x + ${j + 1}y)`, (ap * ap) / total]);
          labels.push([`cos(${i + 1}x - ${j + 1}y)`, (am * am) / total]);
        }
      }
    } else {
      for (let i = 0; i < h; i++) {
        for (let j = 0; j < h; j++) {
          const c = App[i * h + j]! + Apm[i * h + j]!;
          const s = App[i * h + j]! - Apm[i * h + j]!;
          labels.push([`cos(${i + 1}x) * cos(${j + 1}y)`, (c * c) / total]);
          labels.push([`sin(${i + 1}x) * sin(${j + 1}y)`, (s * s) / total]);
        }
      }
    }
    out.push(labels);
  }
  return out;
}

/** Keep the largest labels until 99.5% cumulative power (or one below 0.5%), at most maxLen. */
export function filterLabels(labels: LabelMap, topp = 0.995, maxLen = 7): LabelMap {
  // stable sort, descending (Python's sorted(..., reverse=True) keeps ties in insertion order)
  const sorted = labels.map((x, i) => [x, i] as const).sort((a, b) => b[0][1] - a[0][1] || a[1] - b[1]).map((x) => x[0]);
  let total = 0;
  for (const [, m] of sorted) total += m;
  const kept: LabelMap = [];
  let cum = 0;
  for (const [name, m] of sorted) {
    cum += m;
    kept.push([name, m]);
    if (cum / total > topp) break;
    if (m / total < 0.005) break;
  }
  return kept.slice(0, maxLen);
}

/** Python's f"{x:.0f}" (round half to even on the binary value). */
export function pyPercent(x: number): string {
  const v = x * 100;
  const f = Math.floor(v);
  const d = v - f;
  let r = d > 0.5 ? f + 1 : d < 0.5 ? f : f % 2 === 0 ? f : f + 1;
  if (Object.is(r, -0)) r = 0;
  return `${r}%`;
}

/** One CSV cell: "NN% label|NN% label…". */
export function labelCell(labels: LabelMap): string {
  return labels.map(([name, m]) => `${pyPercent(m)} ${name}`).join('|');
}

/** CSV text like Python's csv.writer (CRLF line ends, quoting only when needed). */
export function toCsv(rows: string[][]): string {
  const q = (s: string) => (/[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
  return rows.map((r) => r.map(q).join(',')).join('\r\n') + '\r\n';
}

export interface LabelsOptions {
  maxDim?: number;
  modulus?: number;
}

/**
 * RIB activations of all p² inputs (canonical order a·p + b) at each rotated node layer:
 * ln-style layers with several positions are summed over positions. Returns layer → [p², r].
 */
export function ribActivationsAllPairs(results: RibResults, model: Model, modulus = 113): Array<{ layer: string; acts: Float64Array; r: number }> {
  const layers = results.nodeLayers.filter((l) => l !== 'output');
  const lastPos = (results.config?.last_pos_module_type ?? null) as 'add_resid1' | 'unembed' | null;
  const sm = model.sectioned(layers, { lastPosModuleType: lastPos });
  const ds = modularArithmetic({ modulus, fnName: 'add', returnSet: 'all' });
  const B = ds.n;
  const out: Array<{ layer: string; acts: Float64Array; r: number }> = [];
  let x = sm.pre(ds.inputs);
  for (let l = 0; l < layers.length; l++) {
    if (l > 0) x = sm.sections[l - 1]!.forward(x, B);
    const info = sm.nodeLayers[l]!;
    const basis = results.bases.find((b) => b.nodeLayer === layers[l]);
    if (!basis || !basis.C) continue;
    const d = info.dim;
    const P = info.positions;
    const r = basis.C.cols;
    if (basis.C.rows !== d) throw new UserError(`labels: layer ${layers[l]} has width ${d} in the model but C has ${basis.C.rows} rows`);
    const f = gemm(false, false, B * P, r, d, x, basis.C.data, new Float64Array(B * P * r), 1, 0);
    let acts = f;
    if (P > 1) {
      acts = new Float64Array(B * r);
      for (let b = 0; b < B; b++) for (let pp = 0; pp < P; pp++) for (let k = 0; k < r; k++) acts[b * r + k]! += f[(b * P + pp) * r + k]!;
    }
    out.push({ layer: layers[l]!, acts, r });
  }
  return out;
}

/** The labels table (rows = rotated node layers, then the output row) as in labels_rib.csv. */
export function modAddLabels(results: RibResults, model: Model, opts: LabelsOptions = {}): { layers: string[]; rows: string[][]; raw: LabelMap[][] } {
  const p = opts.modulus ?? 113;
  const maxDim = opts.maxDim ?? 50;
  const acts = ribActivationsAllPairs(results, model, p);
  const rows: string[][] = [];
  const raw: LabelMap[][] = [];
  for (const a of acts) {
    const list = computeLabelList(a.acts, p, a.r, maxDim).map((l) => filterLabels(l));
    raw.push(list);
    rows.push(list.map(labelCell));
  }
  if (results.nodeLayers.includes('output')) {
    const out = results.bases.find((b) => b.nodeLayer === 'output');
    const n = out?.origDim ?? p + 1;
    rows.push(Array.from({ length: n }, (_, i) => `output_${i}`));
  }
  return { layers: acts.map((a) => a.layer), rows, raw };
}

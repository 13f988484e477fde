/**
 * Fourier labels (spec §8.7) against the reference labels_rib.csv of mod-add seed 0, and the DFT
 * against a direct sum.
 */
import { describe, it, expect, beforeAll } from 'vitest';
import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { initKernels, cos, sin } from '../src/linalg/index.js';
import { loadModel } from '../src/models/load.nodejs.js';
import { loadResults } from '../src/io/results.nodejs.js';
import { dft2Real } from '../src/analysis/fft.js';
import { computeLabelList, filterLabels, labelCell, modAddLabels, pyPercent, toCsv } from '../src/analysis/labels.js';
import { labelsFromResults } from '../src/cli/labels.js';
import { REFDATA, ref } from './helpers/refdata.js';

beforeAll(async () => {
  await initKernels();
});

/** Python csv.reader-like split of one line (cells here never contain quotes). */
const cells = (line: string) => line.split(',');

describe('DFT', () => {
  it('matches a direct complex sum on a 7×7×2 array', () => {
    const n = 7;
    const r = 2;
    const X = new Float64Array(n * n * r).map((_, i) => Math.sin(i * 1.7) + (i % 3));
    const { re, im } = dft2Real(X, n, r);
    for (const [kx, ky, k] of [[0, 0, 0], [1, 2, 1], [6, 3, 0], [4, 4, 1]] as const) {
      let sr = 0;
      let si = 0;
      for (let x = 0; x < n; x++)
        for (let y = 0; y < n; y++) {
          const a = (-2 * Math.PI * (kx * x + ky * y)) / n;
          sr += X[(x * n + y) * r + k]! * cos(a);
          si += X[(x * n + y) * r + k]! * sin(a);
        }
      expect(re[(kx * n + ky) * r + k]).toBeCloseTo(sr, 10);
      expect(im[(kx * n + ky) * r + k]).toBeCloseTo(si, 10);
    }
  });
  it('labels pure Fourier modes correctly', () => {
    const p = 13;
    const acts = new Float64Array(p * p * 3);
    for (let x = 0; x < p; x++)
      for (let y = 0; y < p; y++) {
        const w = (2 * Math.PI) / p;
        acts[(x * p + y) * 3] = 2;
        acts[(x * p + y) * 3 + 1] = cos(3 * w * x) + cos(3 * w * y);
        acts[(x * p + y) * 3 + 2] = cos(2 * w * x + 5 * w * y);
      }
    const l = computeLabelList(acts, p, 3).map((x) => filterLabels(x));
    expect(labelCell(l[0]!)).toBe('100% const');
    expect(labelCell(l[1]!)).toBe('100% cos(3x) + cos(3y)');
    expect(labelCell(l[2]!)).toBe('100% cos(2x + 5y)');
    expect(pyPercent(0.125)).toBe('12%'); // half to even like Python
    expect(toCsv([['a|b', 'c'], ['d']])).toBe('a|b,c\r\nd\r\n');
  });
});

describe.skipIf(!REFDATA)('mod-add seed 0 labels', () => {
  it('top Fourier term of the first 10 directions of ln2.0 and unembed matches labels_rib.csv', async () => {
    const results = await loadResults(ref('modadd', 'seed0', 'rib_graph_rib.safetensors'));
    const model = await loadModel({ path: ref('modadd', 'seed0', 'model.safetensors') });
    const { layers, rows } = modAddLabels(results, model, { maxDim: 10 });
    expect(layers).toEqual(['ln1.0', 'ln2.0', 'unembed']);
    const refRows = readFileSync(ref('modadd', 'seed0', 'labels_rib.csv'), 'utf8').split('\r\n').filter(Boolean).map(cells);
    const top = (cell: string) => cell.split('|')[0]!.replace(/^\d+% /, '');
    for (const li of [1, 2]) {
      for (let k = 0; k < 10; k++) expect(top(rows[li]![k]!), `${layers[li]} direction ${k}`).toBe(top(refRows[li]![k]!));
    }
    // ln1.0 too, and most full cells agree exactly
    let same = 0;
    for (let li = 0; li < 3; li++) for (let k = 0; k < 10; k++) if (rows[li]![k] === refRows[li]![k]) same++;
    expect(same).toBeGreaterThanOrEqual(20);
    expect(rows[3]!.length).toBe(114);
    expect(rows[3]![113]).toBe('output_113');
  });

  it('the CLI helper writes the reference CSV layout and refuses to overwrite', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ib-labels-'));
    try {
      const out = join(dir, 'labels.csv');
      await labelsFromResults(ref('modadd', 'seed0', 'rib_graph_rib.safetensors'), { out, model: ref('modadd', 'seed0', 'model.safetensors'), maxDim: 3 });
      const lines = readFileSync(out, 'utf8').split('\r\n');
      expect(lines.length).toBe(5); // 4 rows + trailing empty
      expect(cells(lines[0]!)[0]).toBe('100% const');
      await expect(labelsFromResults(ref('modadd', 'seed0', 'rib_graph_rib.safetensors'), { out, maxDim: 3 })).rejects.toThrow(/exists/);
      await expect(labelsFromResults(join(dir, 'missing.safetensors'), { out: join(dir, 'x.csv') })).rejects.toThrow(/not found/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

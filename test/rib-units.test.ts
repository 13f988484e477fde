/** Unit checks of the pure stages: integration rules, eigendecomposition/truncation conventions. */
import { beforeAll, describe, expect, it } from 'vitest';
import { eighJacobi, exp, initKernels, pow, sin } from '../src/linalg/index.js';
import { integrationPoints, gaussLegendre, trapezoidal } from '../src/rib/integration.js';
import { buildSortedLambda, centeringMatrix, eigendecompose, maskedEigendecompose, moveConstDirFirst } from '../src/rib/eig.js';

beforeAll(async () => {
  await initKernels();
});

describe('integration points (spec §5.3)', () => {
  it('gradient, trapezoidal and Gauss–Legendre examples', () => {
    expect(integrationPoints('gradient', 0)).toEqual({ alphas: [1], weights: [1] });
    expect(() => integrationPoints('gradient', 2)).toThrow(/n_intervals/);
    expect(trapezoidal(0)).toEqual({ alphas: [0.5], weights: [1] });
    const t1 = trapezoidal(1);
    expect(t1.alphas[0]).toBeCloseTo(5e-4, 15);
    expect(t1.alphas[1]).toBeCloseTo(1 - 5e-4, 15);
    expect(t1.weights).toEqual([0.5, 0.5]);
    const t2 = trapezoidal(2, 1e-4 / 3);
    expect(t2.weights).toEqual([0.25, 0.5, 0.25]);
    expect(t2.alphas[1]).toBeCloseTo(0.5, 15);
    const g0 = integrationPoints('gauss-legendre', 0);
    expect(g0.alphas[0]).toBeCloseTo(0.5, 15);
    expect(g0.weights[0]).toBeCloseTo(1, 15);
    const g1 = integrationPoints('gauss-legendre', 1);
    expect(g1.alphas[0]).toBeCloseTo(0.2113248654051871, 14);
    expect(g1.alphas[1]).toBeCloseTo(0.7886751345948129, 14);
    const { nodes, weights } = gaussLegendre(7);
    expect(weights.reduce((a, b) => a + b, 0)).toBeCloseTo(2, 14);
    for (let i = 1; i < 7; i++) expect(nodes[i]!).toBeGreaterThan(nodes[i - 1]!);
  });

  it('integrates ∫₀¹ eˣ + x^{sin x} dx to the reference accuracies', () => {
    const f = (x: number) => exp(x) + pow(x, sin(x));
    const truth = 2.509686128;
    const integ = (p: { alphas: number[]; weights: number[] }) => p.alphas.reduce((s, a, i) => s + p.weights[i]! * f(a), 0);
    expect(Math.abs(integ(integrationPoints('trapezoidal', 50)) - truth)).toBeLessThan(3e-4);
    expect(Math.abs(integ(integrationPoints('gauss-legendre', 5)) - truth)).toBeLessThan(2e-4);
    expect(Math.abs(integ(integrationPoints('gauss-legendre', 50)) - truth)).toBeLessThan(1e-7);
  });
});

describe('eigendecomposition conventions (spec §3.4–§4.4)', () => {
  it('eigendecompose: |values| sorted descending with matching vectors; resolves graded spectra', () => {
    const n = 4;
    const A = new Float64Array([2, 0, 0, 0, 0, -5, 0, 0, 0, 0, 1e-20, 0, 0, 0, 0, 1]);
    const e = eigendecompose(A, n);
    expect(Array.from(e.values)).toEqual([5, 2, 1, 1e-20]);
    expect(Math.abs(e.vectors[1 * n + 0]!)).toBe(1);
    // a graded PSD matrix: tiny eigenvalues keep their relative accuracy
    const d = [1e4, 1, 1e-8, 1e-16, 1e-22];
    const m = d.length;
    const Q = new Float64Array(m * m);
    for (let i = 0; i < m; i++) Q[i * m + i] = 1;
    const c = Math.cos(0.3);
    const s = Math.sin(0.3);
    // rotate only the two smallest coordinates into each other (keeps grading)
    Q[3 * m + 3] = c; Q[3 * m + 4] = -s; Q[4 * m + 3] = s; Q[4 * m + 4] = c;
    const G = new Float64Array(m * m);
    for (let i = 0; i < m; i++) for (let j = 0; j < m; j++) for (let k = 0; k < m; k++) G[i * m + j]! += Q[i * m + k]! * d[k]! * Q[j * m + k]!;
    const ev = eighJacobi(G, m).values;
    expect(ev[3]! / 1e-16).toBeCloseTo(1, 6);
    expect(ev[4]! / 1e-22).toBeCloseTo(1, 4);
  });

  it('masked_eigendecompose keeps the first n coordinates with their diagonal entries', () => {
    const A = new Float64Array([7, 1, 1, 1, 3, 0, 1, 0, 2]);
    const e = maskedEigendecompose(A, 3, 1);
    expect(e.values[0]).toBe(7);
    expect(Array.from(e.values.slice(1))).toEqual([3, 2]);
    expect(e.vectors[0]).toBe(1);
    expect(e.vectors[1]).toBe(0);
  });

  it('move_const_dir_first moves the unique constant direction and rejects none / several', () => {
    const e = { n: 3, values: new Float64Array([3, 2, 1]), vectors: new Float64Array([1, 0, 0, 0, 1, 0, 0, 0, -1]) };
    const m = moveConstDirFirst(e);
    expect(Array.from(m.values)).toEqual([1, 3, 2]);
    expect(m.vectors[2 * 3 + 0]).toBe(-1);
    expect(() => moveConstDirFirst({ n: 2, values: new Float64Array([1, 1]), vectors: new Float64Array([1, 0, 0, 1]).map((v, i) => (i === 3 ? 0 : v)) })).toThrow(/no const/);
    const two = { n: 2, values: new Float64Array([1, 1]), vectors: new Float64Array([0.6, 0.8, 0.8, -0.6]) };
    expect(() => moveConstDirFirst(two)).toThrow(/more than one/);
  });

  it('build_sorted_lambda_matrices: masked first, then descending; drops trailing entries (reference quirk)', () => {
    const lam = new Float64Array([1e-20, 5, 1, 3]);
    const r = buildSortedLambda(lam, 1e-15, 1);
    // one entry < thr (the masked one), but the *last sorted* entry is dropped instead
    expect(r.nSmall).toBe(1);
    expect(r.kept).toEqual([0, 1, 3]);
    expect(() => buildSortedLambda(new Float64Array([0, 1]), 0, 1)).toThrow(/non-finite/);
  });

  it('centering matrix: x·Y subtracts the mean and keeps the constant; Y⁻¹ adds it back', () => {
    const mu = new Float64Array([2, -1, 1]);
    const Y = centeringMatrix(mu);
    const Yi = centeringMatrix(mu, true);
    const x = [5, 3, 1];
    const xy = [0, 1, 2].map((j) => x.reduce((s, v, i) => s + v * Y[i * 3 + j]!, 0));
    expect(xy).toEqual([3, 4, 1]);
    const back = [0, 1, 2].map((j) => xy.reduce((s, v, i) => s + v * Yi[i * 3 + j]!, 0));
    expect(back).toEqual(x);
    expect(() => centeringMatrix(new Float64Array([1, 2]))).toThrow(/±1/);
  });
});

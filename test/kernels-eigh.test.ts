// The Level-3 eigensolver: blocked Householder tridiagonalisation, divide and conquer on the
// tridiagonal, blocked back-transformation (eigh's default), checked against the QL and Jacobi
// solvers and the plain-TS references.
import { beforeAll, describe, expect, it } from 'vitest';
import { initKernels, eigh, eighQL, eighJacobi, eighTridiagonal, tridiagonalize, gemm } from '../src/linalg/index.js';
import { jacobiEigh, naiveEigh } from '../src/linalg/naive.js';
import { Rng } from '../src/rng.js';
import { setArenaLimit, ARENA_MAX_BYTES, arenaUsedBytes } from '../src/linalg/wasm.js';

beforeAll(async () => {
  await initKernels();
});

const EPS = 2.220446049250313e-16;

function symmetric(rng: Rng, n: number, scale = 1): Float64Array {
  const A = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = i; j < n; j++) {
      const v = (rng.uniform() * 2 - 1) * scale;
      A[i * n + j] = v;
      A[j * n + i] = v;
    }
  }
  return A;
}

/** A random orthogonal n×n matrix (eigenvectors of a random symmetric matrix, by the QL solver). */
function orthogonal(rng: Rng, n: number): Float64Array {
  return eighQL(symmetric(rng, n), n).vectors;
}

/** Q·diag(spec)·Qᵀ for a random orthogonal Q, exactly symmetrised. */
function withSpectrum(rng: Rng, spec: number[]): Float64Array {
  const n = spec.length;
  const Q = orthogonal(rng, n);
  const QD = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let k = 0; k < n; k++) QD[i * n + k] = Q[i * n + k]! * spec[k]!;
  const A = gemm(false, true, n, n, n, QD, Q, new Float64Array(n * n), 1, 0);
  for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) A[i * n + j] = A[j * n + i]!;
  return A;
}

function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]!));
  return m;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/**
 * max|AV − VΛ| / (n·ε·max(max|A|, tiny)) and max|VᵀV − I| / (n·ε): both O(1) for a backward-stable
 * result, O(1/ε) for a wrong one.
 */
function errors(A: Float64Array, n: number, r: { values: Float64Array; vectors: Float64Array }): { res: number; orth: number } {
  const V = r.vectors;
  const AV = gemm(false, false, n, n, n, A, V, new Float64Array(n * n), 1, 0);
  for (let i = 0; i < n; i++) for (let k = 0; k < n; k++) AV[i * n + k] -= V[i * n + k]! * r.values[k]!;
  const VtV = gemm(true, false, n, n, n, V, V, new Float64Array(n * n), 1, 0);
  for (let i = 0; i < n; i++) VtV[i * n + i] -= 1;
  const a = Math.max(maxAbs(A), Number.MIN_VALUE);
  return { res: maxAbs(AV) / (n * EPS * a), orth: maxAbs(VtV) / (n * EPS) };
}

function expectGood(A: Float64Array, n: number, r: { values: Float64Array; vectors: Float64Array }, bound = 4): void {
  for (let i = 1; i < n; i++) expect(r.values[i]!).toBeLessThanOrEqual(r.values[i - 1]!);
  const e = errors(A, n, r);
  expect(e.res).toBeLessThan(bound);
  expect(e.orth).toBeLessThan(bound);
}

function dense(d: ArrayLike<number>, e: ArrayLike<number>): Float64Array {
  const n = d.length;
  const T = new Float64Array(n * n);
  for (let i = 0; i < n; i++) T[i * n + i] = d[i]!;
  for (let i = 0; i + 1 < n; i++) { T[i * n + i + 1] = e[i]!; T[(i + 1) * n + i] = e[i]!; }
  return T;
}

describe('eigh (divide and conquer, default)', () => {
  const rng = new Rng(2026_12_04);
  // leaves are ≤ 32 rows, panels 32 rows: sizes on both sides of those boundaries
  for (const n of [1, 2, 3, 4, 7, 16, 31, 32, 33, 63, 64, 65, 96, 97, 129, 200]) {
    it(`random symmetric n=${n}: residual, orthogonality, values of QL and the TS references`, () => {
      const A = symmetric(rng, n);
      const r = eigh(A, n);
      expectGood(A, n, r);
      const tolV = 8 * n * EPS * maxAbs(A);
      expect(maxAbsDiff(r.values, eighQL(A, n).values)).toBeLessThan(tolV);
      expect(maxAbsDiff(r.values, naiveEigh(A, n).values)).toBeLessThan(tolV);
      if (n <= 33) expect(maxAbsDiff(r.values, jacobiEigh(A, n).values)).toBeLessThan(tolV);
      expect(maxAbsDiff(r.values, eigh(A, n, { method: 'dc' }).values)).toBe(0);
    });
  }

  it('repeated eigenvalues (deflation of whole eigenspaces)', () => {
    const spec = Array.from({ length: 150 }, (_, i) => [5, 1, 0, -2, 3][i % 5]!);
    const A = withSpectrum(rng, spec);
    const r = eigh(A, 150);
    expectGood(A, 150, r, 8);
    const want = [...spec].sort((a, b) => b - a);
    expect(maxAbsDiff(r.values, want)).toBeLessThan(150 * 8 * EPS * 5);
  });

  it('clustered eigenvalues (1 + 1e-13·i and a 1e-9 split cluster)', () => {
    for (const spec of [
      Array.from({ length: 90 }, (_, i) => 1 + 1e-13 * i),
      Array.from({ length: 90 }, (_, i) => (i < 45 ? 1 : 1 + 1e-9 * i)),
      Array.from({ length: 90 }, (_, i) => (i % 3 === 0 ? 1e-3 * i : 2 + 1e-14 * i)),
    ]) {
      const A = withSpectrum(rng, spec);
      const r = eigh(A, 90);
      expectGood(A, 90, r, 8);
      const want = [...spec].sort((a, b) => b - a);
      expect(maxAbsDiff(r.values, want)).toBeLessThan(90 * 8 * EPS * maxAbs(spec));
    }
  });

  it('graded matrix (entries over 24 decades)', () => {
    const n = 100;
    const R = symmetric(rng, n);
    const s = Array.from({ length: n }, (_, i) => 10 ** (-(12 * i) / n));
    const A = new Float64Array(n * n);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) A[i * n + j] = s[i]! * R[i * n + j]! * s[j]!;
    const r = eigh(A, n);
    expectGood(A, n, r);
    expect(maxAbsDiff(r.values, eighJacobi(A, n).values)).toBeLessThan(8 * n * EPS * maxAbs(A));
  });

  it('zero, identity, 1×1 and 2×2', () => {
    const z = eigh(new Float64Array(50 * 50), 50);
    expect(Array.from(z.values)).toEqual(new Array(50).fill(0));
    expect(errors(new Float64Array(2500), 50, z).orth).toBe(0);
    const I = new Float64Array(70 * 70);
    for (let i = 0; i < 70; i++) I[i * 71] = 1;
    const ri = eigh(I, 70);
    expect(Array.from(ri.values)).toEqual(new Array(70).fill(1));
    expect(errors(I, 70, ri).orth).toBe(0);
    const one = eigh(new Float64Array([-2.5]), 1);
    expect(one.values[0]).toBe(-2.5);
    expect(Math.abs(one.vectors[0]!)).toBe(1);
    const two = eigh(new Float64Array([2, 1, 1, 2]), 2);
    expect(maxAbsDiff(two.values, [3, 1])).toBeLessThan(4 * EPS);
    expect(Math.abs(Math.abs(two.vectors[0]!) - Math.SQRT1_2)).toBeLessThan(4 * EPS);
    expectGood(new Float64Array([2, 1, 1, 2]), 2, two);
  });

  it('large n = 640: residual, orthogonality, values of QL', () => {
    const n = 640;
    const A = symmetric(rng, n);
    const r = eigh(A, n);
    expectGood(A, n, r);
    expect(maxAbsDiff(r.values, eighQL(A, n).values)).toBeLessThan(8 * n * EPS * maxAbs(A));
  });

  for (const scale of [1e-150, 1e150]) {
    it(`scale ${scale}: no underflow or overflow, values scale with A`, () => {
      const n = 70;
      const B = symmetric(rng, n);
      const A = B.map((v) => v * scale);
      const r = eigh(A, n);
      expectGood(A, n, r);
      const base = eigh(B, n).values;
      for (let i = 0; i < n; i++) expect(Math.abs(r.values[i]! / scale - base[i]!)).toBeLessThan(8 * n * EPS * maxAbs(B));
    });
  }

  it('refuses a problem larger than one instance, naming the QL alternative', () => {
    setArenaLimit(4 * 2 ** 20);
    try {
      expect(() => eigh(symmetric(rng, 400), 400)).toThrow(/eigh: needs [\d.]+ MiB of Wasm memory, more than the 4 MiB limit of one instance \(n=400, divide and conquer ≈ 5n² values; eigh\(A, n, \{ method: 'ql' \}\) needs [\d.]+ MiB\)/);
      expect(arenaUsedBytes()).toBe(0);
      const B = symmetric(rng, 200);
      expectGood(B, 200, eigh(B, 200));
    } finally {
      setArenaLimit(ARENA_MAX_BYTES);
    }
  });

  it('is deterministic (same bits twice)', () => {
    const n = 300;
    const A = symmetric(rng, n);
    const a = eigh(A, n), b = eigh(A, n);
    expect(Buffer.from(a.values.buffer).equals(Buffer.from(b.values.buffer))).toBe(true);
    expect(Buffer.from(a.vectors.buffer).equals(Buffer.from(b.vectors.buffer))).toBe(true);
  });
});

describe('tridiagonalize (blocked Householder reduction)', () => {
  const rng = new Rng(41);
  for (const n of [1, 2, 3, 31, 32, 33, 64, 65, 100]) {
    it(`n=${n}: T keeps A's Frobenius norm and eigenvalues`, () => {
      const A = symmetric(rng, n);
      const { d, e } = tridiagonalize(A, n);
      expect(d.length).toBe(n);
      expect(e.length).toBe(n - 1);
      let fa = 0, ft = 0;
      for (let i = 0; i < n * n; i++) fa += A[i]! * A[i]!;
      for (let i = 0; i < n; i++) ft += d[i]! * d[i]!;
      for (let i = 0; i < n - 1; i++) ft += 2 * e[i]! * e[i]!;
      expect(Math.abs(Math.sqrt(ft) - Math.sqrt(fa))).toBeLessThan(8 * n * EPS * Math.sqrt(fa));
      const tolV = 8 * n * EPS * maxAbs(A);
      expect(maxAbsDiff(naiveEigh(dense(d, e), n).values, naiveEigh(A, n).values)).toBeLessThan(tolV);
    });
  }
  it('entries of size 2^±500 (≈ 1e±150) and 2^1000 (≈ 1e301): exactly the scaled result', () => {
    const n = 40;
    const A = symmetric(rng, n);
    const t = tridiagonalize(A, n);
    for (const s of [2 ** -500, 2 ** 500, 2 ** 1000]) {
      const ts = tridiagonalize(A.map((v) => v * s), n);
      expect(Array.from(ts.d)).toEqual(Array.from(t.d, (v) => v * s));
      expect(Array.from(ts.e)).toEqual(Array.from(t.e, (v) => v * s));
    }
  });

  it('leaves a tridiagonal input as it is', () => {
    const d = Float64Array.from({ length: 40 }, (_, i) => i * 0.5 - 3);
    const e = Float64Array.from({ length: 39 }, (_, i) => 1 + 0.01 * i);
    const t = tridiagonalize(dense(d, e), 40);
    expect(Array.from(t.d)).toEqual(Array.from(d));
    expect(Array.from(t.e)).toEqual(Array.from(e));
  });
});

describe('eighTridiagonal (divide and conquer)', () => {
  it('second-difference matrix: eigenvalues 2 − 2cos(kπ/(n+1))', () => {
    for (const n of [33, 200]) {
      const d = new Float64Array(n).fill(2), e = new Float64Array(n - 1).fill(-1);
      const r = eighTridiagonal(d, e);
      const want = Array.from({ length: n }, (_, k) => 2 - 2 * Math.cos(((n - k) * Math.PI) / (n + 1)));
      expect(maxAbsDiff(r.values, want)).toBeLessThan(8 * n * EPS * 4);
      expectGood(dense(d, e), n, r);
    }
  });

  it('glued Wilkinson matrices (pairs equal to many digits: heavy deflation)', () => {
    const m = 10, blocks = 6, w = 2 * m + 1, n = w * blocks;
    const d = new Float64Array(n), e = new Float64Array(n - 1);
    for (let b = 0; b < blocks; b++) {
      for (let i = 0; i < w; i++) d[b * w + i] = Math.abs(m - i);
      for (let i = 0; i < w - 1; i++) e[b * w + i] = 1;
      if (b + 1 < blocks) e[b * w + w - 1] = 1e-10;
    }
    const r = eighTridiagonal(d, e);
    const T = dense(d, e);
    expectGood(T, n, r);
    expect(maxAbsDiff(r.values, jacobiEigh(T, n).values)).toBeLessThan(8 * n * EPS * m);
  });

  it('zero couplings (decoupled blocks) and a constant diagonal', () => {
    const n = 100;
    const d = Float64Array.from({ length: n }, (_, i) => ((i * 37) % 11) - 5);
    const e = Float64Array.from({ length: n - 1 }, (_, i) => (i % 9 === 0 ? 0 : 0.3));
    const r = eighTridiagonal(d, e);
    expectGood(dense(d, e), n, r);
    const c = eighTridiagonal(new Float64Array(n).fill(7), new Float64Array(n - 1));
    expect(Array.from(c.values)).toEqual(new Array(n).fill(7));
    expect(errors(dense(new Float64Array(n).fill(7), new Float64Array(n - 1)), n, c).orth).toBe(0);
  });

  it('agrees with the dense solvers on random tridiagonals, also scaled by 1e±150', () => {
    const rng = new Rng(5);
    for (const n of [1, 2, 32, 33, 65, 150]) {
      const d = Float64Array.from({ length: n }, () => rng.uniform() * 2 - 1);
      const e = Float64Array.from({ length: n - 1 }, () => rng.uniform() * 2 - 1);
      const T = dense(d, e);
      const r = eighTridiagonal(d, e);
      expectGood(T, n, r);
      expect(maxAbsDiff(r.values, eighQL(T, n).values)).toBeLessThan(8 * Math.max(n, 2) * EPS * 2);
      for (const s of [1e-150, 1e150]) {
        const rs = eighTridiagonal(d.map((v) => v * s), e.map((v) => v * s));
        for (let i = 0; i < n; i++) expect(Math.abs(rs.values[i]! / s - r.values[i]!)).toBeLessThan(8 * Math.max(n, 2) * EPS * 2);
      }
    }
  });

  it('errors', () => {
    expect(() => eighTridiagonal(new Float64Array(3), new Float64Array(3))).toThrow(/eighTridiagonal: e has length 3, expected 2/);
    expect(() => eighTridiagonal(new Float64Array([1, NaN]), new Float64Array(1))).toThrow(/eighTridiagonal: input d contains a non-finite value \(NaN\) at \[1\]/);
    expect(() => eighTridiagonal(new Float64Array(0), new Float64Array(0))).toThrow(/eighTridiagonal: d.length must be an integer ≥ 1/);
    expect(() => tridiagonalize(new Float64Array([1, 2, 3, 1]), 2)).toThrow(/tridiagonalize: input A is not symmetric/);
  });
});

import { beforeAll, describe, expect, it } from 'vitest';
import {
  initKernels, kernelsReady, gemm, matmul, syrk, binaryGram, resident, jtjAccumulate, eigh, eighJacobi, groupPairs, lowRankSqAcc, lowRankSqAccGather, svd,
  exp, log, tanh, erf, cos, sin, pow, vexp, vlog, vtanh, verf, vcos, vsin, normals,
} from '../src/linalg/index.js';
import { naiveGemm, naiveSyrk, jacobiEigh, naiveEigh, naiveSvd } from '../src/linalg/naive.js';
import { Rng } from '../src/rng.js';
import { kernelMemoryBytes, arenaUsedBytes, setArenaLimit, ARENA_MAX_BYTES } from '../src/linalg/wasm.js';

beforeAll(async () => {
  await initKernels();
  await initKernels(); // idempotent
});

function rand(rng: Rng, len: number, scale = 1): Float64Array {
  const a = new Float64Array(len);
  for (let i = 0; i < len; i++) a[i] = (rng.uniform() * 2 - 1) * scale;
  return a;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]!));
  return m;
}

function frob(a: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * a[i]!;
  return Math.sqrt(s);
}

/** ‖AV − VΛ‖_F/‖A‖_F and ‖VᵀV − I‖_max for an eigh result. */
function eighErrors(A: Float64Array, n: number, values: Float64Array, V: Float64Array): { res: number; orth: number } {
  const AV = naiveGemm(false, false, n, n, n, A, V, new Float64Array(n * n), 1, 0);
  for (let i = 0; i < n; i++) for (let k = 0; k < n; k++) AV[i * n + k] -= V[i * n + k]! * values[k]!;
  const VtV = naiveGemm(true, false, n, n, n, V, V, new Float64Array(n * n), 1, 0);
  for (let i = 0; i < n; i++) VtV[i * n + i] -= 1;
  const nA = frob(A);
  return { res: nA === 0 ? frob(AV) : frob(AV) / nA, orth: maxAbs(VtV) };
}

function svdErrors(A: Float64Array, m: number, n: number, r: { U: Float64Array; S: Float64Array; V: Float64Array }) {
  const k = Math.min(m, n);
  const US = new Float64Array(m * k);
  for (let i = 0; i < m; i++) for (let j = 0; j < k; j++) US[i * k + j] = r.U[i * k + j]! * r.S[j]!;
  const R = naiveGemm(false, true, m, n, k, US, r.V, new Float64Array(m * n), 1, 0);
  for (let i = 0; i < m * n; i++) R[i] -= A[i]!;
  const UtU = naiveGemm(true, false, k, k, m, r.U, r.U, new Float64Array(k * k), 1, 0);
  const VtV = naiveGemm(true, false, k, k, n, r.V, r.V, new Float64Array(k * k), 1, 0);
  for (let i = 0; i < k; i++) { UtU[i * k + i] -= 1; VtV[i * k + i] -= 1; }
  let sorted = true;
  for (let i = 1; i < k; i++) if (r.S[i]! > r.S[i - 1]!) sorted = false;
  const nA = frob(A);
  return { rec: nA === 0 ? frob(R) : frob(R) / nA, orthU: maxAbs(UtU), orthV: maxAbs(VtV), sorted, nonneg: r.S.every((s) => s >= 0) };
}

/** Random symmetric matrix with a prescribed spectrum: Q diag(lam) Qᵀ with Q from Householder. */
function withSpectrum(rng: Rng, lam: number[]): Float64Array {
  const n = lam.length;
  const Q = new Float64Array(n * n);
  for (let i = 0; i < n; i++) Q[i * n + i] = 1;
  for (let h = 0; h < 3; h++) { // product of 3 random reflectors
    const v = rand(rng, n);
    const vn = frob(v);
    for (let i = 0; i < n; i++) v[i] /= vn;
    for (let r = 0; r < n; r++) {
      let s = 0;
      for (let c = 0; c < n; c++) s += Q[r * n + c]! * v[c]!;
      for (let c = 0; c < n; c++) Q[r * n + c] -= 2 * s * v[c]!;
    }
  }
  const A = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = i; j < n; j++) {
    let s = 0;
    for (let k = 0; k < n; k++) s += Q[i * n + k]! * lam[k]! * Q[j * n + k]!;
    A[i * n + j] = s;
    A[j * n + i] = s;
  }
  return A;
}

describe('initialisation', () => {
  it('is ready', () => expect(kernelsReady()).toBe(true));
});

describe('gemm', () => {
  const rng = new Rng(11);
  const shapes: Array<[number, number, number]> = [[1, 1, 1], [3, 5, 7], [2, 37, 300], [1, 130, 9], [4, 4, 4], [17, 9, 33], [130, 67, 300], [5, 260, 3]];
  for (const [m, n, k] of shapes) {
    for (const tA of [false, true]) for (const tB of [false, true]) {
      it(`${m}×${n}×${k} transA=${tA} transB=${tB}, alpha/beta`, () => {
        const A = rand(rng, m * k), B = rand(rng, k * n), C0 = rand(rng, m * n);
        const C = gemm(tA, tB, m, n, k, A, B, C0.slice(), 0.7, -1.3);
        const R = naiveGemm(tA, tB, m, n, k, A, B, C0.slice(), 0.7, -1.3);
        expect(maxAbsDiff(C, R)).toBeLessThan(1e-12 * Math.max(1, k));
      });
    }
  }
  it('f32 inputs are converted exactly', () => {
    const m = 9, n = 6, k = 13;
    const A = Float32Array.from(rand(rng, m * k)), B = Float32Array.from(rand(rng, k * n));
    const C = gemm(false, true, m, n, k, A, B, new Float64Array(m * n), 1, 0);
    const R = naiveGemm(false, true, m, n, k, A, B, new Float64Array(m * n), 1, 0);
    expect(maxAbsDiff(C, R)).toBeLessThan(1e-12);
  });
  it('beta = 0 ignores NaN-free garbage and k = 0 scales C', () => {
    const C = new Float64Array([1, 2, 3, 4]);
    gemm(false, false, 2, 2, 0, new Float64Array(0), new Float64Array(0), C, 1, 2);
    expect(Array.from(C)).toEqual([2, 4, 6, 8]);
  });
  it('empty shapes', () => {
    expect(gemm(false, false, 0, 3, 2, new Float64Array(0), new Float64Array(6), new Float64Array(0)).length).toBe(0);
    expect(matmul(new Float64Array(6), new Float64Array(0), 3, 2, 0).length).toBe(0);
  });
  it('matmul', () => {
    const A = rand(rng, 6 * 4), B = rand(rng, 4 * 5);
    expect(maxAbsDiff(matmul(A, B, 6, 4, 5), naiveGemm(false, false, 6, 5, 4, A, B, new Float64Array(30), 1, 0))).toBeLessThan(1e-14);
  });
  it('errors name the operand', () => {
    expect(() => gemm(false, false, 2, 2, 2, new Float64Array(3), new Float64Array(4), new Float64Array(4))).toThrow(/gemm: A has length 3/);
    expect(() => gemm(false, false, 2, 2, 2, new Float64Array(4), new Float64Array(4), new Float64Array(5))).toThrow(/gemm: C has length 5/);
    const C9 = new Float64Array(4); C9[1] = NaN;
    expect(() => gemm(false, false, 2, 2, 2, new Float64Array(4), new Float64Array(4), C9, 1, 1)).toThrow(/gemm: input C contains a non-finite value \(NaN\) at \[0,1\]/);
    expect(Array.from(gemm(false, false, 2, 2, 2, new Float64Array(4), new Float64Array(4), C9.slice(), 1, 0))).toEqual([0, 0, 0, 0]);
    const A9 = new Float64Array(4); A9[2] = -Infinity;
    expect(() => gemm(false, false, 2, 2, 2, A9, new Float64Array(4), new Float64Array(4))).toThrow(/gemm: input A contains a non-finite value \(-Infinity\) at \[1,0\]/);
    const B = new Float64Array(4); B[3] = NaN;
    expect(() => gemm(false, false, 2, 2, 2, new Float64Array(4), B, new Float64Array(4))).toThrow(/gemm: input B contains a non-finite value \(NaN\) at \[1,1\]/);
  });
});

describe('syrk / jtjAccumulate', () => {
  const rng = new Rng(12);
  for (const [n, d] of [[1, 1], [5, 3], [37, 11], [300, 64], [1000, 131], [7, 70]]) {
    it(`f64 ${n}×${d} matches the naive Gram and accumulates with alpha`, () => {
      const X = rand(rng, n * d);
      const G0 = rand(rng, d * d);
      for (let i = 0; i < d; i++) for (let j = 0; j < i; j++) G0[i * d + j] = G0[j * d + i]!;
      const G = syrk(X, n, d, G0.slice(), 0.5);
      const R = naiveSyrk(X, n, d, G0.slice(), 0.5);
      expect(maxAbsDiff(G, R)).toBeLessThan(1e-12 * n);
      // exact symmetry
      for (let i = 0; i < d; i++) for (let j = 0; j < i; j++) expect(G[i * d + j]).toBe(G[j * d + i]);
    });
  }
  for (const scale of [1e-150, 1e150]) {
    it(`scale ${scale}: relative accuracy is scale-free`, () => {
      const n = 60, d = 21;
      const X = rand(rng, n * d, scale);
      const G = syrk(X, n, d), R = naiveSyrk(X, n, d);
      expect(maxAbsDiff(G, R) / maxAbs(R)).toBeLessThan(1e-14);
      const C = gemm(true, false, d, d, n, X, X, new Float64Array(d * d), 1, 0);
      expect(maxAbsDiff(C, R) / maxAbs(R)).toBeLessThan(1e-14);
    });
  }
  it('f32 input accumulates in f64', () => {
    const n = 513, d = 19;
    const X = Float32Array.from(rand(rng, n * d));
    expect(maxAbsDiff(syrk(X, n, d), naiveSyrk(X, n, d))).toBeLessThan(1e-11);
  });
  it('streams inputs larger than one chunk', () => {
    const n = 9000, d = 130; // 9.4 MB > 8 MiB chunk
    const X = rand(rng, n * d);
    expect(maxAbsDiff(syrk(X, n, d), naiveSyrk(X, n, d))).toBeLessThan(1e-10);
  });
  it('zero rows, zero matrix', () => {
    expect(Array.from(syrk(new Float64Array(0), 0, 3))).toEqual(new Array(9).fill(0));
    expect(maxAbs(syrk(new Float64Array(40), 8, 5))).toBe(0);
  });
  it('jtjAccumulate = Σ_s J_sᵀJ_s', () => {
    const blocks = 4, rows = 7, d = 9;
    const J = rand(rng, blocks * rows * d);
    const M = new Float64Array(d * d).fill(1);
    jtjAccumulate(J, blocks, rows, d, M);
    const R = new Float64Array(d * d).fill(1);
    for (let s = 0; s < blocks; s++) naiveSyrk(J.subarray(s * rows * d, (s + 1) * rows * d), rows, d, R);
    expect(maxAbsDiff(M, R)).toBeLessThan(1e-13);
  });
  it('errors', () => {
    expect(() => syrk(new Float64Array(5), 2, 3)).toThrow(/syrk: X has length 5, expected 6/);
    expect(() => syrk(new Float64Array(6), 2, 3, new Float64Array(8))).toThrow(/syrk: G has length 8/);
    const X = new Float64Array(6); X[4] = Infinity;
    expect(() => syrk(X, 2, 3)).toThrow(/syrk: input X contains a non-finite value \(Infinity\) at \[1,1\]/);
    const big = new Float64Array(9000 * 130); big[9000 * 130 - 1] = NaN;
    expect(() => syrk(big, 9000, 130)).toThrow(/at \[8999,129\]/);
    expect(() => jtjAccumulate(new Float64Array(5), 1, 2, 3, new Float64Array(9))).toThrow(/jtjAccumulate: J has length 5/);
  });
  it('binaryGram: 0/1 rows give exactly syrk\'s G (counts), accumulated; other entries are refused', () => {
    for (const [n, d, p] of [[1, 1, 0.5], [63, 7, 0.3], [64, 9, 0.9], [700, 513, 0.4], [130, 20, 0]] as const) {
      const X = new Float64Array(n * d).map(() => (rng.uniform() < p ? 1 : 0));
      const G0 = rand(rng, d * d);
      for (let i = 0; i < d; i++) for (let j = 0; j < i; j++) G0[i * d + j] = G0[j * d + i]!;
      const want = syrk(X, n, d, G0.slice(), 1);
      const got = binaryGram(X, n, d, G0.slice());
      expect(Array.from(got)).toEqual(Array.from(want));
      // the counts themselves
      const C = binaryGram(X, n, d, new Float64Array(d * d));
      let c01 = 0;
      if (d > 1) for (let r = 0; r < n; r++) c01 += X[r * d]! * X[r * d + 1]!;
      if (d > 1) expect(C[1]).toBe(c01);
    }
    const bad = new Float64Array(12).fill(1);
    bad[7] = 0.5;
    const G = new Float64Array(9).fill(2);
    expect(() => binaryGram(bad, 4, 3, G)).toThrow(/binaryGram: X\[2, 1\] = 0.5 is neither 0 nor 1/);
    expect(Array.from(G)).toEqual(new Array(9).fill(2));
    expect(() => binaryGram(new Float64Array(5), 2, 3, new Float64Array(9))).toThrow(/binaryGram: X has length 5/);
  });
  it('no leak: repeated calls reuse the arena (memory stops growing)', () => {
    const X = rand(rng, 200 * 50);
    syrk(X, 200, 50); eigh(syrk(X, 200, 50), 50); svd(X, 200, 50);
    const before = kernelMemoryBytes();
    for (let i = 0; i < 30; i++) { syrk(X, 200, 50); eigh(syrk(X, 200, 50), 50); svd(X, 200, 50); }
    expect(kernelMemoryBytes()).toBe(before);
    expect(arenaUsedBytes()).toBe(0);
  });
});

describe('resident operands', () => {
  const rng = new Rng(19);
  it('gemm with resident A/B equals the copying path; free compacts the others', () => {
    const W1 = rand(rng, 50 * 30), W2 = Float32Array.from(rand(rng, 30 * 20)), W3 = rand(rng, 20 * 45);
    const r1 = resident(W1, 'W1'), r2 = resident(W2, 'W2'), r3 = resident(W3, 'W3');
    const x = rand(rng, 7 * 50);
    for (let rep = 0; rep < 3; rep++) {
      expect(gemm(false, false, 7, 30, 50, x, r1, new Float64Array(210), 1, 0)).toEqual(gemm(false, false, 7, 30, 50, x, W1, new Float64Array(210), 1, 0));
      expect(gemm(true, true, 30, 7, 50, r1, x, new Float64Array(210), 1, 0)).toEqual(gemm(true, true, 30, 7, 50, W1, x, new Float64Array(210), 1, 0));
      syrk(rand(rng, 100 * 40), 100, 40); // arena work between uses
    }
    const y = rand(rng, 3 * 20);
    const before = gemm(false, false, 3, 45, 20, y, r3, new Float64Array(135), 1, 0);
    r2.free();
    r2.free(); // idempotent
    expect(r2.freed).toBe(true);
    expect(gemm(false, false, 3, 45, 20, y, r3, new Float64Array(135), 1, 0)).toEqual(before);
    expect(gemm(false, false, 3, 45, 20, y, W3, new Float64Array(135), 1, 0)).toEqual(before);
    expect(() => gemm(false, false, 1, 20, 30, rand(rng, 30), r2, new Float64Array(20))).toThrow(/gemm: resident operand B has been freed/);
    expect(() => gemm(false, false, 1, 30, 49, rand(rng, 49), r1, new Float64Array(30))).toThrow(/gemm: B has length 1500, expected 1470/);
    r1.free(); r3.free();
    const bad = new Float64Array(4); bad[2] = NaN;
    expect(() => resident(bad, 'weights')).toThrow(/resident: weights contains a non-finite value \(NaN\) at index 2/);
  });
  it('a resident A is used in place when the rows of C are chunked', () => {
    const m = 700, n = 40, k = 300;
    const A = rand(rng, m * k), B = rand(rng, k * n);
    const rA = resident(A), rAt = resident(A);
    const ref = naiveGemm(false, false, m, n, k, A, B, new Float64Array(m * n), 1, 0);
    // the same data read as a [k × m] matrix with transA: op(A) is m×k again
    const refT = naiveGemm(true, false, m, n, k, A, B, new Float64Array(m * n), 1, 0);
    setArenaLimit(2 ** 20); // C rows are processed in chunks
    try {
      expect(maxAbsDiff(gemm(false, false, m, n, k, rA, B, new Float64Array(m * n), 1, 0), ref)).toBeLessThan(1e-11);
      expect(maxAbsDiff(gemm(true, false, m, n, k, rAt, B, new Float64Array(m * n), 1, 0), refT)).toBeLessThan(1e-11);
    } finally {
      setArenaLimit(ARENA_MAX_BYTES);
      rA.free(); rAt.free();
    }
  });
});

describe('memory limits', () => {
  const rng = new Rng(17);
  it('gemm chunks the rows of C, syrk streams, eigh/svd refuse clearly when one instance is too small', () => {
    setArenaLimit(2 ** 20); // 1 MiB
    try {
      const m = 700, n = 40, k = 300; // A alone is 1.6 MiB
      for (const tA of [false, true]) {
        const A = rand(rng, m * k), B = rand(rng, k * n);
        const C = gemm(tA, false, m, n, k, A, B, new Float64Array(m * n), 1, 0);
        expect(maxAbsDiff(C, naiveGemm(tA, false, m, n, k, A, B, new Float64Array(m * n), 1, 0))).toBeLessThan(1e-11);
      }
      const X = rand(rng, 3000 * 60); // 1.4 MiB
      const Gsmall = syrk(X, 3000, 60);
      expect(maxAbsDiff(Gsmall, naiveSyrk(X, 3000, 60))).toBeLessThan(1e-10);
      setArenaLimit(ARENA_MAX_BYTES);
      // streaming block size does not change the summation order: bit-identical results
      expect(Array.from(syrk(X, 3000, 60))).toEqual(Array.from(Gsmall));
      setArenaLimit(2 ** 20);
      expect(() => eigh(new Float64Array(400 * 400), 400)).toThrow(/eigh(: operand A \[400×400\])?: needs .* MiB of Wasm memory, more than the 1 MiB limit/);
      expect(() => svd(new Float64Array(1000 * 100), 1000, 100)).toThrow(/svd(: operand A \[1000×100\])?: needs .* more than the 1 MiB limit/);
      expect(() => gemm(false, false, 4, 400, 400, new Float64Array(1600), new Float64Array(160000), new Float64Array(1600))).toThrow(/gemm: operand B .*needs .* MiB of Wasm memory/);
      const At = rand(rng, 300 * 700); At[299 * 700 + 650] = NaN; // transA, chunked: position in A
      expect(() => gemm(true, false, 700, 40, 300, At, rand(rng, 300 * 40), new Float64Array(700 * 40), 1, 0)).toThrow(/gemm: input A contains a non-finite value \(NaN\) at \[299,650\]/);
      expect(arenaUsedBytes()).toBe(0);
    } finally {
      setArenaLimit(ARENA_MAX_BYTES);
    }
  });
});

describe('eigh', () => {
  const rng = new Rng(13);
  const check = (A: Float64Array, n: number) => {
    const { values, vectors } = eigh(A, n);
    for (let i = 1; i < n; i++) expect(values[i]!).toBeLessThanOrEqual(values[i - 1]!);
    const { res, orth } = eighErrors(A, n, values, vectors);
    expect(res).toBeLessThanOrEqual(1e-12);
    expect(orth).toBeLessThanOrEqual(1e-12);
    return values;
  };
  for (const n of [1, 2, 3, 5, 16, 33, 129, 300]) {
    it(`random symmetric n=${n} (and agrees with Jacobi)`, () => {
      const B = rand(rng, n * n);
      const A = new Float64Array(n * n);
      for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) A[i * n + j] = B[i * n + j]! + B[j * n + i]!;
      const values = check(A, n);
      if (n <= 33) expect(maxAbsDiff(values, jacobiEigh(A, n).values)).toBeLessThan(1e-12 * n);
    });
  }
  it('rank-deficient Gram', () => {
    const n = 40, d = 60;
    const X = rand(rng, n * 25);
    const G = naiveSyrk(X, n, 25); // 25×25 rank 25 — embed into 60×60 with zero rows
    const A = new Float64Array(d * d);
    for (let i = 0; i < 25; i++) for (let j = 0; j < 25; j++) A[(i * 2) * d + j * 2] = G[i * 25 + j]!;
    check(A, d);
    const X2 = rand(rng, 10 * 50); // 50×50 Gram of rank 10
    check(naiveSyrk(X2, 10, 50), 50);
  });
  it('repeated and clustered eigenvalues', () => {
    check(withSpectrum(rng, [5, 5, 5, 5, 1, 1, 1, 0, 0, -2, -2, -2, 3, 3]), 14);
    check(withSpectrum(rng, Array.from({ length: 30 }, (_, i) => 1 + 1e-13 * i)), 30);
    check(withSpectrum(rng, Array.from({ length: 30 }, (_, i) => (i < 15 ? 1 : 1 + 1e-9 * i))), 30);
    const I = new Float64Array(49); for (let i = 0; i < 7; i++) I[i * 8] = 3;
    expect(Array.from(check(I, 7))).toEqual(new Array(7).fill(3));
  });
  it('zero and 1×1 matrices', () => {
    const z = eigh(new Float64Array(16), 4);
    expect(Array.from(z.values)).toEqual([0, 0, 0, 0]);
    expect(eighErrors(new Float64Array(16), 4, z.values, z.vectors).orth).toBe(0);
    const one = eigh(new Float64Array([-2.5]), 1);
    expect(one.values[0]).toBe(-2.5);
    expect(Math.abs(one.vectors[0]!)).toBe(1);
  });
  for (const scale of [1e-150, 1e150]) {
    it(`scale ${scale}`, () => {
      const n = 25;
      const B = rand(rng, n * n);
      const A = new Float64Array(n * n);
      for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) A[i * n + j] = (B[i * n + j]! + B[j * n + i]!) * scale;
      const v = check(A, n);
      expect(Math.abs(v[0]!)).toBeGreaterThan(scale * 0.1);
      const G = naiveSyrk(rand(rng, 10 * n, Math.sqrt(scale)), 10, n); // rank-deficient, scaled
      check(G, n);
    });
  }
  it('errors', () => {
    const A = new Float64Array([1, 2, 2.5, 1]);
    expect(() => eigh(A, 2)).toThrow(/eigh: input A is not symmetric \(\|A\[0,1\] − A\[1,0\]\| = 5\.000e-1/);
    expect(() => eigh(new Float64Array([1, NaN, NaN, 1]), 2)).toThrow(/eigh: input A contains a non-finite value \(NaN\) at \[0,1\]/);
    expect(() => eigh(new Float64Array(3), 2)).toThrow(/eigh: A has length 3, expected 4/);
    expect(() => eigh(new Float64Array(4), 0)).toThrow(/eigh: n must be an integer/);
    expect(() => eigh(new Float64Array([1.5e308, 1.5e308, 1.5e308, 1.5e308]), 2)).toThrow(/eigh: an eigenvalue of A overflows the float64 range/);
  });
});

describe('lowRankSqAcc', () => {
  const rng = new Rng(23);
  it('T = K0 + LᵀR per row (shared or per-row K0, chained rows), E += T² ⊙ f', () => {
    const m = 7, n = 9, rows = 5;
    const counts = new Int32Array([3, 0, 5, 1, 4]);
    const kt = 13;
    const L = rand(rng, kt * m), R = rand(rng, kt * n), f = rand(rng, rows * m);
    for (const perRow of [false, true]) {
      for (const base of [null, new Int32Array([1, 0, 0, 1, 0])]) {
        const K0 = rand(rng, (perRow ? rows : 1) * m * n);
        const E0 = rand(rng, m * n);
        const want = E0.slice();
        let T = new Float64Array(m * n);
        let off = 0;
        for (let b = 0; b < rows; b++) {
          if (b === 0 || !base || base[b]) T = K0.slice(perRow ? b * m * n : 0, (perRow ? b : 0) * m * n + m * n);
          for (let k = 0; k < counts[b]!; k++, off++) for (let p = 0; p < m; p++) for (let q = 0; q < n; q++) T[p * n + q]! += L[off * m + p]! * R[off * n + q]!;
          for (let p = 0; p < m; p++) for (let q = 0; q < n; q++) want[p * n + q]! += T[p * n + q]! * T[p * n + q]! * f[b * m + p]!;
        }
        const got = lowRankSqAcc(rows, m, n, K0, perRow, L, R, counts, f, E0.slice(), base);
        expect(maxAbsDiff(got, want)).toBeLessThan(1e-12);
      }
    }
    // diag mode: T = Σ_d diag(coef_{b,d}) K0_d + LᵀR
    const nd = 3;
    const K0s = rand(rng, nd * m * n), coef = rand(rng, rows * nd * m), E1 = rand(rng, m * n);
    const want1 = E1.slice();
    let off1 = 0;
    for (let b = 0; b < rows; b++) {
      const T = new Float64Array(m * n);
      for (let d = 0; d < nd; d++) for (let p = 0; p < m; p++) for (let q = 0; q < n; q++) T[p * n + q]! += coef[(b * nd + d) * m + p]! * K0s[(d * m + p) * n + q]!;
      for (let k = 0; k < counts[b]!; k++, off1++) for (let p = 0; p < m; p++) for (let q = 0; q < n; q++) T[p * n + q]! += L[off1 * m + p]! * R[off1 * n + q]!;
      for (let i = 0; i < m * n; i++) want1[i]! += T[i]! * T[i]!;
    }
    const got1 = lowRankSqAcc(rows, m, n, K0s, false, L, R, counts, null, E1.slice(), null, { count: nd, coef });
    expect(maxAbsDiff(got1, want1)).toBeLessThan(1e-12);
    expect(() => lowRankSqAcc(rows, m, n, K0s, true, L, R, counts, null, E1.slice(), null, { count: nd, coef })).toThrow(/lowRankSqAcc: diag needs/);
    // gather mode: atoms are scaled rows of fixed matrices; equals packing them by hand
    const hN = 6;
    const L0 = rand(rng, hN * m), R0 = rand(rng, hN * n), K0g = rand(rng, m * n);
    const gidx = Int32Array.from({ length: kt }, (_, a) => (a * 5 + 1) % hN);
    const gs = rand(rng, kt);
    const Lp = new Float64Array(kt * m), Rp = new Float64Array(kt * n);
    for (let a = 0; a < kt; a++) {
      Lp.set(L0.subarray(gidx[a]! * m, gidx[a]! * m + m), a * m);
      for (let q = 0; q < n; q++) Rp[a * n + q] = gs[a]! * R0[gidx[a]! * n + q]!;
    }
    const chain = new Int32Array([1, 0, 1, 0, 0]);
    expect(Array.from(lowRankSqAccGather(rows, m, n, K0g, L0, R0, hN, gidx, gs, counts, f, new Float64Array(m * n), chain)))
      .toEqual(Array.from(lowRankSqAcc(rows, m, n, K0g, false, Lp, Rp, counts, f, new Float64Array(m * n), chain)));
    expect(() => lowRankSqAccGather(1, m, n, K0g, L0, R0, hN, new Int32Array([hN]), gs, new Int32Array([1]), null, new Float64Array(m * n))).toThrow(/lowRankSqAccGather: idx\[0\] = 6 is outside \[0, 6\)/);
    const noF = lowRankSqAcc(1, 2, 2, new Float64Array([1, 2, 3, 4]), false, new Float64Array(0), new Float64Array(0), new Int32Array([0]), null, new Float64Array(4));
    expect(Array.from(noF)).toEqual([1, 4, 9, 16]);
    expect(() => lowRankSqAcc(2, 2, 2, new Float64Array(4), false, new Float64Array(2), new Float64Array(2), new Int32Array([1, 1]), null, new Float64Array(4))).toThrow(/lowRankSqAcc: L has length 2, expected at least 4/);
    expect(() => lowRankSqAcc(1, 2, 2, new Float64Array([NaN, 0, 0, 0]), false, new Float64Array(0), new Float64Array(0), new Int32Array([0]), null, new Float64Array(4))).toThrow(/lowRankSqAcc: input K0 contains a non-finite value \(NaN\) at \[0,0\]/);
  });
});

describe('groupPairs', () => {
  it('Z[α, blk_β block] += (u_α · W[β, head(α) block]) y_β within each group', () => {
    const rng = new Rng(29);
    const dv = 3, dh = 2, H = 2, ldw = H * dv, ldz = 2 * H * dh;
    const start = new Int32Array([0, 3, 3, 7]);
    const n = 7;
    const blk = new Int32Array([0, 3, 1, 2, 0, 3, 1]);
    const u = rand(rng, n * dv), W = rand(rng, n * ldw), y = rand(rng, n * dh), Z0 = rand(rng, n * ldz);
    const want = Z0.slice();
    for (let g = 0; g + 1 < start.length; g++) for (let a = start[g]!; a < start[g + 1]!; a++) for (let b = start[g]!; b < start[g + 1]!; b++) {
      let k = 0;
      for (let e = 0; e < dv; e++) k += u[a * dv + e]! * W[b * ldw + (blk[a]! >> 1) * dv + e]!;
      for (let e = 0; e < dh; e++) want[a * ldz + blk[b]! * dh + e]! += k * y[b * dh + e]!;
    }
    expect(maxAbsDiff(groupPairs(start, blk, u, dv, W, ldw, y, dh, Z0.slice(), ldz), want)).toBeLessThan(1e-14);
    const fromZero = groupPairs(start, blk, u, dv, W, ldw, y, dh, null, ldz);
    expect(maxAbsDiff(fromZero.map((v, i) => v + Z0[i]!), want)).toBeLessThan(1e-14);
    // row maps: W stored in another row order, Z written in another: the same numbers, moved
    const wRow = new Int32Array([3, 0, 6, 1, 5, 2, 4]);
    const zRow = new Int32Array([6, 5, 4, 0, 1, 2, 3]);
    const Wp = new Float64Array(n * ldw);
    for (let b = 0; b < n; b++) Wp.set(W.subarray(b * ldw, (b + 1) * ldw), wRow[b]! * ldw);
    const into = new Float64Array(n * ldz).fill(7);
    const mapped = groupPairs(start, blk, u, dv, Wp, ldw, y, dh, null, ldz, { into, wRow, zRow });
    expect(mapped).toBe(into);
    for (let a = 0; a < n; a++) expect(Array.from(mapped.subarray(zRow[a]! * ldz, (zRow[a]! + 1) * ldz))).toEqual(Array.from(fromZero.subarray(a * ldz, (a + 1) * ldz)));
    expect(() => groupPairs(start, blk, u, dv, W, ldw, y, dh, null, ldz, { zRow: new Int32Array([0, 1, 2, 3, 4, 5, 7]) })).toThrow(/groupPairs: zRow\[6\] = 7 is outside \[0, 7\)/);
    expect(() => groupPairs(start, new Int32Array([0, 9, 0, 0, 0, 0, 0]), u, dv, W, ldw, y, dh, Z0.slice(), ldz)).toThrow(/groupPairs: blk\[1\] = 9 is out of range/);
    expect(() => groupPairs(new Int32Array([0, 4, 2]), blk, u, dv, W, ldw, y, dh, Z0.slice(), ldz)).toThrow(/groupPairs: start must be non-decreasing/);
  });
});

describe('eighJacobi', () => {
  const rng = new Rng(17);
  for (const n of [1, 2, 5, 33, 129]) {
    it(`random symmetric n=${n}: agrees with the QL eigh`, () => {
      const B = rand(rng, n * n);
      const A = new Float64Array(n * n);
      for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) A[i * n + j] = B[i * n + j]! + B[j * n + i]!;
      const j = eighJacobi(A, n);
      for (let i = 1; i < n; i++) expect(j.values[i]!).toBeLessThanOrEqual(j.values[i - 1]!);
      const { res, orth } = eighErrors(A, n, j.values, j.vectors);
      expect(res).toBeLessThanOrEqual(1e-12);
      expect(orth).toBeLessThanOrEqual(1e-12);
      expect(maxAbsDiff(j.values, eigh(A, n).values)).toBeLessThan(1e-12 * n);
      expect(maxAbsDiff(j.values, eigh(A, n, { method: 'jacobi' }).values)).toBe(0);
    });
  }
  it('graded PSD spectrum: small eigenvalues to high relative accuracy (QL only to ε·‖A‖)', () => {
    const spec = [1e4, 1, 1e-4, 1e-8, 1e-12, 1e-16, 1e-20, 1e-24];
    const n = spec.length;
    // A = D^½ R D^½ with R a well-conditioned correlation-like matrix: a graded matrix
    const R = withSpectrum(rng, Array.from({ length: n }, (_, i) => 1 + 0.1 * i));
    const A = new Float64Array(n * n);
    for (let i = 0; i < n; i++) for (let k = 0; k < n; k++) A[i * n + k] = Math.sqrt(spec[i]! * spec[k]!) * R[i * n + k]!;
    for (let i = 0; i < n; i++) for (let k = 0; k < i; k++) A[i * n + k] = A[k * n + i]!;
    const j = eighJacobi(A, n);
    const q = eigh(A, n);
    // the same leading values; Jacobi's smallest positive values keep their grading
    expect(Math.abs(j.values[0]! - q.values[0]!) / q.values[0]!).toBeLessThan(1e-13);
    for (let i = 0; i < n; i++) expect(j.values[i]!).toBeGreaterThan(0);
    expect(j.values[n - 1]! / j.values[n - 2]!).toBeLessThan(1e-2);
    expect(Math.abs(j.values[n - 1]!)).toBeLessThan(1e-20);
    // QL cannot resolve below ε·‖A‖ ≈ 2e-12
    expect(Math.abs(q.values[n - 1]! - j.values[n - 1]!)).toBeLessThan(1e-10);
  });
  it('diagonal and 1×1 input, errors', () => {
    const D = new Float64Array([2, 0, 0, 0, -5, 0, 0, 0, 1e-300]);
    const r = eighJacobi(D, 3);
    expect(Array.from(r.values)).toEqual([2, 1e-300, -5]);
    expect(eighJacobi(new Float64Array([-2.5]), 1).values[0]).toBe(-2.5);
    expect(() => eighJacobi(new Float64Array([1, 2, 2.5, 1]), 2)).toThrow(/eighJacobi: input A is not symmetric/);
    expect(() => eighJacobi(new Float64Array([1, NaN, NaN, 1]), 2)).toThrow(/eighJacobi: input A contains a non-finite value \(NaN\) at \[0,1\]/);
    expect(() => eighJacobi(new Float64Array(3), 2)).toThrow(/eighJacobi: A has length 3, expected 4/);
    const B = rand(rng, 30 * 30);
    const A = new Float64Array(900);
    for (let i = 0; i < 30; i++) for (let k = 0; k < 30; k++) A[i * 30 + k] = B[i * 30 + k]! + B[k * 30 + i]!;
    expect(() => eighJacobi(A, 30, { maxSweeps: 1 })).toThrow(/eighJacobi: Jacobi did not converge in 1 sweeps \(n=30\)/);
    expect(() => eigh(A, 30, { method: 'x' as never })).toThrow(/eigh: unknown method "x"/);
  });
});

describe('svd', () => {
  const rng = new Rng(14);
  const check = (A: Float64Array, m: number, n: number) => {
    const r = svd(A, m, n);
    const k = Math.min(m, n);
    expect(r.U.length).toBe(m * k);
    expect(r.V.length).toBe(n * k);
    const e = svdErrors(A, m, n, r);
    expect(e.sorted).toBe(true);
    expect(e.nonneg).toBe(true);
    expect(e.rec).toBeLessThanOrEqual(1e-12);
    expect(e.orthU).toBeLessThanOrEqual(1e-12);
    expect(e.orthV).toBeLessThanOrEqual(1e-12);
    return r;
  };
  for (const [m, n] of [[1, 1], [1, 5], [5, 1], [7, 3], [3, 7], [40, 40], [100, 33], [33, 100], [250, 61], [300, 130], [70, 200]]) {
    it(`random ${m}×${n}`, () => { check(rand(rng, m * n), m, n); });
  }
  it('singular values match the eigenvalues of AᵀA', () => {
    const m = 30, n = 12;
    const A = rand(rng, m * n);
    const r = check(A, m, n);
    const ev = jacobiEigh(naiveSyrk(A, m, n), n).values;
    for (let i = 0; i < n; i++) expect(Math.abs(r.S[i]! ** 2 - ev[i]!)).toBeLessThan(1e-12 * ev[0]!);
  });
  it('rank-deficient, zero and repeated singular values', () => {
    const m = 50, n = 20, r = 6;
    const L = rand(rng, m * r), R = rand(rng, r * n);
    const A = naiveGemm(false, false, m, n, r, L, R, new Float64Array(m * n), 1, 0);
    const res = check(A, m, n);
    expect(res.S[r]!).toBeLessThan(1e-13 * res.S[0]!);
    check(naiveGemm(true, true, n, m, r, R, L, new Float64Array(n * m), 1, 0), n, m);
    const Z = check(new Float64Array(12), 4, 3);
    expect(Array.from(Z.S)).toEqual([0, 0, 0]);
    const I = new Float64Array(36); for (let i = 0; i < 6; i++) I[i * 7] = 2;
    expect(Array.from(check(I, 6, 6).S)).toEqual(new Array(6).fill(2));
  });
  it('graded singular values 1 … 1e-14 and clusters', () => {
    const m = 90, n = 40;
    const mk = (sig: number[]) => {
      const Q1 = svd(rand(rng, m * n), m, n).U, Q2 = svd(rand(rng, n * n), n, n).U;
      const US = new Float64Array(m * n);
      for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) US[i * n + j] = Q1[i * n + j]! * sig[j]!;
      return naiveGemm(false, true, m, n, n, US, Q2, new Float64Array(m * n), 1, 0);
    };
    const graded = Array.from({ length: n }, (_, i) => 10 ** (-14 * i / (n - 1)));
    const r = check(mk(graded), m, n);
    for (let i = 0; i < n; i++) expect(Math.abs(r.S[i]! - graded[i]!)).toBeLessThan(1e-14);
    check(mk(Array.from({ length: n }, (_, i) => (i < 20 ? 1 + 1e-12 * i : 0.5))), m, n);
  });
  for (const scale of [1e-150, 1e150]) {
    it(`scale ${scale}`, () => {
      const r = check(rand(rng, 30 * 9, scale), 30, 9);
      check(rand(rng, 40 * 35, scale), 40, 35);
      expect(r.S[0]!).toBeGreaterThan(scale * 0.1);
    });
  }
  it('errors', () => {
    expect(() => svd(new Float64Array(5), 2, 3)).toThrow(/svd: A has length 5, expected 6/);
    expect(() => svd(new Float64Array([1.5e308, 1.5e308, 1.5e308, 1.5e308]), 2, 2)).toThrow(/svd: a singular value of A overflows/);
    expect(() => svd(new Float64Array([1, -Infinity]), 1, 2)).toThrow(/svd: input A contains a non-finite value \(-Infinity\) at \[0,1\]/);
  });
});

describe('math', () => {
  it('scalar functions agree with the platform to ≤ 2 ulp and are deterministic', () => {
    const rng = new Rng(15);
    const xs = rand(rng, 2000, 20);
    for (const x of xs) {
      const rel = (a: number, b: number) => Math.abs(a - b) / Math.max(Math.abs(b), 1e-300);
      expect(rel(exp(x), Math.exp(x))).toBeLessThan(5e-16);
      expect(rel(tanh(x), Math.tanh(x))).toBeLessThan(5e-16);
      expect(rel(cos(x), Math.cos(x))).toBeLessThan(1e-15);
      expect(rel(sin(x), Math.sin(x))).toBeLessThan(1e-15);
      expect(rel(log(Math.abs(x)), Math.log(Math.abs(x)))).toBeLessThan(5e-16);
      expect(rel(pow(Math.abs(x), 1.7), Math.abs(x) ** 1.7)).toBeLessThan(5e-16);
    }
  });
  it('erf against high-precision values', () => {
    // reference values (Abramowitz & Stegun / mpmath, 17 significant digits)
    const ref: Array<[number, number]> = [
      [0, 0], [1e-10, 1.1283791670955126e-10], [0.1, 0.1124629160182849], [0.5, 0.5204998778130465],
      [1, 0.8427007929497149], [1.5, 0.9661051464753108], [2, 0.9953222650189527], [3, 0.9999779095030014],
      [4, 0.9999999845827421], [6, 1], [-0.5, -0.5204998778130465], [-2, -0.9953222650189527],
    ];
    for (const [x, y] of ref) expect(Math.abs(erf(x) - y)).toBeLessThanOrEqual(2 * Number.EPSILON * Math.max(Math.abs(y), 1e-300));
    expect(erf(Infinity)).toBe(1);
    expect(erf(-Infinity)).toBe(-1);
    expect(Number.isNaN(erf(NaN))).toBe(true);
  });
  it('vector versions equal the scalar ones, in place or into out', () => {
    const rng = new Rng(16);
    const x = rand(rng, 70001, 3);
    const pos = x.map(Math.abs);
    const pairs: Array<[(x: Float64Array, o?: Float64Array) => Float64Array, (x: number) => number, Float64Array]> = [
      [vexp, exp, x], [vlog, log, pos], [vtanh, tanh, x], [verf, erf, x], [vcos, cos, x], [vsin, sin, x],
    ];
    for (const [vf, sf, input] of pairs) {
      const out = vf(input, new Float64Array(input.length));
      for (let i = 0; i < input.length; i += 997) expect(out[i]).toBe(sf(input[i]!));
      const inplace = input.slice();
      expect(vf(inplace)).toBe(inplace);
      expect(maxAbsDiff(inplace, out)).toBe(0);
    }
    expect(() => vexp(x, new Float64Array(3))).toThrow(/vexp: out must be a Float64Array of length 70001/);
  });
  it('normals: deterministic Box–Muller with mean 0, variance 1', () => {
    const a = normals(new Rng(5, 2), new Float64Array(100001));
    const b = normals(new Rng(5, 2), new Float64Array(100001));
    expect(maxAbsDiff(a, b)).toBe(0);
    let s = 0, s2 = 0;
    for (const v of a) { s += v; s2 += v * v; }
    expect(Math.abs(s / a.length)).toBeLessThan(0.01);
    expect(Math.abs(s2 / a.length - 1)).toBeLessThan(0.02);
    // first pair by hand
    const r = new Rng(5, 2);
    const u1 = r.uniform(), u2 = r.uniform();
    const rad = Math.sqrt(-2 * log(1 - u1));
    expect(a[0]).toBe(rad * cos(2 * Math.PI * u2));
    expect(a[1]).toBe(rad * sin(2 * Math.PI * u2));
  });
});

describe('naive references (benchmark baselines)', () => {
  const rng = new Rng(18);
  it('naiveEigh agrees with jacobiEigh and is accurate', () => {
    const n = 23;
    const B = rand(rng, n * n);
    const A = new Float64Array(n * n);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) A[i * n + j] = B[i * n + j]! + B[j * n + i]!;
    const r = naiveEigh(A, n);
    expect(maxAbsDiff(r.values, jacobiEigh(A, n).values)).toBeLessThan(1e-12);
    const e = eighErrors(A, n, r.values, r.vectors);
    expect(e.res).toBeLessThan(1e-13);
    expect(e.orth).toBeLessThan(1e-13);
  });
  it('naiveSvd reconstructs, tall and wide', () => {
    for (const [m, n] of [[17, 6], [6, 17]] as const) {
      const A = rand(rng, m * n);
      const e = svdErrors(A, m, n, naiveSvd(A, m, n));
      expect(e.rec).toBeLessThan(1e-13);
      expect(e.orthU).toBeLessThan(1e-12);
      expect(e.orthV).toBeLessThan(1e-12);
      expect(e.sorted).toBe(true);
    }
  });
});

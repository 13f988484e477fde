// The Wasm attention loops (src/linalg/attention.ts, used by AttnOut) against the scalar
// JavaScript forward/backward AttnOut had before them, kept here as the oracle: every output
// element must be the same float64 (Object.is), for global and local attention, dh ≠ dv, scale ≠ 1,
// cotangents with zero rows and R = K·B rows, and with patterns split into head blocks and row
// chunks (small arena).
import { afterEach, describe, expect, it } from 'vitest';
import { ARENA_MAX_BYTES, setArenaLimit } from '../src/linalg/wasm.js';
import { attentionBackward, attentionForward, initKernels, type AttnShape } from '../src/linalg/index.js';
import { AttnOut, type AttnCache } from '../src/models/modules.js';
import { scalarAttentionBackward, scalarAttentionForward } from '../bench/attention-oracle.js';
import { matMul, matMulT, type Tup } from '../src/models/tuple.js';
import { Rng } from '../src/rng.js';
import { randn } from './helpers/random-models.js';

await initKernels();

// ---- helpers ----------------------------------------------------------------------------------

/** Index of the first element whose bits differ (NaN = NaN), or -1. */
function firstDiff(a: Float64Array, b: Float64Array): number {
  if (a.length !== b.length) return 0;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return i;
  return -1;
}

function expectSameBits(name: string, got: Float64Array, want: Float64Array): void {
  expect(got.length, `${name} length`).toBe(want.length);
  const i = firstDiff(got, want);
  expect(i, i < 0 ? name : `${name}[${i}]: ${got[i]} vs ${want[i]}`).toBe(-1);
}

/** Cotangents [R, P, w] with every third position (and one whole row block) zero, some as −0. */
function cotangents(rng: Rng, R: number, P: number, w: number): Float64Array {
  const g = randn(rng, R * P * w, 1);
  for (let r = 0; r < R; r++) {
    for (let i = 0; i < P; i++) {
      if ((i + r) % 3 !== 0 && !(r === 0 && i < P / 2)) continue;
      for (let c = 0; c < w; c++) g[(r * P + i) * w + c] = c % 2 ? -0 : 0;
    }
  }
  return g;
}

interface Case { B: number; P: number; H: number; dh: number; dv: number; scale: number; window: number; K: number }

const CASES: Case[] = [
  { B: 1, P: 1, H: 1, dh: 1, dv: 2, scale: 0.7, window: Infinity, K: 1 },
  { B: 2, P: 2, H: 2, dh: 2, dv: 3, scale: 1 / Math.sqrt(2), window: Infinity, K: 2 },
  { B: 3, P: 7, H: 2, dh: 4, dv: 5, scale: 0.5, window: Infinity, K: 3 },
  { B: 2, P: 7, H: 3, dh: 3, dv: 4, scale: 1.3, window: 3, K: 2 },
  { B: 7, P: 64, H: 2, dh: 4, dv: 5, scale: 0.5, window: Infinity, K: 1 },
  { B: 2, P: 64, H: 7, dh: 5, dv: 6, scale: 1, window: 17, K: 2 },
  { B: 2, P: 300, H: 2, dh: 6, dv: 7, scale: 0.4, window: Infinity, K: 2 },
  { B: 1, P: 300, H: 1, dh: 4, dv: 5, scale: 0.5, window: 64, K: 1 },
];

function run(c: Case, seed: number) {
  const rng = new Rng(seed, 11);
  const s: AttnShape = { B: c.B, P: c.P, H: c.H, dh: c.dh, dv: c.dv, scale: c.scale };
  const q = randn(rng, c.B * c.P * c.H * c.dh, 1.5);
  const k = randn(rng, c.B * c.P * c.H * c.dh, 1.5);
  const v = randn(rng, c.B * c.P * c.H * c.dv, 1);
  const R = c.K * c.B;
  const gZ = cotangents(rng, R, c.P, c.H * c.dv);
  const want = scalarAttentionForward(q, k, v, s, c.window);
  const got = attentionForward(q, k, v, s, c.window);
  expectSameBits('A', got.A, want.A);
  expectSameBits('Z', got.Z, want.Z);
  const wb = scalarAttentionBackward(q, k, v, want.A, gZ, R, s);
  const gb = attentionBackward(q, k, v, got.A, gZ, R, s);
  expectSameBits('q̄', gb.gq, wb.gq);
  expectSameBits('k̄', gb.gk, wb.gk);
  expectSameBits('v̄', gb.gv, wb.gv);
  // the check is not vacuous: the oracle's outputs are mostly non-zero (a 1-key row has none)
  if (c.P >= 7) for (const g of [wb.gq, wb.gk, wb.gv]) expect(g.filter((x) => x !== 0).length).toBeGreaterThan(g.length / 4);
}

describe('Wasm attention loops are bit-identical to the scalar JavaScript', () => {
  afterEach(() => setArenaLimit(ARENA_MAX_BYTES));

  for (const [n, c] of CASES.entries()) {
    it(`B ${c.B}, P ${c.P}, H ${c.H}, dh ${c.dh}, dv ${c.dv}, scale ${c.scale.toFixed(3)}, window ${c.window}, R = ${c.K}·B`, () => run(c, 100 + n));
  }

  it('splits the pattern into head blocks and the cotangents into row chunks under a small arena', () => {
    setArenaLimit(2 ** 20); // one 300×300 head pattern (720 KB) per call, one row per call
    run({ B: 2, P: 300, H: 3, dh: 3, dv: 5, scale: 0.6, window: Infinity, K: 3 }, 7);
    run({ B: 3, P: 64, H: 5, dh: 4, dv: 5, scale: 0.5, window: 9, K: 2 }, 8);
  });

  it('R not a multiple of B, and R < B', () => {
    for (const R of [5, 1]) {
      const rng = new Rng(R, 3);
      const s: AttnShape = { B: 3, P: 9, H: 2, dh: 2, dv: 3, scale: 0.8 };
      const q = randn(rng, 3 * 9 * 4, 1);
      const k = randn(rng, 3 * 9 * 4, 1);
      const v = randn(rng, 3 * 9 * 6, 1);
      const gZ = cotangents(rng, R, 9, 6);
      const { A } = scalarAttentionForward(q, k, v, s, Infinity);
      const want = scalarAttentionBackward(q, k, v, A, gZ, R, s);
      const got = attentionBackward(q, k, v, A, gZ, R, s);
      expectSameBits('q̄', got.gq, want.gq);
      expectSameBits('k̄', got.gk, want.gk);
      expectSameBits('v̄', got.gv, want.gv);
    }
  });

  it('AttnOut.forward / backward (with Wo) match the oracle module', () => {
    const B = 3, P = 20, H = 4, dh = 3, dv = 4, dout = 9, dres = 9, K = 2;
    for (const window of [Infinity, 6]) {
      const rng = new Rng(window === Infinity ? 1 : 2, 5);
      const Wo = randn(rng, H * dv * dout, 0.5);
      const m = new AttnOut('attn_out.0', Wo, H, dh, dv, dout, 0.577, window);
      const s: AttnShape = { B, P, H, dh, dv, scale: 0.577 };
      const q = randn(rng, B * P * H * dh, 1.2);
      const k = randn(rng, B * P * H * dh, 1.2);
      const v = randn(rng, B * P * H * dv, 1);
      const resid = randn(rng, B * P * dres, 1);
      const x: Tup = { P, w: [H * dh, H * dh, H * dv, dres], parts: [q, k, v, resid] };
      const { y, cache } = m.forward(x, B);
      const of = scalarAttentionForward(q, k, v, s, window);
      expectSameBits('out', y.parts[0]!, matMul(of.Z, B * P, H * dv, Wo, dout));
      expectSameBits('A', (cache as AttnCache).A, of.A);
      const R = K * B;
      const gOut = cotangents(rng, R, P, dout);
      const gx = m.backward(cache, { P, w: [dout, dres], parts: [gOut, randn(rng, R * P * dres, 1)] }, R, B);
      const ob = scalarAttentionBackward(q, k, v, of.A, matMulT(gOut, R * P, dout, Wo, H * dv), R, s);
      expectSameBits('q̄', gx.parts[0]!, ob.gq);
      expectSameBits('k̄', gx.parts[1]!, ob.gk);
      expectSameBits('v̄', gx.parts[2]!, ob.gv);
    }
  });

  it('refuses bad shapes and windows with a clear error', () => {
    const s: AttnShape = { B: 1, P: 3, H: 1, dh: 2, dv: 2, scale: 1 };
    const a = new Float64Array(6);
    expect(() => attentionForward(a, a, new Float64Array(5), s)).toThrow(/attentionForward: v has length 5, expected 6/);
    expect(() => attentionForward(a, a, a, s, 0)).toThrow(/window must be Infinity or an integer ≥ 1, got 0/);
    expect(() => attentionForward(a, a, a, { ...s, H: 1.5 })).toThrow(/H must be an integer ≥ 1/);
    expect(() => attentionBackward(a, a, a, new Float64Array(9), new Float64Array(5), 1, s)).toThrow(/gZ has length 5, expected 6/);
  });
});

/**
 * Attention module benchmarks (1 thread): `AttnOut.forward` and `AttnOut.backward` (Wasm loops of
 * src/linalg/attention.ts) against the scalar JavaScript loops they replaced (kept below as the
 * baseline; the Wasm results are checked bit-identical to them before timing). Shapes of a
 * TinyStories-sized model: d 64, 16 heads of dh 4, dv 5 (bias folded), Wo [80 × 65];
 * P 200 with B 26 samples and P 511 with B 4; the backward takes R = B cotangent rows (K = 1).
 */
import { AttnOut, type AttnCache } from '../src/models/modules.js';
import { scalarAttentionBackward, scalarAttentionForward } from './attention-oracle.js';
import { matMul, matMulT, type Tup } from '../src/models/tuple.js';
import { initKernels, normals } from '../src/linalg/index.js';
import { Rng } from '../src/rng.js';
import { time, type BenchContext, type BenchRow } from './harness.js';

// ---- baseline: the scalar JavaScript AttnOut.forward / backward -------------------------------

function jsForward(m: AttnOut, x: Tup, B: number): { out: Float64Array; cache: AttnCache } {
  const [q, k, v] = x.parts as [Float64Array, Float64Array, Float64Array];
  const P = x.P;
  const { A, Z } = scalarAttentionForward(q, k, v, { B, P, H: m.H, dh: m.dh, dv: m.dv, scale: m.scale }, m.window);
  return { out: matMul(Z, B * P, m.H * m.dv, m.Wo, m.dout), cache: { q, k, v, A, P } };
}

function jsBackward(m: AttnOut, cache: AttnCache, gOut: Float64Array, R: number, B: number): Float64Array[] {
  const { q, k, v, A, P } = cache;
  const gZ = matMulT(gOut, R * P, m.dout, m.Wo, m.H * m.dv);
  const { gq, gk, gv } = scalarAttentionBackward(q, k, v, A, gZ, R, { B, P, H: m.H, dh: m.dh, dv: m.dv, scale: m.scale });
  return [gq, gk, gv];
}

// ----------------------------------------------------------------------------------------------

function randn(rng: Rng, n: number, s: number): Float64Array {
  const x = normals(rng, new Float64Array(n));
  for (let i = 0; i < n; i++) x[i]! *= s;
  return x;
}

function sameBits(what: string, a: Float64Array, b: Float64Array): void {
  if (a.length !== b.length) throw new Error(`bench attention: ${what} lengths differ`);
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) throw new Error(`bench attention: ${what}[${i}] differs (${a[i]} vs ${b[i]})`);
}

async function caseRows(B: number, P: number, quick: boolean): Promise<BenchRow[]> {
  const H = 16, dh = 4, dv = 5, dout = 65, dres = 65;
  const rng = new Rng(P, 13);
  const m = new AttnOut('attn_out.0', randn(rng, H * dv * dout, 0.2), H, dh, dv, dout, 1 / Math.sqrt(dh));
  const q = randn(rng, B * P * H * dh, 1);
  const k = randn(rng, B * P * H * dh, 1);
  const v = randn(rng, B * P * H * dv, 1);
  const x: Tup = { P, w: [H * dh, H * dh, H * dv, dres], parts: [q, k, v, randn(rng, B * P * dres, 1)] };
  const R = B;
  const gOut = randn(rng, R * P * dout, 1);
  const g: Tup = { P, w: [dout, dres], parts: [gOut, randn(rng, R * P * dres, 1)] };

  // the two must agree bit for bit before anything is timed
  const wf = m.forward(x, B);
  const jf = jsForward(m, x, B);
  sameBits('forward', wf.y.parts[0]!, jf.out);
  sameBits('A', wf.cache.A, jf.cache.A);
  const wb = m.backward(wf.cache, g, R, B);
  const jb = jsBackward(m, jf.cache, gOut, R, B);
  for (let t = 0; t < 3; t++) sameBits(`backward part ${t}`, wb.parts[t]!, jb[t]!);

  const pairs = B * H * (P * (P + 1)) / 2;
  const gemm = 2 * B * P * H * dv * dout;
  const fFlops = pairs * (2 * dh + 2 * dv + 4) + gemm;
  const bFlops = pairs * (4 * dv + 4 * dh + 5) + gemm;
  const size = `B=${B}, P=${P}, H=${H}, dh=${dh}, dv=${dv}`;
  const slow = { minSamples: 1, maxTime: quick ? 0.1 : 1, warmup: false };
  const fast = { minSamples: quick ? 1 : 3, maxTime: quick ? 0.3 : 1.5 };
  const rows: BenchRow[] = [];
  for (const [dir, flops, js, wasm] of [
    ['forward', fFlops, () => jsForward(m, x, B), () => m.forward(x, B)],
    ['backward', bFlops, () => jsBackward(m, jf.cache, gOut, R, B), () => m.backward(wf.cache, g, R, B)],
  ] as const) {
    const group = `models/attn-${dir}`;
    const tj = time(`js ${dir}`, js, slow, quick);
    const tw = time(`wasm ${dir}`, wasm, fast, quick);
    const base: BenchRow = { group, name: 'scalar JS loops', size, seconds: tj.seconds, gflops: flops / tj.seconds / 1e9 };
    rows.push(base, {
      group, name: 'Wasm (AttnOut)', size, seconds: tw.seconds, gflops: flops / tw.seconds / 1e9,
      baseline: base.name, ratio: tj.seconds / tw.seconds, note: `bit-identical; median ${(tw.median * 1e3).toFixed(1)} ms${dir === 'backward' ? ', R = B' : ''}`,
    });
  }
  return rows;
}

export async function run(ctx: BenchContext): Promise<BenchRow[]> {
  await initKernels();
  const rows: BenchRow[] = [];
  for (const [B, P] of [[26, 200], [4, 511]] as const) {
    ctx.log(`attention B=${B} P=${P}`);
    rows.push(...(await caseRows(ctx.quick ? Math.min(B, 4) : B, P, !!ctx.quick)));
  }
  return rows;
}

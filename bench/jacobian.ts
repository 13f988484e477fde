/**
 * Model-runtime benchmarks (1 worker):
 *  - M = Σ_b (J_b C)(J_b C)ᵀ for an MLP section (hidden 512 → 513 folded, input 129, output basis
 *    r = 129, N = 10000 samples, f64): the closed form (accumulateMlpM) against the explicit
 *    per-sample J_b·C baseline and the generic VJP path, both measured on a subset and scaled
 *    linearly to N (said in the row note);
 *  - Jacobian throughput (samples/s) of the mod-add sections through `Section.vjp`: the attention
 *    section ln1.0 → ln2.0 with K = 110 cotangents per sample, the MLP section ln2.0 → unembed
 *    with K = 116, each including the M accumulation (SYRK) of the probes' gradients.
 * Uses the refdata mod-add seed-0 model when ../shared/refdata is present, else a random model of
 * the same shape (the cost is the same).
 */
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { initKernels, normals } from '../src/linalg/index.js';
import { accumulateJacobianM, accumulateMlpM, accumulateMlpMExplicit, buildModel, parseTransformerConfig, transformerTensorShapes, type Model } from '../src/models/index.js';
import { loadModel } from '../src/models/load.nodejs.js';
import { modularArithmetic } from '../src/data/index.js';
import { Rng } from '../src/rng.js';
import type { Tensor } from '../src/io/tensor.js';
import { time, type BenchContext, type BenchRow } from './harness.js';

const MODADD = { n_layers: 1, d_model: 128, d_head: 32, n_heads: 4, d_mlp: 512, d_vocab: 114, n_ctx: 3, act_fn: 'relu', normalization_type: null };

function findRefdata(): string | null {
  const here = dirname(fileURLToPath(import.meta.url));
  const cands = [process.env.INTERBASIS_REFDATA, resolve(here, '..', '..', 'shared', 'refdata'), resolve(here, '..', '..', '..', 'shared', 'refdata')];
  for (const c of cands) if (c && existsSync(resolve(c, 'modadd', 'seed0', 'model.safetensors'))) return c;
  return null;
}

async function modaddModel(): Promise<{ model: Model; source: string }> {
  const rd = findRefdata();
  if (rd) return { model: await loadModel({ path: resolve(rd, 'modadd', 'seed0', 'model.safetensors') }), source: 'refdata mod-add seed0' };
  const c = parseTransformerConfig(MODADD);
  const rng = new Rng(1);
  const t = new Map<string, Tensor>();
  for (const [n, s] of transformerTensorShapes(c)) {
    const d = normals(rng, new Float64Array(s.reduce((a, b) => a * b, 1)));
    for (let i = 0; i < d.length; i++) d[i]! *= 0.1;
    t.set(n, { dtype: 'F64', shape: s, data: d });
  }
  return { model: buildModel('transformer', MODADD, t), source: 'random mod-add-shaped model' };
}

export interface JacobianFigures {
  source: string;
  N: number;
  closedSeconds: number;
  explicitSeconds: number; // scaled to N
  explicitSubset: number;
  vjpMSeconds: number; // scaled to N
  vjpSubset: number;
  attnSamplesPerSec: number;
  mlpSamplesPerSec: number;
}

export async function benchJacobian(quick = false): Promise<{ figures: JacobianFigures; rows: BenchRow[] }> {
  await initKernels();
  const { model, source } = await modaddModel();
  const sm = model.sectioned(['ln1.0', 'ln2.0', 'unembed', 'output'], { lastPosModuleType: 'add_resid1' });
  const N = 10000;
  const data = modularArithmetic({ returnSet: 'all' });
  const toks = { kind: 'tokens' as const, data: data.inputs.data.subarray(0, N * 3) as Int32Array, batch: N, seqLen: 3 };
  const x0 = sm.pre(toks); // [N, 3, 129]
  const s0 = sm.sections[0]!;
  const s1 = sm.sections[1]!;
  const x1 = s0.forward(x0, N); // [N, 1, 129]
  const st = s1.structure;
  if (!st || st.type !== 'mlp') throw new Error('mod-add section_1 should have the mlp structure');
  const r = 129;
  const C = normals(new Rng(2), new Float64Array(129 * r));
  const rows: BenchRow[] = [];
  const size = `N=${N}, in 129, hidden ${st.hidden}, r ${r}`;

  const tc = time('closed', () => accumulateMlpM(st, x1, N, C), { minSamples: quick ? 1 : 3, maxTime: quick ? 0.5 : 3 }, quick);
  const closedRow: BenchRow = { group: 'models/mlp-M', name: 'closed form (GEMM/SYRK)', size, seconds: tc.seconds, note: 'accumulateMlpM, f64' };

  const nExp = quick ? 50 : 300;
  const te = time('explicit', () => accumulateMlpMExplicit(st, x1.subarray(0, nExp * 129), nExp, C), { minSamples: 1, maxTime: 0.1 }, quick);
  const explicitSeconds = (te.seconds * N) / nExp;
  const explicitRow: BenchRow = { group: 'models/mlp-M', name: 'explicit per-sample J·C', size, seconds: explicitSeconds, note: `measured on ${nExp} samples, scaled ×${N / nExp}` };

  const nV = quick ? 32 : 256;
  const tv = time('vjp', () => accumulateJacobianM(s1, x1.subarray(0, nV * 129), nV, C, r), { minSamples: 1, maxTime: 0.1 }, quick);
  const vjpMSeconds = (tv.seconds * N) / nV;
  const vjpRow: BenchRow = { group: 'models/mlp-M', name: 'generic VJP (K=129 probes)', size, seconds: vjpMSeconds, note: `measured on ${nV} samples, scaled ×${(N / nV).toFixed(1)}` };
  closedRow.baseline = explicitRow.name;
  closedRow.ratio = explicitSeconds / tc.seconds;
  vjpRow.baseline = explicitRow.name;
  vjpRow.ratio = explicitSeconds / vjpMSeconds;
  rows.push(closedRow, explicitRow, vjpRow);

  // Jacobian throughput through Section.vjp (forward once per batch of 64, K cotangents)
  const nA = quick ? 64 : 512;
  const C110 = C.subarray(0, 129 * 110);
  const ta = time('attn', () => accumulateJacobianM(s0, x0.subarray(0, nA * 3 * 129), nA, C110, 110), { minSamples: 1, maxTime: 0.1 }, quick);
  const attnSps = nA / ta.seconds;
  rows.push({ group: 'models/jacobian', name: 'section_0 attention ln1.0→ln2.0', size: `B=${nA}, K=110, in 3×129`, seconds: ta.seconds, note: `${attnSps.toFixed(0)} samples/s (1 worker), incl. M SYRK` });
  const C116 = C.subarray(0, 129 * 116);
  const tm = time('mlp', () => accumulateJacobianM(s1, x1.subarray(0, nA * 129), nA, C116, 116), { minSamples: 1, maxTime: 0.1 }, quick);
  const mlpSps = nA / tm.seconds;
  rows.push({ group: 'models/jacobian', name: 'section_1 MLP ln2.0→unembed (VJP)', size: `B=${nA}, K=116, in 129`, seconds: tm.seconds, note: `${mlpSps.toFixed(0)} samples/s (1 worker), incl. M SYRK` });
  for (const row of rows) row.note = `${row.note ?? ''}; ${source}`;
  return {
    figures: { source, N, closedSeconds: tc.seconds, explicitSeconds, explicitSubset: nExp, vjpMSeconds, vjpSubset: nV, attnSamplesPerSec: attnSps, mlpSamplesPerSec: mlpSps },
    rows,
  };
}

export async function run(ctx: BenchContext): Promise<BenchRow[]> {
  const { rows } = await benchJacobian(!!ctx.quick);
  return rows;
}

// `node dist/bench/jacobian.js` runs this benchmark alone.
if (import.meta.url === `file://${process.argv[1]}`) {
  const { figures } = await benchJacobian(process.argv.includes('--quick'));
  console.log(JSON.stringify(figures, null, 2));
}

/**
 * One node layer's interaction rotation (spec §5.2), split in two halves:
 * - `pcaStage`: Gram eigendecomposition, first truncation, centring, whitening (W, W⁺, R, R⁺);
 * - `finishRotation`: given M′ (and Λ′ for the IG formulas), rotate into the whitened basis,
 *   eigendecompose, second truncation, C = R V L and C⁺ = L⁺ Vᵀ R⁺.
 * Row-major Float64Array throughout; shapes in the names.
 */
import { gemm } from '../linalg/index.js';
import { transpose } from '../linalg/naive.js';
import type { LayerBasis, Mat } from '../io/results.js';
import type { BasisFormula } from './config.js';
import {
  buildSortedLambda,
  centeringMatrix,
  eigendecompose,
  keepAbove,
  maskedEigendecompose,
  moveConstDirFirst,
  selectColumns,
  symmetrizeLower,
} from './eig.js';

export interface PcaStage {
  nodeLayer: string;
  d: number;
  /** r′: kept Gram directions */
  rp: number;
  /** all Gram eigenvalues (abs, masked first, const first if centred), before truncation */
  Dall: Float64Array;
  /** kept eigenvalues, r′ */
  D: Float64Array;
  /** d×r′ */
  W: Float64Array;
  /** r′×d */
  Wpinv: Float64Array;
  /** d×r′ = W D^{-1/2} */
  R: Float64Array;
  /** r′×d = D^{1/2} W⁺ */
  Rpinv: Float64Array;
  /** number of masked leading directions in the M eigendecomposition */
  nMasked: number;
}

export interface PcaOptions {
  nodeLayer: string;
  center: boolean;
  /** isolate the LN-variance coordinate 0 (isolate_ln_var and prefix ln1_out/ln2_out) */
  lnOut: boolean;
  thr: number;
}

/** Is `nodeLayer` an LN-out layer whose variance coordinate is isolated (§2.4)? */
export function isLnOut(nodeLayer: string, isolateLnVar: boolean): boolean {
  const prefix = nodeLayer.split('.')[0];
  return isolateLnVar && (prefix === 'ln1_out' || prefix === 'ln2_out');
}

/** `pcaStage` as a worker task (task "rib.pca"). */
export interface PcaTaskPayload {
  G: Float64Array;
  d: number;
  mean: Float64Array | null;
  o: PcaOptions;
}

/** §5.2 steps 1–2. G is d×d (centred if `center`), mean has length d (only used if `center`). */
export function pcaStage(G: Float64Array, d: number, mean: Float64Array | null, o: PcaOptions): PcaStage {
  let e = o.lnOut ? maskedEigendecompose(G, d, 1) : eigendecompose(G, d);
  if (o.center) e = moveConstDirFirst(e, o.nodeLayer);
  const kept = keepAbove(e.values, o.thr);
  const rp = kept.length;
  const D = Float64Array.from(kept, (k) => e.values[k]!);
  const U = selectColumns(e.vectors, d, d, kept);
  let W: Float64Array;
  let Wpinv: Float64Array;
  if (o.center) {
    if (!mean) throw new Error(`pcaStage(${o.nodeLayer}): center needs the mean`);
    const Y = centeringMatrix(mean, false, o.nodeLayer);
    const Yinv = centeringMatrix(mean, true, o.nodeLayer);
    W = gemm(false, false, d, rp, d, Y, U, new Float64Array(d * rp));
    Wpinv = gemm(true, false, rp, d, d, U, Yinv, new Float64Array(rp * d));
  } else {
    W = U;
    Wpinv = transpose(U, d, rp);
  }
  const { R, Rpinv } = whiten(W, Wpinv, D, d, rp);
  const nMasked = (o.center ? 1 : 0) + (o.lnOut ? 1 : 0);
  return { nodeLayer: o.nodeLayer, d, rp, Dall: e.values, D, W, Wpinv, R, Rpinv, nMasked };
}

/**
 * The same as pcaStage, but with a given PCA basis W = Y·U (d×r′), e.g. the reference's own, so
 * a stage check is not affected by which near-threshold Gram directions were kept:
 * U = Y⁻¹W, D_k = u_kᵀ G u_k.
 */
export function pcaFromW(G: Float64Array, d: number, mean: Float64Array | null, Wgiven: Float64Array, rp: number, o: PcaOptions): PcaStage {
  const Yinv = o.center ? centeringMatrix(mean!, true, o.nodeLayer) : null;
  const U = Yinv ? gemm(false, false, d, rp, d, Yinv, Wgiven, new Float64Array(d * rp)) : Wgiven.slice();
  const GU = gemm(false, false, d, rp, d, G, U, new Float64Array(d * rp));
  const D = new Float64Array(rp);
  for (let k = 0; k < rp; k++) {
    let s = 0;
    for (let i = 0; i < d; i++) s += U[i * rp + k]! * GU[i * rp + k]!;
    D[k] = Math.abs(s) > 0 ? Math.abs(s) : Number.MIN_VALUE; // noise-level directions can come out ≤ 0
  }
  const W = Wgiven.slice();
  const Wpinv = Yinv ? gemm(true, false, rp, d, d, U, Yinv, new Float64Array(rp * d)) : transpose(U, d, rp);
  const { R, Rpinv } = whiten(W, Wpinv, D, d, rp);
  const nMasked = (o.center ? 1 : 0) + (o.lnOut ? 1 : 0);
  return { nodeLayer: o.nodeLayer, d, rp, Dall: D, D, W, Wpinv, R, Rpinv, nMasked };
}

/** R = W·D^-1/2 (d×r′) and R⁺ = D^1/2·W⁺ (r′×d) (spec §5.2 step 2). */
function whiten(W: Float64Array, Wpinv: Float64Array, D: Float64Array, d: number, rp: number): { R: Float64Array; Rpinv: Float64Array } {
  const R = new Float64Array(d * rp);
  const Rpinv = new Float64Array(rp * d);
  for (let k = 0; k < rp; k++) {
    const s = Math.sqrt(D[k]!);
    const inv = 1 / s;
    for (let i = 0; i < d; i++) R[i * rp + k] = W[i * rp + k]! * inv;
    for (let j = 0; j < d; j++) Rpinv[k * d + j] = s * Wpinv[k * d + j]!;
  }
  return { R, Rpinv };
}

export function mat(rows: number, cols: number, data: Float64Array): Mat {
  if (data.length !== rows * cols) throw new Error(`mat: ${rows}×${cols} needs ${rows * cols} entries, got ${data.length}`);
  return { rows, cols, data };
}

/** Identity basis (neuron, §5.2 step 0). */
export function neuronBasis(nodeLayer: string, d: number): LayerBasis {
  const I = new Float64Array(d * d);
  for (let i = 0; i < d; i++) I[i * d + i] = 1;
  return {
    nodeLayer,
    origDim: d,
    C: mat(d, d, I),
    Cpinv: mat(d, d, I.slice()),
    W: mat(d, d, I.slice()),
    Wpinv: mat(d, d, I.slice()),
    V: null,
    Lambda: null,
  };
}

/** svd/PCA basis (§5.2 step 3): C = W, C⁺ = W⁺. */
export function svdBasis(p: PcaStage): LayerBasis {
  return {
    nodeLayer: p.nodeLayer,
    origDim: p.d,
    C: mat(p.d, p.rp, p.W.slice()),
    Cpinv: mat(p.rp, p.d, p.Wpinv.slice()),
    W: mat(p.d, p.rp, p.W),
    Wpinv: mat(p.rp, p.d, p.Wpinv),
    V: null,
    Lambda: null,
  };
}

export interface FinishResult {
  basis: LayerBasis;
  /** the M eigenvalues / Λ, in V-column order (length r′) */
  lambda: Float64Array;
  /** kept Λ indices, in C-column order */
  kept: number[];
}

/**
 * §5.2 steps 5–7. `Mp` is M′ (d×d, already normalised). `Lp` is Λ′ (d×d) for the IG formulas.
 */
export function finishRotation(p: PcaStage, formula: BasisFormula, Mp: Float64Array, Lp: Float64Array | null, thr: number): FinishResult {
  const { d, rp, R, Rpinv } = p;
  // M = R⁺ M′ R⁺ᵀ  (r′×r′)
  const T = gemm(false, false, rp, d, d, Rpinv, Mp, new Float64Array(rp * d));
  const M = gemm(false, true, rp, rp, d, T, Rpinv, new Float64Array(rp * rp));
  const ev = maskedEigendecompose(symmetrizeLower(M, rp), rp, p.nMasked);
  const V = ev.vectors;
  let lambda: Float64Array;
  if (formula === 'jacobian') {
    lambda = ev.values;
  } else {
    if (!Lp) throw new Error(`finishRotation(${p.nodeLayer}): ${formula} needs Λ′`);
    // |diag(Vᵀ R⁺ Λ′ R V)|
    const A = gemm(false, false, rp, d, d, Rpinv, Lp, new Float64Array(rp * d)); // R⁺Λ′  r′×d
    const B = gemm(false, false, rp, rp, d, A, R, new Float64Array(rp * rp)); // R⁺Λ′R r′×r′
    const BV = gemm(false, false, rp, rp, rp, B, V, new Float64Array(rp * rp));
    lambda = new Float64Array(rp);
    for (let k = 0; k < rp; k++) {
      let s = 0;
      for (let i = 0; i < rp; i++) s += V[i * rp + k]! * BV[i * rp + k]!;
      lambda[k] = Math.abs(s);
    }
  }
  const { kept } = buildSortedLambda(lambda, thr, p.nMasked);
  const r = kept.length;
  const RV = gemm(false, false, d, rp, rp, R, V, new Float64Array(d * rp)); // d×r′
  const VtRp = gemm(true, false, rp, d, rp, V, Rpinv, new Float64Array(rp * d)); // r′×d
  const C = new Float64Array(d * r);
  const Cp = new Float64Array(r * d);
  for (let c = 0; c < r; c++) {
    const k = kept[c]!;
    const s = Math.sqrt(lambda[k]!);
    const inv = 1 / s;
    for (let i = 0; i < d; i++) C[i * r + c] = RV[i * rp + k]! * s;
    for (let j = 0; j < d; j++) Cp[c * d + j] = inv * VtRp[k * d + j]!;
  }
  return {
    basis: {
      nodeLayer: p.nodeLayer,
      origDim: d,
      C: mat(d, r, C),
      Cpinv: mat(r, d, Cp),
      W: mat(d, rp, p.W),
      Wpinv: mat(rp, d, p.Wpinv),
      V: mat(rp, rp, V),
      Lambda: lambda,
    },
    lambda,
    kept,
  };
}

/**
 * Eigenvalues within `factor`× of thr: thr/factor ≤ v ≤ thr·factor (for near-threshold warnings).
 * `kept` follows the truncation rule: Gram D keeps v > thr (strict), Λ keeps v ≥ thr.
 */
export function nearThreshold(
  values: ArrayLike<number>,
  thr: number,
  rule: 'gram' | 'lambda',
  factor = 100,
): Array<{ index: number; value: number; kept: boolean }> {
  const out: Array<{ index: number; value: number; kept: boolean }> = [];
  if (!(thr > 0)) return out;
  for (let k = 0; k < values.length; k++) {
    const v = values[k]!;
    if (v >= thr / factor && v <= thr * factor) out.push({ index: k, value: v, kept: rule === 'gram' ? v > thr : v >= thr });
  }
  return out;
}

/**
 * Exact section Jacobians built from the batched VJPs, and the closed-form M accumulation for
 * linear and linear-elementwise-linear sections.
 */
import { UserError } from '../errors.js';
import { binaryGram, gemm, syrk } from '../linalg/index.js';
import { actDeriv } from './activations.js';
import type { Section, SectionStructure } from './types.js';

function checkRule(alphas: readonly number[], weights: readonly number[]): void {
  if (alphas.length === 0 || alphas.length !== weights.length) {
    throw new UserError(`integration rule: need equally many alphas and weights (≥ 1), got ${alphas.length} and ${weights.length}`);
  }
}

/** x·a (new array; x itself when a = 1). */
export function scaled(x: Float64Array, a: number): Float64Array {
  if (a === 1) return x;
  const y = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) y[i] = a * x[i]!;
  return y;
}

/**
 * Σ_k w_k J(α_k x) per sample: [B, outPos·outDim, inPos·inDim], with J[b, (t,i), (s,j)] =
 * ∂y_{b,t,i}/∂z_{b,s,j} at z = α_k x. Built from one VJP per output coordinate (identity cotangents).
 */
export function sectionJacobian(section: Section, x: Float64Array, B: number, alphas: readonly number[] = [1], weights: readonly number[] = [1]): Float64Array {
  checkRule(alphas, weights);
  const nOut = section.outPos * section.outDim;
  const nIn = section.inPos * section.inDim;
  const cot = new Float64Array(nOut * B * nOut);
  for (let k = 0; k < nOut; k++) for (let b = 0; b < B; b++) cot[(k * B + b) * nOut + k] = 1;
  const J = new Float64Array(B * nOut * nIn);
  alphas.forEach((a, q) => {
    const g = section.vjp(scaled(x, a), B, cot, nOut); // [K = nOut, B, nIn]
    const wq = weights[q]!;
    for (let k = 0; k < nOut; k++)
      for (let b = 0; b < B; b++) {
        const src = (k * B + b) * nIn;
        const dst = (b * nOut + k) * nIn;
        for (let j = 0; j < nIn; j++) J[dst + j]! += wq * g[src + j]!;
      }
  });
  return J;
}

/**
 * Generic M via VJPs (any section): probes φ = e_t ⊗ Cout[:, i] for every output position t and
 * basis column i (K = outPos·r cotangents per sample, one forward per batch), g = Σ_k w_k VJP(α_k x),
 * and M [inDim, inDim] += Σ_{probe, b, s} g gᵀ (same input position s in both factors, spec §5.4a).
 * Cout [outDim, r] (null → identity). Unnormalised; x [N, inPos, inDim]; processed in chunks.
 */
export function accumulateJacobianM(
  section: Section,
  x: Float64Array,
  N: number,
  Cout: Float64Array | null,
  r: number,
  alphas: readonly number[] = [1],
  weights: readonly number[] = [1],
  M: Float64Array = new Float64Array(section.inDim * section.inDim),
  chunk = 64,
): Float64Array {
  checkRule(alphas, weights);
  const { inPos, inDim, outPos, outDim } = section;
  if (Cout && Cout.length !== outDim * r) throw new UserError(`Cout has ${Cout.length} values, expected [${outDim}, ${r}]`);
  if (!Cout && r !== outDim) throw new UserError(`without Cout, r must equal the output width ${outDim}`);
  const K = outPos * r;
  for (let b0 = 0; b0 < N; b0 += chunk) {
    const B = Math.min(chunk, N - b0);
    const xb = x.subarray(b0 * inPos * inDim, (b0 + B) * inPos * inDim);
    const cot = new Float64Array(K * B * outPos * outDim);
    for (let t = 0; t < outPos; t++)
      for (let i = 0; i < r; i++) {
        const k = t * r + i;
        for (let b = 0; b < B; b++) {
          const o = ((k * B + b) * outPos + t) * outDim;
          if (Cout) for (let j = 0; j < outDim; j++) cot[o + j] = Cout[j * r + i]!;
          else cot[o + i] = 1;
        }
      }
    let g: Float64Array | null = null;
    alphas.forEach((a, q) => {
      const gq = section.vjp(scaled(xb, a), B, cot, K);
      const wq = weights[q]!;
      if (!g) {
        g = gq;
        if (wq !== 1) for (let i = 0; i < g.length; i++) g[i]! *= wq;
      } else for (let i = 0; i < gq.length; i++) g[i]! += wq * gq[i]!;
    });
    syrk(g!, K * B * inPos, inDim, M, 1);
  }
  return M;
}

/**
 * Closed-form M = Σ_b A_b A_bᵀ [inDim, inDim] for a structured section, with output basis
 * Cout [outDim, r] and integration rule (α_k, w_k), sw = Σ_k w_k:
 *  - linear (y = x W): A_b = sw·W·Cout for every b, so M = N·sw²·(W Cout)(W Cout)ᵀ;
 *  - mlp (y = skip(x) + act(x Win) Wout): A_b = [sw·S] + Win·diag(m_b)·K with K = Wout·Cout,
 *    S = Cout (residual), skip·Cout (a skip map) or none, and m_b = Σ_k w_k act'(α_k·x_b Win), so
 *    M = N·sw²·S Sᵀ + sw·(Win diag(Σ_b m_b) K Sᵀ + transpose) + Win [(K Kᵀ) ⊙ (Σ_b m_b m_bᵀ)] Winᵀ.
 * x [N, inDim] (rows = samples × positions); chunked over rows; all products are GEMM/SYRK.
 */
export function accumulateMlpM(
  structure: Extract<SectionStructure, { type: 'linear' | 'mlp' }>,
  x: Float64Array,
  N: number,
  Cout: Float64Array,
  alphas: readonly number[] = [1],
  weights: readonly number[] = [1],
  chunk = 2048,
): Float64Array {
  checkRule(alphas, weights);
  const sw = weights.reduce((a, b) => a + b, 0);
  if (structure.type === 'linear') {
    const W = structure.W;
    const inDim = x.length / Math.max(N, 1);
    if (!Number.isInteger(inDim) || W.length % inDim !== 0) throw new UserError(`accumulateMlpM: x has ${x.length} values, not a multiple of N=${N} rows matching W`);
    const outDim = W.length / inDim;
    const r = Cout.length / outDim;
    if (!Number.isInteger(r)) throw new UserError(`accumulateMlpM: Cout has ${Cout.length} values, not [${outDim}, r]`);
    const WC = new Float64Array(inDim * r);
    gemm(false, false, inDim, r, outDim, W, Cout, WC, 1, 0);
    const M = new Float64Array(inDim * inDim);
    gemm(false, true, inDim, inDim, r, WC, WC, M, N * sw * sw, 0);
    return M;
  }
  const { Win, Wout, hidden: H, act, residual, skip } = structure;
  const inDim = Win.length / H;
  const outDim = Wout.length / H;
  const r = Cout.length / outDim;
  if (!Number.isInteger(inDim) || !Number.isInteger(outDim) || !Number.isInteger(r)) {
    throw new UserError(`accumulateMlpM: inconsistent shapes (Win ${Win.length}, Wout ${Wout.length}, hidden ${H}, Cout ${Cout.length})`);
  }
  // S: the skip path in the output basis [inDim, r]
  const S = residual ? Cout : skip ? gemm(false, false, inDim, r, outDim, skip, Cout, new Float64Array(inDim * r), 1, 0) : null;
  if (x.length !== N * inDim) throw new UserError(`accumulateMlpM: x has ${x.length} values, expected [${N}, ${inDim}]`);
  if (residual && inDim !== outDim) throw new UserError(`accumulateMlpM: residual section needs inDim = outDim, got ${inDim} and ${outDim}`);
  // Σ_b m_b and G = Σ_b m_b m_bᵀ, in row chunks
  const msum = new Float64Array(H);
  const G = new Float64Array(H * H);
  const pre = new Float64Array(Math.min(chunk, N) * H);
  const m = new Float64Array(Math.min(chunk, N) * H);
  const tmp = new Float64Array(Math.min(chunk, N) * H);
  for (let r0 = 0; r0 < N; r0 += chunk) {
    const R = Math.min(chunk, N - r0);
    const n = R * H;
    const preR = pre.subarray(0, n);
    gemm(false, false, R, H, inDim, x.subarray(r0 * inDim, (r0 + R) * inDim), Win, preR, 1, 0);
    const mR = m.subarray(0, n);
    const relu01 = alphas.length === 1 && act === 'relu' && alphas[0]! > 0;
    if (relu01) {
      const w0 = weights[0]!;
      for (let i = 0; i < n; i++) mR[i] = preR[i]! > 0 ? w0 : 0;
    } else {
      mR.fill(0);
      const t = tmp.subarray(0, n);
      alphas.forEach((a, q) => {
        for (let i = 0; i < n; i++) t[i] = a * preR[i]!;
        actDeriv(act, t, t);
        const wq = weights[q]!;
        for (let i = 0; i < n; i++) mR[i]! += wq * t[i]!;
      });
    }
    for (let b = 0; b < R; b++) for (let h = 0; h < H; h++) msum[h]! += mR[b * H + h]!;
    // 0/1 patterns (ReLU, one point of weight 1): G gets exact integer counts either way
    if (relu01 && weights[0] === 1) binaryGram(mR, R, H, G);
    else syrk(mR, R, H, G, 1);
  }
  // K = Wout·Cout [H, r]; T = (K Kᵀ) ⊙ G
  const K = new Float64Array(H * r);
  gemm(false, false, H, r, outDim, Wout, Cout, K, 1, 0);
  const T = new Float64Array(H * H);
  gemm(false, true, H, H, r, K, K, T, 1, 0);
  for (let i = 0; i < T.length; i++) T[i]! *= G[i]!;
  // M = Win T Winᵀ
  const WT = new Float64Array(inDim * H);
  gemm(false, false, inDim, H, H, Win, T, WT, 1, 0);
  const M = new Float64Array(inDim * inDim);
  gemm(false, true, inDim, inDim, H, WT, Win, M, 1, 0);
  if (S) {
    // X = Win diag(msum) K Sᵀ ; M += sw (X + Xᵀ) + N sw² S Sᵀ
    const DK = new Float64Array(H * r);
    for (let h = 0; h < H; h++) for (let j = 0; j < r; j++) DK[h * r + j] = msum[h]! * K[h * r + j]!;
    const WDK = new Float64Array(inDim * r);
    gemm(false, false, inDim, r, H, Win, DK, WDK, 1, 0);
    const X = new Float64Array(inDim * inDim);
    gemm(false, true, inDim, inDim, r, WDK, S, X, 1, 0);
    for (let i = 0; i < inDim; i++)
      for (let j = 0; j < inDim; j++) M[i * inDim + j]! += sw * (X[i * inDim + j]! + X[j * inDim + i]!);
    gemm(false, true, inDim, inDim, r, S, S, M, N * sw * sw, 1);
  }
  // exact symmetry
  for (let i = 0; i < inDim; i++)
    for (let j = i + 1; j < inDim; j++) {
      const v = 0.5 * (M[i * inDim + j]! + M[j * inDim + i]!);
      M[i * inDim + j] = v;
      M[j * inDim + i] = v;
    }
  return M;
}

/**
 * The explicit per-sample baseline for the MLP closed form (bench / tests): A_b = [sw·Cout] +
 * Win·diag(m_b)·K built as a dense [inDim, r] matrix per sample, M += A_b A_bᵀ.
 */
export function accumulateMlpMExplicit(
  structure: Extract<SectionStructure, { type: 'mlp' }>,
  x: Float64Array,
  N: number,
  Cout: Float64Array,
  alphas: readonly number[] = [1],
  weights: readonly number[] = [1],
): Float64Array {
  const { Win, Wout, hidden: H, act, residual, skip } = structure;
  const inDim = Win.length / H;
  const outDim = Wout.length / H;
  const r = Cout.length / outDim;
  const sw = weights.reduce((a, b) => a + b, 0);
  const S = residual ? Cout : skip ? gemm(false, false, inDim, r, outDim, skip, Cout, new Float64Array(inDim * r), 1, 0) : null;
  const K = new Float64Array(H * r);
  gemm(false, false, H, r, outDim, Wout, Cout, K, 1, 0);
  const M = new Float64Array(inDim * inDim);
  const pre = new Float64Array(H);
  const mb = new Float64Array(H);
  const t = new Float64Array(H);
  const DK = new Float64Array(H * r);
  const A = new Float64Array(inDim * r);
  const At = new Float64Array(r * inDim);
  for (let b = 0; b < N; b++) {
    gemm(false, false, 1, H, inDim, x.subarray(b * inDim, (b + 1) * inDim), Win, pre, 1, 0);
    mb.fill(0);
    alphas.forEach((a, q) => {
      for (let h = 0; h < H; h++) t[h] = a * pre[h]!;
      actDeriv(act, t, t);
      for (let h = 0; h < H; h++) mb[h]! += weights[q]! * t[h]!;
    });
    for (let h = 0; h < H; h++) for (let j = 0; j < r; j++) DK[h * r + j] = mb[h]! * K[h * r + j]!;
    if (S) for (let i = 0; i < A.length; i++) A[i] = sw * S[i]!;
    gemm(false, false, inDim, r, H, Win, DK, A, 1, S ? 1 : 0);
    for (let i = 0; i < inDim; i++) for (let j = 0; j < r; j++) At[j * inDim + i] = A[i * r + j]!;
    syrk(At, r, inDim, M, 1);
  }
  return M;
}

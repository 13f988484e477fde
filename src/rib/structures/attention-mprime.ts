/**
 * Jacobian M′ of a no-LayerNorm attention section in low dimension (spec App. B structure).
 *
 * For a probe group (sample b, output position t) the input cotangents are X̄[s] = U·N_s with
 * U = C_outᵀ [r × d] and, summed over the integration points q (weights w_q),
 *   N_s = G_s + Σ_α (Wo_{h_α}ᵀ u_α)(W_{a_α} y_α)ᵀ,   G_s = δ_s I + Σ_h α_{h,s} F_h,   F_h = Wo_hᵀ Wv_hᵀ,
 * δ_s = [s = t]·Σ_q w_q, α_{h,s} = Σ_q w_q A_h[t,s], and rank-1 "atoms" α (dv-vector u, dh-vector y,
 * block a = 2h (y = q_h[t], W = Wk_h) or 2h+1 (y = k_h[j], W = Wq_h, only at s = t)) with
 * u = w_q·ṽ_{h,j}, ṽ_{h,j} = scale·A_h[t,j]·(v_h[j] − Σ_{j'≤t} A_h[t,j'] v_h[j']).
 * With Γ = UᵀU, M′ = Σ N_sᵀ Γ N_s splits into
 *   Σ_{m,m'} S_{mm'} F_mᵀ Γ F_{m'}                       (S = Σ c cᵀ, c = (δ_s, α_{·,s}), F_0 = I)
 * + X + Xᵀ,  X = Σ_a W_a Σ_m B_{a,m} Θ_{h(a),m}          (B_{a,m} = Σ c_m y uᵀ, Θ_{h,m} = Wo_h Γ F_m)
 * + Σ_{a,a'} W_a T_{aa'} W_{a'}ᵀ                          (T_{aa'} = Σ_s Σ_{α∈a, β∈a'} (u_αᵀ Ω_{h_α h_β} u_β) y_α y_βᵀ)
 * with Ω = Wo Γ Woᵀ. Shards accumulate only S, B and T (small, sums over samples); the d×d matrix
 * is assembled once from their ordered sum (`attnMprimeAssemble`). This replaces the SYRK over all
 * r×d cotangent blocks (N·P·r rows) by GEMMs over ~N·(P + H·P) short vectors.
 */
import { attentionMprimeAcc, gemm } from '../../linalg/index.js';
import { attnForward, headBlock, outputPositions, type AttnForward, type AttnStruct } from './attention-core.js';

/** Sizes of the packed accumulators [S | B | T]. */
export function attnAccLayout(st: AttnStruct): { M1: number; nS: number; nB: number; nT: number; total: number } {
  const { H, dh, dv } = st;
  const M1 = H + 1;
  const nS = M1 * M1;
  const nB = 2 * H * dh * M1 * dv;
  const nT = (2 * H * dh) ** 2;
  return { M1, nS, nB, nT, total: nS + nB + nT };
}

/** Ω = Wo Γ Woᵀ [H·dv × H·dv] for cotangent rows U [r × d] (Γ = UᵀU): (U Woᵀ)ᵀ(U Woᵀ). */
function omegaFor(st: AttnStruct, U: Float64Array, r: number): Float64Array {
  const { H, dv, dOut, Wo } = st;
  const Xi = gemm(false, true, r, H * dv, dOut, U, Wo, new Float64Array(r * H * dv));
  return gemm(true, false, H * dv, H * dv, r, Xi, Xi, new Float64Array(H * dv * H * dv));
}

/**
 * Unnormalised packed accumulators [S | B | T] over samples x [B, P, d] (see the file comment).
 * U: cotangent rows [r × d].
 */
export function attnMprimeAcc(
  st: AttnStruct, x: Float64Array, B: number, P: number, U: Float64Array, r: number, alphas: number[], weights: number[],
  cached: AttnForward | null = null,
): Float64Array {
  const { H, dh, dv, scale } = st;
  const Om = omegaFor(st, U, r);
  // `cached`: the forward at x (alpha 1) from the shared cache (see AttnForwardAll)
  const fw = alphas.map((a) => (cached && a === 1 ? cached : attnForward(st, a === 1 ? x : x.map((v) => a * v), B, P)));
  // the atoms and their products, in Wasm (assembly/attnmprime.ts)
  return attentionMprimeAcc({ B, P, H, dh, dv, scale }, outputPositions(st, P), weights, fw, Om, new Float64Array(attnAccLayout(st).total));
}

/** M′ [d × d] (unnormalised) from the ordered sum of the packed accumulators. */
export function attnMprimeAssemble(st: AttnStruct, acc: Float64Array, U: Float64Array, r: number): Float64Array {
  const { H, dh, dv, dIn: d, dOut: e, Wo, Wv, Wq, Wk } = st;
  const lay = attnAccLayout(st);
  const { M1 } = lay;
  const S = acc.subarray(0, lay.nS);
  const Bacc = acc.subarray(lay.nS, lay.nS + lay.nB);
  const Tacc = acc.subarray(lay.nS + lay.nB);
  const dd = d * d;
  const de = d * e;
  const Gam = gemm(true, false, e, e, r, U, U, new Float64Array(e * e));
  // F_0 = Rᵀ (I for an identity residual), F_h = Wo_hᵀ Wv_hᵀ [e × d]
  const Wvh = (h: number) => headBlock(Wv, d, H * dv, h * dv, dv); // d × dv
  const Woh = (h: number) => Wo.subarray(h * dv * e, (h + 1) * dv * e); // dv × e
  const F: Float64Array[] = [new Float64Array(de)];
  if (st.residual) for (let i = 0; i < d; i++) for (let j = 0; j < e; j++) F[0]![j * d + i] = st.residual[i * e + j]!;
  else for (let i = 0; i < d; i++) F[0]![i * d + i] = 1;
  for (let h = 0; h < H; h++) F.push(gemm(true, true, e, d, dv, Woh(h), Wvh(h), new Float64Array(de)));
  const GF = F.map((Fm) => gemm(false, false, e, d, e, Gam, Fm, new Float64Array(de)));
  const M = new Float64Array(dd);
  // Σ_m F_mᵀ (Σ_m' S_mm' Γ F_m')
  const Ym = new Float64Array(de);
  for (let m = 0; m < M1; m++) {
    Ym.fill(0);
    for (let m2 = 0; m2 < M1; m2++) {
      const sv = S[m * M1 + m2]!;
      if (sv === 0) continue;
      const G2 = GF[m2]!;
      for (let i = 0; i < de; i++) Ym[i]! += sv * G2[i]!;
    }
    gemm(true, false, d, d, e, F[m]!, Ym, M, 1, 1);
  }
  // X = Σ_a W_a Σ_m B_{a,m} Θ_{h,m}, Θ_{h,m} = Wo_h Γ F_m = Wo_h (Γ F_m)
  const MV = M1 * dv;
  const X = new Float64Array(dd);
  const Wa = (a: number) => headBlock(a % 2 === 0 ? Wk : Wq, d, H * dh, (a >> 1) * dh, dh); // d × dh
  for (let h = 0; h < H; h++) {
    // Θ_h stacked [M1·dv × d]
    const Th = new Float64Array(MV * d);
    for (let m = 0; m < M1; m++) gemm(false, false, dv, d, e, Woh(h), GF[m]!, Th.subarray(m * dv * d, (m + 1) * dv * d));
    for (const a of [2 * h, 2 * h + 1]) {
      const BT = gemm(false, false, dh, d, MV, Bacc.subarray(a * dh * MV, (a + 1) * dh * MV), Th, new Float64Array(dh * d));
      gemm(false, false, d, d, dh, Wa(a), BT, X, 1, 1);
    }
  }
  for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) M[i * d + j]! += X[i * d + j]! + X[j * d + i]!;
  // Σ W_a T_{aa'} W_a'ᵀ = W8 T W8ᵀ with W8 = [W_0 … W_{2H-1}] [d × 2H·dh]
  const W2 = 2 * H * dh;
  const W8 = new Float64Array(d * W2);
  for (let a = 0; a < 2 * H; a++) {
    const w = Wa(a);
    for (let i = 0; i < d; i++) W8.set(w.subarray(i * dh, (i + 1) * dh), i * W2 + a * dh);
  }
  const TW = gemm(false, true, W2, d, W2, Tacc, W8, new Float64Array(W2 * d));
  gemm(false, false, d, d, W2, W8, TW, M, 1, 1);
  // exact symmetry
  for (let i = 0; i < d; i++) for (let j = 0; j < i; j++) {
    const v = 0.5 * (M[i * d + j]! + M[j * d + i]!);
    M[i * d + j] = v;
    M[j * d + i] = v;
  }
  return M;
}

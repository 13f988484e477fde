// Causal multi-head attention forward and backward in Wasm (the loops of AttnOut, see
// assembly/attention.ts): bit-identical to the scalar f64 reference (same operations, same order,
// the same Wasm exp). One sample (and a block of its heads) at a time, so the Wasm memory held is
// bounded by ATTN_BLOCK_BYTES whatever the batch. Inputs are not screened for NaN/Inf: they
// propagate exactly as in the scalar loops.
import { alloc, arenaFree, f64view, i32view, withArena } from './wasm.js';
import { checkArray, checkDim, copyIn } from './operands.js';

/** Wasm memory (bytes) one call aims to hold for patterns and cotangent rows. */
export const ATTN_BLOCK_BYTES = 64 * 2 ** 20;

/** Shape of a multi-head attention: H heads, queries/keys of dh, values of dv per head. */
export interface AttnShape {
  /** samples */
  B: number;
  /** positions */
  P: number;
  H: number;
  dh: number;
  dv: number;
  /** score scale (1/√dh or 1) */
  scale: number;
}

function checkShape(fn: string, s: AttnShape): void {
  checkDim(fn, 'B', s.B, 0);
  for (const n of ['P', 'H', 'dh', 'dv'] as const) checkDim(fn, n, s[n]);
  if (typeof s.scale !== 'number') throw new TypeError(`${fn}: scale must be a number`);
}

function checkQkv(fn: string, s: AttnShape, q: Float64Array, k: Float64Array, v: Float64Array): void {
  const { B, P, H, dh, dv } = s;
  checkArray(fn, 'q', q, B * P * H * dh, `[B=${B} × P=${P} × H=${H}·dh=${dh}]`, false);
  checkArray(fn, 'k', k, B * P * H * dh, `[B=${B} × P=${P} × H=${H}·dh=${dh}]`, false);
  checkArray(fn, 'v', v, B * P * H * dv, `[B=${B} × P=${P} × H=${H}·dv=${dv}]`, false);
}

/** Heads per call so that `perHead` bytes each fit next to `fixed` bytes (at least 1). */
function headsPerCall(H: number, perHead: number, fixed: number): number {
  const room = Math.min(ATTN_BLOCK_BYTES, arenaFree() - fixed);
  return Math.max(1, Math.min(H, Math.floor(room / perHead)));
}

/**
 * Causal attention forward: for every sample b, head h and query i, with keys
 * max(0, i + 1 − window) ≤ j ≤ i, score_j = scale·Σ_c q_ic·k_jc, the pattern A[b, h, i, ·] =
 * softmax(score) (0 outside the keys) and Z[b, i, h·dv : +dv] = Σ_j A_ij·v_j.
 * q, k [B, P, H·dh], v [B, P, H·dv] (head-major columns) → A [B, H, P, P], Z [B, P, H·dv].
 * `window` is Infinity (global attention) or a positive integer (local attention). With
 * `keepPattern` false, A is not returned (an empty array): a forward whose caller needs only Z
 * skips copying B·H·P² values out of Wasm memory. Only queries i ≥ `firstQuery` are computed (a
 * caller that keeps the last position only passes P − 1): the other rows of A and Z are 0, and the
 * rows computed are the same bits as in a full forward.
 */
export function attentionForward(
  q: Float64Array, k: Float64Array, v: Float64Array, shape: AttnShape, window = Infinity, keepPattern = true, firstQuery = 0,
): { A: Float64Array; Z: Float64Array } {
  const fn = 'attentionForward';
  checkShape(fn, shape);
  checkQkv(fn, shape, q, k, v);
  if (window !== Infinity && !(Number.isInteger(window) && window >= 1)) {
    throw new RangeError(`${fn}: window must be Infinity or an integer ≥ 1, got ${window}`);
  }
  if (!(Number.isInteger(firstQuery) && firstQuery >= 0 && firstQuery < shape.P)) throw new RangeError(`${fn}: firstQuery must be an integer in [0, P), got ${firstQuery}`);
  const { B, P, H, dh, dv, scale } = shape;
  const nq = P * H * dh;
  const nv = P * H * dv;
  const PP = P * P;
  const A = new Float64Array(keepPattern ? B * H * PP : 0);
  const Z = new Float64Array(B * nv);
  return withArena((K) => {
    // as many whole samples per call as fit the block (at P = 3 a call per sample cost more than its
    // loops); a sample too large for it: one sample and a block of its heads per call
    const perSample = (2 * nq + 2 * nv + H * PP) * 8;
    const nbs = Math.min(B, Math.floor(Math.min(ATTN_BLOCK_BYTES, arenaFree() - dh * P * 8 - 4096) / perSample));
    if (nbs >= 1) {
      const pQ = alloc(nbs * nq, 8, fn);
      const pK = alloc(nbs * nq, 8, fn);
      const pV = alloc(nbs * nv, 8, fn);
      const pZ = alloc(nbs * nv, 8, fn);
      const pA = alloc(nbs * H * PP, 8, fn);
      const pT = alloc(dh * P, 8, fn);
      const win = Math.min(window, P);
      for (let b0 = 0; b0 < B; b0 += nbs) {
        const nb = Math.min(nbs, B - b0);
        f64view(pQ, nb * nq).set(q.subarray(b0 * nq, (b0 + nb) * nq));
        f64view(pK, nb * nq).set(k.subarray(b0 * nq, (b0 + nb) * nq));
        f64view(pV, nb * nv).set(v.subarray(b0 * nv, (b0 + nb) * nv));
        K.attnForwardSamples(nb, P, H, dh, dv, win, scale, pQ, pK, pV, pA, pZ, pT, firstQuery);
        if (keepPattern) A.set(f64view(pA, nb * H * PP), b0 * H * PP);
        Z.set(f64view(pZ, nb * nv), b0 * nv);
      }
      return { A, Z };
    }
    const pQ = alloc(nq, 8, fn);
    const pK = alloc(nq, 8, fn);
    const pV = alloc(nv, 8, fn);
    const pZ = alloc(nv, 8, fn);
    const pT = alloc(dh * P, 8, fn);
    const nh = headsPerCall(H, PP * 8, 0);
    const pA = alloc(nh * PP, 8, fn);
    const win = Math.min(window, P);
    for (let b = 0; b < B; b++) {
      f64view(pQ, nq).set(q.subarray(b * nq, (b + 1) * nq));
      f64view(pK, nq).set(k.subarray(b * nq, (b + 1) * nq));
      f64view(pV, nv).set(v.subarray(b * nv, (b + 1) * nv));
      f64view(pZ, nv).fill(0);
      for (let h0 = 0; h0 < H; h0 += nh) {
        const h1 = Math.min(H, h0 + nh);
        K.attnForward(P, H, dh, dv, h0, h1, win, scale, pQ, pK, pV, pA, pZ, pT, firstQuery);
        if (keepPattern) A.set(f64view(pA, (h1 - h0) * PP), (b * H + h0) * PP);
      }
      Z.set(f64view(pZ, nv), b * nv);
    }
    return { A, Z };
  });
}

/**
 * Backward of `attentionForward` for R cotangent rows (row r belongs to sample r mod B): given
 * Z̄ [R, P, H·dv] and the forward's A, per head Ā = Z̄·vᵀ (rows with Z̄_i = 0 skipped), v̄ = Aᵀ·Z̄,
 * S̄ = scale·A ⊙ (Ā − rowsum(Ā ⊙ A)), q̄ = S̄·k, k̄ = S̄ᵀ·q → q̄, k̄ [R, P, H·dh], v̄ [R, P, H·dv].
 */
export function attentionBackward(
  q: Float64Array, k: Float64Array, v: Float64Array, A: Float64Array, gZ: Float64Array, R: number, shape: AttnShape,
): { gq: Float64Array; gk: Float64Array; gv: Float64Array } {
  const fn = 'attentionBackward';
  checkShape(fn, shape);
  checkQkv(fn, shape, q, k, v);
  checkDim(fn, 'R', R, 0);
  const { B, P, H, dh, dv, scale } = shape;
  const PP = P * P;
  checkArray(fn, 'A', A, B * H * PP, `[B=${B} × H=${H} × P=${P} × P]`, false);
  const nq = P * H * dh;
  const nv = P * H * dv;
  checkArray(fn, 'gZ', gZ, R * nv, `[R=${R} × P=${P} × H=${H}·dv=${dv}]`, false);
  const gq = new Float64Array(R * nq);
  const gk = new Float64Array(R * nq);
  const gv = new Float64Array(R * nv);
  if (R === 0) return { gq, gk, gv };
  return withArena((K) => {
    const pQ = alloc(nq, 8, fn);
    const pK = alloc(nq, 8, fn);
    const pV = alloc(nv, 8, fn);
    const pW = alloc(2 * dv * P + 2 * P, 8, fn);
    const rowBytes = (2 * nq + 2 * nv) * 8;
    const nh = headsPerCall(H, PP * 8, rowBytes);
    const pA = alloc(nh * PP, 8, fn);
    const maxRows = Math.ceil(R / B);
    const nr = Math.max(1, Math.min(maxRows, Math.floor(Math.min(ATTN_BLOCK_BYTES, arenaFree()) / rowBytes)));
    const pGZ = alloc(nr * nv, 8, fn);
    const pGQ = alloc(nr * nq, 8, fn);
    const pGK = alloc(nr * nq, 8, fn);
    const pGV = alloc(nr * nv, 8, fn);
    // the rows r ≡ b (mod B) of one call, gathered into the arena and scattered back
    const move = (src: Float64Array, p: number, n: number, b: number, m0: number, m1: number, toWasm: boolean) => {
      const w = f64view(p, (m1 - m0) * n);
      for (let m = m0; m < m1; m++) {
        const o = (b + m * B) * n;
        if (toWasm) w.set(src.subarray(o, o + n), (m - m0) * n);
        else src.set(w.subarray((m - m0) * n, (m - m0 + 1) * n), o);
      }
    };
    for (let b = 0; b < B && b < R; b++) {
      f64view(pQ, nq).set(q.subarray(b * nq, (b + 1) * nq));
      f64view(pK, nq).set(k.subarray(b * nq, (b + 1) * nq));
      f64view(pV, nv).set(v.subarray(b * nv, (b + 1) * nv));
      const rows = Math.ceil((R - b) / B);
      for (let h0 = 0; h0 < H; h0 += nh) {
        const h1 = Math.min(H, h0 + nh);
        f64view(pA, (h1 - h0) * PP).set(A.subarray((b * H + h0) * PP, (b * H + h1) * PP));
        for (let m0 = 0; m0 < rows; m0 += nr) {
          const m1 = Math.min(rows, m0 + nr);
          move(gZ, pGZ, nv, b, m0, m1, true);
          move(gq, pGQ, nq, b, m0, m1, true);
          move(gk, pGK, nq, b, m0, m1, true);
          move(gv, pGV, nv, b, m0, m1, true);
          K.attnBackward(P, H, dh, dv, h0, h1, m1 - m0, scale, pQ, pK, pV, pA, pGZ, pGQ, pGK, pGV, pW);
          move(gq, pGQ, nq, b, m0, m1, false);
          move(gk, pGK, nq, b, m0, m1, false);
          move(gv, pGV, nv, b, m0, m1, false);
        }
      }
    }
    return { gq, gk, gv };
  });
}

/** Integers into the arena; returns their pointer. */
function placeI32(fn: string, values: readonly number[]): number {
  const p = alloc(values.length, 4, fn);
  i32view(p, values.length).set(values);
  return p;
}

/** Every array into the arena (`copyIn`), then the table of their pointers; returns the table's pointer. */
function pointerTable(fn: string, name: string, arrs: readonly Float64Array[]): number {
  return placeI32(fn, arrs.map((a, i) => copyIn(fn, `${name}[${i}]`, a, a.length)));
}

/** One integration point's attention forward cache: q, k [B, P, H·dh], v [B, P, H·dv], A [B, H, P, P]. */
export interface AttnPoint {
  q: Float64Array;
  k: Float64Array;
  v: Float64Array;
  A: Float64Array;
}

/**
 * The per-shard accumulation of the deterministic attention M′ (src/rib/structures/attention-mprime.ts
 * gives the algebra; assembly/attnmprime.ts the loops): over B samples, the output positions T
 * and the integration points (weights[q], forward cache fw[q]), with Ω [H·dv × H·dv], adds the
 * packed accumulators [S | B | T] into `acc` (length (H+1)² + 2H·dh·(H+1)·dv + (2H·dh)²) and
 * returns it. The atoms live in Wasm memory only.
 */
export function attentionMprimeAcc(shape: AttnShape, T: readonly number[], weights: readonly number[], fw: readonly AttnPoint[], Om: Float64Array, acc: Float64Array): Float64Array {
  const fn = 'attentionMprimeAcc';
  checkShape(fn, shape);
  const { B, P, H, dh, dv, scale } = shape;
  const nQ = fw.length;
  if (nQ < 1 || weights.length !== nQ) throw new RangeError(`${fn}: ${nQ} forward caches and ${weights.length} weights (need one weight per cache, at least one)`);
  for (const t of T) if (!(Number.isInteger(t) && t >= 0 && t < P)) throw new RangeError(`${fn}: output position ${t} is outside [0, ${P})`);
  for (const f of fw) {
    checkQkv(fn, shape, f.q, f.k, f.v);
    checkArray(fn, 'A', f.A, B * H * P * P, `[B=${B} × H=${H} × P=${P} × P]`, false);
  }
  const HV = H * dv;
  checkArray(fn, 'Om', Om, HV * HV, `[${HV} × ${HV}]`, false);
  const M1 = H + 1;
  const total = M1 * M1 + 2 * H * dh * M1 * dv + (2 * H * dh) ** 2;
  checkArray(fn, 'acc', acc, total, `[${total}]`, false);
  if (B === 0 || T.length === 0) return acc;
  return withArena((K) => {
    const pT = placeI32(fn, T);
    const pW = copyIn(fn, 'weights', Float64Array.from(weights), 1);
    const pFw = pointerTable(fn, 'fw', fw.flatMap((f) => [f.q, f.k, f.v, f.A]));
    const pOm = copyIn(fn, 'Om', Om, HV);
    const pAcc = copyIn(fn, 'acc', acc, total);
    const work = alloc(K.attnMprimeWork(B, P, H, dh, dv, nQ, T.length, pT), 1, `${fn}: atoms of ${B} samples`);
    K.attnMprimeAcc(B, P, H, dh, dv, scale, nQ, T.length, pT, pW, pFw, pOm, pAcc, work);
    acc.set(f64view(pAcc, total));
    return acc;
  });
}

/**
 * The per-shard squared edges of the attention structure (src/rib/structures/attention.ts gives the
 * algebra; assembly/attnedges.ts the loops): Et [r_in × K] += Σ over samples b and output positions
 * T of Aᵀ ⊙ Aᵀ, Aᵀ = Σ_m diag(CR_m) T_m + Lᵀ R, with CR, L and R formed in Wasm from f̂ [B, P, r_in],
 * per point q (weight w_q) the pattern A_q [B, H, P, P] and per head the score-path rows
 * Ā_{q,h} [B·P × K] and the basis rows qk_{q,h} C⁺ᵀ [B·nT × r_in], kq_{q,h} C⁺ᵀ [B·P × r_in];
 * Tm [(H+1) × r_in × K]. Returns Et.
 */
export function attentionEdgesAcc(
  shape: AttnShape, T: readonly number[], weights: readonly number[], rin: number, K: number, fhat: Float64Array,
  A: readonly Float64Array[], Abar: readonly Float64Array[][], QK: readonly Float64Array[][], KQ: readonly Float64Array[][],
  Tm: Float64Array, Et: Float64Array,
): Float64Array {
  const fn = 'attentionEdgesAcc';
  checkShape(fn, shape);
  const { B, P, H, scale } = shape;
  checkDim(fn, 'rin', rin);
  checkDim(fn, 'K', K);
  const nQ = weights.length;
  const nT = T.length;
  if (nQ < 1 || A.length !== nQ || Abar.length !== nQ || QK.length !== nQ || KQ.length !== nQ) throw new RangeError(`${fn}: need the pattern, Ā, qk and kq of each of the ${nQ} integration points`);
  for (const t of T) if (!(Number.isInteger(t) && t >= 0 && t < P)) throw new RangeError(`${fn}: output position ${t} is outside [0, ${P})`);
  checkArray(fn, 'fhat', fhat, B * P * rin, `[B=${B} × P=${P} × r_in=${rin}]`, false);
  for (let q = 0; q < nQ; q++) {
    checkArray(fn, 'A', A[q]!, B * H * P * P, `[B=${B} × H=${H} × P=${P} × P]`, false);
    for (const [name, list, rows, w] of [['Abar', Abar, B * P, K], ['QK', QK, B * nT, rin], ['KQ', KQ, B * P, rin]] as const) {
      if (list[q]!.length !== H) throw new RangeError(`${fn}: ${name} of point ${q} has ${list[q]!.length} heads, expected ${H}`);
      for (const a of list[q]!) checkArray(fn, name, a, rows * w, `[${rows} × ${w}]`, false);
    }
  }
  checkArray(fn, 'Tm', Tm, (H + 1) * rin * K, `[${H + 1} × ${rin} × ${K}]`, false);
  checkArray(fn, 'Et', Et, rin * K, `[${rin} × ${K}]`, false);
  if (B === 0 || nT === 0) return Et;
  return withArena((Kx) => {
    const pT = placeI32(fn, T);
    const pW = copyIn(fn, 'weights', Float64Array.from(weights), 1);
    const pF = copyIn(fn, 'fhat', fhat, rin);
    const pA = pointerTable(fn, 'A', A);
    const pAbar = pointerTable(fn, 'Abar', Abar.flat());
    const pQK = pointerTable(fn, 'QK', QK.flat());
    const pKQ = pointerTable(fn, 'KQ', KQ.flat());
    const pTm = copyIn(fn, 'Tm', Tm, K);
    const pE = copyIn(fn, 'Et', Et, K);
    const work = alloc(Kx.attnEdgesWork(H, nQ, nT, pT, rin, K), 1, fn);
    Kx.attnEdgesAcc(B, P, H, nQ, nT, pT, rin, K, scale, pW, pF, pA, pAbar, pQK, pKQ, pTm, pE, work);
    Et.set(f64view(pE, rin * K));
    return Et;
  });
}

// Causal multi-head attention forward and backward in Wasm (the loops of AttnOut, see
// assembly/attention.ts): bit-identical to the scalar f64 reference (same operations, same order,
// the same Wasm exp). One sample (and a block of its heads) at a time, so the Wasm memory held is
// bounded by ATTN_BLOCK_BYTES whatever the batch. Inputs are not screened for NaN/Inf: they
// propagate exactly as in the scalar loops.
import { alloc, arenaFree, f64view, withArena } from './wasm.js';
import { checkArray, checkDim } from './operands.js';

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
 * skips copying B·H·P² values out of Wasm memory.
 */
export function attentionForward(
  q: Float64Array, k: Float64Array, v: Float64Array, shape: AttnShape, window = Infinity, keepPattern = true,
): { A: Float64Array; Z: Float64Array } {
  const fn = 'attentionForward';
  checkShape(fn, shape);
  checkQkv(fn, shape, q, k, v);
  if (window !== Infinity && !(Number.isInteger(window) && window >= 1)) {
    throw new RangeError(`${fn}: window must be Infinity or an integer ≥ 1, got ${window}`);
  }
  const { B, P, H, dh, dv, scale } = shape;
  const nq = P * H * dh;
  const nv = P * H * dv;
  const PP = P * P;
  const A = new Float64Array(keepPattern ? B * H * PP : 0);
  const Z = new Float64Array(B * nv);
  return withArena((K) => {
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
        K.attnForward(P, H, dh, dv, h0, h1, win, scale, pQ, pK, pV, pA, pZ, pT);
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

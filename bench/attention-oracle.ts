/**
 * The scalar JavaScript loops that AttnOut.forward / backward ran before the Wasm kernels
 * (src/linalg/attention.ts): the oracle of test/models-attention-wasm.test.ts (bit for bit) and
 * the baseline of bench/attention.ts. One copy, here.
 */
import type { AttnShape } from '../src/linalg/index.js';
import { attendRow, attnScore, softmaxVjp } from '../src/models/modules.js';

export function scalarAttentionForward(q: Float64Array, k: Float64Array, v: Float64Array, s: AttnShape, window: number) {
  const { B, P, H, dh, dv, scale } = s;
  const dqk = H * dh;
  const dvv = H * dv;
  const A = new Float64Array(B * H * P * P);
  const Z = new Float64Array(B * P * dvv);
  const row = new Float64Array(P);
  const vs = new Array<Float64Array>(P).fill(v);
  const vo = new Int32Array(P);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      const ab = (b * H + h) * P * P;
      for (let j = 0; j < P; j++) vo[j] = (b * P + j) * dvv + h * dv;
      for (let i = 0; i < P; i++) {
        const qo = (b * P + i) * dqk + h * dh;
        const j0 = Math.max(0, i + 1 - window);
        for (let j = j0; j <= i; j++) row[j] = attnScore(q, qo, k, (b * P + j) * dqk + h * dh, dh, scale);
        const rw = j0 === 0 ? row : row.subarray(j0);
        attendRow(rw, i + 1 - j0, vs, j0 === 0 ? vo : vo.subarray(j0), dv, Z, (b * P + i) * dvv + h * dv);
        A.set(rw.subarray(0, i + 1 - j0), ab + i * P + j0);
      }
    }
  }
  return { A, Z };
}

export function scalarAttentionBackward(q: Float64Array, k: Float64Array, v: Float64Array, A: Float64Array, gZ: Float64Array, R: number, s: AttnShape) {
  const { B, P, H, dh, dv, scale } = s;
  const dqk = H * dh;
  const dvv = H * dv;
  const gq = new Float64Array(R * P * dqk);
  const gk = new Float64Array(R * P * dqk);
  const gv = new Float64Array(R * P * dvv);
  const gA = new Float64Array(P * P);
  const gS = new Float64Array(P);
  const rs1 = new Float64Array(1);
  for (let r = 0; r < R; r++) {
    const b = r % B;
    for (let h = 0; h < H; h++) {
      const ab = (b * H + h) * P * P;
      for (let i = 0; i < P; i++) {
        const zo = (r * P + i) * dvv + h * dv;
        let nz = false;
        for (let c = 0; c < dv; c++) if (gZ[zo + c] !== 0) { nz = true; break; }
        if (!nz) {
          for (let j = 0; j <= i; j++) gA[i * P + j] = 0;
          continue;
        }
        for (let j = 0; j <= i; j++) {
          const vo = (b * P + j) * dvv + h * dv;
          const gvo = (r * P + j) * dvv + h * dv;
          const a = A[ab + i * P + j]!;
          let t = 0;
          for (let c = 0; c < dv; c++) {
            t += gZ[zo + c]! * v[vo + c]!;
            gv[gvo + c]! += a * gZ[zo + c]!;
          }
          gA[i * P + j] = t;
        }
      }
      for (let i = 0; i < P; i++) {
        softmaxVjp(A, ab + i * P, i + 1, scale, gA, i * P, 1, 1, gS, 0, 1, rs1);
        const qo = (b * P + i) * dqk + h * dh;
        const gqo = (r * P + i) * dqk + h * dh;
        for (let j = 0; j <= i; j++) {
          const gs = gS[j]!;
          if (gs === 0) continue;
          const ko = (b * P + j) * dqk + h * dh;
          const gko = (r * P + j) * dqk + h * dh;
          for (let c = 0; c < dh; c++) {
            gq[gqo + c]! += gs * k[ko + c]!;
            gk[gko + c]! += gs * q[qo + c]!;
          }
        }
      }
    }
  }
  return { gq, gk, gv };
}

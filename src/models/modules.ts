/**
 * Every module of the folded models, forward and hand-written backward (VJP) side by side
 * (llm.c style). A module maps a tuple to a tuple (spec §1.3.2); widths are after bias folding.
 *
 * forward(x, B): x parts [B, P, w_i] → { y, cache }.
 * backward(cache, g, R, B): g = cotangent of y with parts [R, P_out, w_out_i], R = K·B (row r is
 *   sample r mod B of the cached forward) → cotangent of x, parts [R, P_in, w_in_i].
 * Inputs and cotangents are never mutated; outputs may alias inputs (pass-through parts).
 */
import { attentionBackward, attentionForward, exp } from '../linalg/index.js';
import { actDeriv, actForward } from './activations.js';
import {
  addArrays,
  expandLastPos,
  matMul,
  matMulFrom,
  matMulT,
  takeLastPos,
  type Tup,
} from './tuple.js';
import type { ActivationName } from './types.js';

export type ModuleKind =
  | 'identity'
  | 'split'
  | 'add'
  | 'ln_var'
  | 'ln_out'
  | 'linear'
  | 'act'
  | 'attn_in'
  | 'attn_out'
  | 'mlp_layer'
  // language-model variants (rotary.ts, parallel.ts)
  | 'attn_in_rotary'
  | 'add_keep'
  | 'ln_var_parallel'
  | 'ln_out_parallel';

export interface Module {
  readonly id: string;
  readonly kind: ModuleKind;
  /** Output (P, widths) for input (P, widths); throws on a mismatch. */
  shape(P: number, w: readonly number[]): { P: number; w: number[] };
  /** `keep` false: the caller uses only y (a module may then return no cache). */
  forward(x: Tup, B: number, keep?: boolean): { y: Tup; cache: unknown };
  backward(cache: unknown, g: Tup, R: number, B: number): Tup;
}

function expectParts(id: string, w: readonly number[], n: number): void {
  if (w.length !== n) throw new Error(`module ${id}: expected ${n} input tensor(s), got ${w.length}`);
}

// ---- identity: x → x (ln*/ln_final without LayerNorm) ----------------------------------------
export class Identity implements Module {
  readonly kind = 'identity' as const;
  constructor(readonly id: string) {}
  shape(P: number, w: readonly number[]) {
    return { P, w: [...w] };
  }
  forward(x: Tup) {
    return { y: x, cache: null };
  }
  backward(_c: unknown, g: Tup) {
    return g;
  }
}

// ---- split: resid → (resid, resid) (ln*_out without LayerNorm, "IdentitySplit") --------------
export class Split implements Module {
  readonly kind = 'split' as const;
  constructor(readonly id: string) {}
  shape(P: number, w: readonly number[]) {
    expectParts(this.id, w, 1);
    return { P, w: [w[0]!, w[0]!] };
  }
  forward(x: Tup) {
    return { y: { P: x.P, w: [x.w[0]!, x.w[0]!], parts: [x.parts[0]!, x.parts[0]!] }, cache: null };
  }
  backward(_c: unknown, g: Tup) {
    return { P: g.P, w: [g.w[0]!], parts: [addArrays(g.parts[0]!, g.parts[1]!)] };
  }
}

/** Mean of X[o, o + n) (summed in index order). */
function meanOf(X: Float64Array, o: number, n: number): number {
  let m = 0;
  for (let k = 0; k < n; k++) m += X[o + k]!;
  return m / n;
}

/**
 * Softmax of row[0, n) in place: max-shifted, Wasm exp, summed in index order, then divided by the
 * sum (part of `attendRow`).
 */
export function softmaxInPlace(row: Float64Array, n: number): void {
  let mx = -Infinity;
  for (let j = 0; j < n; j++) if (row[j]! > mx) mx = row[j]!;
  let tot = 0;
  for (let j = 0; j < n; j++) {
    const e = exp(row[j]! - mx);
    row[j] = e;
    tot += e;
  }
  for (let j = 0; j < n; j++) row[j] = row[j]! / tot;
}

/**
 * The attention score of one (query, key) pair of one head: scale·Σ_c q[qo + c]·k[ko + c].
 * AttnOut.forward and the attention structure's distinct-row evaluation both call it.
 */
export function attnScore(q: Float64Array, qo: number, k: Float64Array, ko: number, dh: number, scale: number): number {
  let s = 0;
  for (let c = 0; c < dh; c++) s += q[qo + c]! * k[ko + c]!;
  return s * scale;
}

/**
 * One query row of causal attention, given its scores row[0, n): the pattern a = softmax(row)
 * (left in `row`), then Z[zo, zo + dv) += Σ_j a_j·vs[j][vo[j], vo[j] + dv). The one attention
 * forward: AttnOut.forward and the attention structure's distinct-row evaluation both call it.
 */
export function attendRow(row: Float64Array, n: number, vs: readonly Float64Array[], vo: Int32Array, dv: number, Z: Float64Array, zo: number): void {
  softmaxInPlace(row, n);
  for (let j = 0; j < n; j++) {
    const a = row[j]!;
    const v = vs[j]!;
    const o = vo[j]!;
    for (let c = 0; c < dv; c++) Z[zo + c]! += a * v[o + c]!;
  }
}

/**
 * The softmax VJP of one pattern row for K-vectors: with ḡ_j = G[go + j·gs, … + K) (j < n) and the
 * pattern a, out[oo + j·os + k] = (scale·a_j)·(ḡ_j[k] − Σ_j' a_j'·ḡ_j'[k]) (rs: K scratch).
 * The one attention backward through the pattern: AttnOut.backward (K = 1: ḡ = Ā), the attention
 * structure's edge cotangents (ḡ = Z̄·v) and its M′ atoms (ḡ = v) all call it.
 */
export function softmaxVjp(
  a: Float64Array, ao: number, n: number, scale: number,
  G: Float64Array, go: number, gs: number, K: number,
  out: Float64Array, oo: number, os: number, rs: Float64Array,
): void {
  rs.fill(0, 0, K);
  for (let j = 0; j < n; j++) {
    const aj = a[ao + j]!;
    const o = go + j * gs;
    for (let k = 0; k < K; k++) rs[k]! += G[o + k]! * aj;
  }
  for (let j = 0; j < n; j++) {
    const c = scale * a[ao + j]!;
    const o = go + j * gs;
    const d = oo + j * os;
    for (let k = 0; k < K; k++) out[d + k] = c * (G[o + k]! - rs[k]!);
  }
}

// ---- add: (y, residual) → residual + y, optionally last position only -----------------------
export class Add implements Module {
  readonly kind = 'add' as const;
  constructor(
    readonly id: string,
    readonly lastPos: boolean,
  ) {}
  shape(P: number, w: readonly number[]) {
    expectParts(this.id, w, 2);
    if (w[0] !== w[1]) throw new Error(`module ${this.id}: cannot add widths ${w[0]} and ${w[1]}`);
    return { P: this.lastPos ? 1 : P, w: [w[0]!] };
  }
  forward(x: Tup, B: number) {
    let s = addArrays(x.parts[0]!, x.parts[1]!);
    if (this.lastPos) s = takeLastPos(s, B, x.P, x.w[0]!);
    return { y: { P: this.lastPos ? 1 : x.P, w: [x.w[0]!], parts: [s] }, cache: x.P };
  }
  backward(cache: unknown, g: Tup, R: number) {
    const P = cache as number;
    const gx = this.lastPos ? expandLastPos(g.parts[0]!, R, P, g.w[0]!) : g.parts[0]!;
    return { P, w: [g.w[0]!, g.w[0]!], parts: [gx, gx] };
  }
}

// ---- LN variance (LNPre, folded): resid [d+1] → (var [1], resid) ----------------------------
//   var = (1/d) Σ_{k<d} (x_k − m)²,  m = mean(x_{<d})
//   backward: x̄_k = r̄_k + v̄ · 2(x_k − m)/d (k < d);  x̄_d = r̄_d
export class LnVar implements Module {
  readonly kind = 'ln_var' as const;
  constructor(readonly id: string) {}
  shape(P: number, w: readonly number[]) {
    expectParts(this.id, w, 1);
    return { P, w: [1, w[0]!] };
  }
  forward(x: Tup, B: number) {
    const w1 = x.w[0]!;
    const d = w1 - 1;
    const rows = B * x.P;
    const X = x.parts[0]!;
    const v = new Float64Array(rows);
    for (let r = 0; r < rows; r++) {
      const o = r * w1;
      const m = meanOf(X, o, d);
      let s = 0;
      for (let k = 0; k < d; k++) {
        const c = X[o + k]! - m;
        s += c * c;
      }
      v[r] = s / d;
    }
    return { y: { P: x.P, w: [1, w1], parts: [v, X] }, cache: X };
  }
  backward(cache: unknown, g: Tup, R: number, B: number) {
    const X = cache as Float64Array;
    const P = g.P;
    const w1 = g.w[1]!;
    const d = w1 - 1;
    const gv = g.parts[0]!;
    const gr = g.parts[1]!;
    const gx = new Float64Array(gr);
    for (let r = 0; r < R * P; r++) {
      const vb = gv[r]!;
      if (vb === 0) continue;
      const o = r * w1;
      const xo = ((r / P | 0) % B * P + (r % P)) * w1;
      const m = meanOf(X, xo, d);
      const f = (2 * vb) / d;
      for (let k = 0; k < d; k++) gx[o + k]! += f * (X[xo + k]! - m);
    }
    return { P, w: [w1], parts: [gx] };
  }
}

// ---- LN out (LNPre, folded): (var, resid) → (normed [d+1], resid) or normed only -------------
//   normed_k = (x_k − m)/σ, σ = sqrt(var + eps), k < d;  normed_d = x_d (the constant)
//   backward: x̄_k += (ȳ_k − mean(ȳ_{<d}))/σ;  x̄_d += ȳ_d;  v̄ = −½ Σ_{k<d} ȳ_k (x_k − m)/σ³
//   A negative var (only possible for edited activations, e.g. ablations) is read as relu(var)
//   (spec §2.4); then v̄ = 0.
export class LnOut implements Module {
  readonly kind = 'ln_out' as const;
  constructor(
    readonly id: string,
    readonly eps: number,
    readonly returnResid: boolean,
  ) {}
  shape(P: number, w: readonly number[]) {
    expectParts(this.id, w, 2);
    if (w[0] !== 1) throw new Error(`module ${this.id}: variance input must have width 1, got ${w[0]}`);
    return { P, w: this.returnResid ? [w[1]!, w[1]!] : [w[1]!] };
  }
  forward(x: Tup, B: number) {
    const w1 = x.w[1]!;
    const d = w1 - 1;
    const rows = B * x.P;
    const V = x.parts[0]!;
    const X = x.parts[1]!;
    const Y = new Float64Array(rows * w1);
    for (let r = 0; r < rows; r++) {
      const o = r * w1;
      const m = meanOf(X, o, d);
      const inv = 1 / Math.sqrt(Math.max(V[r]!, 0) + this.eps);
      for (let k = 0; k < d; k++) Y[o + k] = (X[o + k]! - m) * inv;
      Y[o + d] = X[o + d]!;
    }
    const parts = this.returnResid ? [Y, X] : [Y];
    return { y: { P: x.P, w: this.returnResid ? [w1, w1] : [w1], parts }, cache: x };
  }
  backward(cache: unknown, g: Tup, R: number, B: number) {
    const x = cache as Tup;
    const P = x.P;
    const w1 = x.w[1]!;
    const d = w1 - 1;
    const V = x.parts[0]!;
    const X = x.parts[1]!;
    const gy = g.parts[0]!;
    const gx = this.returnResid ? new Float64Array(g.parts[1]!) : new Float64Array(R * P * w1);
    const gv = new Float64Array(R * P);
    for (let r = 0; r < R * P; r++) {
      const o = r * w1;
      const xr = (((r / P) | 0) % B) * P + (r % P);
      const xo = xr * w1;
      const m = meanOf(X, xo, d);
      const vr = V[xr]!;
      const sig = Math.sqrt(Math.max(vr, 0) + this.eps);
      const inv = 1 / sig;
      let gm = 0;
      let dot = 0;
      for (let k = 0; k < d; k++) {
        gm += gy[o + k]!;
        dot += gy[o + k]! * (X[xo + k]! - m);
      }
      gm /= d;
      for (let k = 0; k < d; k++) gx[o + k]! += (gy[o + k]! - gm) * inv;
      gx[o + d]! += gy[o + d]!;
      gv[r] = vr < 0 ? 0 : (-0.5 * dot * inv) / (sig * sig);
    }
    return { P, w: [1, w1], parts: [gv, gx] };
  }
}

// ---- linear on part 0: (x, ...rest) → (x·W, ...rest); optionally last position only ----------
//   W [din, dout].  backward: x̄ = ȳ·Wᵀ
export class Linear implements Module {
  readonly kind = 'linear' as const;
  constructor(
    readonly id: string,
    readonly W: Float64Array,
    readonly din: number,
    readonly dout: number,
    readonly lastPos = false,
  ) {}
  shape(P: number, w: readonly number[]) {
    if (w[0] !== this.din) throw new Error(`module ${this.id}: input width ${w[0]}, weight expects ${this.din}`);
    if (this.lastPos && w.length !== 1) throw new Error(`module ${this.id}: last-position selection needs one input`);
    return { P: this.lastPos ? 1 : P, w: [this.dout, ...w.slice(1)] };
  }
  forward(x: Tup, B: number) {
    let X = x.parts[0]!;
    let P = x.P;
    if (this.lastPos) {
      X = takeLastPos(X, B, P, this.din);
      P = 1;
    }
    const Y = matMul(X, B * P, this.din, this.W, this.dout);
    return { y: { P, w: [this.dout, ...x.w.slice(1)], parts: [Y, ...x.parts.slice(1)] }, cache: x.P };
  }
  backward(cache: unknown, g: Tup, R: number) {
    const Pin = cache as number;
    let gx = matMulT(g.parts[0]!, R * g.P, this.dout, this.W, this.din);
    if (this.lastPos) gx = expandLastPos(gx, R, Pin, this.din);
    return { P: Pin, w: [this.din, ...g.w.slice(1)], parts: [gx, ...g.parts.slice(1)] };
  }
}

// ---- activation on part 0: (pre, ...rest) → (act(pre), ...rest) ------------------------------
//   backward: p̄re = ȳ ⊙ act'(pre)
export class Act implements Module {
  readonly kind = 'act' as const;
  constructor(
    readonly id: string,
    readonly act: ActivationName,
  ) {}
  shape(P: number, w: readonly number[]) {
    return { P, w: [...w] };
  }
  forward(x: Tup, _B?: number, keep = true) {
    const pre = x.parts[0]!;
    const y = actForward(this.act, pre);
    return { y: { P: x.P, w: [...x.w], parts: [y, ...x.parts.slice(1)] }, cache: keep ? actDeriv(this.act, pre) : null };
  }
  backward(cache: unknown, g: Tup, R: number, B: number) {
    const dact = cache as Float64Array; // [B, P, w0]
    const g0 = g.parts[0]!;
    const n = dact.length;
    const out = new Float64Array(R * g.P * g.w[0]!);
    for (let k = 0; k < R / B; k++) {
      const o = k * n;
      for (let i = 0; i < n; i++) out[o + i] = g0[o + i]! * dact[i]!;
    }
    return { P: g.P, w: [...g.w], parts: [out, ...g.parts.slice(1)] };
  }
}

// ---- MLP layer (rib MLP, folded): x → act(x·W) (no activation on the last layer) -------------
//   backward: x̄ = (ȳ ⊙ act'(x·W))·Wᵀ
export class MlpLayer implements Module {
  readonly kind = 'mlp_layer' as const;
  constructor(
    readonly id: string,
    readonly W: Float64Array,
    readonly din: number,
    readonly dout: number,
    readonly act: ActivationName | null,
  ) {}
  shape(P: number, w: readonly number[]) {
    expectParts(this.id, w, 1);
    if (w[0] !== this.din) throw new Error(`module ${this.id}: input width ${w[0]}, weight expects ${this.din}`);
    return { P, w: [this.dout] };
  }
  forward(x: Tup, B: number) {
    const pre = matMul(x.parts[0]!, B * x.P, this.din, this.W, this.dout);
    if (!this.act) return { y: { P: x.P, w: [this.dout], parts: [pre] }, cache: null };
    const y = actForward(this.act, pre);
    return { y: { P: x.P, w: [this.dout], parts: [y] }, cache: actDeriv(this.act, pre) };
  }
  backward(cache: unknown, g: Tup, R: number, B: number) {
    let gp = g.parts[0]!;
    if (cache) {
      const dact = cache as Float64Array;
      const n = dact.length;
      const out = new Float64Array(gp.length);
      for (let k = 0; k < R / B; k++) {
        const o = k * n;
        for (let i = 0; i < n; i++) out[o + i] = gp[o + i]! * dact[i]!;
      }
      gp = out;
    }
    return { P: g.P, w: [this.din], parts: [matMulT(gp, R * g.P, this.dout, this.W, this.din)] };
  }
}

// ---- attn_in (folded): (x, resid) → (q [H·dh], k [H·dh], v [H·(dh+1)], resid) ----------------
//   q = x·Wq, k = x·Wk, v = x·Wv with Wq, Wk [d+1, H·dh], Wv [d+1, H·(dh+1)] (head-major columns)
//   backward: x̄ = q̄·Wqᵀ + k̄·Wkᵀ + v̄·Wvᵀ; r̄esid passes through
export class AttnIn implements Module {
  readonly kind = 'attn_in' as const;
  constructor(
    readonly id: string,
    readonly Wq: Float64Array,
    readonly Wk: Float64Array,
    readonly Wv: Float64Array,
    readonly din: number,
    readonly dqk: number,
    readonly dv: number,
  ) {}
  shape(P: number, w: readonly number[]) {
    expectParts(this.id, w, 2);
    if (w[0] !== this.din) throw new Error(`module ${this.id}: input width ${w[0]}, weights expect ${this.din}`);
    return { P, w: [this.dqk, this.dqk, this.dv, w[1]!] };
  }
  /** `firstQuery`: q only at positions ≥ firstQuery (0 elsewhere), for an attention that is asked for those queries only. */
  forward(x: Tup, B: number, _keep = true, firstQuery = 0) {
    const rows = B * x.P;
    const X = x.parts[0]!;
    const q = matMulFrom(X, B, x.P, firstQuery, this.din, this.Wq, this.dqk);
    const k = matMul(X, rows, this.din, this.Wk, this.dqk);
    const v = matMul(X, rows, this.din, this.Wv, this.dv);
    return { y: { P: x.P, w: [this.dqk, this.dqk, this.dv, x.w[1]!], parts: [q, k, v, x.parts[1]!] }, cache: null };
  }
  backward(_c: unknown, g: Tup, R: number) {
    const rows = R * g.P;
    const gx = matMulT(g.parts[0]!, rows, this.dqk, this.Wq, this.din);
    matMulT(g.parts[1]!, rows, this.dqk, this.Wk, this.din, gx);
    matMulT(g.parts[2]!, rows, this.dv, this.Wv, this.din, gx);
    return { P: g.P, w: [this.din, g.w[3]!], parts: [gx, g.parts[3]!] };
  }
}

/** What AttnOut.forward keeps (and the attention structure reads): q, k, v and the pattern. */
export interface AttnCache {
  q: Float64Array; // [B, P, H·dh]
  k: Float64Array;
  v: Float64Array; // [B, P, H·dv]
  A: Float64Array; // [B, H, P, P] softmax pattern (0 above the diagonal)
  P: number;
}

// ---- attn_out (folded): (q, k, v, resid) → (Σ_h softmax_causal(q_h k_hᵀ·s) v_h · Wo[h], resid) ----
//   s = 1/sqrt(dh) if use_attn_scale else 1; Wo [H·dv, d+1] (heads stacked), dv = dh+1.
//   backward per head (spec App. B): Z̄ = Ō·Woᵀ; Ā = Z̄ vᵀ; v̄ = Aᵀ Z̄; S̄ = A ⊙ (Ā − rowsum(Ā ⊙ A));
//   q̄ = s·S̄ k; k̄ = s·S̄ᵀ q.
export class AttnOut implements Module {
  readonly kind = 'attn_out' as const;
  constructor(
    readonly id: string,
    readonly Wo: Float64Array,
    readonly H: number,
    readonly dh: number,
    readonly dv: number,
    readonly dout: number,
    readonly scale: number,
    /** local attention (GPT-Neo odd layers): query i sees keys i − window < j ≤ i; A is 0 outside */
    readonly window = Infinity,
  ) {}
  shape(P: number, w: readonly number[]) {
    expectParts(this.id, w, 4);
    const H = this.H;
    if (w[0] !== H * this.dh || w[1] !== H * this.dh || w[2] !== H * this.dv) {
      throw new Error(`module ${this.id}: q/k/v widths ${w.slice(0, 3).join(', ')} do not match ${H} heads of ${this.dh}/${this.dv}`);
    }
    return { P, w: [this.dout, w[3]!] };
  }
  /**
   * `firstQuery`: only the queries at positions ≥ firstQuery are computed (the output and the
   * pattern are 0 at the others), for a consumer that keeps the last position only.
   */
  forward(x: Tup, B: number, keep = true, firstQuery = 0): { y: Tup; cache: AttnCache } {
    const { cache, Z } = this.attend(x, B, keep, firstQuery);
    const out = matMulFrom(Z, B, x.P, firstQuery, this.H * this.dv, this.Wo, this.dout);
    return { y: { P: x.P, w: [this.dout, x.w[3]!], parts: [out, x.parts[3]!] }, cache };
  }
  /**
   * The attention before the output projection: the cache (q, k, v, pattern A [B, H, P, P]) and
   * Z [B, P, H·dv] = A·v per head. `forward` is this and Z·Wo; the attention structure's forward
   * cache needs only this part.
   */
  attend(x: Tup, B: number, keep = true, firstQuery = 0): { cache: AttnCache; Z: Float64Array } {
    const { H, dh, dv, scale } = this;
    const P = x.P;
    const [q, k, v] = x.parts as [Float64Array, Float64Array, Float64Array];
    // Wasm loops (src/linalg/attention.ts), bit-identical to attnScore + attendRow per query row;
    // local attention: keys i − window < j ≤ i. Without `keep` the pattern stays in Wasm memory.
    const { A, Z } = attentionForward(q, k, v, { B, P, H, dh, dv, scale }, this.window, keep, firstQuery);
    return { cache: { q, k, v, A, P }, Z };
  }
  backward(cache: unknown, g: Tup, R: number, B: number) {
    const { q, k, v, A, P } = cache as AttnCache;
    const { H, dh, dv, scale } = this;
    const dqk = H * dh;
    const dvv = H * dv;
    const gZ = matMulT(g.parts[0]!, R * P, this.dout, this.Wo, dvv); // [R, P, H·dv]
    // Wasm loops (src/linalg/attention.ts): Ā = Z̄ vᵀ and v̄ (rows with Z̄_i = 0 skipped), then
    // softmaxVjp per row and q̄ = S̄ k, k̄ = S̄ᵀ q (zero S̄ skipped), bit-identical to the scalar form
    const { gq, gk, gv } = attentionBackward(q, k, v, A, gZ, R, { B, P, H, dh, dv, scale });
    return { P, w: [dqk, dqk, dvv, g.w[1]!], parts: [gq, gk, gv, g.parts[1]!] };
  }
}

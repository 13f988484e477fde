/**
 * Rotary position embedding, GPT-NeoX "rotate halves" pairing (spec LM §5.2), and the attn_in
 * module of rotary models: q, k, v projections (bias folded in), then q and k rotated.
 *
 * For a head vector x [dh] at position p, r = rotary_dim, n = r/2, f_i = base^(i/n):
 *   x'_i     = x_i cos θ_i − x_{i+n} sin θ_i,   θ_i = p / f_i   (i < n)
 *   x'_{i+n} = x_{i+n} cos θ_i + x_i sin θ_i
 *   x'_j     = x_j                             (r ≤ j < dh)
 * VJP (the transpose of the rotation):
 *   x̄_i = ȳ_i cos θ_i + ȳ_{i+n} sin θ_i,   x̄_{i+n} = −ȳ_i sin θ_i + ȳ_{i+n} cos θ_i
 * Angles in float64 (transformer-lens tabulates them in float64 for a float64 model).
 */
import { cos, pow, sin } from '../linalg/index.js';
import { AttnIn, type Module } from './modules.js';
import type { Tup } from './tuple.js';

export interface RotaryTables {
  /** cos θ and sin θ, [P, n] row-major (n = rotary_dim / 2). */
  cos: Float64Array;
  sin: Float64Array;
  P: number;
  n: number;
}

/** Tables for positions 0 … P−1. */
export function rotaryTables(P: number, rotaryDim: number, base = 10000): RotaryTables {
  const n = rotaryDim / 2;
  const c = new Float64Array(P * n);
  const s = new Float64Array(P * n);
  const freq = new Float64Array(n);
  for (let i = 0; i < n; i++) freq[i] = pow(base, i / n);
  for (let p = 0; p < P; p++)
    for (let i = 0; i < n; i++) {
      const th = p / freq[i]!;
      c[p * n + i] = cos(th);
      s[p * n + i] = sin(th);
    }
  return { cos: c, sin: s, P, n };
}

/**
 * Rotates every head of x [R, P, H·dh] in place (forward), or applies the transposed rotation
 * (`transpose`, the VJP). Position of row (r, p) is p.
 */
export function rotateHeads(x: Float64Array, R: number, P: number, H: number, dh: number, t: RotaryTables, transpose = false): void {
  const n = t.n;
  const sg = transpose ? -1 : 1;
  for (let r = 0; r < R; r++)
    for (let p = 0; p < P; p++) {
      const co = p * n;
      for (let h = 0; h < H; h++) {
        const o = (r * P + p) * H * dh + h * dh;
        for (let i = 0; i < n; i++) {
          const a = x[o + i]!;
          const b = x[o + i + n]!;
          const cs = t.cos[co + i]!;
          const sn = sg * t.sin[co + i]!;
          x[o + i] = a * cs - b * sn;
          x[o + i + n] = b * cs + a * sn;
        }
      }
    }
}

// ---- attn_in with rotary: (x, resid) → (rot(x·Wq), rot(x·Wk), x·Wv, resid) ---------------------
//   backward: q̄ ← rotᵀ(q̄), k̄ ← rotᵀ(k̄), then AttnIn's backward.
export class RotaryAttnIn implements Module {
  readonly kind = 'attn_in_rotary' as const;
  readonly id: string;
  private tables: RotaryTables | null = null;
  constructor(
    readonly inner: AttnIn,
    readonly H: number,
    readonly dh: number,
    readonly rotaryDim: number,
    readonly base = 10000,
  ) {
    this.id = inner.id;
    if (rotaryDim % 2 !== 0 || rotaryDim < 0 || rotaryDim > dh) throw new Error(`module ${this.id}: rotary_dim ${rotaryDim} must be even and ≤ d_head ${dh}`);
  }
  private tablesFor(P: number): RotaryTables {
    if (!this.tables || this.tables.P < P) this.tables = rotaryTables(P, this.rotaryDim, this.base);
    return this.tables;
  }
  shape(P: number, w: readonly number[]) {
    return this.inner.shape(P, w);
  }
  forward(x: Tup, B: number) {
    const { y } = this.inner.forward(x, B);
    const t = this.tablesFor(x.P);
    // AttnIn returns fresh q, k arrays: rotate them in place
    rotateHeads(y.parts[0]!, B, x.P, this.H, this.dh, t);
    rotateHeads(y.parts[1]!, B, x.P, this.H, this.dh, t);
    return { y, cache: null };
  }
  backward(_c: unknown, g: Tup, R: number) {
    const t = this.tablesFor(g.P);
    const gq = new Float64Array(g.parts[0]!);
    const gk = new Float64Array(g.parts[1]!);
    rotateHeads(gq, R, g.P, this.H, this.dh, t, true);
    rotateHeads(gk, R, g.P, this.H, this.dh, t, true);
    return this.inner.backward(null, { P: g.P, w: g.w, parts: [gq, gk, g.parts[2]!, g.parts[3]!] }, R);
  }
}

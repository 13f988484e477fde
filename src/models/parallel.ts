/**
 * The modules of a parallel attention+MLP block (GPT-NeoX, spec LM §6.3) from add_resid1 to
 * ln2_out, forward and VJP side by side. With r = block input (residual), a = attention output:
 *
 *   add_resid1.i  (a, r)          → (r + a, r)           (both at the last position with lastPos)
 *   ln2.i         (r + a, r)      → (var(r), r, r + a)   var over the first d coordinates of r
 *   ln2_out.i     (var, r, r + a) → (LN(r) ⊕ const, r + a)
 *
 * mlp_in … add_resid2 are the sequential modules (Linear / Act / Add act on part 0 and pass the
 * rest through), so the MLP reads the normalised block input while the residual carried forward
 * already holds the attention output.
 */
import { LnOut, LnVar, type Module } from './modules.js';
import { addArrays, expandLastPos, takeLastPos, type Tup } from './tuple.js';

// ---- add_resid1 (parallel): (a, r) → (r + a, r) ----------------------------------------------
//   backward: ā = s̄;  r̄ = s̄ + r̄_out
export class AddKeepResid implements Module {
  readonly kind = 'add_keep' as const;
  constructor(
    readonly id: string,
    readonly lastPos: boolean,
  ) {}
  shape(P: number, w: readonly number[]) {
    if (w.length !== 2 || w[0] !== w[1]) throw new Error(`module ${this.id}: expected (a, resid) of equal widths, got [${w.join(', ')}]`);
    return { P: this.lastPos ? 1 : P, w: [w[0]!, w[0]!] };
  }
  forward(x: Tup, B: number) {
    const w = x.w[0]!;
    let s = addArrays(x.parts[0]!, x.parts[1]!);
    let r = x.parts[1]!;
    if (this.lastPos) {
      s = takeLastPos(s, B, x.P, w);
      r = takeLastPos(r, B, x.P, w);
    }
    return { y: { P: this.lastPos ? 1 : x.P, w: [w, w], parts: [s, r] }, cache: x.P };
  }
  backward(cache: unknown, g: Tup, R: number) {
    const P = cache as number;
    const w = g.w[0]!;
    let ga = g.parts[0]!;
    let gr = addArrays(g.parts[0]!, g.parts[1]!);
    if (this.lastPos) {
      ga = expandLastPos(ga, R, P, w);
      gr = expandLastPos(gr, R, P, w);
    }
    return { P, w: [w, w], parts: [ga, gr] };
  }
}

// ---- ln2 (parallel): (s, r) → (var(r), r, s) — LnVar on the block input ---------------------
//   backward: (v̄, r̄, s̄) → (s̄, LnVar-backward(v̄, r̄))
export class ParallelLnVar implements Module {
  readonly kind = 'ln_var_parallel' as const;
  private readonly inner: LnVar;
  constructor(readonly id: string) {
    this.inner = new LnVar(id);
  }
  shape(P: number, w: readonly number[]) {
    if (w.length !== 2 || w[0] !== w[1]) throw new Error(`module ${this.id}: expected (resid + attn, resid) of equal widths, got [${w.join(', ')}]`);
    return { P, w: [1, w[1]!, w[0]!] };
  }
  forward(x: Tup, B: number) {
    const r = this.inner.forward({ P: x.P, w: [x.w[1]!], parts: [x.parts[1]!] }, B);
    return { y: { P: x.P, w: [1, x.w[1]!, x.w[0]!], parts: [...r.y.parts, x.parts[0]!] }, cache: r.cache };
  }
  backward(cache: unknown, g: Tup, R: number, B: number) {
    const gr = this.inner.backward(cache, { P: g.P, w: [1, g.w[1]!], parts: [g.parts[0]!, g.parts[1]!] }, R, B);
    return { P: g.P, w: [g.w[2]!, g.w[1]!], parts: [g.parts[2]!, gr.parts[0]!] };
  }
}

// ---- ln2_out (parallel): (var, r, s) → (LN(r) ⊕ const, s) — LnOut without its resid ----------
//   backward: (n̄, s̄) → (LnOut-backward(n̄) = (v̄, r̄), s̄)
export class ParallelLnOut implements Module {
  readonly kind = 'ln_out_parallel' as const;
  private readonly inner: LnOut;
  constructor(
    readonly id: string,
    eps: number,
  ) {
    this.inner = new LnOut(id, eps, false);
  }
  shape(P: number, w: readonly number[]) {
    if (w.length !== 3 || w[0] !== 1) throw new Error(`module ${this.id}: expected (var, resid, resid + attn), got widths [${w.join(', ')}]`);
    return { P, w: [w[1]!, w[2]!] };
  }
  forward(x: Tup, B: number) {
    const r = this.inner.forward({ P: x.P, w: [1, x.w[1]!], parts: [x.parts[0]!, x.parts[1]!] }, B);
    return { y: { P: x.P, w: [x.w[1]!, x.w[2]!], parts: [r.y.parts[0]!, x.parts[2]!] }, cache: r.cache };
  }
  backward(cache: unknown, g: Tup, R: number, B: number) {
    const gi = this.inner.backward(cache, { P: g.P, w: [g.w[0]!], parts: [g.parts[0]!] }, R, B);
    return { P: g.P, w: [1, g.w[0]!, g.w[1]!], parts: [gi.parts[0]!, gi.parts[1]!, g.parts[1]!] };
  }
}

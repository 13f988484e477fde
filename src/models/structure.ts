/**
 * The structure of a section, decided in one place from the modules it holds (`instanceof`, no
 * casts). The LIB build, M′, edges and ablations all read it (src/rib/structures dispatches on
 * `type`); a section without one takes the generic VJP path.
 *
 * Per position, every module is one of:
 * - linear: Identity, Split, Linear (all positions), AttnIn, MlpLayer without activation, Add (all
 *   positions);
 * - element-wise: Act, MlpLayer with an activation (its matmul is linear, then the activation);
 * - attention: AttnOut (mixes positions; the Add that follows may keep only the last position);
 * - LayerNorm: LnVar, LnOut (non-linear, but per position).
 *
 * The linear maps of a run of linear modules are read off the modules' own forward passes on
 * identity rows (so there is one forward per module), e.g. `ln2.0 → mlp_act.0` = Split then
 * Linear: x ↦ (x·W_in, x), the matrix [W_in | I].
 */
import { Act, Add, AttnIn, AttnOut, Identity, Linear, LnOut, LnVar, MlpLayer, Split, type Module } from './modules.js';
import { AddKeepResid, ParallelLnOut, ParallelLnVar } from './parallel.js';
import { RotaryAttnIn } from './rotary.js';
import { concatTup, splitTup, sum, type Tup } from './tuple.js';
import type { ActivationName, SectionStructure } from './types.js';

/** Widest section input or output whose linear maps are formed densely. */
export const MAX_MAP_WIDTH = 8192;

/** True for modules that are linear per position and keep the positions. */
function isLinear(m: Module): boolean {
  if (m instanceof Identity || m instanceof Split || m instanceof AttnIn) return true;
  if (m instanceof Linear || m instanceof Add || m instanceof AddKeepResid) return !m.lastPos;
  if (m instanceof MlpLayer) return m.act === null;
  return false;
}

/** Linear modules that keep only the last position (add_resid1 / unembed with last_pos_module_type). */
function selects(m: Module): boolean {
  return (m instanceof Linear || m instanceof Add || m instanceof AddKeepResid) && m.lastPos;
}

/** Per-position modules (no position mixing or selection; rotary's map depends on the position, but acts on each alone). */
function isPositionwise(m: Module): boolean {
  if (m instanceof ParallelLnVar || m instanceof ParallelLnOut || m instanceof RotaryAttnIn) return true;
  return isLinear(m) || m instanceof Act || (m instanceof MlpLayer) || m instanceof LnVar || m instanceof LnOut;
}

/**
 * The matrix of a run of per-position linear modules from input widths `w`: rows = input
 * coordinates (Σw), columns = the concatenated output. Computed by the modules' own forward on
 * identity rows (one position); exact for the selections and copies of Split/Identity/Add.
 */
export function linearMap(mods: readonly Module[], w: readonly number[]): { W: Float64Array; outW: number[] } {
  const n = sum(w);
  const I = new Float64Array(n * n);
  for (let i = 0; i < n; i++) I[i * n + i] = 1;
  let t: Tup = splitTup(I, n, 1, w);
  for (const m of mods) t = m.forward(t, n).y;
  const out = concatTup(t, n);
  return { W: out === I ? I.slice() : out, outW: [...t.w] };
}

/** Whether W [n × n] is exactly the identity. */
function isIdentity(W: Float64Array, rows: number, cols: number): boolean {
  if (rows !== cols) return false;
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) if (W[i * cols + j] !== (i === j ? 1 : 0)) return false;
  return true;
}

/** Rows [r0, r0 + n) of a row-major matrix with `cols` columns. */
function rowBlock(W: Float64Array, cols: number, r0: number, n: number): Float64Array {
  return W.slice(r0 * cols, (r0 + n) * cols);
}

function product(A: Float64Array, m: number, k: number, B: Float64Array, n: number): Float64Array {
  const C = new Float64Array(m * n);
  for (let i = 0; i < m; i++)
    for (let p = 0; p < k; p++) {
      const a = A[i * k + p]!;
      if (a === 0) continue;
      for (let j = 0; j < n; j++) C[i * n + j]! += a * B[p * n + j]!;
    }
  return C;
}

/**
 * The structure of a section made of `mods`, with input widths `inW` at `inPos` positions and
 * output widths `outW` at `outPos` positions (undefined: generic).
 */
export function detectStructure(mods: readonly Module[], inPos: number, inW: readonly number[], outPos: number, outW: readonly number[]): SectionStructure | undefined {
  const inDim = sum(inW);
  const outDim = sum(outW);
  // the maps are dense [inDim × width] matrices: beyond this width they would cost more memory
  // than the generic path saves
  if (Math.max(inDim, outDim) > MAX_MAP_WIDTH) return mods.every(isPositionwise) && inPos === outPos ? { type: 'positionwise' } : undefined;
  const core = mods.filter((m) => !(m instanceof Identity));
  // a single linear module: its own weight
  if (inPos === outPos && core.length === 1 && inW.length === 1 && outW.length === 1) {
    const m = core[0]!;
    if (m instanceof Linear && !m.lastPos) return { type: 'linear', W: m.W };
    if (m instanceof MlpLayer && m.act === null) return { type: 'linear', W: m.W };
  }
  if (inPos === outPos && mods.every(isLinear)) return { type: 'linear', W: linearMap(mods, inW).W };
  // linear with a last-position selection (add_resid1 / unembed with last_pos_module_type)
  if (outPos === 1 && inPos > 1 && mods.every((m) => isLinear(m) || selects(m))) {
    return { type: 'linear', W: linearMap(mods, inW).W, lastPos: true };
  }
  const ew = mods.map((m, i) => ((m instanceof Act || (m instanceof MlpLayer && m.act !== null)) ? i : -1)).filter((i) => i >= 0);
  if (inPos === outPos && ew.length === 1 && mods.every((m, i) => i === ew[0] || isLinear(m))) {
    const k = ew[0]!;
    const em = mods[k]!;
    // pre: the linear modules before the activation (and the MlpLayer's matmul)
    let pre: Module[] = mods.slice(0, k);
    let act: ActivationName;
    if (em instanceof MlpLayer) {
      pre = [...pre, new MlpLayer(em.id, em.W, em.din, em.dout, null)];
      act = em.act!;
    } else act = (em as Act).act;
    const P = linearMap(pre, inW);
    const H = P.outW[0]!;
    const restW = P.outW.slice(1);
    const rest = sum(restW);
    const cols = H + rest;
    const Win = new Float64Array(inDim * H);
    const Prest = new Float64Array(inDim * rest);
    for (let i = 0; i < inDim; i++) {
      Win.set(P.W.subarray(i * cols, i * cols + H), i * H);
      Prest.set(P.W.subarray(i * cols + H, (i + 1) * cols), i * rest);
    }
    const post = linearMap(mods.slice(k + 1), P.outW);
    const Wout = rowBlock(post.W, outDim, 0, H);
    if (rest === 0) return { type: 'mlp', Win, Wout, hidden: H, act, residual: false };
    const skip = product(Prest, inDim, rest, rowBlock(post.W, outDim, H, rest), outDim);
    if (isIdentity(skip, inDim, outDim)) return { type: 'mlp', Win, Wout, hidden: H, act, residual: true };
    return { type: 'mlp', Win, Wout, hidden: H, act, residual: false, skip };
  }
  const ai = mods.findIndex((m) => m instanceof AttnOut);
  if (ai >= 0) {
    const ao = mods[ai] as AttnOut;
    // a local window (GPT-Neo) leaves zeros in the pattern outside it, which the closed forms
    // read as they are; the structure's own row evaluation applies the window
    const pre = mods.slice(0, ai);
    const post = mods.slice(ai + 1);
    // linear before; after: linear, and at most a last-position selection (add_resid1)
    if (!pre.every(isLinear) || !post.every((m) => isLinear(m) || selects(m))) return undefined;
    const lastPos = post.some(selects);
    if (outPos !== (lastPos ? 1 : inPos)) return undefined;
    const P = linearMap(pre, inW);
    const { H, dh, dv } = ao;
    if (P.outW.length !== 4 || P.outW[0] !== H * dh || P.outW[1] !== H * dh || P.outW[2] !== H * dv) return undefined;
    const dr = P.outW[3]!;
    const cols = sum(P.outW);
    const block = (c0: number, w: number) => {
      const B = new Float64Array(inDim * w);
      for (let i = 0; i < inDim; i++) B.set(P.W.subarray(i * cols + c0, i * cols + c0 + w), i * w);
      return B;
    };
    const Wq = block(0, H * dh);
    const Wk = block(H * dh, H * dh);
    const Wv = block(2 * H * dh, H * dv);
    const Wr = block(2 * H * dh + H * dv, dr);
    // after AttnOut: (attn [dout], resid [dr]) ↦ attn·La + resid·Lr per output position
    const L = linearMap(post, [ao.dout, dr]);
    if (L.W.length !== (ao.dout + dr) * outDim) return undefined;
    const La = rowBlock(L.W, outDim, 0, ao.dout);
    const Lr = rowBlock(L.W, outDim, ao.dout, dr);
    const Wo = isIdentity(La, ao.dout, outDim) ? ao.Wo : product(ao.Wo, H * dv, ao.dout, La, outDim);
    const R = isIdentity(Lr, dr, outDim) ? Wr : product(Wr, inDim, dr, Lr, outDim);
    const residual = isIdentity(R, inDim, outDim) ? null : R;
    return { type: 'attention', Wq, Wk, Wv, Wo, residual, H, dh, dv, dIn: inDim, dOut: outDim, scale: ao.scale, window: ao.window, lastPos, attnIndex: ai };
  }
  if (inPos === outPos && mods.every(isPositionwise)) return { type: 'positionwise' };
  return undefined;
}

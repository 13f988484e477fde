/**
 * Cutting a flat module list at node layers (spec §1.1): section `pre` runs the stem and every
 * module before the first node layer; section_l runs node layer l's module up to (excluding) the
 * next node layer's module; the last section runs to the end of the model (the logits).
 */
import { UserError } from '../errors.js';
import type { Module } from './modules.js';
import { detectStructure } from './structure.js';
import { concatTup, splitTup, sum, type Tup } from './tuple.js';
import type { Inputs, NodeLayerInfo, Section, SectionedModel, SectionStructure } from './types.js';

/** A folded model as a flat list of modules after a stem (inputs → tuple at modules[0]). */
export interface FlatModel {
  kind: 'mlp' | 'transformer';
  /** Module ids that exist before modules[0] and can never be node layers (embed, pos_embed). */
  stemIds: string[];
  modules: Module[];
  /** (P, widths) of the stem's output tuple, for sequences of length seqLen. */
  stemShape(seqLen: number): { P: number; w: number[] };
  /** inputs → tuple entering modules[0]; B = batch. */
  stem(inputs: Inputs): Tup;
}

/** Checks a node-layer list against the model's module ids (spec §1.1); returns module indices. */
export function validateNodeLayers(flat: FlatModel, nodeLayers: string[]): number[] {
  if (!Array.isArray(nodeLayers) || nodeLayers.length === 0) throw new UserError('node_layers: need at least one node layer');
  const ids = flat.modules.map((m) => m.id);
  const seen = new Set<string>();
  const idx: number[] = [];
  nodeLayers.forEach((nl, i) => {
    if (typeof nl !== 'string') throw new UserError(`node_layers[${i}]: expected a module id string, got ${JSON.stringify(nl)}`);
    if (seen.has(nl)) throw new UserError(`node_layers: '${nl}' appears more than once`);
    seen.add(nl);
    if (nl === 'output') {
      if (i !== nodeLayers.length - 1) throw new UserError(`node_layers: 'output' may only be the last node layer (found at index ${i} of ${nodeLayers.length})`);
      if (i === 0) throw new UserError(`node_layers: 'output' cannot be the only node layer`);
      return;
    }
    if (flat.stemIds.includes(nl)) {
      throw new UserError(`node_layers: the first node layer may not be '${nl}' (embed and pos_embed take token ids, not activations)`);
    }
    const j = ids.indexOf(nl);
    if (j < 0) {
      const show = ids.length > 24 ? `${ids.slice(0, 24).join(', ')}, …` : ids.join(', ');
      throw new UserError(`node_layers: unknown module id '${nl}' for this ${flat.kind} (valid ids: ${show}, output)`);
    }
    if (idx.length && j <= idx[idx.length - 1]!) {
      throw new UserError(`node_layers: '${nl}' comes before '${nodeLayers[i - 1]}' in the model; node layers must be in model order`);
    }
    idx.push(j);
  });
  if (flat.kind === 'mlp') {
    // contiguous run of layers.0 … layers.{L-1}, output (the reference checks the joined string)
    const all = [...ids, 'output'].join('-');
    const mine = nodeLayers.join('-');
    const ok = all === mine || all.startsWith(mine + '-') || all.endsWith('-' + mine) || all.includes('-' + mine + '-');
    if (!ok) {
      throw new UserError(`node_layers: for an MLP the node layers must be a contiguous run of ${[...ids, 'output'].join(', ')}; got ${nodeLayers.join(', ')}`);
    }
  }
  return idx;
}

/** Output (P, widths) after running modules[from, to) on input (P, w). */
function propagate(mods: Module[], from: number, to: number, s: { P: number; w: number[] }) {
  let cur = s;
  for (let i = from; i < to; i++) cur = mods[i]!.shape(cur.P, cur.w);
  return cur;
}

/** The modules' forward passes, keeping no caches (the caller needs only the output). */
function runForward(mods: readonly Module[], x: Tup, B: number): Tup {
  let t = x;
  for (const m of mods) t = m.forward(t, B, false).y;
  return t;
}

class SectionImpl implements Section {
  readonly inDim: number;
  readonly outDim: number;
  private struct: SectionStructure | undefined | null = null;
  constructor(
    readonly name: string,
    readonly inLayer: string,
    readonly outLayer: string,
    readonly modules: readonly Module[],
    readonly inPos: number,
    readonly inWidths: readonly number[],
    readonly outPos: number,
    readonly outWidths: readonly number[],
  ) {
    this.inDim = sum(inWidths);
    this.outDim = sum(outWidths);
  }

  /** Decided on first use (src/models/structure.ts), then kept. */
  get structure(): SectionStructure | undefined {
    if (this.struct === null) this.struct = detectStructure(this.modules, this.inPos, this.inWidths, this.outPos, this.outWidths);
    return this.struct;
  }

  private checkX(x: Float64Array, batch: number): void {
    if (!Number.isInteger(batch) || batch < 0) throw new UserError(`${this.name}: bad batch size ${batch}`);
    if (x.length !== batch * this.inPos * this.inDim) {
      throw new UserError(`${this.name} (${this.inLayer}): input has ${x.length} values, expected [${batch}, ${this.inPos}, ${this.inDim}]`);
    }
  }

  forward(x: Float64Array, batch: number): Float64Array {
    this.checkX(x, batch);
    const y = concatTup(runForward(this.modules, splitTup(x, batch, this.inPos, this.inWidths), batch), batch);
    return y === x ? new Float64Array(x) : y;
  }

  vjp(x: Float64Array, batch: number, cot: Float64Array, K: number): Float64Array {
    return this.vjpAt(x, batch)(cot, K);
  }

  vjpAt(x: Float64Array, batch: number): (cot: Float64Array, K: number) => Float64Array {
    this.checkX(x, batch);
    // forward once, keep every module's cache; then reverse with all K·B cotangent rows at once
    const caches: unknown[] = [];
    let t = splitTup(x, batch, this.inPos, this.inWidths);
    for (const m of this.modules) {
      const r = m.forward(t, batch);
      caches.push(r.cache);
      t = r.y;
    }
    return (cot, K) => {
      if (cot.length !== K * batch * this.outPos * this.outDim) {
        throw new UserError(`${this.name}: cotangent has ${cot.length} values, expected [${K}, ${batch}, ${this.outPos}, ${this.outDim}]`);
      }
      const R = K * batch;
      let g = splitTup(cot, R, this.outPos, this.outWidths);
      for (let i = this.modules.length - 1; i >= 0; i--) g = this.modules[i]!.backward(caches[i], g, R, batch);
      const out = concatTup(g, R);
      return out === cot ? new Float64Array(out) : out;
    };
  }
}

const LOGITS_CHUNK = 1024;

/** Samples [b0, b0+n) of a batch of inputs (views). */
export function sliceInputs(inputs: Inputs, b0: number, n: number): Inputs {
  if (inputs.kind === 'tokens') {
    return { kind: 'tokens', data: inputs.data.subarray(b0 * inputs.seqLen, (b0 + n) * inputs.seqLen), batch: n, seqLen: inputs.seqLen };
  }
  return { kind: 'floats', data: inputs.data.subarray(b0 * inputs.width, (b0 + n) * inputs.width), batch: n, width: inputs.width };
}

export function buildSectioned(flat: FlatModel, nodeLayers: string[], seqLen: number): SectionedModel {
  const idx = validateNodeLayers(flat, nodeLayers);
  const mods = flat.modules;
  const stemShape = flat.stemShape(seqLen);
  const shapes: Array<{ P: number; w: number[] }> = [];
  for (const i of idx) shapes.push(propagate(mods, 0, i, stemShape));
  const finalShape = propagate(mods, 0, mods.length, stemShape);
  const infos: NodeLayerInfo[] = idx.map((_, l) => ({ name: nodeLayers[l]!, dim: sum(shapes[l]!.w), positions: shapes[l]!.P }));
  const hasOutput = nodeLayers[nodeLayers.length - 1] === 'output';
  if (hasOutput) infos.push({ name: 'output', dim: sum(finalShape.w), positions: finalShape.P });

  const sections: Section[] = idx.map((start, l) => {
    const end = l + 1 < idx.length ? idx[l + 1]! : mods.length;
    const outShape = l + 1 < idx.length ? shapes[l + 1]! : finalShape;
    const outLayer = l + 1 < idx.length ? nodeLayers[l + 1]! : 'output';
    return new SectionImpl(`section_${l}`, nodeLayers[l]!, outLayer, mods.slice(start, end), shapes[l]!.P, shapes[l]!.w, outShape.P, outShape.w);
  });

  const preMods = mods.slice(0, idx[0]!);
  const pre = (inputs: Inputs): Float64Array => {
    const t = flat.stem(inputs);
    return concatTup(runForward(preMods, t, inputs.batch), inputs.batch);
  };
  return {
    nodeLayers: infos,
    sections,
    pre,
    logits(inputs: Inputs): Float64Array {
      // samples are independent: run in chunks to bound memory (and stay cache-friendly)
      const B = inputs.batch;
      const last = sections[sections.length - 1]!;
      const per = last.outPos * last.outDim;
      const out = new Float64Array(B * per);
      for (let b0 = 0; b0 < B; b0 += LOGITS_CHUNK) {
        const n = Math.min(LOGITS_CHUNK, B - b0);
        const part = sliceInputs(inputs, b0, n);
        let x = pre(part);
        for (const s of sections) x = s.forward(x, n);
        out.set(x, b0 * per);
      }
      return out;
    },
  };
}

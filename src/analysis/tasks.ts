/**
 * Worker tasks of the analysis code (browser-safe; imported from src/tasks.ts).
 *
 * `analysis.ablationEval`: score one fixed shard of samples with one ablation applied. The model,
 * dataset and basis matrices arrive as SharedArrayBuffer-backed arrays in `ctx`; the sectioned
 * model and the clean activations of the shard at every node layer are cached per thread.
 */
import type { Inputs, SectionedModel } from '../models/types.js';
import { sliceInputs } from '../models/sections.js';
import type { ModelSpec } from '../models/index.js';
import { modelFromSpec } from '../models/index.js';
import { registerTask, withContext } from '../parallel/index.js';
import { log, vexp } from '../linalg/index.js';
import type { AblationCache } from '../rib/structures/index.js';
import { edgeAblatedOutput, nodeAblatedOutput, type EdgeBasis } from './ablation-edge.js';

export const ABLATION_TASK = 'analysis.ablationEval';

export interface AblationCtx {
  id: string;
  model: ModelSpec;
  nodeLayers: string[];
  lastPos: 'add_resid1' | 'unembed' | null;
  inputs: Inputs;
  labels: Int32Array | Float64Array;
  /** edge ablations: matrices of the edge from layer l to l+1 (null for node ablations) */
  layers: Array<EdgeBasis | null>;
  evalType: 'accuracy' | 'ce_loss';
  genericEdges: boolean;
}

export type AblationOp =
  | { kind: 'none' }
  | { kind: 'node'; layer: number; T: Float64Array }
  | { kind: 'edge'; layer: number; mask: Uint8Array };

export interface AblationShardResult {
  correct: number;
  ceSum: number;
  n: number;
}

interface Cached {
  sm: SectionedModel;
  acts: Map<string, Float64Array[]>;
  /** the section structures' per-shard ablation state (e.g. distinct input rows), per shard and section */
  caches: Map<string, AblationCache>;
}

function cacheFor(c: Cached, s: number, e: number, l: number): AblationCache {
  const key = `${s}:${e}:${l}`;
  let u = c.caches.get(key);
  if (!u) {
    u = new Map();
    c.caches.set(key, u);
  }
  return u;
}

/** Clean activations of samples [s, e) at every node layer (index l = input of section l). */
function activations(c: Cached, inputs: Inputs, s: number, e: number): Float64Array[] {
  const key = `${s}:${e}`;
  let a = c.acts.get(key);
  if (!a) {
    const B = e - s;
    a = [c.sm.pre(sliceInputs(inputs, s, e - s))];
    for (let l = 0; l + 1 < c.sm.sections.length; l++) a.push(c.sm.sections[l]!.forward(a[l]!, B));
    c.acts.set(key, a);
  }
  return a;
}

/** Score logits [B, P, V] at the last position against integer labels. */
let scratch = new Float64Array(0);

export function scoreLastPosition(logits: Float64Array, B: number, P: number, V: number, labels: ArrayLike<number>, ce: boolean): { correct: number; ceSum: number } {
  let correct = 0;
  let ceSum = 0;
  for (let b = 0; b < B; b++) {
    const o = (b * P + (P - 1)) * V;
    let best = 0;
    let mx = logits[o]!;
    for (let v = 1; v < V; v++) {
      const x = logits[o + v]!;
      if (x > mx) {
        mx = x;
        best = v;
      }
    }
    const y = labels[b]!;
    if (best === y) correct++;
    if (ce) {
      // Σ_v exp(x_v − mx) in index order; the exps in one Wasm call per row (same function, same bits)
      if (scratch.length < V) scratch = new Float64Array(V);
      const e = scratch.subarray(0, V);
      for (let v = 0; v < V; v++) e[v] = logits[o + v]! - mx;
      vexp(e);
      let s = 0;
      for (let v = 0; v < V; v++) s += e[v]!;
      ceSum += mx + log(s) - logits[o + y]!;
    }
  }
  return { correct, ceSum };
}

export function ablationEval(p: { ctx: AblationCtx; range: [number, number]; op: AblationOp }): AblationShardResult {
  const { ctx, range, op } = p;
  const c = withContext<Cached>(ctx.id, () => {
    const sm = modelFromSpec(ctx.model).sectioned(ctx.nodeLayers, { lastPosModuleType: ctx.lastPos });
    return { sm, acts: new Map(), caches: new Map() };
  });
  const [s, e] = range;
  const B = e - s;
  const acts = activations(c, ctx.inputs, s, e);
  const secs = c.sm.sections;
  let start: number;
  let x: Float64Array;
  if (op.kind === 'none') {
    start = secs.length - 1;
    x = secs[start]!.forward(acts[start]!, B);
  } else if (op.kind === 'node') {
    const l = op.layer;
    start = l;
    x = nodeAblatedOutput(secs[l]!, acts[l]!, B, op.T, { generic: ctx.genericEdges, cache: cacheFor(c, s, e, l) });
  } else {
    const l = op.layer;
    const eb = ctx.layers[l];
    if (!eb) throw new Error(`ablationEval: no edge basis for layer ${l}`);
    start = l;
    x = edgeAblatedOutput(secs[l]!, acts[l]!, B, eb, op.mask, { generic: ctx.genericEdges, cache: cacheFor(c, s, e, l) });
  }
  for (let l = start + 1; l < secs.length; l++) x = secs[l]!.forward(x, B);
  const last = secs[secs.length - 1]!;
  const labels = ctx.labels.subarray(s, e);
  const r = scoreLastPosition(x, B, last.outPos, last.outDim, labels, ctx.evalType === 'ce_loss');
  return { ...r, n: B };
}

registerTask(ABLATION_TASK, ablationEval);

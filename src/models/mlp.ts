/**
 * rib MLP (spec §1.2): layers.i computes act(x·W_i + b_i), W_i [in, out], no activation on the
 * last layer; bias folding per spec §2.2; the modular (block-diagonal) generator of spec §1.6.
 */
import { UserError } from '../errors.js';
import type { Tensor } from '../io/tensor.js';
import { normals } from '../linalg/index.js';
import { Rng } from '../rng.js';
import { actForward, parseActivation, rootOne } from './activations.js';
import { MlpLayer } from './modules.js';
import { buildSectioned, type FlatModel } from './sections.js';
import { matMul } from './tuple.js';
import type { ActivationName, Inputs, Model, SectionOptions } from './types.js';
import { asRecord, cfgBool, cfgNum, cfgPosInt, takeTensors } from './weights.js';

export interface MlpConfig {
  input_size: number;
  hidden_sizes: number[];
  output_size: number;
  activation_fn: ActivationName;
  bias: boolean;
}

export function parseMlpConfig(raw: Record<string, unknown>): MlpConfig {
  const cfg = asRecord(raw, 'MLP config');
  const what = 'MLP';
  const input_size = cfgPosInt(cfg, 'input_size', what);
  const output_size = cfgPosInt(cfg, 'output_size', what);
  const hs = cfg['hidden_sizes'] ?? [];
  if (!Array.isArray(hs) || hs.some((h) => typeof h !== 'number' || !Number.isInteger(h) || h < 1)) {
    throw new UserError(`MLP config: 'hidden_sizes' must be a list of positive integers, got ${JSON.stringify(cfg['hidden_sizes'])}`);
  }
  return {
    input_size,
    hidden_sizes: hs as number[],
    output_size,
    activation_fn: parseActivation(cfg['activation_fn'] ?? 'relu', 'MLP config activation_fn'),
    bias: cfgBool(cfg, 'bias', what, true),
  };
}

function layerSizes(c: MlpConfig): number[] {
  return [c.input_size, ...c.hidden_sizes, c.output_size];
}

function flatten(inputs: Inputs, c: MlpConfig): Float64Array {
  if (inputs.kind !== 'floats') throw new UserError(`MLP: inputs must be float vectors, got ${inputs.kind}`);
  if (inputs.width !== c.input_size) throw new UserError(`MLP: input width ${inputs.width} does not match input_size ${c.input_size}`);
  if (inputs.data.length !== inputs.batch * inputs.width) throw new UserError(`MLP: input data has ${inputs.data.length} values, expected ${inputs.batch}×${inputs.width}`);
  return inputs.data;
}

/** Folded W' (spec §2.2): [[W, 0], [b, ρ]] for hidden layers, [[W], [b]] for the last. */
export function foldMlpLayer(W: Float64Array, b: Float64Array | null, din: number, dout: number, rho: number | null): Float64Array {
  const cols = rho === null ? dout : dout + 1;
  const Wf = new Float64Array((din + 1) * cols);
  for (let i = 0; i < din; i++) Wf.set(W.subarray(i * dout, (i + 1) * dout), i * cols);
  if (b) Wf.set(b, din * cols);
  if (rho !== null) Wf[din * cols + dout] = rho;
  return Wf;
}

/** The checkpoint tensors of an MLP and their shapes: layers.{i}.W [in, out] and, with bias, layers.{i}.b [out]. */
export function mlpTensorShapes(c: MlpConfig): Map<string, number[]> {
  const sizes = layerSizes(c);
  const shapes = new Map<string, number[]>();
  for (let i = 0; i + 1 < sizes.length; i++) {
    shapes.set(`layers.${i}.W`, [sizes[i]!, sizes[i + 1]!]);
    if (c.bias) shapes.set(`layers.${i}.b`, [sizes[i + 1]!]);
  }
  return shapes;
}

export function buildMlp(rawConfig: Record<string, unknown>, tensors: Map<string, Tensor>): Model {
  const c = parseMlpConfig(rawConfig);
  const w = takeTensors(tensors, mlpTensorShapes(c), () => false, 'MLP');
  return mlpFromWeights(c, w);
}

export function mlpFromWeights(c: MlpConfig, w: Map<string, Float64Array>): Model {
  const sizes = layerSizes(c);
  const L = sizes.length - 1;
  const shapes = mlpTensorShapes(c);
  const moduleIds = Array.from({ length: L }, (_, i) => `layers.${i}`);
  let flatCache: FlatModel | null = null;
  const flat = (): FlatModel => {
    if (flatCache) return flatCache;
    const rho = rootOne(c.activation_fn); // throws for tanh / sigmoid
    const modules = moduleIds.map((id, i) => {
      const last = i === L - 1;
      const Wf = foldMlpLayer(w.get(`${id}.W`)!, c.bias ? w.get(`${id}.b`)! : null, sizes[i]!, sizes[i + 1]!, last ? null : rho);
      return new MlpLayer(id, Wf, sizes[i]! + 1, last ? sizes[i + 1]! : sizes[i + 1]! + 1, last ? null : c.activation_fn);
    });
    flatCache = {
      kind: 'mlp',
      stemIds: [],
      modules,
      stemShape: () => ({ P: 1, w: [c.input_size + 1] }),
      stem(inputs: Inputs) {
        const x = flatten(inputs, c);
        const B = inputs.batch;
        const d = c.input_size;
        const out = new Float64Array(B * (d + 1));
        for (let b = 0; b < B; b++) {
          out.set(x.subarray(b * d, (b + 1) * d), b * (d + 1));
          out[b * (d + 1) + d] = 1;
        }
        return { P: 1, w: [d + 1], parts: [out] };
      },
    };
    return flatCache;
  };
  return {
    kind: 'mlp',
    config: { ...c },
    tensors: w,
    shapes,
    moduleIds,
    sectioned(nodeLayers: string[], opts?: SectionOptions) {
      if (opts?.lastPosModuleType) throw new UserError(`last_pos_module_type '${opts.lastPosModuleType}' applies to transformers only, not to an MLP`);
      return buildSectioned(flat(), nodeLayers, 1);
    },
    forwardUnfolded(inputs: Inputs) {
      let x = flatten(inputs, c);
      const B = inputs.batch;
      for (let i = 0; i < L; i++) {
        const y = matMul(x, B, sizes[i]!, w.get(`layers.${i}.W`)!, sizes[i + 1]!);
        if (c.bias) {
          const b = w.get(`layers.${i}.b`)!;
          const n = sizes[i + 1]!;
          for (let r = 0; r < B; r++) for (let j = 0; j < n; j++) y[r * n + j]! += b[j]!;
        }
        x = i < L - 1 ? actForward(c.activation_fn, y, y) : y;
      }
      return x;
    },
  };
}

export interface ModularMlpConfig {
  n_hidden_layers?: number;
  width?: number;
  first_block_width?: number | null;
  weight_variances?: [number, number];
  weight_equal_columns?: boolean;
  bias?: number;
  activation_fn?: string;
  seed?: number;
}

/**
 * Block-diagonal MLP (spec §1.6): every layer W = blockdiag(v0·randn(fw, fw), v1·randn(w−fw, w−fw)),
 * with the RNG reset to `seed` before each layer (all layers identical); biases the constant
 * `bias`. Uses our Philox Rng + Wasm normals (not torch-reproducible).
 */
export function modularMlp(cfg: ModularMlpConfig = {}): Model {
  const raw = cfg as Record<string, unknown>;
  const what = 'modular MLP';
  const nh = cfgPosInt(raw, 'n_hidden_layers', what, 4);
  const width = cfgPosInt(raw, 'width', what, 4);
  const fw = cfg.first_block_width ?? Math.floor(width / 2);
  if (!Number.isInteger(fw) || fw < 0 || fw > width) throw new UserError(`${what} config: first_block_width must be an integer in [0, ${width}], got ${fw}`);
  const vv = cfg.weight_variances ?? [1, 1];
  if (!Array.isArray(vv) || vv.length !== 2 || vv.some((v) => typeof v !== 'number' || !Number.isFinite(v))) {
    throw new UserError(`${what} config: weight_variances must be two numbers, got ${JSON.stringify(cfg.weight_variances)}`);
  }
  const eq = cfgBool(raw, 'weight_equal_columns', what, false);
  const bias = cfgNum(raw, 'bias', what, 0);
  const seed = cfg.seed ?? 0;
  if (!Number.isInteger(seed) || seed < 0) throw new UserError(`${what} config: seed must be a non-negative integer, got ${JSON.stringify(cfg.seed)}`);
  const act = parseActivation(cfg.activation_fn ?? 'relu', `${what} activation_fn`);
  const c: MlpConfig = { input_size: width, hidden_sizes: Array(nh).fill(width), output_size: width, activation_fn: act, bias: true };
  const w = new Map<string, Float64Array>();
  for (let i = 0; i <= nh; i++) {
    const rng = new Rng(seed); // reset before each layer → identical layers
    const W = new Float64Array(width * width);
    let off = 0;
    for (const [bw, v] of [[fw, vv[0]], [width - fw, vv[1]]] as Array<[number, number]>) {
      if (bw > 0) {
        if (eq) {
          const r = normals(rng, new Float64Array(bw));
          for (let a = 0; a < bw; a++) for (let b2 = 0; b2 < bw; b2++) W[(off + a) * width + off + b2] = v * r[a]!;
        } else {
          const r = normals(rng, new Float64Array(bw * bw));
          for (let a = 0; a < bw; a++) for (let b2 = 0; b2 < bw; b2++) W[(off + a) * width + off + b2] = v * r[a * bw + b2]!;
        }
      }
      off += bw;
    }
    w.set(`layers.${i}.W`, W);
    w.set(`layers.${i}.b`, new Float64Array(width).fill(bias));
  }
  const m = mlpFromWeights(c, w);
  return { ...m, config: { ...m.config, modular: { n_hidden_layers: nh, width, first_block_width: fw, weight_variances: vv, weight_equal_columns: eq, bias, seed } } };
}

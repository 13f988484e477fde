/** Small random models and inputs for tests (seeded, our Rng): transformers, rib MLPs, token batches. */
import { normals } from '../../src/linalg/index.js';
import { Rng } from '../../src/rng.js';
import type { Tensor } from '../../src/io/tensor.js';
import { buildModel, parseTransformerConfig, transformerTensorShapes, type Inputs, type Model } from '../../src/models/index.js';

export function randn(rng: Rng, n: number, scale: number): Float64Array {
  const x = normals(rng, new Float64Array(n));
  for (let i = 0; i < n; i++) x[i]! *= scale;
  return x;
}

export function f64(shape: number[], data: Float64Array): Tensor {
  return { dtype: 'F64', shape, data };
}

export function randomTransformer(cfg: Record<string, unknown>, seed: number): Model {
  const c = parseTransformerConfig(cfg);
  const rng = new Rng(seed, 7);
  const t = new Map<string, Tensor>();
  for (const [name, shape] of transformerTensorShapes(c)) {
    const n = shape.reduce((a, b) => a * b, 1);
    let data: Float64Array;
    if (/ln\d?\.w$|ln_final\.w$/.test(name)) {
      data = randn(rng, n, 0.2);
      for (let i = 0; i < n; i++) data[i]! += 1;
    } else if (name.includes('.b')) data = randn(rng, n, 0.3);
    else data = randn(rng, n, 1 / Math.sqrt(shape[shape.length - 2] ?? 1));
    t.set(name, f64(shape, data));
  }
  return buildModel('transformer', cfg, t);
}

export function randomMlp(sizes: number[], act: string, seed: number): Model {
  const rng = new Rng(seed, 3);
  const t = new Map<string, Tensor>();
  for (let i = 0; i + 1 < sizes.length; i++) {
    t.set(`layers.${i}.W`, f64([sizes[i]!, sizes[i + 1]!], randn(rng, sizes[i]! * sizes[i + 1]!, 1 / Math.sqrt(sizes[i]!))));
    t.set(`layers.${i}.b`, f64([sizes[i + 1]!], randn(rng, sizes[i + 1]!, 0.3)));
  }
  return buildModel('mlp', { input_size: sizes[0], hidden_sizes: sizes.slice(1, -1), output_size: sizes[sizes.length - 1], activation_fn: act }, t);
}

export function randomTokens(B: number, S: number, V: number, seed: number): Inputs {
  const rng = new Rng(seed, 11);
  const data = new Int32Array(B * S);
  for (let i = 0; i < data.length; i++) data[i] = rng.int(V);
  return { kind: 'tokens', data, batch: B, seqLen: S };
}


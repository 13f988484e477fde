/**
 * Public entry point of the interbasis library. Browser-safe: nothing here imports Node modules,
 * so the same core runs in a browser tab (Node-only helpers are in `interbasis/node`).
 *
 * Data flow: dataset → activations → Grams → C → edges → graph.
 *   import { linalg, models, data, rib, io, analysis, parallel } from 'interbasis';
 *   await linalg.initKernels(wasmBytes);            // once (Node: no argument needed)
 */
export * from './errors.js';
export * from './rng.js';
export type * from './models/types.js';
export type * from './data/types.js';

/** SIMD Wasm kernels: gemm, syrk, eigh, svd, jtjAccumulate, deterministic math. */
export * as linalg from './linalg/index.js';
/** Fixed shards, ordered reductions, the task registry and pools (InlinePool, TaskPool). */
export * as parallel from './parallel/index.js';
/** Models (MLP, modular MLP, transformer-lens transformers), sections and VJPs. */
export * as models from './models/index.js';
/** Hugging Face GPT-2 / GPT-Neo / GPT-NeoX checkpoints → the processed transformer-lens model. */
export * as hf from './models/hf/index.js';
/** Datasets: modular arithmetic (exact reference split), block vectors, .npy parsing, LM text packing, tokenizers, CIFAR-10. */
export * as data from './data/index.js';
/** Tensors, safetensors, PyTorch .pt (restricted unpickler) and the results format. */
export * as io from './io/index.js';
/** The LIB build: config, stages and the whole pipeline. */
export * as rib from './rib/index.js';
/** Ablation schedules, Leiden/Louvain clustering, edge norms, Fourier labels, report HTML. */
export * as analysis from './analysis/index.js';

export { initKernels } from './linalg/index.js';
export { ribBuild } from './rib/build.js';
export { buildModel, modularMlp } from './models/index.js';

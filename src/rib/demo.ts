/**
 * The built-in demo (no download): a block-diagonal ReLU MLP whose blocks are hidden — by a random
 * orthogonal rotation of the input and output spaces, and by random permutations of the hidden
 * units between layers (the orthogonal maps that commute with ReLU) — on block-vector data.
 * Browser-safe. `demoModel` / `demoDataset` / `demoSummary`; the CLI lives in src/cli/demo.ts.
 */
import { normals } from '../linalg/index.js';
import { blockVector } from '../data/index.js';
import type { Dataset } from '../data/types.js';
import type { RibResults } from '../io/results.js';
import { buildModel } from '../models/index.js';
import type { Model } from '../models/types.js';
import { Rng } from '../rng.js';
import type { Tensor } from '../io/tensor.js';
import { adjustedRandIndex, clusterResults } from '../analysis/clusters.js';

/** Clustering used to check the demo (see docs/clustering.md, "The demo"). */
export const DEMO_GAMMA = 0.5;
export const DEMO_NORM = 'sqrt';

export interface DemoOptions {
  width: number;
  firstBlock: number;
  hiddenLayers: number;
  samples: number;
  seed: number;
  /** variances of the two blocks' data */
  dataVariances: [number, number];
}

export const DEMO_DEFAULTS: DemoOptions = { width: 12, firstBlock: 5, hiddenLayers: 3, samples: 4000, seed: 0, dataVariances: [1, 2] };

/** Random orthogonal n×n (Gram–Schmidt of a seeded Gaussian matrix). */
export function randomOrthogonal(n: number, rng: Rng): Float64Array {
  const A = normals(rng, new Float64Array(n * n));
  const Q = new Float64Array(n * n);
  for (let j = 0; j < n; j++) {
    for (let i = 0; i < n; i++) Q[i * n + j] = A[i * n + j]!;
    for (let pass = 0; pass < 2; pass++) {
      for (let p = 0; p < j; p++) {
        let s = 0;
        for (let i = 0; i < n; i++) s += Q[i * n + p]! * Q[i * n + j]!;
        for (let i = 0; i < n; i++) Q[i * n + j]! -= s * Q[i * n + p]!;
      }
    }
    let s = 0;
    for (let i = 0; i < n; i++) s += Q[i * n + j]! ** 2;
    s = Math.sqrt(s);
    for (let i = 0; i < n; i++) Q[i * n + j]! /= s;
  }
  return Q;
}

/** A random permutation matrix P (P[i, p(i)] = 1): unit i of x maps to unit p(i) of x·P. */
function randomPermutation(n: number, rng: Rng): Float64Array {
  const p = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [p[i], p[j]] = [p[j]!, p[i]!];
  }
  const P = new Float64Array(n * n);
  for (let i = 0; i < n; i++) P[i * n + p[i]!] = 1;
  return P;
}

function mm(A: Float64Array, B: Float64Array, n: number): Float64Array {
  const C = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let k = 0; k < n; k++) {
    const a = A[i * n + k]!;
    if (a === 0) continue;
    for (let j = 0; j < n; j++) C[i * n + j]! += a * B[k * n + j]!;
  }
  return C;
}

function tr(A: Float64Array, n: number): Float64Array {
  const T = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) T[j * n + i] = A[i * n + j]!;
  return T;
}

/** The demo model, the input rotation Q0 (the data are z·Q0 for block data z) and the hidden-unit permutations. */
export function demoModel(o: DemoOptions = DEMO_DEFAULTS): { model: Model; Q0: Float64Array; perms: Float64Array[] } {
  const { width: w, firstBlock: fw, hiddenLayers: nh, seed } = o;
  const rng = new Rng(seed, 0xde30);
  const block = (): Float64Array => {
    const B = new Float64Array(w * w);
    const r = normals(rng, new Float64Array(w * w));
    const scale = [1.2 / Math.sqrt(fw), 1.2 / Math.sqrt(w - fw)];
    for (let i = 0; i < w; i++) for (let j = 0; j < w; j++) {
      const bi = i < fw ? 0 : 1;
      const bj = j < fw ? 0 : 1;
      if (bi === bj) B[i * w + j] = scale[bi]! * r[i * w + j]!;
    }
    return B;
  };
  const Q0 = randomOrthogonal(w, rng);
  const Qout = randomOrthogonal(w, rng);
  const perms = Array.from({ length: nh }, () => randomPermutation(w, rng));
  const tensors = new Map<string, Tensor>();
  for (let i = 0; i <= nh; i++) {
    const left = i === 0 ? tr(Q0, w) : tr(perms[i - 1]!, w);
    const right = i === nh ? Qout : perms[i]!;
    const W = mm(mm(left, block(), w), right, w);
    tensors.set(`layers.${i}.W`, { dtype: 'F64', shape: [w, w], data: W });
    tensors.set(`layers.${i}.b`, { dtype: 'F64', shape: [w], data: new Float64Array(w) });
  }
  const config = { input_size: w, hidden_sizes: Array(nh).fill(w), output_size: w, activation_fn: 'relu', bias: true };
  return { model: buildModel('mlp', config, tensors), Q0, perms };
}

/** Block-vector data (variances `dataVariances`) rotated by Q0. */
export function demoDataset(Q0: Float64Array, o: DemoOptions = DEMO_DEFAULTS): Dataset {
  const z = blockVector({ size: o.samples, length: o.width, firstBlockLength: o.firstBlock, dataVariances: o.dataVariances, seed: o.seed });
  const w = o.width;
  const Z = (z.inputs as { data: Float64Array }).data;
  const X = new Float64Array(Z.length);
  for (let b = 0; b < o.samples; b++) for (let j = 0; j < w; j++) {
    let s = 0;
    for (let k = 0; k < w; k++) s += Z[b * w + k]! * Q0[k * w + j]!;
    X[b * w + j] = s;
  }
  return { name: 'demo_rotated_block_vectors', n: o.samples, inputs: { kind: 'floats', data: X, batch: o.samples, width: w }, labels: null };
}

/** The demo's build config (reference format) for a basis. */
export function demoConfig(basis: 'jacobian' | 'svd', o: DemoOptions = DEMO_DEFAULTS): Record<string, unknown> {
  return {
    exp_name: `demo_${basis === 'svd' ? 'pca' : 'rib'}`,
    out_dir: null,
    modular_mlp_config: { n_hidden_layers: o.hiddenLayers, width: o.width },
    node_layers: [...Array.from({ length: o.hiddenLayers + 1 }, (_, i) => `layers.${i}`), 'output'],
    rotate_final_node_layer: false,
    dataset: { dataset_type: 'block_vector', size: o.samples, length: o.width },
    batch_size: 1024,
    truncation_threshold: 1e-10,
    basis_formula: basis,
    center: true,
  };
}

/**
 * The planted block of every coordinate of every node layer `layers.i` (0 = first block, 1 =
 * second, -1 = the constant coordinate of a centred build): layer 0 in the block coordinates
 * z = x·Q0ᵀ, hidden layers through the hidden-unit permutations. `blockLoadings(i, c)` gives a
 * direction's squared loading on each block.
 */
export function plantedBlocks(o: DemoOptions = DEMO_DEFAULTS): (layer: number, c: ArrayLike<number>) => [number, number] {
  const { Q0, perms } = demoModel(o);
  const w = o.width;
  const blockOfZ = (k: number) => (k < o.firstBlock ? 0 : 1);
  return (layer, c) => {
    const e: [number, number] = [0, 0];
    if (layer === 0) {
      // f·c = x·c = z·(Q0·c): the loading on z_k is (Q0 c)_k
      for (let k = 0; k < w; k++) {
        let s = 0;
        for (let j = 0; j < w; j++) s += Q0[k * w + j]! * c[j]!;
        e[blockOfZ(k)] += s * s;
      }
    } else {
      // hidden unit j of layers.i came from unit k of the block product with P[k, j] = 1
      const P = perms[layer - 1]!;
      for (let k = 0; k < w; k++) for (let j = 0; j < w; j++) if (P[k * w + j] === 1) e[blockOfZ(k)] += c[j]! ** 2;
    }
    return e;
  };
}

export interface Recovery {
  basis: 'rib' | 'pca';
  gamma: number;
  /** adjusted Rand index of the Leiden clusters against the planted blocks (constant nodes left out) */
  ari: number;
  n_clusters: number;
  /** non-singleton clusters */
  n_non_singleton: number;
  modularity: number;
  /** nodes whose direction lies mostly (> 90 % of its squared loading) in one block */
  pure_nodes: number;
  nodes: number;
}

/**
 * How well Leiden clusters of a demo build recover the planted blocks: each node (RIB or PCA
 * direction of layers.0 … layers.n) is assigned the block holding most of its loading; the ARI
 * compares that with the clusters. Needs initKernels() first.
 */
export function demoRecovery(r: RibResults, basis: 'rib' | 'pca', o: DemoOptions = DEMO_DEFAULTS, cluster: { gamma?: number; seed?: number; norm?: string } = {}): Recovery {
  const gamma = cluster.gamma ?? DEMO_GAMMA;
  const run = clusterResults(r, { gamma, seed: cluster.seed ?? 0, norm: cluster.norm ?? DEMO_NORM, compare: false });
  const loadings = plantedBlocks(o);
  const truth: number[] = [];
  const found: number[] = [];
  let pure = 0;
  run.layers.forEach((L, li) => {
    const b = r.bases.find((x) => x.nodeLayer === L)!;
    const C = b.C!;
    const layer = Number(L.split('.')[1]);
    for (let i = run.centred ? 1 : 0; i < C.cols; i++) {
      const col = Array.from({ length: o.width }, (_, j) => C.data[j * C.cols + i]!);
      const [e0, e1] = loadings(layer, col);
      if (Math.max(e0, e1) > 0.9 * (e0 + e1)) pure++;
      truth.push(e0 >= e1 ? 0 : 1);
      found.push(run.assignment[L]![i]!);
    }
    void li;
  });
  return { basis, gamma, ari: adjustedRandIndex(truth, found), n_clusters: run.n_clusters, n_non_singleton: run.n_non_singleton, modularity: run.modularity, pure_nodes: pure, nodes: truth.length };
}

export function formatRecovery(rs: Recovery[]): string {
  const out = [`planted-block recovery (Leiden, norm ${DEMO_NORM}, γ = ${rs[0]?.gamma ?? DEMO_GAMMA}, constant nodes left out):`];
  for (const r of rs) {
    out.push(`  ${r.basis.padEnd(4)} ARI ${r.ari.toFixed(3)}   ${r.n_non_singleton} non-singleton clusters (${r.n_clusters} in all), modularity ${r.modularity.toFixed(3)}, ${r.pure_nodes}/${r.nodes} nodes inside one block`);
  }
  return out.join('\n');
}

export interface DemoRow {
  layer: string;
  dims: { pca: number | null; rib: number | null };
  topLambda: number[];
  /** fraction of edge entries below 1e-3 of the matrix's largest entry (outgoing edge of the layer) */
  sparsity: { pca: number | null; rib: number | null };
}

function sparsity(r: RibResults, L: string): number | null {
  const e = r.edges.find((x) => x.inLayer === L);
  if (!e) return null;
  let mx = 0;
  for (const v of e.E.data) mx = Math.max(mx, Math.abs(v));
  let small = 0;
  for (const v of e.E.data) if (Math.abs(v) < 1e-3 * mx) small++;
  return small / e.E.data.length;
}

export function demoSummary(rib: RibResults, pca: RibResults): DemoRow[] {
  return rib.nodeLayers.map((L) => {
    const br = rib.bases.find((x) => x.nodeLayer === L);
    const bp = pca.bases.find((x) => x.nodeLayer === L);
    const lam = br?.Lambda ? Array.from(br.Lambda).slice(0, 3) : [];
    return { layer: L, dims: { pca: bp?.C?.cols ?? null, rib: br?.C?.cols ?? null }, topLambda: lam, sparsity: { pca: sparsity(pca, L), rib: sparsity(rib, L) } };
  });
}

export function formatDemo(rows: DemoRow[]): string {
  const out = ['layer'.padEnd(10) + 'dim pca'.padStart(8) + 'dim rib'.padStart(8) + '   top Λ (rib)'.padEnd(36) + 'edge sparsity pca'.padStart(18) + 'rib'.padStart(8)];
  for (const r of rows) {
    const sp = (v: number | null) => (v === null ? '-' : `${(100 * v).toFixed(0)}%`);
    out.push(
      r.layer.padEnd(10) + String(r.dims.pca ?? '-').padStart(8) + String(r.dims.rib ?? '-').padStart(8) + ('   ' + r.topLambda.map((v) => v.toPrecision(4)).join(', ')).padEnd(36) + sp(r.sparsity.pca).padStart(18) + sp(r.sparsity.rib).padStart(8),
    );
  }
  return out.join('\n');
}

/** Hooks run after the demo wrote its results (e.g. the HTML report): fn(resultsDir, dirs). */
export type DemoHook = (dirs: { root: string; rib: string; pca: string }) => Promise<void> | void;
const hooks: DemoHook[] = [];
export function registerDemoHook(fn: DemoHook): void {
  hooks.push(fn);
}
export function demoHooks(): readonly DemoHook[] {
  return hooks;
}

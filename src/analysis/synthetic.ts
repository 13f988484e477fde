/**
 * Seeded synthetic graphs with planted communities, for Leiden tests and benchmarks. Browser-safe.
 */
import { Rng } from '../rng.js';
import { buildGraph, type CsrGraph } from './graph.js';

export interface PlantedGraph {
  graph: CsrGraph;
  /** planted community of each node */
  truth: Int32Array;
}

/**
 * Planted partition: n nodes in k groups of (near) equal size; ~n·degree/2 edge draws, each from a
 * uniform node u to a node in u's group with probability 1 − mixing, else to a node in another
 * group. Repeated draws of a pair add up. Weights: 1 if `weighted` is false, else uniform in
 * [0.5, 1.5).
 */
export function plantedPartition(o: {
  n: number;
  k: number;
  degree: number;
  mixing: number;
  weighted?: boolean;
  seed: number;
}): PlantedGraph {
  const { n, k, degree, mixing } = o;
  if (!(k >= 1 && n >= k)) throw new Error(`plantedPartition: need 1 ≤ k ≤ n, got n=${n}, k=${k}`);
  const rng = new Rng(o.seed, 0x91a7);
  const truth = new Int32Array(n);
  const start = new Int32Array(k + 1);
  for (let c = 0; c <= k; c++) start[c] = Math.floor((c * n) / k);
  for (let c = 0; c < k; c++) truth.fill(c, start[c]!, start[c + 1]!);
  const draws = Math.round((n * degree) / 2);
  const us: number[] = [];
  const vs: number[] = [];
  const ws: number[] = [];
  for (let e = 0; e < draws; e++) {
    const u = rng.int(n);
    const cu = truth[u]!;
    let v: number;
    if (k === 1 || rng.uniform() >= mixing) {
      const size = start[cu + 1]! - start[cu]!;
      if (size < 2) continue;
      v = start[cu]! + rng.int(size);
    } else {
      const outside = n - (start[cu + 1]! - start[cu]!);
      let x = rng.int(outside);
      if (x >= start[cu]!) x += start[cu + 1]! - start[cu]!;
      v = x;
    }
    if (v === u) continue;
    us.push(u);
    vs.push(v);
    ws.push(o.weighted ? 0.5 + rng.uniform() : 1);
  }
  return { graph: buildGraph(n, us, vs, ws), truth };
}

/** Draws `count` distinct indices from 0..total-1 (partial Fisher–Yates over a sparse swap map). */
function sampleDistinct(total: number, count: number, rng: Rng): number[] {
  const swap = new Map<number, number>();
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    const j = i + rng.int(total - i);
    const vj = swap.get(j) ?? j;
    const vi = swap.get(i) ?? i;
    swap.set(j, vi);
    out.push(vj);
  }
  return out;
}

/**
 * A layered graph like an interaction graph: `layers` × `width` nodes (ids layer by layer), edges
 * only between adjacent layers, exactly `edges` distinct edges spread evenly over the layer pairs.
 * `modules` planted modules each own width/modules consecutive nodes of every layer; a fraction
 * `intra` of each layer pair's edges join nodes of the same module (weights uniform in [1, 2)),
 * the rest are noise (weights uniform in [0, 0.5)).
 */
export function layeredPlantedGraph(o: {
  layers: number;
  width: number;
  modules: number;
  edges: number;
  intra: number;
  seed: number;
}): PlantedGraph & { layers: number; width: number } {
  const { layers, width, modules, edges, intra } = o;
  if (layers < 2 || width % modules !== 0) throw new Error('layeredPlantedGraph: need ≥ 2 layers and width divisible by modules');
  const rng = new Rng(o.seed, 0x1a7e);
  const msize = width / modules;
  const n = layers * width;
  const truth = new Int32Array(n);
  for (let u = 0; u < n; u++) truth[u] = Math.floor((u % width) / msize);
  const pairs = layers - 1;
  const intraPairs = modules * msize * msize;
  const interPairs = width * width - intraPairs;
  const us: number[] = [];
  const vs: number[] = [];
  const ws: number[] = [];
  for (let p = 0; p < pairs; p++) {
    const m = Math.floor(edges / pairs) + (p < edges % pairs ? 1 : 0);
    const nIn = Math.min(intraPairs, Math.round(m * intra));
    const nOut = m - nIn;
    if (nOut > interPairs) throw new Error('layeredPlantedGraph: too many edges for the layer size');
    const a0 = p * width;
    const b0 = (p + 1) * width;
    for (const x of sampleDistinct(intraPairs, nIn, rng)) {
      const mod = Math.floor(x / (msize * msize));
      const r = x % (msize * msize);
      us.push(a0 + mod * msize + Math.floor(r / msize));
      vs.push(b0 + mod * msize + (r % msize));
      ws.push(1 + rng.uniform());
    }
    for (const x of sampleDistinct(interPairs, nOut, rng)) {
      // enumerate (i, j) pairs with different modules in row-major order
      const i = Math.floor(x / (width - msize));
      let j = x % (width - msize);
      const mi = Math.floor(i / msize);
      if (j >= mi * msize) j += msize;
      us.push(a0 + i);
      vs.push(b0 + j);
      ws.push(0.5 * rng.uniform());
    }
  }
  return { graph: buildGraph(n, us, vs, ws), truth, layers, width };
}

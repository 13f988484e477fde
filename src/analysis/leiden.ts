/**
 * Leiden community detection (Traag, Waltman & van Eck 2019, "From Louvain to Leiden:
 * guaranteeing well-connected communities"), maximising the generalised modularity
 *   Q_γ = (1/2m) Σ_uv [A_uv − γ k_u k_v/(2m)] δ(c_u, c_v).
 *
 * One pass = repeat { fast local moving (queue based) → refinement (randomised merges of
 * well-connected nodes into well-connected sub-communities, Pr ∝ exp(ΔH/θ)) → aggregation of the
 * refined partition, with the non-refined partition as the aggregate's initial partition } until
 * local moving leaves every aggregate node alone. Passes are repeated from the previous partition:
 * by default until a pass changes nothing (at most 10), or exactly `iterations` times.
 *
 * Determinism: every random choice (node orders, refinement draws) comes from one
 * Rng(seed, LEIDEN_STREAM) stream in a fixed order; ties are broken by first candidate. The
 * refinement's exponentials use the Wasm `exp` (call initKernels() first). Browser-safe.
 *
 * Connectivity: communities are connected by construction (refined communities are grown along
 * edges); as a safeguard each final community is additionally split into its connected components,
 * which can only raise Q_γ (no edges cross the split).
 */
import { Rng } from '../rng.js';
import { exp, kernelsReady } from '../linalg/index.js';
import { aggregateGraph, componentsWithin, renumber, type CsrGraph } from './graph.js';
import { scorePartition } from './modularity.js';

export const LEIDEN_STREAM = 0x1e1de;

export interface LeidenOptions {
  /** resolution γ > 0 (default 1) */
  gamma?: number;
  /** non-negative integer seed (default 0) */
  seed?: number;
  /**
   * number of passes. Default: until a pass changes nothing, at most 10. When given, exactly this
   * many passes run (each pass starts from the previous partition and can only raise Q_γ).
   */
  iterations?: number;
  /** refinement randomness θ > 0 in units of the mean edge weight (default 0.01) */
  theta?: number;
  /** optional initial membership (any integer labels) */
  initial?: ArrayLike<number>;
}

export interface LeidenResult {
  /** community per node, 0..count-1, numbered by first appearance */
  communities: Int32Array;
  count: number;
  /** standard modularity (γ = 1) of the partition */
  modularity: number;
  /** Q_γ at the requested resolution */
  modularityGamma: number;
  /** passes run */
  iterations: number;
}

export function validateGamma(gamma: number): void {
  if (typeof gamma !== 'number' || !Number.isFinite(gamma) || gamma <= 0) {
    throw new RangeError(`resolution gamma must be a finite number > 0, got ${gamma}`);
  }
}

export function leiden(g: CsrGraph, opts: LeidenOptions = {}): LeidenResult {
  const gamma = opts.gamma ?? 1;
  const seed = opts.seed ?? 0;
  const maxIter = opts.iterations ?? 10;
  const exact = opts.iterations !== undefined;
  const theta = opts.theta ?? 0.01;
  validateGamma(gamma);
  if (!Number.isInteger(seed) || seed < 0) throw new RangeError(`leiden: seed must be a non-negative integer, got ${seed}`);
  if (!Number.isInteger(maxIter) || maxIter < 1) throw new RangeError(`leiden: iterations must be an integer ≥ 1, got ${maxIter}`);
  if (!(theta > 0) || !Number.isFinite(theta)) throw new RangeError(`leiden: theta must be finite and > 0, got ${theta}`);
  if (!kernelsReady()) throw new Error('leiden: Wasm kernels not loaded; call initKernels() first');

  const n = g.n;
  let membership: Int32Array;
  if (opts.initial) {
    if (opts.initial.length !== n) throw new Error(`leiden: initial membership has ${opts.initial.length} entries for ${n} nodes`);
    membership = renumber(opts.initial).membership;
  } else {
    membership = new Int32Array(n);
    for (let i = 0; i < n; i++) membership[i] = i;
  }
  let iterations = 0;
  if (n > 0 && g.totalWeight > 0) {
    const rng = new Rng(seed, LEIDEN_STREAM);
    const scale = theta * (g.totalWeight / g.numEdges); // θ in units of the mean edge weight
    for (let it = 0; it < maxIter; it++) {
      iterations++;
      const next = leidenPass(g, membership, gamma, scale, rng);
      const split = componentsWithin(g, next).component;
      const changed = !samePartition(split, membership);
      membership = split;
      if (!changed && !exact) break;
    }
  }
  return { ...scorePartition(g, membership, gamma), iterations };
}

/** True when two memberships induce the same partition. */
export function samePartition(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  if (a.length !== b.length) return false;
  const ab = new Map<number, number>();
  const ba = new Map<number, number>();
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    const y0 = ab.get(x);
    const x0 = ba.get(y);
    if (y0 === undefined) ab.set(x, y);
    else if (y0 !== y) return false;
    if (x0 === undefined) ba.set(y, x);
    else if (x0 !== x) return false;
  }
  return true;
}

function randomPermutation(n: number, rng: Rng): Int32Array {
  const p = new Int32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    const t = p[i]!;
    p[i] = p[j]!;
    p[j] = t;
  }
  return p;
}

/** One Leiden pass on the original graph from `initial`; returns the membership of its nodes. */
function leidenPass(g0: CsrGraph, initial: Int32Array, gamma: number, scale: number, rng: Rng): Int32Array {
  let G = g0;
  let P = renumber(initial).membership;
  const nodeOf = new Int32Array(g0.n);
  for (let i = 0; i < g0.n; i++) nodeOf[i] = i;
  for (;;) {
    const moved = fastLocalMove(G, P, gamma, rng);
    P = moved.membership;
    if (moved.count === G.n) break; // every (aggregate) node alone: done
    let R = refine(G, P, moved.count, gamma, scale, rng);
    if (R.count === G.n) R = moved; // refinement merged nothing: aggregate by P so the graph shrinks
    const next = aggregateGraph(G, R.membership, R.count);
    const nextP = new Int32Array(R.count);
    for (let u = 0; u < G.n; u++) nextP[R.membership[u]!] = P[u]!;
    for (let i = 0; i < g0.n; i++) nodeOf[i] = R.membership[nodeOf[i]!]!;
    G = next;
    P = nextP;
  }
  const out = new Int32Array(g0.n);
  for (let i = 0; i < g0.n; i++) out[i] = P[nodeOf[i]!]!;
  return out;
}

/**
 * Fast local moving: visit nodes from a queue (initially in random order); move each to the
 * neighbouring (or an empty) community with the largest gain if that beats staying; re-queue its
 * neighbours outside the new community. Returns the renumbered membership.
 */
function fastLocalMove(G: CsrGraph, P0: Int32Array, gamma: number, rng: Rng): { membership: Int32Array; count: number } {
  const { n, offsets, targets, weights, degrees } = G;
  const twoM = 2 * G.totalWeight;
  const comm = Int32Array.from(P0);
  const K = new Float64Array(n);
  const size = new Int32Array(n);
  for (let u = 0; u < n; u++) {
    K[comm[u]!] += degrees[u]!;
    size[comm[u]!]++;
  }
  const empty: number[] = [];
  for (let c = n - 1; c >= 0; c--) if (size[c] === 0) empty.push(c);

  const queue = randomPermutation(n, rng);
  const inQueue = new Uint8Array(n).fill(1);
  let head = 0;
  let len = n;
  const neighW = new Float64Array(n);
  const mark = new Uint8Array(n);
  const touched = new Int32Array(n);

  while (len > 0) {
    const u = queue[head]!;
    head = head + 1 === n ? 0 : head + 1;
    len--;
    inQueue[u] = 0;
    const ku = degrees[u]!;
    if (ku === 0) continue;
    const old = comm[u]!;
    let nt = 0;
    for (let i = offsets[u]!; i < offsets[u + 1]!; i++) {
      const c = comm[targets[i]!]!;
      if (!mark[c]) { mark[c] = 1; touched[nt++] = c; }
      neighW[c] += weights[i]!;
    }
    K[old] -= ku;
    size[old]--;
    const f = (gamma * ku) / twoM;
    const oldGain = neighW[old]! - f * K[old]!;
    let best = old;
    let bestGain = oldGain;
    for (let t = 0; t < nt; t++) {
      const c = touched[t]!;
      if (c === old) continue;
      const gain = neighW[c]! - f * K[c]!;
      if (gain > bestGain) { best = c; bestGain = gain; }
    }
    let usedEmpty = false;
    if (size[old]! > 0 && bestGain < 0) {
      best = empty[empty.length - 1]!;
      bestGain = 0;
      usedEmpty = true;
    }
    // require a real improvement (guards against round-off ping-pong)
    if (best !== old && !(bestGain - oldGain > 1e-12 * ku)) { best = old; usedEmpty = false; }
    K[best] += ku;
    size[best]++;
    comm[u] = best;
    for (let t = 0; t < nt; t++) { neighW[touched[t]!] = 0; mark[touched[t]!] = 0; }
    if (best !== old) {
      if (usedEmpty) empty.pop();
      if (size[old] === 0) empty.push(old);
      for (let i = offsets[u]!; i < offsets[u + 1]!; i++) {
        const v = targets[i]!;
        if (!inQueue[v] && comm[v] !== best) {
          inQueue[v] = 1;
          queue[(head + len) % n] = v;
          len++;
        }
      }
    }
  }
  return renumber(comm);
}

/**
 * Refinement: within each community S of P, start from singletons and visit nodes in random order.
 * A node v that is still a singleton and well connected to S (E(v, S−v) ≥ γ k_v (K_S − k_v)/2m)
 * joins a well-connected refined community C ⊆ S (or stays alone, ΔH = 0) with probability
 * ∝ exp(ΔH/θ) over candidates with ΔH = w(v,C) − γ k_v K_C/2m ≥ 0.
 */
function refine(
  G: CsrGraph,
  P: Int32Array,
  kP: number,
  gamma: number,
  scale: number,
  rng: Rng,
): { membership: Int32Array; count: number } {
  const { n, offsets, targets, weights, degrees } = G;
  const twoM = 2 * G.totalWeight;
  const KS = new Float64Array(kP);
  for (let u = 0; u < n; u++) KS[P[u]!] += degrees[u]!;
  const ref = new Int32Array(n);
  const refK = Float64Array.from(degrees);
  const refSize = new Int32Array(n).fill(1);
  const ext = new Float64Array(n); // weight from refined community to the rest of its S
  for (let u = 0; u < n; u++) {
    ref[u] = u;
    let e = 0;
    const s = P[u]!;
    for (let i = offsets[u]!; i < offsets[u + 1]!; i++) if (P[targets[i]!] === s) e += weights[i]!;
    ext[u] = e;
  }
  const neighW = new Float64Array(n);
  const mark = new Uint8Array(n);
  const touched = new Int32Array(n);
  const candC = new Int32Array(n + 1);
  const candGain = new Float64Array(n + 1);
  const prob = new Float64Array(n + 1);

  const order = randomPermutation(n, rng);
  for (let oi = 0; oi < n; oi++) {
    const v = order[oi]!;
    if (refSize[v] !== 1 || ref[v] !== v) continue; // no longer a singleton
    const s = P[v]!;
    const Ks = KS[s]!;
    const kv = degrees[v]!;
    if (kv === 0 || ext[v]! < (gamma * kv * (Ks - kv)) / twoM) continue; // not well connected
    let nt = 0;
    for (let i = offsets[v]!; i < offsets[v + 1]!; i++) {
      const u = targets[i]!;
      if (P[u] !== s) continue;
      const c = ref[u]!;
      if (!mark[c]) { mark[c] = 1; touched[nt++] = c; }
      neighW[c] += weights[i]!;
    }
    // candidate 0: stay alone (ΔH = 0)
    let nc = 1;
    candC[0] = v;
    candGain[0] = 0;
    let maxGain = 0;
    const f = (gamma * kv) / twoM;
    for (let t = 0; t < nt; t++) {
      const c = touched[t]!;
      if (c === v) continue;
      const Kc = refK[c]!;
      if (ext[c]! < (gamma * Kc * (Ks - Kc)) / twoM) continue; // C not well connected
      const gain = neighW[c]! - f * Kc;
      if (gain < 0) continue;
      candC[nc] = c;
      candGain[nc] = gain;
      nc++;
      if (gain > maxGain) maxGain = gain;
    }
    if (nc > 1) {
      let total = 0;
      for (let j = 0; j < nc; j++) {
        total += exp((candGain[j]! - maxGain) / scale);
        prob[j] = total;
      }
      const r = rng.uniform() * total;
      let j = 0;
      while (j < nc - 1 && !(r < prob[j]!)) j++;
      const c = candC[j]!;
      if (c !== v) {
        ext[c] = ext[c]! + ext[v]! - 2 * neighW[c]!;
        refK[c] += kv;
        refSize[c]++;
        refSize[v] = 0;
        ref[v] = c;
      }
    }
    for (let t = 0; t < nt; t++) { neighW[touched[t]!] = 0; mark[touched[t]!] = 0; }
  }
  return renumber(ref);
}

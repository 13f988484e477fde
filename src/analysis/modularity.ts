/**
 * Generalised (Reichardt–Bornholdt) modularity with resolution γ:
 *   Q_γ = (1/2m) Σ_uv [A_uv − γ k_u k_v / (2m)] δ(c_u, c_v) = Σ_c [ L_c/m − γ (K_c / 2m)² ]
 * where L_c is the weight inside c (each edge once, self-loops once; A_uu = 2·self-loop) and K_c
 * the total degree of c. γ = 1 is Newman's modularity. A graph with no edge weight has Q = 0.
 */
import { renumber, type CsrGraph } from './graph.js';

export function modularity(g: CsrGraph, membership: ArrayLike<number>, gamma = 1): number {
  if (membership.length !== g.n) {
    throw new Error(`modularity: membership has ${membership.length} entries for ${g.n} nodes`);
  }
  const m = g.totalWeight;
  if (!(m > 0)) return 0;
  const inner = new Map<number, number>(); // 2·L_c
  const tot = new Map<number, number>(); // K_c
  for (let u = 0; u < g.n; u++) {
    const c = membership[u]!;
    let w = 2 * g.selfLoops[u]!;
    for (let i = g.offsets[u]!; i < g.offsets[u + 1]!; i++) {
      if (membership[g.targets[i]!] === c) w += g.weights[i]!;
    }
    inner.set(c, (inner.get(c) ?? 0) + w);
    tot.set(c, (tot.get(c) ?? 0) + g.degrees[u]!);
  }
  let q = 0;
  const twoM = 2 * m;
  for (const [c, K] of tot) {
    const f = K / twoM;
    q += inner.get(c)! / twoM - gamma * f * f;
  }
  return q;
}

/**
 * A community detection result: `membership` renumbered 0..count-1 by first appearance, with its
 * standard modularity (γ = 1) and Q_γ at the requested resolution.
 */
export function scorePartition(
  g: CsrGraph,
  membership: ArrayLike<number>,
  gamma: number,
): { communities: Int32Array; count: number; modularity: number; modularityGamma: number } {
  const { membership: communities, count } = renumber(membership);
  return {
    communities,
    count,
    modularity: modularity(g, communities, 1),
    modularityGamma: modularity(g, communities, gamma),
  };
}

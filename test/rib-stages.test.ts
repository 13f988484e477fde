/**
 * Stage-by-stage checks against the reference's own matrices (refdata mod-add seeds 0–4):
 * means/Grams, one layer's C from the reference's next-layer C, and edges from the reference's Cs.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { initKernels } from '../src/linalg/index.js';
import { loadResults } from '../src/io/results.nodejs.js';
import type { Mat, RibResults } from '../src/io/results.js';
import { InlinePool } from '../src/parallel/pool.js';
import '../src/tasks.js';
import { parseBuildConfig } from '../src/rib/config.js';
import { datasetFor, loadModelFor, runBuildFromConfig } from '../src/rib/build.nodejs.js';
import { layerBasisFromNext } from '../src/rib/build.js';
import { REFDATA, ref } from './helpers/refdata.js';
import { colAbsCos } from '../src/rib/compare.js';
import { basisOf, maxRelEntries, modaddConfig, relErr } from './rib-helpers.js';

const SEEDS = [0, 1, 2, 3, 4];
const pool = new InlinePool();

/** Top-k C columns agree: |cos| ≥ tol, or, inside near-degenerate Λ groups, subspace agreement. */
function leadingColumnsAgree(ours: Mat, theirs: Mat, lambda: Float64Array, k: number, tol: number): string[] {
  const bad: string[] = [];
  const n = Math.min(k, ours.cols, theirs.cols);
  for (let c = 0; c < n; c++) {
    // near-degenerate group around c (consecutive Λ ratio > 0.97), in C-column order (sorted Λ)
    const lam = (i: number) => lambda[i]!;
    let lo = c;
    let hi = c;
    while (lo > 1 && lam(lo) / lam(lo - 1) > 0.97) lo--;
    while (hi + 1 < theirs.cols && lam(hi + 1) / lam(hi) > 0.97) hi++;
    if (lo === hi) {
      const cs = colAbsCos(ours, theirs, c);
      if (cs < tol) bad.push(`col ${c}: |cos| ${cs}`);
      continue;
    }
    // project their column c onto the span of our columns lo..hi (Gram–Schmidt)
    const d = ours.rows;
    const basis: Float64Array[] = [];
    for (let j = lo; j <= hi; j++) {
      const v = Float64Array.from({ length: d }, (_, i) => ours.data[i * ours.cols + j]!);
      for (const q of basis) {
        let s = 0;
        for (let i = 0; i < d; i++) s += q[i]! * v[i]!;
        for (let i = 0; i < d; i++) v[i]! -= s * q[i]!;
      }
      let nv = 0;
      for (let i = 0; i < d; i++) nv += v[i]! * v[i]!;
      nv = Math.sqrt(nv);
      for (let i = 0; i < d; i++) v[i]! /= nv;
      basis.push(v);
    }
    const t = Float64Array.from({ length: d }, (_, i) => theirs.data[i * theirs.cols + c]!);
    let tt = 0;
    let pp = 0;
    for (let i = 0; i < d; i++) tt += t[i]! * t[i]!;
    for (const q of basis) {
      let s = 0;
      for (let i = 0; i < d; i++) s += q[i]! * t[i]!;
      pp += s * s;
    }
    const cs = Math.sqrt(pp / tt);
    if (cs < tol) bad.push(`col ${c} (group ${lo}-${hi}): subspace cos ${cs}`);
  }
  return bad;
}

describe.skipIf(!REFDATA)('rib stages vs the reference (mod-add)', () => {
  const refs = new Map<string, RibResults>();
  beforeAll(async () => {
    await initKernels();
    for (const s of SEEDS) for (const b of ['rib', 'pca']) refs.set(`${s}${b}`, await loadResults(ref(`modadd/seed${s}/rib_graph_${b}.safetensors`)));
  });

  it.each(SEEDS)('seed %i: means and Grams within 1e-12 relative', async (seed) => {
    const c = parseBuildConfig(modaddConfig(seed, 'rib', { calculate_Cs: false, calculate_edges: false }));
    const { results } = await runBuildFromConfig(c, { pool });
    const r = refs.get(`${seed}rib`)!;
    for (const L of ['ln1.0', 'ln2.0', 'unembed']) {
      expect(relErr(results.means.get(L)!, r.means.get(L)!), `mean ${L}`).toBeLessThan(1e-12);
      expect(relErr(results.grams.get(L)!.data, r.grams.get(L)!.data), `gram ${L}`).toBeLessThan(1e-12);
    }
  });

  it.each(SEEDS)('seed %i: C of each layer from the reference Gram/PCA basis and next-layer C (Λ 1e-7, top-30 columns)', async (seed) => {
    const cfgRaw = modaddConfig(seed, 'rib');
    const c = parseBuildConfig(cfgRaw);
    const model = await loadModelFor(c);
    const ds = await datasetFor(c.dataset!, c, 'dataset', () => undefined);
    const r = refs.get(`${seed}rib`)!;
    const layers = ['ln1.0', 'ln2.0', 'unembed'];
    for (let l = 0; l < 3; l++) {
      const L = layers[l]!;
      const out = r.bases[l + 1]!;
      const { basis, lambda } = await layerBasisFromNext({ config: c, model, dataset: ds, layer: l, G: r.grams.get(L)!.data, mean: r.means.get(L)!, outBasis: out, pool, W: basisOf(r, L).W });
      const refB = basisOf(r, L);
      // Λ within 1e-7 relative for entries above 1e-10 of the largest
      expect(maxRelEntries(lambda!, refB.Lambda!, 1e-10), `Λ ${L}`).toBeLessThan(1e-7);
      // the C columns are in sorted-Λ order: masked first, then descending
      const sortedRef = Float64Array.from([refB.Lambda![0]!, ...Array.from(refB.Lambda!.slice(1)).sort((a, b) => b - a)]);
      const bad = leadingColumnsAgree(basis.C!, refB.C!, sortedRef, 30, 0.9999);
      expect(bad, `C ${L}`).toEqual([]);
    }
  });

  it.each(SEEDS.flatMap((s) => [[s, 'rib'], [s, 'pca']] as Array<[number, 'rib' | 'pca']>))(
    'seed %i %s: edges from the reference Cs within 1e-6 (Frobenius)',
    async (seed, basis) => {
      const c = parseBuildConfig(
        modaddConfig(seed, basis, { calculate_Cs: false, interaction_matrices_path: ref(`modadd/seed${seed}/rib_graph_${basis}.safetensors`) }),
      );
      const { results } = await runBuildFromConfig(c, { pool });
      const r = refs.get(`${seed}${basis}`)!;
      expect(results.edges.length).toBe(3);
      for (const e of results.edges) {
        const re = r.edges.find((x) => x.inLayer === e.inLayer && x.outLayer === e.outLayer)!;
        expect([e.E.rows, e.E.cols]).toEqual([re.E.rows, re.E.cols]);
        expect(relErr(e.E.data, re.E.data), `${e.inLayer}->${e.outLayer}`).toBeLessThan(1e-6);
      }
    },
  );
});

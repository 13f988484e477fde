/**
 * End to end against the reference (refdata mod-add seeds 0–4, rib and pca settings), with the
 * tolerances honest implementations meet (issue 5): Λ at ln2.0/unembed 1e-6, Λ at ln1.0 1e-2,
 * edge totals 1e-3, dims ±2 explained by near-threshold eigenvalues; determinism across worker counts.
 * The worker pool runs the compiled dist/ (npm run build:ts first).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initKernels } from '../src/linalg/index.js';
import { loadResults } from '../src/io/results.nodejs.js';
import type { RibResults } from '../src/io/results.js';
import type { TaskPool } from '../src/parallel/pool.js';
import '../src/tasks.js';
import { parseBuildConfig } from '../src/rib/config.js';
import { runBuildFromConfig } from '../src/rib/build.nodejs.js';
import { makePool } from '../src/cli/build.js';
import { REFDATA, ref } from './helpers/refdata.js';
import { basisOf, maxRelEntries, modaddConfig, sum, tmpDir } from './rib-helpers.js';

const CASES = [0, 1, 2, 3, 4].flatMap((s) => [[s, 'rib'], [s, 'pca']] as Array<[number, 'rib' | 'pca']>);

interface NearEntry {
  index: number;
  value: number;
  kept: boolean;
}
interface Near {
  threshold: number;
  factor: number;
  layers: Record<string, { gram: NearEntry[]; lambda: NearEntry[] }>;
}

describe.skipIf(!REFDATA)('rib build end to end vs the reference (mod-add)', () => {
  let pool: TaskPool;
  beforeAll(async () => {
    await initKernels();
    pool = await makePool(2);
  });
  afterAll(async () => {
    await pool?.destroy();
  });

  it.each(CASES)('seed %i %s', async (seed, basis) => {
    const dir = tmpDir();
    const c = parseBuildConfig(modaddConfig(seed, basis));
    const { results } = await runBuildFromConfig(c, { pool, out: join(dir, 'out') });
    const r: RibResults = await loadResults(ref(`modadd/seed${seed}/rib_graph_${basis}.safetensors`));
    // near-threshold diagnostics in results.json
    const doc = JSON.parse(readFileSync(join(dir, 'out', 'results.json'), 'utf8')) as { info: { near_threshold: Near; dims: Record<string, { trunc: number | null; rib: number | null }> } };
    const near = doc.info.near_threshold;
    expect(near.threshold).toBe(1e-15);
    expect(near.factor).toBe(100);
    // every listed eigenvalue lies within the factor of the threshold, and is kept exactly when above it
    const listed = Object.entries(near.layers).flatMap(([L, v]) => [...v.gram, ...v.lambda].map((e) => ({ L, ...e })));
    for (const e of listed) {
      expect(['ln1.0', 'ln2.0', 'unembed'], e.L).toContain(e.L);
      expect(e.value, `${e.L}[${e.index}]`).toBeGreaterThanOrEqual(near.threshold / near.factor);
      expect(e.value, `${e.L}[${e.index}]`).toBeLessThanOrEqual(near.threshold * near.factor);
      expect(e.kept, `${e.L}[${e.index}] = ${e.value}`).toBe(e.value > near.threshold);
    }
    // dims within ±2, each difference explained by an eigenvalue within 100× of the threshold
    for (const L of ['ln1.0', 'ln2.0', 'unembed']) {
      const ours = basisOf(results, L);
      const theirs = basisOf(r, L);
      const dTrunc = Math.abs(ours.W!.cols - theirs.W!.cols);
      const dRib = Math.abs(ours.C!.cols - theirs.C!.cols);
      expect(dTrunc, `W dims ${L}`).toBeLessThanOrEqual(2);
      expect(dRib, `C dims ${L}`).toBeLessThanOrEqual(2);
      const nl = near.layers[L] ?? { gram: [], lambda: [] };
      // the reference's own Λ within 100× of the threshold (its Gram eigenvalues are not stored)
      // …or kept only because of values below a standard eigensolver's resolution ε·n·max (the
      // reference's LAPACK eigh returns noise of that size where the exact rank is lower)
      const lamRef = theirs.Lambda ? Array.from(theirs.Lambda) : [];
      const floorRef = 2.220446049250313e-16 * lamRef.length * Math.max(0, ...lamRef);
      const refNear = lamRef.slice(1).filter((v) => (v >= 1e-17 && v <= 1e-13) || (v >= 1e-15 && v < floorRef)).length;
      expect(nl.gram.length, `near-threshold Gram eigenvalues explain W dims ${L}`).toBeGreaterThanOrEqual(dTrunc);
      expect(nl.gram.length + nl.lambda.length + refNear, `near-threshold eigenvalues explain C dims ${L}`).toBeGreaterThanOrEqual(dRib);
    }
    if (basis === 'rib') {
      for (const L of ['ln2.0', 'unembed']) {
        expect(maxRelEntries(basisOf(results, L).Lambda!, basisOf(r, L).Lambda!, 1e-6), `Λ ${L}`).toBeLessThan(1e-6);
      }
      expect(maxRelEntries(basisOf(results, 'ln1.0').Lambda!, basisOf(r, 'ln1.0').Lambda!, 1e-6), 'Λ ln1.0').toBeLessThan(1e-2);
    }
    for (const e of results.edges) {
      const re = r.edges.find((x) => x.inLayer === e.inLayer && x.outLayer === e.outLayer)!;
      const a = sum(e.E.data);
      const b = sum(re.E.data);
      expect(Math.abs(a - b) / Math.abs(b), `edge total ${e.inLayer}->${e.outLayer}`).toBeLessThan(1e-3);
    }
  });

  it('results.safetensors is bit-identical for 1 and 2 workers', async () => {
    const dir = tmpDir();
    const c = parseBuildConfig(modaddConfig(0, 'rib'));
    const p1 = await makePool(1);
    await runBuildFromConfig(c, { pool: p1, out: join(dir, 'w1') });
    await p1.destroy();
    await runBuildFromConfig(c, { pool, out: join(dir, 'w2') });
    const a = readFileSync(join(dir, 'w1', 'results.safetensors'));
    const b = readFileSync(join(dir, 'w2', 'results.safetensors'));
    expect(a.length).toBe(b.length);
    expect(Buffer.compare(a, b)).toBe(0);
  });
});

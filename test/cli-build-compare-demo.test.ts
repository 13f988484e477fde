/** `interbasis compare` and `interbasis demo`. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { initKernels } from '../src/linalg/index.js';
import { runCompareCli } from '../src/cli/compare.js';
import { runDemoCli } from '../src/cli/demo.js';
import { registerDemoHook } from '../src/rib/demo.js';
import { loadResults } from '../src/io/results.nodejs.js';
import { REFDATA, ref } from './helpers/refdata.js';
import { tmpDir } from './rib-helpers.js';

const sink = () => {
  const chunks: string[] = [];
  return { s: { write: (c: string) => (chunks.push(c), true) } as unknown as NodeJS.WritableStream, text: () => chunks.join('') };
};

describe('interbasis compare / demo', () => {
  beforeAll(async () => {
    await initKernels();
  });

  it.skipIf(!REFDATA)('compares refdata rib_graph files: identical inputs agree exactly, rib vs pca differ', async () => {
    const o = sink();
    const same = await runCompareCli(ref('modadd/seed0/rib_graph_rib.safetensors'), ref('modadd/seed0/rib_graph_rib.safetensors'), { json: true }, o.s);
    const doc = JSON.parse(o.text()) as { layers: unknown[]; edges: unknown[] };
    expect(doc.layers.length).toBe(4);
    for (const l of same.layers.filter((x) => x.leadingCos.length)) {
      expect(Math.min(...l.leadingCos)).toBeCloseTo(1, 12);
      expect(Math.min(...l.principalCos)).toBeCloseTo(1, 10);
      expect(l.lambdaRelErr).toBe(0);
    }
    for (const e of same.edges) expect(e.blockRelErr + e.totalRelErr + e.frobRelErr).toBe(0);
    const t = sink();
    const diff = await runCompareCli(ref('modadd/seed0/rib_graph_rib.safetensors'), ref('modadd/seed0/rib_graph_pca.safetensors'), {}, t.s);
    expect(t.text()).toMatch(/ln2\.0\s+129\/127\/110\s+129\/127\/127/);
    // total of the last (linear, into logits) edge is basis independent (spec §12)
    const last = diff.edges.find((e) => e.edge === 'unembed->output')!;
    expect(last.totalRelErr).toBeLessThan(1e-6);
  });

  it('demo: builds RIB and PCA, prints the table, writes results, calls report hooks; no overwrite without --force', async () => {
    const dir = join(tmpDir(), 'demo');
    const seen: string[] = [];
    registerDemoHook((d) => {
      seen.push(d.rib);
    });
    const o = sink();
    const r = await runDemoCli({ out: dir, workers: 1 }, { out: o.s, err: sink().s });
    expect(o.text()).toMatch(/edge sparsity/);
    expect(r.rows.length).toBe(5);
    for (const f of ['rib/results.safetensors', 'pca/results.safetensors', 'rib.yaml', 'model.safetensors', 'data.safetensors']) expect(existsSync(join(dir, f))).toBe(true);
    expect(seen).toEqual([join(dir, 'rib')]);
    expect(r.rows.map((x) => x.layer)).toEqual(['layers.0', 'layers.1', 'layers.2', 'layers.3', 'output']);
    expect(r.rows[4]!.sparsity).toEqual({ pca: null, rib: null });
    // each row reports the edges of the results files written, and the RIB basis gives sparser
    // edges than PCA on every layer (the hidden blocks show up as zero blocks)
    const written = { rib: await loadResults(join(dir, 'rib')), pca: await loadResults(join(dir, 'pca')) };
    const fractionSmall = (E: Float64Array): number => {
      const mx = E.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      return E.filter((v) => Math.abs(v) < 1e-3 * mx).length / E.length;
    };
    for (const row of r.rows.slice(0, 4)) {
      for (const basis of ['rib', 'pca'] as const) {
        const e = written[basis].edges.find((x) => x.inLayer === row.layer)!;
        expect(row.sparsity[basis], `${basis} ${row.layer}`).toBe(fractionSmall(e.E.data));
      }
      expect(row.sparsity.rib!, row.layer).toBeGreaterThan(row.sparsity.pca! + 0.05);
    }
    await expect(runDemoCli({ out: dir, workers: 1 }, { out: sink().s, err: sink().s })).rejects.toThrow(/--force/);
  });
});

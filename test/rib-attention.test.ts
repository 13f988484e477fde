/**
 * The low-dimensional attention M′ (src/rib/structures/attention-mprime.ts) against the generic batched-VJP
 * accumulation (models' accumulateJacobianM) on the mod-add seed-0 attention section.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { initKernels } from '../src/linalg/index.js';
import { loadResults } from '../src/io/results.nodejs.js';
import { accumulateJacobianM } from '../src/models/index.js';
import { parseBuildConfig } from '../src/rib/config.js';
import { datasetFor, loadModelFor } from '../src/rib/build.nodejs.js';
import { cotRows, detectAttention } from '../src/rib/structures/attention-core.js';
import { attnMprimeAcc, attnMprimeAssemble } from '../src/rib/structures/attention-mprime.js';
import { REFDATA, ref } from './helpers/refdata.js';
import { modaddConfig, relErr } from './rib-helpers.js';

beforeAll(async () => {
  await initKernels();
});

describe.skipIf(!REFDATA)('attention M′ in low dimension', () => {
  for (const [name, alphas, weights] of [
    ['gradient', [1], [1]],
    ['two integration points', [0.25, 1], [0.4, 0.6]],
  ] as const) {
    it(`equals the generic VJP accumulation (${name})`, async () => {
      const c = parseBuildConfig(modaddConfig(0, 'rib'));
      const model = await loadModelFor(c);
      const ds = await datasetFor(c.dataset!, c, 'dataset', () => undefined);
      const sm = model.sectioned(c.node_layers, { lastPosModuleType: 'add_resid1' });
      const sec = sm.sections[0]!;
      const st = detectAttention(sec);
      expect(st).not.toBeNull();
      const B = 24;
      const x = sm.pre(ds.inputs).subarray(0, B * sec.inPos * sec.inDim);
      const Cout = (await loadResults(ref('modadd/seed0/rib_graph_rib.safetensors'))).bases[1]!.C!;
      const U = cotRows(Cout.data, sec.inDim, Cout.cols);
      const fast = attnMprimeAssemble(st!, attnMprimeAcc(st!, x, B, sec.inPos, U, Cout.cols, [...alphas], [...weights]), U, Cout.cols);
      const slow = accumulateJacobianM(sec, x, B, Cout.data, Cout.cols, alphas, weights);
      expect(relErr(fast, slow)).toBeLessThan(1e-12);
      for (let i = 0; i < sec.inDim; i++) for (let j = 0; j < i; j++) expect(fast[i * sec.inDim + j]).toBe(fast[j * sec.inDim + i]);
    });
  }
});

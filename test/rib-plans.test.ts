/**
 * The stage drivers as shard plans (src/rib/stages.ts): another runner that executes a plan's
 * payloads in any order (here: last shard first, each on its own) and folds the partial sums in
 * ascending shard order gets the bits of `runPlan` on a pool — the contract a multi-machine
 * runner relies on.
 */
import { describe, expect, it } from 'vitest';
import { initKernels } from '../src/linalg/index.js';
import { InlinePool } from '../src/parallel/pool.js';
import { runTask } from '../src/parallel/registry.js';
import '../src/tasks.js';
import type { Dataset } from '../src/data/types.js';
import type { LayerBasis } from '../src/io/results.js';
import { parseBuildConfig } from '../src/rib/config.js';
import type { ModelCtx } from '../src/rib/context.js';
import { activationsPlan, edgesPlan, gramPlan, mprimePlan, runPlan, sharedSpec, type ShardPlan } from '../src/rib/stages.js';
import { randomTokens, randomTransformer, randn } from './helpers/random-models.js';
import { Rng } from '../src/rng.js';

await initKernels();

/** Runs the shards last-first, one at a time, then folds them in ascending order. */
async function runElsewhere<P, R, O>(plan: ShardPlan<P, R, O>): Promise<O> {
  const parts: R[] = new Array(plan.payloads.length);
  for (let i = plan.payloads.length - 1; i >= 0; i--) parts[i] = (await runTask(plan.task, structuredClone(plan.payloads[i]))) as R;
  const acc = parts[0]!;
  for (let i = 1; i < parts.length; i++) plan.add(acc, parts[i]!);
  return plan.finish(acc);
}

describe('shard plans', () => {
  it('activations, Grams, M′ and edges: any execution order, ascending fold = runPlan', async () => {
    const cfg = { n_layers: 1, d_model: 8, d_head: 3, n_heads: 2, d_mlp: 12, d_vocab: 7, n_ctx: 3, act_fn: 'relu', normalization_type: null };
    const model = randomTransformer(cfg, 4);
    const inputs = randomTokens(700, 3, 7, 2); // 3 forward shards, 2 attention shards
    const ds: Dataset = { name: 'random tokens', n: inputs.batch, inputs, labels: null };
    const nl = ['ln1.0', 'attn_out.0', 'ln2.0', 'unembed', 'output'];
    const c = parseBuildConfig({
      exp_name: 'plans', out_dir: null, model: { type: 'transformer', path: 'unused.safetensors' }, node_layers: nl,
      last_pos_module_type: 'add_resid1', rotate_final_node_layer: false, dataset: { dataset_type: 'file', path: 'unused.safetensors' },
      batch_size: 300, truncation_threshold: 1e-10,
    });
    const sm = model.sectioned(nl, { lastPosModuleType: 'add_resid1' });
    const ctx: ModelCtx = { id: 'plans-test', spec: sharedSpec(model), nodeLayers: nl, lastPosModuleType: 'add_resid1' };
    const dims = sm.nodeLayers.slice(0, 4).map((i) => [i.positions, i.dim] as [number, number]);
    const pool = new InlinePool();
    const a1 = await runPlan(pool, activationsPlan(ctx, ds, dims, 4, 'forward'));
    const a2 = await runElsewhere(activationsPlan(ctx, ds, dims, 4, 'forward'));
    expect(a1.acts.map((x) => Array.from(x))).toEqual(a2.acts.map((x) => Array.from(x)));
    expect(a1.sums.map((x) => Array.from(x))).toEqual(a2.sums.map((x) => Array.from(x)));
    const g1 = await runPlan(pool, gramPlan(true, a1, 1, dims[1]![0], dims[1]![1], nl[1]!));
    const g2 = await runElsewhere(gramPlan(true, a1, 1, dims[1]![0], dims[1]![1], nl[1]!));
    expect(Array.from(g1.G.data)).toEqual(Array.from(g2.G.data));
    const rng = new Rng(3);
    const basis = (l: number, r: number): LayerBasis => {
      const d = sm.nodeLayers[l]!.dim;
      return { nodeLayer: nl[l]!, origDim: d, C: { rows: d, cols: r, data: randn(rng, d * r, 0.3) }, Cpinv: { rows: r, cols: d, data: randn(rng, r * d, 0.3) }, W: null, Wpinv: null, V: null, Lambda: null };
    };
    for (const l of [0, 1, 2]) {
      const inB = basis(l, 5);
      const outB = basis(l + 1, 4);
      const mp = mprimePlan(c, ctx, sm, l, a1.acts[l]!, a1.N, outB, null, true);
      if ('plan' in mp) {
        if (l === 1) expect(mp.plan.payloads.length).toBeGreaterThan(1); // attention: 512-sample shards
        expect(Array.from((await runElsewhere(mp.plan)).M)).toEqual(Array.from((await runPlan(pool, mp.plan)).M));
      } else expect(l).toBe(0); // ln1.0 → attn_out.0 is linear: M′ without data
      const ep = edgesPlan(c, ctx, sm, l, a1.acts[l]!, a1.N, inB, outB, true);
      expect(Array.from((await runElsewhere(ep)).data)).toEqual(Array.from((await runPlan(pool, ep)).data));
    }
  });
});

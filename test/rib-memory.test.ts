/**
 * Builds under a memory budget: the plan (src/rib/memory.ts), and the streamed build — layers not
 * stored are recomputed block by block, the Grams come from one more forward pass — bit-identical
 * to the build that stores every activation, on transformers with local attention, rotary and
 * parallel blocks, with a Gram dataset of another length, stochastic sources and naive gradient flow.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { initKernels } from '../src/linalg/index.js';
import type { RibResults } from '../src/io/results.js';
import { InlinePool, type TaskPool } from '../src/parallel/pool.js';
import '../src/tasks.js';
import { parseBuildConfig, type BuildConfig } from '../src/rib/config.js';
import { ribBuild } from '../src/rib/build.js';
import { blockSamples } from '../src/rib/stages.js';
import { planMemory, gbToBytes } from '../src/rib/memory.js';
import { hfModel } from '../src/models/hf/index.js';
import type { Model } from '../src/models/types.js';
import type { Dataset } from '../src/data/types.js';
import { makeHfCheckpoint, randomTokens, type Arch } from './lm-fixtures.js';
import { UserError } from '../src/errors.js';
import { blockKey, localBuild, replayBuild, runStageShard, sampleRange, stageGraph, type Store, type StoredBlock } from '../src/dist/stages.js';

beforeAll(async () => {
  await initKernels();
});

const tokens = (n: number, T: number, V: number, seed: number): Dataset => ({
  name: `tokens-${n}x${T}`,
  n,
  inputs: { kind: 'tokens', data: randomTokens(n, T, V, seed), batch: n, seqLen: T },
  labels: null,
});

function config(nodeLayers: string[], extra: Record<string, unknown> = {}): BuildConfig {
  return parseBuildConfig({
    exp_name: 'memory',
    model: { type: 'hf', path: 'unused' },
    node_layers: nodeLayers,
    dataset: { dataset_type: 'file', path: 'unused.safetensors' },
    batch_size: 4,
    truncation_threshold: 1e-12,
    rotate_final_node_layer: true,
    ...extra,
  });
}

function model(arch: Arch, o: Record<string, unknown> = {}): Model {
  const fx = makeHfCheckpoint(arch, { seed: 5, d: 8, heads: 2, dMlp: 32, vocab: 17, positions: 24, ...o });
  return hfModel(fx.config, fx.tensors);
}

function expectSameBits(a: RibResults, b: RibResults): void {
  const same = (x: Float64Array, y: Float64Array, what: string) => {
    expect(y.length, what).toBe(x.length);
    const bad = x.findIndex((v, i) => !Object.is(v, y[i]));
    expect(bad, `${what}: first differing index`).toBe(-1);
  };
  for (const [k, G] of a.grams) same(G.data, b.grams.get(k)!.data, `Gram ${k}`);
  for (const [k, m] of a.means) same(m, b.means.get(k)!, `mean ${k}`);
  expect(b.bases.length).toBe(a.bases.length);
  a.bases.forEach((x, i) => {
    const y = b.bases[i]!;
    if (x.C) same(x.C.data, y.C!.data, `C ${x.nodeLayer}`);
    else expect(y.C).toBeNull();
  });
  expect(b.edges.length).toBe(a.edges.length);
  a.edges.forEach((e, i) => same(e.E.data, b.edges[i]!.E.data, `E ${e.inLayer}`));
}

async function build(c: BuildConfig, m: Model, ds: Dataset, gds: Dataset | null, pool: TaskPool, storeEvery?: number): Promise<RibResults> {
  return ribBuild({ config: c, model: m, dataset: ds, gramDataset: gds, pool, ...(storeEvery !== undefined ? { storeEvery } : {}) });
}

describe('memory plan', () => {
  const base = { workers: 2, modelValues: 1e6, inputBytes: 1e6, samples: 1000, gramDims: null, gramSamples: 0, blockRows: 1000, blockCells: 0 };
  const dims: Array<[number, number]> = Array.from({ length: 6 }, () => [100, 100]); // 80 MB per layer at 1000 samples

  it('stores everything without a budget', () => {
    const p = planMemory({ ...base, budget: null, dims });
    expect(p.keep).toEqual([true, true, true, true, true, true]);
    expect(p.every).toBe(1);
    expect(p.estimate).toBeGreaterThan(6 * 80e6);
  });

  it('stores every k-th layer when all of them do not fit, and none when even one does not', () => {
    const all = planMemory({ ...base, budget: null, dims }).estimate;
    const fixed = all - 6 * 80e6;
    // room for 3 layers (after the 15 % slack): every 2nd layer
    const p2 = planMemory({ ...base, budget: fixed + (3 * 80e6) / 0.85 + 1, dims });
    expect(p2.every).toBe(2);
    expect(p2.keep).toEqual([true, false, true, false, true, false]);
    expect(p2.estimate).toBeLessThanOrEqual(p2.budget!);
    const p0 = planMemory({ ...base, budget: fixed + 1e6, dims });
    expect(p0.every).toBe(0);
    expect(p0.keep.some(Boolean)).toBe(false);
  });

  it('a separate Gram dataset is streamed under a budget that cannot hold it', () => {
    const gramDims: Array<[number, number]> = dims.map(([, d]) => [200, d]);
    const p = planMemory({ ...base, budget: gbToBytes(1.5), dims, gramDims, gramSamples: 4000 });
    expect(p.keepGram).toBe(false);
    expect(p.keep.every(Boolean)).toBe(true);
  });

  it('refuses a budget below the fixed estimate, in GB', () => {
    expect(() => planMemory({ ...base, budget: gbToBytes(0.05), dims })).toThrow(UserError);
    expect(() => planMemory({ ...base, budget: gbToBytes(0.05), dims })).toThrow(/memory budget 0\.05 GB is below this build's estimated minimum of 0\.\d\d GB/);
  });

  it('blocks of long sequences hold fewer samples; the toy models keep the fixed sizes', () => {
    expect(blockSamples(256, 3)).toBe(256);
    expect(blockSamples(2048, 3)).toBe(2048);
    expect(blockSamples(256, 1)).toBe(256);
    expect(blockSamples(256, 200)).toBe(26);
    expect(blockSamples(256, 511)).toBe(4);
    expect(blockSamples(256, 1024)).toBe(1);
    expect(blockSamples(256, 5000)).toBe(1);
  });
});

describe('streamed build = stored build, bit for bit', () => {
  const pool = new InlinePool();
  const six = (i: number) => [`ln1.${i}`, `ln1_out.${i}`, `attn_in.${i}`, `ln2.${i}`, `ln2_out.${i}`, `mlp_in.${i}`];

  it('GPT-Neo (local attention) cut at every block module, Grams on another sequence length', async () => {
    const m = model('GPTNeoForCausalLM');
    const c = config([...six(0), ...six(1), 'ln_final', 'unembed']);
    const ds = tokens(11, 9, 17, 1);
    const gds = tokens(7, 13, 17, 2);
    const ref = await build(c, m, ds, gds, pool);
    for (const k of [0, 2, 5]) expectSameBits(ref, await build(c, m, ds, gds, pool, k));
  });

  it('GPT-NeoX (rotary, parallel blocks) with stochastic sources, stochastic edges and the logits as the last node layer', async () => {
    const m = model('GPTNeoXForCausalLM', { rotaryPct: 0.5 });
    const c = config(['ln1.0', 'attn_in.0', 'ln2.0', 'mlp_out.0', 'ln1.1', 'unembed', 'output'], { n_stochastic_sources_basis_pos: 1, n_stochastic_sources_edges: 2, seed: 3, rotate_final_node_layer: false });
    const ds = tokens(9, 8, 17, 3);
    const ref = await build(c, m, ds, null, pool);
    for (const k of [0, 3]) expectSameBits(ref, await build(c, m, ds, null, pool, k));
  });

  it('GPT-2 with the structured paths, naive gradient flow and integrated gradients', async () => {
    const m = model('GPT2LMHeadModel');
    const nl = ['ln1.0', 'attn_out.0', 'ln2.0', 'mlp_act.0', 'ln1.1', 'unembed'];
    const ds = tokens(10, 6, 17, 4);
    for (const extra of [{}, { naive_gradient_flow: true }, { basis_formula: '(1-0)*alpha', integration_method: 'trapezoidal', n_intervals: 2 }]) {
      const c = config(nl, extra);
      const ref = await build(c, m, ds, null, pool);
      expectSameBits(ref, await build(c, m, ds, null, pool, 0));
      expectSameBits(ref, await build(c, m, ds, null, pool, 2));
    }
  });

  it('a budget records its plan in info.memory', async () => {
    const m = model('GPT2LMHeadModel');
    const c = config(['ln1.0', 'ln2.0', 'unembed']);
    const ds = tokens(6, 5, 17, 5);
    const r = await ribBuild({ config: c, model: m, dataset: ds, gramDataset: null, pool, memoryBudget: gbToBytes(2) });
    const mem = r.info.memory as { budget_gb: number; estimate_gb: number; stored_every: number };
    expect(mem.budget_gb).toBe(2);
    expect(mem.stored_every).toBe(1);
    expect(mem.estimate_gb).toBeGreaterThan(0.2);
    expect(mem.estimate_gb).toBeLessThan(2);
    await expect(ribBuild({ config: c, model: m, dataset: ds, gramDataset: null, pool, memoryBudget: gbToBytes(0.01) })).rejects.toThrow(/memory budget 0\.01 GB is below/);
  });
});

describe('streamed build through the stage graph (interbasis build, shards, merge)', () => {
  const pool = new InlinePool();

  /** Every stage in `n` shards, each shard run on its own with the earlier stages replayed, then the merge. */
  async function distributed(data: { config: BuildConfig; model: Model; dataset: Dataset; gramDataset: Dataset | null; storeEvery?: number }, n: number): Promise<RibResults> {
    const stages = stageGraph(data.config, n);
    const store: Store = new Map();
    for (const st of stages) {
      const m = new Map<string, StoredBlock[]>();
      for (let i = 0; i < st.shards; i++) {
        const N = st.samples === 'gram_dataset' && data.gramDataset ? data.gramDataset.n : data.dataset.n;
        const run = await runStageShard({
          data,
          stages,
          target: st.name,
          range: st.split === 'dataset' ? sampleRange(N, st.shards, i) : null,
          outDim: st.split === 'out_dim' ? { index: i, shards: st.shards } : null,
          store,
          pool,
          buildId: `mem-${st.name}-${i}`,
        });
        for (const b of run.blocks) m.set(blockKey(b), [...(m.get(blockKey(b)) ?? []), b]);
      }
      store.set(st.name, m);
    }
    return replayBuild({ data, stages, store, pool, buildId: 'mem-merge' });
  }

  it('3 shards with every layer recomputed, and a resumed local build, equal the stored one-process build', async () => {
    const m = model('GPTNeoForCausalLM', { positions: 128 });
    const c = config(['ln1.0', 'ln1_out.0', 'attn_in.0', 'ln2.0', 'mlp_in.0', 'ln1.1', 'unembed'], { n_stochastic_sources_edges: 1, dist_split_over: 'out_dim', seed: 2 });
    // long enough sequences for several blocks per stage (blockSamples(256, 120) = 68 samples)
    const ds = tokens(150, 20, 17, 6);
    const gds = tokens(80, 120, 17, 7);
    expect(blockSamples(256, 120)).toBeLessThan(gds.n);
    const ref = await build(c, m, ds, gds, pool);
    expectSameBits(ref, await distributed({ config: c, model: m, dataset: ds, gramDataset: gds, storeEvery: 0 }, 3));
    expectSameBits(ref, await distributed({ config: c, model: m, dataset: ds, gramDataset: gds, storeEvery: 2 }, 2));
    // the local build records each stage; a second one replays them all
    const stages = stageGraph(c, 1);
    const store: Store = new Map();
    const saves: Array<Promise<void>> = [];
    const data = { config: c, model: m, dataset: ds, gramDataset: gds, storeEvery: 0 };
    const first = await localBuild({
      data,
      stages,
      store: new Map(),
      pool,
      onStageDone: (s, _obs, blocks) => {
        saves.push(blocks.then((bs) => void store.set(stages[s]!.name, new Map(bs.map((b) => [blockKey(b), [b]])))));
      },
    });
    await Promise.all(saves);
    expect([...store.keys()]).toEqual(stages.map((s) => s.name));
    expect(store.get('grams')!.size).toBe(2); // the streamed Grams: one task per block of gram_dataset, all layers at once
    expectSameBits(ref, first);
    expectSameBits(ref, await localBuild({ data, stages, store, pool, onStageDone: () => undefined }));
  });
});

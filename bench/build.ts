/**
 * The seed-0 mod-add rib build (float64, the reference's full config) end to end with per-stage
 * times at 1 and 2 workers, against the reference's A100 figures (0.96 s: grams 0.034, C 0.58,
 * edges 0.36); and Jacobian (M′) throughput in samples/s per mod-add section at 1 and 2 workers.
 * Needs ../shared/refdata (or INTERBASIS_REFDATA); rows are skipped with a note otherwise.
 */
import { resolve } from 'node:path';
import { modaddConfig, refdata } from './refdata.js';
import type { BenchContext, BenchRow } from './harness.js';
import { initKernels } from '../src/linalg/index.js';
import '../src/tasks.js';
import { parseBuildConfig } from '../src/rib/config.js';
import { runBuildFromConfig, datasetFor, loadModelFor } from '../src/rib/build.nodejs.js';
import { ribBuild } from '../src/rib/build.js';
import { cpus, loadavg } from 'node:os';
import { makePool } from '../src/cli/build.js';
import { loadResults } from '../src/io/results.nodejs.js';
import { modelToSpec } from '../src/models/index.js';
import { mapReduceShards, toShared } from '../src/parallel/pool.js';
import { shardRanges } from '../src/parallel/shards.js';
import type { MprimeShardPayload, MprimeShardResult } from '../src/rib/mprime.js';
import { structureFor } from '../src/rib/structures/index.js';

const REF_A100 = { total: 0.96, grams: 0.034, Cs: 0.58, edges: 0.36 };


const modaddRaw = (rd: string) => modaddConfig(resolve(rd, 'modadd/seed0/model.safetensors'), 'bench_modadd_rib_seed0');

/** The node layers of the general-cut row: a cut inside the attention block and the MLP block. */
export const GENERAL_CUT = ['ln1.0', 'attn_in.0', 'attn_out.0', 'ln2.0', 'mlp_act.0', 'unembed', 'output'];

/**
 * The seed-0 build with the general cut at 2 workers, structured (first build of the pool, then
 * the median of `reps` warm builds) against the generic VJP path (one build), in the same run.
 */
async function generalCut(ctx: BenchContext, rd: string): Promise<BenchRow[]> {
  const c = parseBuildConfig({ ...modaddRaw(rd), exp_name: 'bench_modadd_general_cut', node_layers: GENERAL_CUT });
  const model = await loadModelFor(c);
  const ds = await datasetFor(c.dataset!, c, 'dataset', () => undefined);
  const pool = await makePool(2);
  const load = () => loadavg()[0]!.toFixed(2);
  try {
    const once = async (structured: boolean) => {
      const r = await ribBuild({ config: c, model, dataset: ds, gramDataset: null, pool, structured });
      return r.info.times_s as Record<string, number>;
    };
    const reps = ctx.quick ? 1 : 3;
    ctx.log('build bench: general cut, structured, first build of the pool');
    const cold = await once(true);
    const warm: Array<Record<string, number>> = [];
    for (let i = 0; i < reps; i++) {
      ctx.log(`build bench: general cut, structured, warm build ${i + 1}/${reps}`);
      warm.push(await once(true));
    }
    warm.sort((a, b) => a.total! - b.total!);
    const med = warm[(warm.length - 1) >> 1]!;
    ctx.log('build bench: general cut, generic VJP path (slow)');
    const load0 = load();
    const gen = await once(false);
    const size = `${ds.n} samples, f64, ${GENERAL_CUT.join(' ')}`;
    const stages = (t: Record<string, number>) => `grams ${t.grams!.toFixed(2)} s, Cs ${t.Cs!.toFixed(2)} s, edges ${t.edges!.toFixed(2)} s`;
    return [
      { group: 'build/general-cut', name: 'generic VJP path (2 workers)', size, seconds: gen.total!, note: `${stages(gen)}; load average ${load0} at its start (${cpus().length} cores)` },
      {
        group: 'build/general-cut',
        name: `structured (2 workers, median of ${warm.length} warm)`,
        size,
        seconds: med.total!,
        baseline: 'generic VJP path',
        ratio: gen.total! / med.total!,
        note: `${stages(med)}; first build of the pool ${cold.total!.toFixed(2)} s; target ≥ 10× the generic path; load average ${load()}`,
      },
    ];
  } finally {
    await pool.destroy();
  }
}

export async function run(ctx: BenchContext): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const rd = refdata();
  if (!rd) {
    ctx.log('build bench: refdata not found, skipped');
    return [{ group: 'build/modadd-seed0', name: 'skipped', size: '-', seconds: NaN, note: 'refdata not found' }];
  }
  await initKernels();
  if (!ctx.filter || ctx.filter === 'build' || ctx.filter.startsWith('build/general')) rows.push(...(await generalCut(ctx, rd)));
  if (ctx.filter?.startsWith('build/general')) return rows;
  const c = parseBuildConfig(modaddRaw(rd));
  // Per worker count: the first build of a fresh pool (cold: the workers' JIT and Wasm tiers warm
  // up during it), then `reps` more builds on the same pool; the stage rows are the median build
  // (by total) of those warm builds.
  let oneWorker: Record<string, number> | null = null;
  for (const workers of [1, 2]) {
    const pool = await makePool(workers);
    try {
      const reps = ctx.quick ? 1 : 5;
      const times: Array<Record<string, number>> = [];
      let cold = NaN;
      for (let i = 0; i <= reps; i++) {
        ctx.log(`build bench: seed-0 rib build, ${workers} worker(s), ${i === 0 ? 'first (cold) build' : `warm build ${i}/${reps}`}`);
        const { results } = await runBuildFromConfig(c, { pool });
        const t = results.info.times_s as Record<string, number>;
        if (i === 0) cold = t.total!;
        else times.push(t);
      }
      times.sort((a, b) => a.total! - b.total!);
      const med = times[(times.length - 1) >> 1]!;
      const spread = `warm builds ${times[0]!.total!.toFixed(2)}–${times[times.length - 1]!.total!.toFixed(2)} s`;
      if (workers === 1) oneWorker = med;
      const wk = `${workers} worker${workers > 1 ? 's' : ''}`;
      for (const k of ['total', 'grams', 'Cs', 'edges'] as const) {
        rows.push({
          group: 'build/modadd-seed0-rib',
          name: `${k} (${wk}, median of ${times.length} warm)`,
          size: '3830 samples, f64',
          seconds: med[k]!,
          baseline: `reference A100 ${k}`,
          ratio: REF_A100[k] / med[k]!,
          note: `reference A100: ${REF_A100[k]} s${k === 'total' ? `; target ≤ 1.2 s (stretch: the A100's 0.96 s); ${spread}` : ''}${workers > 1 && oneWorker ? `; ${(oneWorker[k]! / med[k]!).toFixed(2)}× the 1-worker time` : ''}`,
        });
      }
      rows.push({
        group: 'build/modadd-seed0-rib',
        name: `total (${wk}, first build of a fresh pool)`,
        size: '3830 samples, f64',
        seconds: cold,
        baseline: 'reference A100 total',
        ratio: REF_A100.total / cold,
        note: 'cold: JIT and Wasm tier-up happen during this build (a CLI run is this case)',
      });
    } finally {
      await pool.destroy();
    }
  }
  // Jacobian (M′) throughput per section, with the reference's own next-layer C
  const model = await loadModelFor(c);
  const ds = await datasetFor(c.dataset!, c, 'dataset', () => undefined);
  const ref = await loadResults(resolve(rd, 'modadd/seed0/rib_graph_rib.safetensors'));
  const nl = c.node_layers;
  const sm = model.sectioned(nl, { lastPosModuleType: 'add_resid1' });
  const N = ds.n;
  const spec = modelToSpec(model);
  for (const [k, v] of Object.entries(spec.tensors)) spec.tensors[k] = toShared(v);
  const acts: Float64Array[] = [];
  let x = sm.pre(ds.inputs);
  acts.push(toShared(x));
  for (let l = 0; l < 2; l++) {
    x = sm.sections[l]!.forward(x, N);
    acts.push(toShared(x));
  }
  const names = ['attention (ln1.0→ln2.0)', 'mlp (ln2.0→unembed)', 'unembed (unembed→output)'];
  for (const workers of [1, 2]) {
    const pool = await makePool(workers);
    try {
      for (let l = 0; l < 3; l++) {
        const out = ref.bases[l + 1]!;
        const Cout = out.C ? toShared(out.C.data) : null;
        const r = out.C ? out.C.cols : sm.sections[l]!.outDim;
        // the build's shard sizes (attention: accumulators only; the build assembles M′ once after the reduction)
        const ranges = shardRanges(N, structureFor(sm.sections[l]!, 'mprime', { formula: 'jacobian' }).shards.mprime);
        const ctxM = { id: `bench-${workers}`, spec, nodeLayers: nl, lastPosModuleType: 'add_resid1' as const };
        const payloads: MprimeShardPayload[] = ranges.map(([start, end], shard) => ({ model: ctxM, layer: l, X: acts[l]!, start, end, Cout, r, formula: 'jacobian', alphas: [1], weights: [1], nPos: null, nHidden: null, seed: 0, shard }));
        const once = () => mapReduceShards<MprimeShardPayload, MprimeShardResult, Float64Array>(pool, 'rib.mprime', payloads, (a) => a.M, (acc, b) => acc);
        await once(); // warm-up (model build per worker)
        const t0 = performance.now();
        await once();
        const s = (performance.now() - t0) / 1000;
        rows.push({ group: 'build/jacobian-throughput', name: `${names[l]} (${workers} worker${workers > 1 ? 's' : ''})`, size: `${N} samples × ${r} probes`, seconds: s, note: `${(N / s).toFixed(0)} samples/s${l === 2 ? ' (generic VJP path; the build uses the linear closed form, no data pass)' : ''}` });
      }
    } finally {
      await pool.destroy();
    }
  }
  return rows;
}

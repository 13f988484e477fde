/**
 * Worker pool benchmark: Gram f64 20000×513 with 1 worker against 2 workers, same fixed shards
 * (so the two results are bit-identical, which is checked), X in a SharedArrayBuffer.
 * GFLOP/s count 2·N·d² (the full-matrix convention of issue 2).
 */
import { createNodePool } from '../workers/pool.nodejs.js';
import { parallelGram } from '../src/parallel/gram.js';
import { toShared } from '../src/parallel/pool.js';
import { defaultShardRows } from '../src/parallel/shards.js';
import { Rng } from '../src/rng.js';
import Benchmark from 'benchmark';
import { pathToFileURL } from 'node:url';
import { loadavg } from 'node:os';
import { formatTable, type BenchContext, type BenchRow } from './harness.js';

export interface PoolGramFigures {
  n: number;
  d: number;
  shardRows: number;
  shards: number;
  seconds1: number;
  seconds2: number;
  gflops1: number;
  gflops2: number;
  speedup: number;
  /** average cores used by this process while timing (≈1 and ≈2 on an otherwise idle machine) */
  cores1: number;
  cores2: number;
  identical: boolean;
}

/**
 * Median seconds per call of an async `fn`, timed by benchmark.js in deferred mode, and the
 * average number of cores this process used meanwhile (CPU time / wall time, all threads).
 */
function timeAsync(name: string, fn: () => Promise<unknown>, quick: boolean): Promise<{ seconds: number; cores: number }> {
  const cpu0 = process.cpuUsage();
  const wall0 = performance.now();
  return new Promise((resolve, reject) => {
    const bench = new Benchmark(name, {
      defer: true,
      minSamples: quick ? 1 : 3,
      maxTime: quick ? 0.3 : 1.5,
      minTime: 0.05,
      initCount: 1,
      fn(deferred: { resolve(): void }) {
        fn().then(
          () => deferred.resolve(),
          (e) => reject(e),
        );
      },
    } as never);
    bench.on('complete', () => {
      const err = (bench as unknown as { error?: unknown }).error;
      if (err) return reject(err instanceof Error ? err : new Error(String(err)));
      const sample = [...bench.stats.sample].sort((a, b) => a - b);
      const cpu = process.cpuUsage(cpu0);
      const cores = (cpu.user + cpu.system) / 1e3 / (performance.now() - wall0);
      resolve({ seconds: sample.length ? sample[Math.floor((sample.length - 1) / 2)]! : bench.stats.mean, cores });
    });
    bench.run({ async: true });
  });
}

/**
 * Gram of X [n×d] on a 1-worker and a 2-worker pool with the same shards. The two are timed in
 * alternating rounds and each keeps its best round (median within a round), so that load from
 * other processes on a shared machine affects both alike.
 */
export async function benchPoolGram(
  n = 20000,
  d = 513,
  opts: { rounds?: number; quick?: boolean; shardRows?: number } = {},
): Promise<PoolGramFigures> {
  const shardRows = opts.shardRows ?? defaultShardRows(d);
  const quick = !!opts.quick;
  const rounds = opts.rounds ?? (quick ? 1 : 3);
  const rng = new Rng(20240513);
  const X = toShared(rng.fillUniform(new Float64Array(n * d)));
  const pool1 = await createNodePool({ workers: 1 });
  const pool2 = await createNodePool({ workers: 2 });
  try {
    const G1 = await parallelGram(pool1, X, n, d, { shardRows }); // warm-up (JIT, Wasm memory growth)
    const G2 = await parallelGram(pool2, X, n, d, { shardRows });
    const identical = Buffer.from(G1.buffer).equals(Buffer.from(G2.buffer));
    let seconds1 = Infinity;
    let seconds2 = Infinity;
    let cores1 = 0;
    let cores2 = 0;
    for (let r = 0; r < rounds; r++) {
      const t1 = await timeAsync('pool 1', () => parallelGram(pool1, X, n, d, { shardRows }), quick);
      const t2 = await timeAsync('pool 2', () => parallelGram(pool2, X, n, d, { shardRows }), quick);
      if (t1.seconds < seconds1) [seconds1, cores1] = [t1.seconds, t1.cores];
      if (t2.seconds < seconds2) [seconds2, cores2] = [t2.seconds, t2.cores];
    }
    const flop = 2 * n * d * d;
    return {
      n,
      d,
      shardRows,
      shards: Math.ceil(n / shardRows),
      seconds1,
      seconds2,
      gflops1: flop / seconds1 / 1e9,
      gflops2: flop / seconds2 / 1e9,
      speedup: seconds1 / seconds2,
      cores1,
      cores2,
      identical,
    };
  } finally {
    await pool1.destroy();
    await pool2.destroy();
  }
}

export async function run(ctx: BenchContext): Promise<BenchRow[]> {
  const [n, d] = ctx.quick ? [4000, 513] : [20000, 513];
  const load = loadavg()[0]!;
  const f = await benchPoolGram(n, d, { quick: ctx.quick });
  const group = 'pool/gram';
  const size = `${n}×${d}`;
  const shards = `${f.shards} shards of ${f.shardRows} rows`;
  const one: BenchRow = { group, name: '1 worker', size, seconds: f.seconds1, gflops: f.gflops1, note: `${shards}; used ${f.cores1.toFixed(2)} cores` };
  const two: BenchRow = {
    group,
    name: '2 workers',
    size,
    seconds: f.seconds2,
    gflops: f.gflops2,
    baseline: one.name,
    ratio: f.speedup,
    note: `${shards}; ${f.identical ? 'bit-identical to 1 worker' : 'RESULTS DIFFER FROM 1 WORKER'}; used ${f.cores2.toFixed(2)} cores; load avg ${load.toFixed(1)} at start`,
  };
  for (const r of [one, two]) {
    ctx.log(`  ${r.group} ${r.name} ${size}: ${(r.seconds * 1e3).toFixed(1)} ms ${r.gflops!.toFixed(2)} GFLOP/s${r.ratio ? ` (${r.ratio.toFixed(2)}× vs 1 worker)` : ''}`);
  }
  if (!f.identical) throw new Error('pool bench: the 2-worker Gram differs from the 1-worker Gram');
  return [one, two];
}

// `node dist/bench/pool.js` runs this benchmark alone.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const rows = await run({ log: (m) => process.stderr.write(`${m}\n`) });
  process.stdout.write(`${formatTable(rows)}\n`);
}

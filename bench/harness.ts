/**
 * Benchmark harness: timing with the `benchmark` package, result rows, table printing and JSON.
 * Every area module exports `async function run(ctx: BenchContext): Promise<BenchRow[]>`.
 */
import Benchmark from 'benchmark';
import { cpus } from 'node:os';

export interface BenchContext {
  /** write all rows as JSON to this file (`--json FILE`) */
  json?: string;
  /** small sizes / few samples (`--quick`), for smoke runs */
  quick?: boolean;
  /** only run modules/rows whose name contains this string (`--filter STR`) */
  filter?: string;
  /** progress output (defaults to stderr) */
  log: (msg: string) => void;
}

export interface BenchRow {
  /** area and kernel, e.g. "kernels/gram" */
  group: string;
  /** implementation, e.g. "wasm", "naive-ts", "ml-matrix" */
  name: string;
  /** human-readable problem size, e.g. "20000×513" */
  size: string;
  /** seconds per operation (fastest sample: the machine is shared, noise only adds time) */
  seconds: number;
  gflops?: number;
  /** name of the row this one is compared against */
  baseline?: string;
  /** speed ratio: baseline seconds / this row's seconds (>1 = faster than the baseline) */
  ratio?: number;
  note?: string;
}

export interface TimeOptions {
  /** minimum number of timed samples (default 3; 1 for very slow baselines) */
  minSamples?: number;
  /** seconds to keep sampling after minSamples is reached (default 1.5) */
  maxTime?: number;
  /** run one untimed call first (default true; turn off for multi-second baselines) */
  warmup?: boolean;
}

export interface Timing {
  /** fastest sample, seconds per call */
  seconds: number;
  /** median sample, seconds per call */
  median: number;
  /** relative margin of error (%), from benchmark.js */
  rme: number;
  samples: number;
}

/**
 * Time `fn` with benchmark.js. Settings suit a small shared machine: few samples, short max time,
 * one call per cycle for slow kernels (benchmark.js picks the count from the first cycle).
 * Reports the fastest sample (the 2-core machine is shared, so interference only adds time) and
 * the median.
 * A warm-up call runs first so that JIT tier-up (Liftoff → TurboFan) is not timed.
 */
export function time(name: string, fn: () => unknown, opts: TimeOptions = {}, quick = false): Timing {
  if (opts.warmup !== false) fn();
  const bench = new Benchmark(name, fn, {
    minSamples: opts.minSamples ?? (quick ? 1 : 3),
    maxTime: opts.maxTime ?? (quick ? 0.3 : 1.5),
    minTime: 0.05,
    initCount: 1,
  });
  bench.run();
  const err = (bench as unknown as { error?: unknown }).error;
  if (err) throw err instanceof Error ? err : new Error(String(err));
  const sample = [...bench.stats.sample].sort((a, b) => a - b);
  const median = sample.length ? sample[Math.floor((sample.length - 1) / 2)]! : bench.stats.mean;
  const best = sample.length ? sample[0]! : bench.stats.mean;
  return { seconds: best, median, rme: bench.stats.rme, samples: sample.length };
}

/** Add ratio = baseline.seconds / row.seconds (how many times faster `row` is). */
export function ratioAgainst(row: BenchRow, baseline: BenchRow | undefined): BenchRow {
  if (baseline) {
    row.baseline = `${baseline.name}`;
    row.ratio = baseline.seconds / row.seconds;
  }
  return row;
}

function fmtSeconds(s: number): string {
  if (s >= 1) return `${s.toFixed(2)} s`;
  if (s >= 1e-3) return `${(s * 1e3).toFixed(2)} ms`;
  return `${(s * 1e6).toFixed(1)} µs`;
}

/** Fixed-width text table of rows. */
export function formatTable(rows: BenchRow[]): string {
  const head = ['group', 'name', 'size', 'time', 'GFLOP/s', 'vs', 'ratio', 'note'];
  const body = rows.map((r) => [
    r.group, r.name, r.size, fmtSeconds(r.seconds), r.gflops !== undefined ? r.gflops.toFixed(2) : '',
    r.baseline ?? '', r.ratio !== undefined ? `${r.ratio.toFixed(2)}×` : '', r.note ?? '',
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}

/** Environment recorded with the JSON output. */
export function environment(): Record<string, unknown> {
  const c = cpus();
  return {
    date: new Date().toISOString(),
    node: process.versions.node,
    v8: process.versions.v8,
    cpu: c[0]?.model ?? 'unknown',
    cores: c.length,
    platform: `${process.platform}-${process.arch}`,
  };
}

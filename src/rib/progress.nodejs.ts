/**
 * Progress display for the CLI: a cli-progress bar per stage (stderr on a terminal); without a
 * terminal (batch jobs, logs) a line per stage at most every 30 s while it runs, with its ETA; or
 * NDJSON events `{"event":"progress","stage","done","total","eta_s"}` for machines (--json).
 */
import { createRequire } from 'node:module';
import type * as CliProgress from 'cli-progress';
import type { ProgressEvent, ProgressSink } from './build.js';

/** cli-progress, loaded with the first bar (runs without a terminal never load it). */
let cliProgress: typeof CliProgress | null = null;
const loadCliProgress = (): typeof CliProgress => (cliProgress ??= createRequire(import.meta.url)('cli-progress') as typeof CliProgress);

export interface ProgressReporter {
  sink: ProgressSink;
  warn: (msg: string) => void;
  stop: () => void;
}

/** Seconds as `1h02m`, `3m05s` or `12s`. */
export function formatSeconds(s: number): string {
  const t = Math.round(s);
  if (t >= 3600) return `${Math.floor(t / 3600)}h${String(Math.floor((t % 3600) / 60)).padStart(2, '0')}m`;
  if (t >= 60) return `${Math.floor(t / 60)}m${String(t % 60).padStart(2, '0')}s`;
  return `${t}s`;
}

/** Progress as log lines: per stage, at most one line every `every` seconds, and its end once a line was written. */
function logLines(err: NodeJS.WritableStream, every: number): (ev: ProgressEvent) => void {
  const stages = new Map<string, { t0: number; last: number; logged: boolean }>();
  return (ev) => {
    const t = performance.now() / 1000;
    let st = stages.get(ev.stage);
    if (!st || ev.done === 0) stages.set(ev.stage, (st = { t0: t, last: t, logged: false }));
    const el = t - st.t0;
    const end = ev.done >= ev.total;
    if (end ? !st.logged : t - st.last < every) return;
    st.last = t;
    st.logged = true;
    const pct = ev.total > 0 ? Math.floor((100 * ev.done) / ev.total) : 100;
    const eta = end ? `done in ${formatSeconds(el)}` : ev.done > 0 ? `ETA ${formatSeconds((el / ev.done) * (ev.total - ev.done))}` : 'ETA -';
    err.write(`interbasis: ${ev.stage} ${ev.done}/${ev.total} (${pct}%) ${eta}\n`);
  };
}

export function makeProgress(opts: { json: boolean; out?: NodeJS.WritableStream; err?: NodeJS.WritableStream; logEvery?: number }): ProgressReporter {
  const out = opts.out ?? process.stdout;
  const err = opts.err ?? process.stderr;
  if (opts.json) {
    const started = new Map<string, number>();
    return {
      sink: (ev: ProgressEvent) => {
        const t = performance.now();
        if (!started.has(ev.stage)) started.set(ev.stage, t);
        const el = (t - started.get(ev.stage)!) / 1000;
        const eta = ev.done > 0 ? (el / ev.done) * (ev.total - ev.done) : null;
        out.write(JSON.stringify({ event: 'progress', stage: ev.stage, done: ev.done, total: ev.total, eta_s: eta === null ? null : +eta.toFixed(3) }) + '\n');
      },
      warn: (m) => out.write(JSON.stringify({ event: 'warning', message: m }) + '\n'),
      stop: () => undefined,
    };
  }
  let bar: CliProgress.SingleBar | null = null;
  let stage = '';
  const warnings: string[] = [];
  // cli-progress draws nothing on a stream that is not a terminal
  const drawBars = (err as { isTTY?: boolean }).isTTY === true;
  const logLine = drawBars ? null : logLines(err, opts.logEvery ?? 30);
  return {
    sink: (ev: ProgressEvent) => {
      if (logLine) return logLine(ev);
      if (ev.stage !== stage || !bar) {
        bar?.stop();
        stage = ev.stage;
        const cp = loadCliProgress();
        bar = new cp.SingleBar(
          { format: `${ev.stage.padEnd(28)} [{bar}] {value}/{total} | ETA {eta_formatted}`, stream: err, hideCursor: false, clearOnComplete: false },
          cp.Presets.shades_classic,
        );
        bar.start(ev.total, ev.done);
      } else bar.update(ev.done);
    },
    warn: (m) => {
      if (bar) warnings.push(m);
      else err.write(`interbasis: warning: ${m}\n`);
    },
    stop: () => {
      bar?.stop();
      bar = null;
      for (const m of warnings) err.write(`interbasis: warning: ${m}\n`);
      warnings.length = 0;
    },
  };
}

/**
 * Progress display for the CLI: a cli-progress bar per stage (stderr, TTY only), or NDJSON events
 * `{"event":"progress","stage","done","total","eta_s"}` for machines (--json).
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

export function makeProgress(opts: { json: boolean; out?: NodeJS.WritableStream; err?: NodeJS.WritableStream }): ProgressReporter {
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
  return {
    sink: (ev: ProgressEvent) => {
      if (!drawBars) return;
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

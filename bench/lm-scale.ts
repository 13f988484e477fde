/**
 * LM-scale builds, cold, as one whole `interbasis build CONFIG --out DIR --workers 2 --memory GB`
 * process each, on random-init checkpoints with the real shapes (weights cannot be downloaded):
 *
 * - `lm/tinystories-1M`: GPT-Neo, 8 layers, d 64, 16 heads, d_mlp 256, vocab 50257, local
 *   attention on odd layers (window 256), rib's n_ctx 511. The structure of the reference's
 *   `tinystories_NNIB` Cs + edges configs: 51 node layers, jacobian basis, basis_pos 1, edges 1,
 *   bases and edges on 500 samples × 200 positions, Grams on 2000 × 511.
 *   Targets ≤ 20 min with 2 workers, ≤ 4 GB peak RSS.
 * - `lm/gpt2-small`: GPT-2 small (124M, F32 weights as the real checkpoint), block 0's six node
 *   layers plus `ln1.1`, Grams on 200 × 1024, Cs on 20 × 1024 with basis_pos 1, no edges (the
 *   issue asks for Grams and Cs). Target ≤ 8 GB peak RSS.
 *
 * Rows: the wall time of the whole process, the build's own stage times (results.json
 * `info.times_s`), the peak RSS (results.json `info.peak_rss_gb`, and the process's maximum RSS
 * from `/usr/bin/time -v` when present), and projections to the reference's full configs by
 * linear scaling of each stage by its tokens (samples at the real context length; GPT-2: also by
 * node-layer count), on one
 * machine and (GPT-2) on N machines.
 *
 * `--quick`: TinyStories 20 × 200 / 40 × 511; GPT-2 Cs on 1 × 32 tokens, Grams on 2 × 1024.
 * Environment:
 *   INTERBASIS_BENCH_LM_SAMPLES=D,G   dataset and gram_dataset sample counts of every case run
 *   INTERBASIS_BENCH_LM_CTX=D,G       their context lengths (the projection then scales by tokens,
 *                                     a lower bound for a shorter context)
 *   INTERBASIS_BENCH_LM_TIMEOUT_S=S   kill a build after S seconds (default 12 h; quick: 2 h), so
 *                                     a stuck build ends as a row with a note instead of a hang
 *   INTERBASIS_BENCH_LM_GPT2_EDGES=1  GPT-2: compute the edges too (edges 1), so they are projected
 * `--filter lm/tinystories` or `--filter lm/gpt2` runs one case.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { serializeSafetensors } from '../src/io/safetensors.js';
import { Rng } from '../src/rng.js';
import type { BenchContext, BenchRow } from './harness.js';
import { makeHfCheckpoint, type Arch, type HfFixtureOptions } from './hf-checkpoint.js';

/** bin/interbasis.js of this checkout (bench runs from dist/bench/). */
const BIN = fileURLToPath(new URL('../../bin/interbasis.js', import.meta.url));
const GNU_TIME = '/usr/bin/time';
const WORKERS = 2;
const VOCAB = 50257;

/** A row with the peak RSS as a number too (the JSON output keeps it). */
type LmRow = BenchRow & { peak_rss_gb?: number | null };

interface Sizes {
  data: { n: number; ctx: number };
  gram: { n: number; ctx: number };
}

interface LmCase {
  key: string;
  group: string;
  arch: Arch;
  model: HfFixtureOptions;
  /** model.n_ctx of the config (rib's context override), or null for the model's */
  nCtx: number | null;
  nodeLayers: string[];
  full: Sizes;
  quick: Sizes;
  /** config keys beyond the common ones */
  extra: (edges: boolean) => Record<string, unknown>;
  edges: boolean;
  memoryGb: number;
  targetS: number | null;
  targetRssGb: number;
}

/** The six node layers of block i (the reference's LM configs). */
const blockLayers = (i: number): string[] => [`ln1.${i}`, `ln1_out.${i}`, `attn_in.${i}`, `ln2.${i}`, `ln2_out.${i}`, `mlp_in.${i}`];

/**
 * Samples of the reference's TinyStories Gram dataset, estimated: the first 1 % of the pre-tokenised
 * TinyStories train split (≈ 2.12 M stories × ≈ 220 GPT-2 tokens ≈ 4.7e8 tokens) is ≈ 4.7e6 tokens,
 * ≈ 9200 chunks of 511.
 */
const TS_REF_GRAM_SAMPLES_EST = 9200;
const TS_REF_DATA_SAMPLES = 50000;
/** The reference's full GPT-2 config (gpt2_{gram,Cs,edges}.yaml). */
const GPT2_REF = { layers: 75, gram: 50000, data: 500 };

function cases(): LmCase[] {
  const gpt2Edges = process.env.INTERBASIS_BENCH_LM_GPT2_EDGES === '1';
  return [
    {
      key: 'tinystories',
      group: 'lm/tinystories-1M',
      arch: 'GPTNeoForCausalLM',
      // the real TinyStories-1M: 2048 positions, `transformer.` keys, the tied head stored
      model: { seed: 1, layers: 8, d: 64, heads: 16, dMlp: 256, vocab: VOCAB, positions: 2048, prefix: true, storeHead: true, f32: true },
      nCtx: 511,
      nodeLayers: [...Array.from({ length: 8 }, (_, i) => blockLayers(i)).flat(), 'ln_final', 'ln_final_out', 'unembed'],
      full: { data: { n: 500, ctx: 200 }, gram: { n: 2000, ctx: 511 } },
      quick: { data: { n: 20, ctx: 200 }, gram: { n: 40, ctx: 511 } },
      extra: () => ({ batch_size: 300, gram_batch_size: 100, edge_batch_size: 200, n_stochastic_sources_basis_pos: 1, n_stochastic_sources_edges: 1 }),
      edges: true,
      memoryGb: 4,
      targetS: 20 * 60,
      targetRssGb: 4,
    },
    {
      key: 'gpt2',
      group: 'lm/gpt2-small',
      arch: 'GPT2LMHeadModel',
      // the real gpt2 safetensors: no `transformer.` prefix, no stored head, F32
      model: { seed: 2, layers: 12, d: 768, heads: 12, dMlp: 3072, vocab: VOCAB, positions: 1024, f32: true },
      nCtx: null,
      nodeLayers: [...blockLayers(0), 'ln1.1'],
      full: { data: { n: 20, ctx: 1024 }, gram: { n: 200, ctx: 1024 } },
      // Cs cost ~25 s per token of block 0 here: quick scores 32 tokens (the projection is then a lower bound)
      quick: { data: { n: 1, ctx: 32 }, gram: { n: 2, ctx: 1024 } },
      extra: (edges) => ({
        batch_size: 3,
        gram_batch_size: 4,
        edge_batch_size: 3,
        n_stochastic_sources_basis_pos: 1,
        calculate_edges: edges,
        ...(edges ? { n_stochastic_sources_edges: 1 } : {}),
      }),
      edges: gpt2Edges,
      memoryGb: 8,
      targetS: null,
      targetRssGb: 8,
    },
  ];
}

/** "a,b" → [a, b] positive integers, or null when unset. */
function envPair(name: string): [number, number] | null {
  const v = process.env[name];
  if (!v) return null;
  const p = v.split(',').map((s) => Number(s.trim()));
  if (p.length !== 2 || !p.every((x) => Number.isInteger(x) && x > 0)) throw new Error(`${name} must be "D,G" (two positive integers), got "${v}"`);
  return [p[0]!, p[1]!];
}

function sizesFor(c: LmCase, quick: boolean): Sizes {
  const base = quick ? c.quick : c.full;
  const s = envPair('INTERBASIS_BENCH_LM_SAMPLES');
  const t = envPair('INTERBASIS_BENCH_LM_CTX');
  return {
    data: { n: s?.[0] ?? base.data.n, ctx: t?.[0] ?? base.data.ctx },
    gram: { n: s?.[1] ?? base.gram.n, ctx: t?.[1] ?? base.gram.ctx },
  };
}

/** Random token ids [n, ctx] (I32) as a `file` dataset (tensor `input_ids`, no labels). */
function writeTokens(path: string, n: number, ctx: number, seed: number): void {
  const rng = new Rng(seed, 0);
  const ids = new Int32Array(n * ctx);
  for (let i = 0; i < ids.length; i++) ids[i] = rng.int(VOCAB);
  writeFileSync(path, serializeSafetensors({ input_ids: { dtype: 'I32', shape: [n, ctx], data: ids } }));
}

/** config.json + model.safetensors in `dir`; returns the checkpoint's bytes. */
function writeCheckpoint(dir: string, c: LmCase): number {
  mkdirSync(dir, { recursive: true });
  const fx = makeHfCheckpoint(c.arch, c.model);
  writeFileSync(join(dir, 'config.json'), JSON.stringify(fx.config, null, 2));
  const bytes = serializeSafetensors(fx.tensors, { format: 'pt' });
  writeFileSync(join(dir, 'model.safetensors'), bytes);
  return bytes.byteLength;
}

/** Does this build's CLI take `--memory GB`? */
function supportsMemoryFlag(): boolean {
  const r = spawnSync(process.execPath, [BIN, 'build', '--help'], { encoding: 'utf8' });
  return r.status === 0 && /--memory\b/.test(r.stdout);
}

interface ProcessResult {
  wall: number;
  code: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  /** max RSS of the build process from /usr/bin/time -v, GB */
  maxRssGb: number | null;
  /** the last lines of its stderr, without stack frames */
  stderrTail: string;
  done: { times_s?: Record<string, number> } | null;
}

/**
 * Runs `node BIN build ...args` (under /usr/bin/time -v when present) in its own process group,
 * logs its NDJSON progress per stage, and kills the group after `timeoutS`.
 */
function runBuild(args: string[], timeoutS: number, log: (m: string) => void, tag: string): Promise<ProcessResult> {
  const useTime = existsSync(GNU_TIME);
  const cmd = useTime ? GNU_TIME : process.execPath;
  const argv = useTime ? ['-v', process.execPath, BIN, ...args] : [BIN, ...args];
  return new Promise((resolveRun) => {
    const t0 = performance.now();
    const child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let stderr = '';
    let pending = '';
    let done: ProcessResult['done'] = null;
    let lastLog = 0;
    const lastFrac = new Map<string, number>();
    let warnings = 0;
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      pending += chunk;
      let nl: number;
      while ((nl = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, nl).trim();
        pending = pending.slice(nl + 1);
        if (!line) continue;
        let ev: { event?: string; stage?: string; done?: number; total?: number; eta_s?: number | null; message?: string; times_s?: Record<string, number> };
        try {
          ev = JSON.parse(line) as typeof ev;
        } catch {
          log(`  [${tag}] ${line}`);
          continue;
        }
        const el = ((performance.now() - t0) / 1000).toFixed(0);
        if (ev.event === 'progress' && ev.stage !== undefined && ev.total) {
          // the stages (grams, Cs, edges) at every 10 %; their per-layer steps only as a heartbeat
          const frac = (ev.done ?? 0) / ev.total;
          const now = performance.now();
          const top = !/^M'|->/.test(ev.stage);
          const prev = top ? lastFrac.get(ev.stage) : undefined;
          if ((top && (prev === undefined || frac - prev >= 0.1 || ev.done === ev.total)) || now - lastLog > 60_000) {
            if (top) lastFrac.set(ev.stage, frac);
            lastLog = now;
            log(`  [${tag}] ${el} s: ${ev.stage} ${ev.done}/${ev.total}${ev.eta_s != null ? `, ETA ${ev.eta_s.toFixed(0)} s` : ''}`);
          }
        } else if (ev.event === 'info' || (ev.event === 'warning' && ++warnings <= 3)) log(`  [${tag}] ${el} s: ${ev.event}: ${ev.message}`);
        else if (ev.event === 'warning' && warnings === 4) log(`  [${tag}] ${el} s: more warnings (counted, not shown)`);
        else if (ev.event === 'done') done = ev;
      }
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      stderr = (stderr + chunk).slice(-65536);
    });
    // the build runs in its own process group (time + node): end that group on a timeout, and
    // when this process is interrupted or exits first
    const killGroup = () => {
      try {
        if (child.pid) process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    };
    const onSignal = (sig: NodeJS.Signals) => {
      killGroup();
      process.removeListener('exit', killGroup);
      process.kill(process.pid, sig);
    };
    process.once('exit', killGroup);
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      log(`  [${tag}] no result after ${timeoutS} s: killing the build`);
      killGroup();
    }, timeoutS * 1000);
    const finish = (code: number | null, signal: NodeJS.Signals | null) => {
      clearTimeout(timer);
      process.removeListener('exit', killGroup);
      process.removeListener('SIGINT', onSignal);
      process.removeListener('SIGTERM', onSignal);
      const wall = (performance.now() - t0) / 1000;
      const m = /Maximum resident set size \(kbytes\): (\d+)/.exec(stderr);
      // GNU time appends its report: keep only the build's own stderr for messages
      const own = useTime ? stderr.replace(/\n?\s*Command (being timed|exited|terminated)[\s\S]*$/, '') : stderr;
      // the message, not the stack trace below it
      const lines = own.trim().split('\n').filter((l) => l.trim() && !/^\s+at /.test(l));
      if (warnings > 3) log(`  [${tag}] ${warnings} warnings in all`);
      resolveRun({ wall, code, signal, timedOut, maxRssGb: m ? (Number(m[1]) * 1024) / 1e9 : null, stderrTail: lines.slice(-4).join(' | '), done });
    };
    child.on('error', (e) => {
      stderr += `\n${e.message}`;
      finish(null, null);
    });
    child.on('close', finish);
  });
}

const gb = (x: number | null | undefined): string => (x == null ? '—' : `${x.toFixed(2)} GB`);
const load1 = (): string => loadavg()[0]!.toFixed(2);

async function runCase(c: LmCase, ctx: BenchContext, memoryFlag: boolean): Promise<LmRow[]> {
  const sizes = sizesFor(c, !!ctx.quick);
  const size = `${c.nodeLayers.length} node layers; data ${sizes.data.n}×${sizes.data.ctx}, grams ${sizes.gram.n}×${sizes.gram.ctx}`;
  const dir = mkdtempSync(join(tmpdir(), `interbasis-bench-lm-${c.key}-`));
  const rows: LmRow[] = [];
  try {
    // ---- inputs: checkpoint, datasets, config ----
    let t = performance.now();
    const ckptBytes = writeCheckpoint(join(dir, 'model'), c);
    ctx.log(`  [${c.key}] checkpoint ${(ckptBytes / 1e6).toFixed(0)} MB written in ${((performance.now() - t) / 1000).toFixed(1)} s`);
    t = performance.now();
    writeTokens(join(dir, 'data.safetensors'), sizes.data.n, sizes.data.ctx, 11);
    writeTokens(join(dir, 'gram.safetensors'), sizes.gram.n, sizes.gram.ctx, 12);
    ctx.log(`  [${c.key}] datasets written in ${((performance.now() - t) / 1000).toFixed(1)} s`);
    const file = (path: string) => ({ dataset_type: 'file', path, inputs: 'input_ids', labels: null });
    const config = {
      exp_name: `bench_lm_${c.key}`,
      out_dir: null,
      seed: 0,
      model: { type: 'hf', path: join(dir, 'model'), ...(c.nCtx !== null ? { n_ctx: c.nCtx } : {}) },
      node_layers: c.nodeLayers,
      dataset: file(join(dir, 'data.safetensors')),
      gram_dataset: file(join(dir, 'gram.safetensors')),
      truncation_threshold: 1e-15,
      rotate_final_node_layer: true,
      basis_formula: 'jacobian',
      center: true,
      dtype: 'float64',
      ...c.extra(c.edges),
    };
    const cfgPath = join(dir, `${c.key}.yaml`);
    writeFileSync(cfgPath, stringify(config));

    // ---- the whole process ----
    const out = join(dir, 'out');
    const args = ['build', cfgPath, '--out', out, '--workers', String(WORKERS), '--json', ...(memoryFlag ? ['--memory', String(c.memoryGb)] : [])];
    const timeoutS = Number(process.env.INTERBASIS_BENCH_LM_TIMEOUT_S) || (ctx.quick ? 2 * 3600 : 12 * 3600);
    const loadStart = load1();
    ctx.log(`  [${c.key}] interbasis ${args.slice(0, 1).concat(args.slice(2)).join(' ')} (${size}; load ${loadStart}; timeout ${timeoutS} s)`);
    const r = await runBuild(args, timeoutS, ctx.log, c.key);
    const load = `load ${loadStart}→${load1()}`;
    const memNote = memoryFlag ? `--memory ${c.memoryGb}` : '--memory not supported by this build (ran without a budget)';
    const whole = `whole process (${WORKERS} workers)`;
    if (r.code !== 0 || r.timedOut) {
      const why = r.timedOut ? `TIMED OUT after ${timeoutS} s (killed)` : `FAILED (exit ${r.code ?? r.signal})`;
      ctx.log(`  [${c.key}] ${why}: ${r.stderrTail}`);
      return [{ group: c.group, name: whole, size, seconds: r.wall, note: `${why}: ${r.stderrTail || 'no message'}; ${memNote}; ${load}`, peak_rss_gb: r.maxRssGb }];
    }

    // ---- measured figures ----
    let info: { times_s?: Record<string, number>; peak_rss_gb?: number } = {};
    try {
      info = (JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as { info?: typeof info }).info ?? {};
    } catch (e) {
      ctx.log(`  [${c.key}] cannot read results.json: ${(e as Error).message}`);
    }
    const times = info.times_s ?? r.done?.times_s ?? {};
    const peak = typeof info.peak_rss_gb === 'number' ? info.peak_rss_gb : null;
    const rss = peak ?? r.maxRssGb;
    const rssMax = Math.max(peak ?? -1, r.maxRssGb ?? -1); // the targets are checked on the larger figure
    // the targets are for the full sizes; smaller runs only show that the pipeline works
    const fullSize = JSON.stringify(sizes) === JSON.stringify(c.full);
    const verdict = (ok: boolean) => (fullSize ? (ok ? 'met' : 'MISSED') : 'n/a at these sizes');
    const rssVerdict = rss === null ? 'not measured' : verdict(rssMax <= c.targetRssGb);
    const timeVerdict = c.targetS === null ? '' : `, ${verdict(r.wall <= c.targetS)}`;
    rows.push({
      group: c.group,
      name: whole,
      size,
      seconds: r.wall,
      note: `${c.targetS !== null ? `target ≤ ${c.targetS} s${timeVerdict}; ` : ''}peak RSS ${gb(rss)} (target ≤ ${c.targetRssGb} GB, ${rssVerdict}); ${memNote}; ${load}`,
      peak_rss_gb: rss,
    });
    const stage = (k: string, what: string) => {
      if (typeof times[k] === 'number') rows.push({ group: c.group, name: `stage ${k}`, size, seconds: times[k]!, note: `results.json info.times_s.${k}${what}` });
    };
    stage('grams', ' (means, Grams, their eigendecompositions)');
    stage('Cs', ' (M′ and the bases)');
    if (c.edges) stage('edges', '');
    stage('total', '');
    const outside = typeof times.total === 'number' ? r.wall - times.total : NaN;
    rows.push({ group: c.group, name: 'outside the stages', size, seconds: outside, note: 'start-up, model and data loading, writing, exit (wall − times_s.total)' });
    rows.push({
      group: c.group,
      name: 'peak RSS',
      size,
      seconds: NaN,
      note: `${gb(rss)}: info.peak_rss_gb ${peak === null ? 'absent' : gb(peak)}, max RSS (/usr/bin/time) ${gb(r.maxRssGb)}; target ≤ ${c.targetRssGb} GB, ${rssVerdict}`,
      peak_rss_gb: rss,
    });
    ctx.log(`  [${c.key}] ${r.wall.toFixed(1)} s wall, peak RSS ${gb(rss)}, times_s ${JSON.stringify(times)}`);

    // ---- projections ----
    rows.push(...(c.key === 'tinystories' ? projectTinyStories(c, sizes, times, outside) : projectGpt2(c, sizes, times, outside)));
    return rows;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const fmtS = (s: number): string => (s >= 3600 ? `${(s / 3600).toFixed(1)} h` : s >= 60 ? `${(s / 60).toFixed(1)} min` : `${s.toFixed(1)} s`);

/**
 * How a measured stage scales to `ref` samples × `refCtx` positions: linearly in tokens, which is
 * linearly in samples at the real context length. A shorter measured context leaves out part of
 * attention's P² cost, so the projection is then a lower bound (said in `why`).
 */
function tokenScale(n: number, ctx: number, refN: number, refCtx: number, refNote = ''): { f: number; why: string } {
  const f = (refN * refCtx) / (n * ctx);
  const why =
    ctx === refCtx
      ? `× ${f.toFixed(f < 10 ? 2 : 0)} (samples ${n} → ${refN}${refNote})`
      : `× ${f.toFixed(0)} (tokens ${n}×${ctx} → ${refN}×${refCtx}${refNote}; measured at a shorter context: a lower bound)`;
  return { f, why };
}

/** Full tinystories_NNIB Cs + edges: 50000 samples × 200, Grams on ≈ 9200 × 511 (estimated). */
function projectTinyStories(c: LmCase, s: Sizes, t: Record<string, number>, outside: number): LmRow[] {
  const G = tokenScale(s.gram.n, s.gram.ctx, TS_REF_GRAM_SAMPLES_EST, c.full.gram.ctx, `; the Gram set, 1 % of pre-tokenised TinyStories, is ESTIMATED at ≈${TS_REF_GRAM_SAMPLES_EST} chunks of 511`);
  const D = tokenScale(s.data.n, s.data.ctx, TS_REF_DATA_SAMPLES, c.full.data.ctx);
  const g = (t.grams ?? NaN) * G.f;
  const cs = (t.Cs ?? NaN) * D.f;
  const e = (t.edges ?? NaN) * D.f;
  const size = `data ${TS_REF_DATA_SAMPLES}×${c.full.data.ctx}, grams ≈${TS_REF_GRAM_SAMPLES_EST}×${c.full.gram.ctx}`;
  const name = 'projection: full config';
  return [
    { group: c.group, name: `${name}, grams`, size, seconds: g, note: G.why },
    { group: c.group, name: `${name}, Cs`, size, seconds: cs, note: D.why },
    { group: c.group, name: `${name}, edges`, size, seconds: e, note: D.why },
    {
      group: c.group,
      name: `${name}, total`,
      size,
      seconds: g + cs + e + outside,
      note: `${fmtS(g + cs + e + outside)} on 1 machine, ${WORKERS} workers: each stage scaled linearly (the eigendecompositions do not grow with the data, so they are over-counted), + ${outside.toFixed(1)} s outside the stages`,
    },
  ];
}

/** Full gpt2_{gram,Cs,edges}: 75 node layers, Grams 50000 × 1024, Cs and edges 500 × 1024; 1, 8, 64 machines. */
function projectGpt2(c: LmCase, s: Sizes, t: Record<string, number>, outside: number): LmRow[] {
  const fl = GPT2_REF.layers / c.nodeLayers.length;
  const layers = ` × ${fl.toFixed(2)} (node layers ${c.nodeLayers.length} → ${GPT2_REF.layers})`;
  const G = tokenScale(s.gram.n, s.gram.ctx, GPT2_REF.gram, c.full.gram.ctx);
  const D = tokenScale(s.data.n, s.data.ctx, GPT2_REF.data, c.full.data.ctx);
  const g = (t.grams ?? NaN) * G.f * fl;
  const cs = (t.Cs ?? NaN) * D.f * fl;
  const hasEdges = c.edges && typeof t.edges === 'number';
  const e = hasEdges ? t.edges! * D.f * fl : NaN;
  const stages = g + cs + (hasEdges ? e : 0);
  const size = `${GPT2_REF.layers} node layers; grams ${GPT2_REF.gram}×1024, data ${GPT2_REF.data}×1024`;
  const name = 'projection: full config';
  const edgesNote = hasEdges ? '' : ' + edges (not measured: calculate_edges false; INTERBASIS_BENCH_LM_GPT2_EDGES=1 measures them)';
  const rows: LmRow[] = [
    { group: c.group, name: `${name}, grams`, size, seconds: g, note: G.why + layers },
    { group: c.group, name: `${name}, Cs`, size, seconds: cs, note: D.why + layers },
    { group: c.group, name: `${name}, edges`, size, seconds: e, note: hasEdges ? D.why + layers : 'not measured (calculate_edges false, as the issue asks); INTERBASIS_BENCH_LM_GPT2_EDGES=1 measures them' },
    {
      group: c.group,
      name: `${name}, 1 machine`,
      size,
      seconds: stages + outside,
      note: `${fmtS(stages + outside)}, ${WORKERS} workers: each stage scaled linearly in tokens and node layers (the eigendecompositions do not grow with the data, so they are over-counted)${edgesNote}, + ${outside.toFixed(1)} s outside the stages`,
    },
  ];
  for (const n of [8, 64]) {
    const v = stages / n + outside;
    rows.push({
      group: c.group,
      name: `${name}, ${n} machines`,
      size,
      seconds: v,
      note: `${fmtS(v)}: the sharded stages (sums, grams, M′ per layer${hasEdges ? ', edges' : ''}) ÷ ${n}; not divided: start-up and model load on every machine (${outside.toFixed(1)} s), the eigendecompositions of the Grams and M (one node; inside the measured stage times, so this is optimistic) and the merges${edgesNote}`,
    });
  }
  return rows;
}

export async function run(ctx: BenchContext): Promise<BenchRow[]> {
  const sub = ctx.filter?.startsWith('lm/') ? ctx.filter.slice(3) : null;
  const todo = cases().filter((c) => !sub || c.key.includes(sub) || c.group.slice(3).includes(sub));
  if (!todo.length) return [{ group: 'lm', name: 'skipped', size: '-', seconds: NaN, note: `no case matches --filter ${ctx.filter} (lm/tinystories, lm/gpt2)` }];
  const memoryFlag = supportsMemoryFlag();
  if (!memoryFlag) ctx.log('  interbasis build has no --memory flag yet: the builds run without a memory budget');
  if (!existsSync(GNU_TIME)) ctx.log(`  ${GNU_TIME} not found: the max RSS comes only from results.json info.peak_rss_gb`);
  const rows: LmRow[] = [];
  for (const c of todo) {
    ctx.log(`# lm: ${c.group}`);
    try {
      rows.push(...(await runCase(c, ctx, memoryFlag)));
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      ctx.log(`  [${c.key}] bench failed: ${msg}`);
      rows.push({ group: c.group, name: 'whole process', size: '-', seconds: NaN, note: `FAILED before the build: ${msg}` });
    }
  }
  return rows;
}

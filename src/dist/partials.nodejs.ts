/**
 * Partial results on disk: DIR/partials/<stage>/<index>.<key>.part, content-addressed by
 * key = sha256(planId, stage, index, sha256 of its inputs) and checked by a trailing sha256;
 * DIR/merged/<stage>.json records a stage's verified, complete set of partials.
 */
import { mkdir, readdir, readFile } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { UserError } from '../errors.js';
import { writeFileAtomic } from '../io/files.nodejs.js';
import { canonicalJson, encodeValue, packPartial, unpackPartial, type Encoded } from './codec.js';
import { sha256Bytes, sha256Hex, type Plan } from './plan.nodejs.js';
import { blockKey, type BlockRef, type PlanStage, type Store, type StoredBlock } from './stages.js';

export const PARTIAL_FORMAT = 'interbasis-partial';

export interface PartialHeader {
  format: typeof PARTIAL_FORMAT;
  planId: string;
  exp_name: string;
  stage: string;
  index: number;
  inputs_sha256: string;
  key: string;
  /** owned samples [start, end) (null: one-node stage) */
  range: [number, number] | null;
  /** every block of the stage, as the build asked for them */
  observed: BlockRef[];
  /** per owned block: its samples (the count behind its raw sums) and the value's layout */
  blocks: Array<BlockRef & { samples: number; rows?: [number, number, number]; value: unknown }>;
}

export const partialsDir = (dir: string, stage: string): string => join(resolve(dir), 'partials', stage);
export const mergedFile = (dir: string, stage: string): string => join(resolve(dir), 'merged', `${stage}.json`);

/** Content address of shard (stage, index) given its inputs. */
export function partialKey(planId: string, stage: string, index: number, inputsSha: string): string {
  return sha256Hex(`${planId}\n${stage}\n${index}\n${inputsSha}`).slice(0, 16);
}

export const partialName = (index: number, key: string): string => `${index}.${key}.part`;

/** sha256 of a shard's inputs: the plan and the merged digests of every earlier stage. */
export function inputsSha(planId: string, upstreamDigests: string[]): string {
  return sha256Hex([planId, ...upstreamDigests].join('\n'));
}

export function encodePartial(h: Omit<PartialHeader, 'blocks'>, blocks: StoredBlock[]): Uint8Array {
  // all blocks' arrays go into one data block, at the offsets of their value skeletons
  const enc = encodeValue(blocks.map((b) => b.value.data));
  const header: PartialHeader = {
    ...h,
    blocks: blocks.map((b, i) => ({ job: b.job, block: b.block, start: b.start, end: b.end, samples: b.end - b.start, ...(b.rows ? { rows: b.rows } : {}), value: { json: b.value.json, data: (enc.json as unknown[])[i] } })),
  };
  return packPartial(header as unknown as Record<string, unknown>, enc.data, sha256Bytes);
}

export interface ReadPartial {
  file: string;
  sha256: string;
  header: PartialHeader;
  blocks: StoredBlock[];
}

/** Reads and verifies one partial file; throws a RangeError naming the defect. */
export async function readPartial(file: string): Promise<ReadPartial> {
  const bytes = new Uint8Array(await readFile(file));
  const u = unpackPartial(bytes, sha256Bytes);
  const h = u.header as unknown as PartialHeader;
  if (h.format !== PARTIAL_FORMAT) throw new RangeError(`not an interbasis partial (format ${JSON.stringify(h.format)})`);
  const blocks: StoredBlock[] = h.blocks.map((b) => {
    const v = b.value as { json: unknown; data: { $ta: string; off: number; len: number } };
    const d = v.data;
    if (!d || d.$ta !== 'u8' || d.off < 0 || d.off + d.len > u.data.length) throw new RangeError('block data outside the data block');
    const value: Encoded = { json: v.json, data: u.data.subarray(d.off, d.off + d.len) };
    return { job: b.job, block: b.block, start: b.start, end: b.end, ...(b.rows ? { rows: b.rows } : {}), value };
  });
  return { file, sha256: u.sha256, header: h, blocks };
}

export interface StageCheck {
  stage: PlanStage;
  /** valid partial per index (expected key) */
  valid: Map<number, ReadPartial>;
  missing: number[];
  corrupt: Array<{ index: number | null; file: string; why: string }>;
  foreign: Array<{ file: string; planId: string; exp: string }>;
  /** digest of the complete set (when nothing is missing) */
  digest: string | null;
  problems: string[];
}

/** Reads every partial of `stage` and sorts them into valid, missing, corrupt and foreign. */
export async function checkStage(dir: string, plan: Plan, stage: PlanStage, inputs: string): Promise<StageCheck> {
  const pdir = partialsDir(dir, stage.name);
  let names: string[] = [];
  try {
    names = (await readdir(pdir)).filter((n) => !n.startsWith('.')).sort();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new UserError(`cannot list ${pdir}: ${(e as Error).message}`);
  }
  const res: StageCheck = { stage, valid: new Map(), missing: [], corrupt: [], foreign: [], digest: null, problems: [] };
  for (const n of names) {
    const file = join(pdir, n);
    const m = /^(\d+)\.([0-9a-f]{16})\.part$/.exec(n);
    if (!m) {
      res.corrupt.push({ index: null, file, why: 'not a partial file name (<index>.<key>.part)' });
      continue;
    }
    const index = Number(m[1]);
    let p: ReadPartial;
    try {
      p = await readPartial(file);
    } catch (e) {
      res.corrupt.push({ index, file, why: (e as Error).message });
      continue;
    }
    const h = p.header;
    if (h.planId !== plan.planId) {
      res.foreign.push({ file, planId: h.planId, exp: h.exp_name });
      continue;
    }
    const want = partialKey(plan.planId, stage.name, index, inputs);
    if (h.stage !== stage.name || h.index !== index || h.key !== m[2] || h.inputs_sha256 !== inputs || m[2] !== want) {
      // same plan, older inputs (an earlier stage was recomputed differently) or renamed: not used
      res.corrupt.push({ index, file, why: h.key !== m[2] || h.index !== index || h.stage !== stage.name ? 'header does not match its file name' : 'computed from other inputs (stale)' });
      continue;
    }
    res.valid.set(index, p);
  }
  for (let i = 0; i < stage.shards; i++) if (!res.valid.has(i)) res.missing.push(i);
  if (res.missing.length === 0) {
    // every shard saw the same blocks, and together they own each block exactly once (out_dim:
    // each block's output-row slices tile its rows)
    const ref = canonicalJson(res.valid.get(0)!.header.observed);
    const owned = new Map<string, Array<{ shard: number; rows?: [number, number, number] }>>();
    for (const [i, p] of res.valid) {
      if (canonicalJson(p.header.observed) !== ref) res.problems.push(`shard ${i} saw other blocks than shard 0 (${relative(resolve(dir), p.file)})`);
      for (const b of p.blocks) {
        const k = blockKey(b);
        if (!owned.has(k)) owned.set(k, []);
        owned.get(k)!.push({ shard: i, rows: b.rows });
      }
    }
    for (const b of res.valid.get(0)!.header.observed) {
      const k = blockKey(b);
      const o = owned.get(k);
      if (!o) res.problems.push(`block ${k} (samples ${b.start}–${b.end}) is in no shard`);
      else if (stage.split === 'out_dim') {
        let next = 0;
        const sl = o.filter((x) => x.rows).sort((x, y) => x.rows![0] - y.rows![0]);
        for (const x of sl) if (x.rows![0] === next) next = x.rows![1];
        if (sl.length !== o.length || sl.length !== stage.shards || next !== sl[0]?.rows![2]) res.problems.push(`block ${k}: the shards' output rows do not cover it once`);
      } else if (o.length > 1) res.problems.push(`block ${k} is in shards ${o.map((x) => x.shard).join(' and ')}`);
    }
    if (owned.size !== res.valid.get(0)!.header.observed.length) res.problems.push('shards hold blocks the stage does not have');
    if (res.problems.length === 0) res.digest = sha256Hex([...res.valid.values()].map((p) => `${p.header.index}:${p.sha256}`).join('\n'));
  }
  return res;
}

/** The exact command that reruns `indices` of a stage. */
export function rerunCommand(dir: string, stage: string, indices: number[]): string {
  const d = JSON.stringify(resolve(dir));
  if (indices.length === 1) return `interbasis shard ${d} --stage ${stage} --index ${indices[0]}`;
  return `for i in ${indices.join(' ')}; do interbasis shard ${d} --stage ${stage} --index $i; done`;
}

/** A UserError for an incomplete or inconsistent stage (null when the stage is complete). */
export function stageError(dir: string, c: StageCheck): UserError | null {
  const root = resolve(dir);
  if (c.foreign.length) {
    return new UserError(
      `stage ${c.stage.name}: refusing partials of another plan: ` +
        c.foreign.map((f) => `${relative(root, f.file)} (plan ${f.planId.slice(0, 12)}, config ${f.exp})`).join(', ') +
        ` — this plan is in ${join(root, 'plan.json')}; remove those files`,
    );
  }
  if (c.missing.length || c.problems.length) {
    const lines = [`stage ${c.stage.name} is incomplete:`];
    const bad = c.corrupt.filter((x) => x.index !== null && c.missing.includes(x.index));
    const lost = c.missing.filter((i) => !bad.some((b) => b.index === i));
    if (lost.length) lines.push(`  missing shard(s): ${lost.join(', ')}`);
    for (const b of bad) lines.push(`  corrupt shard ${b.index}: ${relative(root, b.file)}: ${b.why}`);
    for (const p of c.problems) lines.push(`  ${p}`);
    const rerun = c.missing.length ? c.missing : [...c.valid.keys()];
    lines.push(`  rerun: ${rerunCommand(dir, c.stage.name, rerun)}`);
    return new UserError(lines.join('\n'));
  }
  return null;
}

/** Writes DIR/merged/<stage>.json for a complete stage (idempotent: the content is deterministic). */
export async function writeMerged(dir: string, plan: Plan, c: StageCheck): Promise<void> {
  const p = mergedFile(dir, c.stage.name);
  try {
    await mkdir(join(resolve(dir), 'merged'), { recursive: true });
  } catch (e) {
    throw new UserError(`cannot create ${join(resolve(dir), 'merged')}: ${(e as Error).message}`);
  }
  const doc = {
    planId: plan.planId,
    stage: c.stage.name,
    digest: c.digest,
    partials: [...c.valid.values()].sort((a, b) => a.header.index - b.header.index).map((x) => ({ index: x.header.index, file: relative(resolve(dir), x.file), sha256: x.sha256 })),
  };
  const text = JSON.stringify(doc, null, 2) + '\n';
  try {
    if ((await readFile(p, 'utf8')) === text) return;
  } catch {
    /* not there yet */
  }
  await writeFileAtomic(p, text);
}

export interface Upstream {
  store: Store;
  digests: string[];
}

/**
 * Checks every stage before `upTo` (in plan order), records the complete ones in merged/, and
 * returns their blocks for replay. An incomplete earlier stage is a UserError naming it (with
 * `prefix`: the stages before it are returned).
 */
export async function loadUpstream(dir: string, plan: Plan, upTo: number, opts: { writeMerged: boolean; prefix?: boolean }): Promise<{ up: Upstream; checks: StageCheck[] }> {
  const store: Store = new Map();
  const digests: string[] = [];
  const checks: StageCheck[] = [];
  for (let s = 0; s < upTo; s++) {
    const stage = plan.stages[s]!;
    const c = await checkStage(dir, plan, stage, inputsSha(plan.planId, digests));
    checks.push(c);
    const err = stageError(dir, c);
    if (err && opts.prefix) break; // prefix: the complete stages up to the first incomplete one
    if (err) throw err;
    if (opts.writeMerged) await writeMerged(dir, plan, c);
    const m = new Map<string, StoredBlock[]>();
    for (const p of c.valid.values()) {
      for (const b of p.blocks) {
        const k = blockKey(b);
        if (!m.has(k)) m.set(k, []);
        m.get(k)!.push(b);
      }
    }
    store.set(stage.name, m);
    digests.push(c.digest!);
  }
  return { up: { store, digests }, checks };
}

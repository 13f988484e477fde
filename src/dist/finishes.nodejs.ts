/**
 * Finished rotations on disk: DIR/finished/<mprime stage>.<key>.part holds the finish of an M′
 * stage (the M eigendecomposition and the bases C, W, Λ, …) as the first shard that replayed it
 * computed it. Every later shard and the merge replay it instead of computing it again (for a
 * 784-wide layer that is seconds per process). The key covers the plan and the digests of every
 * stage up to and including that M′ stage, so a finish is only used with the very partials it
 * came from; the bits are the computed ones (exact codec), so results do not change.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { writeFileAtomic } from '../io/files.nodejs.js';
import type { FinishResult } from '../rib/basis.js';
import type { FinishCache } from '../rib/build.js';
import { decodeValue, encodeValue, packPartial, unpackPartial } from './codec.js';
import { inputsSha, partialKey } from './partials.nodejs.js';
import { sha256Bytes, type Plan } from './plan.nodejs.js';

const FINISH_FORMAT = 'interbasis-finish';

export const finishedDir = (dir: string): string => join(resolve(dir), 'finished');

interface Slot {
  stage: string;
  key: string;
  file: string;
}

export interface FinishFiles {
  cache: FinishCache;
  /** node layers whose finish was read from disk */
  loaded: string[];
  /** writes the finishes this process computed (a failure only costs the next process the work) */
  save(warn: (m: string) => void): Promise<string[]>;
}

/** The finishes of the M′ stages among the first `digests.length` stages (those with verified partials). */
export async function finishFiles(dir: string, plan: Plan, digests: string[]): Promise<FinishFiles> {
  const slots = new Map<string, Slot>();
  plan.stages.forEach((st, j) => {
    if (st.kind !== 'mprime' || j >= digests.length) return;
    const key = partialKey(plan.planId, `finish.${st.name}`, 0, inputsSha(plan.planId, digests.slice(0, j + 1)));
    slots.set(st.layer!, { stage: st.name, key, file: join(finishedDir(dir), `${st.name}.${key}.part`) });
  });
  const have = new Map<string, FinishResult>();
  for (const [layer, s] of slots) {
    try {
      const u = unpackPartial(new Uint8Array(await readFile(s.file)), sha256Bytes);
      const h = u.header as { format?: string; planId?: string; stage?: string; key?: string; value?: unknown };
      if (h.format === FINISH_FORMAT && h.planId === plan.planId && h.stage === s.stage && h.key === s.key) have.set(layer, decodeValue(h.value, u.data) as FinishResult);
    } catch {
      /* missing or damaged: computed again (and rewritten) */
    }
  }
  const computed = new Map<string, FinishResult>();
  return {
    loaded: [...have.keys()],
    cache: {
      get: (layer) => have.get(layer) ?? null,
      put: (layer, f) => {
        if (slots.has(layer) && !have.has(layer)) computed.set(layer, f);
      },
    },
    async save(warn) {
      const written: string[] = [];
      for (const [layer, f] of computed) {
        const s = slots.get(layer)!;
        try {
          const enc = encodeValue(f);
          await mkdir(finishedDir(dir), { recursive: true });
          await writeFileAtomic(s.file, packPartial({ format: FINISH_FORMAT, planId: plan.planId, stage: s.stage, key: s.key, value: enc.json }, enc.data, sha256Bytes));
          written.push(s.stage);
        } catch (e) {
          warn(`could not save the finish of ${s.stage} (${(e as Error).message}); later shards compute it again`);
        }
      }
      return written;
    },
  };
}

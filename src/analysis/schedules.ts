/**
 * Ablation schedules (spec §8.2), browser-safe and pure.
 *
 * Static schedules (exponential, linear) return the reference's list of *numbers ablated*,
 * descending (n … 0). Callers iterate it reversed (0 ablated first). Bisect is a small state
 * machine: `propose()` gives the next number ablated, `update(p, score)` moves the bounds.
 */
import { z } from 'zod';
import { UserError } from '../errors.js';
import { pow, exp, log } from '../linalg/index.js';

const common = {
  early_stopping_threshold: z.number().nonnegative().nullable().optional(),
  specific_points: z.array(z.number().int().nonnegative()).nullable().optional(),
};

export const ExponentialScheduleSchema = z.strictObject({
  schedule_type: z.literal('exponential'),
  ...common,
  ablate_every_vec_cutoff: z.number().int().nonnegative().nullable().optional(),
  exp_base: z.number().min(1).nullable().optional(),
});
export const LinearScheduleSchema = z.strictObject({
  schedule_type: z.literal('linear'),
  ...common,
  n_points: z.number().int().min(2),
});
export const BisectScheduleSchema = z.strictObject({
  schedule_type: z.literal('bisect'),
  score_target_difference: z.number().nonnegative(),
  scaling: z.enum(['linear', 'logarithmic']).optional().default('linear'),
  tolerance: z.number().int().min(1).optional().default(1),
});
export const ScheduleSchema = z.discriminatedUnion('schedule_type', [
  ExponentialScheduleSchema,
  LinearScheduleSchema,
  BisectScheduleSchema,
]);
export type ExponentialSchedule = z.infer<typeof ExponentialScheduleSchema>;
export type LinearSchedule = z.infer<typeof LinearScheduleSchema>;
export type BisectSchedule = z.infer<typeof BisectScheduleSchema>;
export type Schedule = z.infer<typeof ScheduleSchema>;
export type StaticSchedule = ExponentialSchedule | LinearSchedule;

function checkN(n: number): void {
  if (!Number.isInteger(n) || n < 0) throw new UserError(`schedule: number of items must be a non-negative integer, got ${n}`);
}

/** Merge `specific_points` (counts *remaining*, ≤ n) into a descending list of numbers ablated. */
export function addSpecificPoints(list: number[], n: number, specific: readonly number[] | null | undefined): number[] {
  if (!specific || specific.length === 0) return list;
  const extra = specific.filter((x) => x <= n).map((x) => n - x);
  return [...new Set([...list, ...extra])].sort((a, b) => b - a);
}

/**
 * Exponential schedule over n items (numbers ablated, descending). With cutoff c:
 * [n, n−1, …, n−c] then v = floor(prev − β^x) for x = 0, 1, … while v > 0, then 0.
 * c = null/undefined gives every count n…0.
 */
export function exponentialSchedule(
  n: number,
  cutoff: number | null | undefined,
  base: number | null | undefined = 2,
  specificPoints?: readonly number[] | null,
): number[] {
  checkN(n);
  const beta = base ?? 2;
  if (!(beta >= 1)) throw new UserError(`schedule: exp_base must be ≥ 1, got ${beta}`);
  let list: number[];
  if (cutoff === null || cutoff === undefined) {
    list = [];
    for (let v = n; v >= 0; v--) list.push(v);
  } else {
    if (!Number.isInteger(cutoff) || cutoff < 0) throw new UserError(`schedule: ablate_every_vec_cutoff must be a non-negative integer, got ${cutoff}`);
    if (cutoff >= n) throw new UserError(`schedule: ablate_every_vec_cutoff (${cutoff}) must be smaller than the number of items (${n})`);
    list = [];
    for (let v = n; v >= n - cutoff; v--) list.push(v);
    let prev = n - cutoff;
    for (let x = 0; x < n + 1; x++) {
      const v = Math.trunc(prev - pow(beta, x));
      if (v > 0) {
        list.push(v);
        prev = v;
      } else {
        list.push(0);
        break;
      }
    }
    if (list[list.length - 1] !== 0) list.push(0);
  }
  return addSpecificPoints(list, n, specificPoints);
}

/** Linear schedule: trunc(linspace(n, 0, nPoints)) (numpy's i·step + start, last = 0 exactly). */
export function linearSchedule(n: number, nPoints: number, specificPoints?: readonly number[] | null): number[] {
  checkN(n);
  if (!Number.isInteger(nPoints) || nPoints < 2 || nPoints > n + 1) {
    throw new UserError(`schedule: linear n_points must be an integer with 2 ≤ n_points ≤ n+1 = ${n + 1}, got ${nPoints}`);
  }
  const step = (0 - n) / (nPoints - 1);
  const list: number[] = [];
  for (let i = 0; i < nPoints; i++) list.push(i === nPoints - 1 ? 0 : Math.trunc(i * step + n));
  return addSpecificPoints(list, n, specificPoints);
}

/** The static schedule list (numbers ablated, descending) for a schedule config. */
export function staticSchedule(s: StaticSchedule, n: number): number[] {
  if (s.schedule_type === 'exponential') return exponentialSchedule(n, s.ablate_every_vec_cutoff, s.exp_base, s.specific_points);
  return linearSchedule(n, s.n_points, s.specific_points);
}

/** Whether a static schedule should stop after this score (|score − first score| > threshold). */
export function shouldStopEarly(s: StaticSchedule, firstScore: number, score: number): boolean {
  const t = s.early_stopping_threshold;
  return t !== null && t !== undefined && Math.abs(score - firstScore) > t;
}

/**
 * Bisect search for the largest number ablated whose score is still within
 * `score_target_difference` of the unablated score (spec §8.2).
 */
export class Bisect {
  upper: number;
  lower = 0;
  private last: number | null = null;
  readonly evaluated: number[] = [];
  constructor(
    readonly n: number,
    readonly cfg: BisectSchedule,
    readonly evalType: 'accuracy' | 'ce_loss',
    readonly baseScore: number,
  ) {
    checkN(n);
    this.upper = n;
  }
  done(): boolean {
    return this.upper - this.lower <= this.cfg.tolerance;
  }
  /** Next number ablated. Throws if the search would repeat its previous proposal. */
  propose(): number {
    const { upper, lower } = this;
    let p: number;
    if (this.cfg.scaling === 'logarithmic') p = Math.floor(exp((log(upper) + log(lower + 1e-9)) / 2));
    else p = Math.floor((upper + lower) / 2);
    if (p === lower) p += 1;
    if (p === upper) p -= 1;
    if (this.last !== null && p === this.last) {
      throw new UserError(
        `bisect: proposal ${p} repeats the previous one (lower ${lower}, upper ${upper}); this happens for node ablations ` +
          `when a proposal only ablates truncated directions (reference behaviour)`,
      );
    }
    this.last = p;
    this.evaluated.push(p);
    return p;
  }
  /** Record the score of proposal p. */
  update(p: number, score: number): void {
    const d = this.cfg.score_target_difference;
    const good = this.evalType === 'accuracy' ? score >= this.baseScore - d : score <= this.baseScore + d;
    if (good) this.lower = p;
    else this.upper = p;
  }
}

import { describe, it, expect, beforeAll } from 'vitest';
import { readFileSync } from 'node:fs';
import { initKernels } from '../src/linalg/index.js';
import { exponentialSchedule, linearSchedule, Bisect, ScheduleSchema, addSpecificPoints, type BisectSchedule } from '../src/analysis/schedules.js';
import { edgeMask } from '../src/analysis/ablation.js';
import { UserError } from '../src/errors.js';
import { REFDATA, ref } from './helpers/refdata.js';

beforeAll(async () => {
  await initKernels();
});

/** Runs a bisect where proposals ≤ goodUntil are "good" (accuracy stays at base). */
function runBisect(n: number, goodUntil: number, cfg: Partial<BisectSchedule> = {}) {
  const b = new Bisect(n, { schedule_type: 'bisect', score_target_difference: 0.001, scaling: 'linear', tolerance: 1, ...cfg }, 'accuracy', 1);
  while (!b.done()) {
    const p = b.propose();
    b.update(p, p <= goodUntil ? 1 : 0.5);
  }
  return { lower: b.lower, evaluated: b.evaluated };
}

describe('exponential schedule (spec §8.2)', () => {
  it('matches the reference docstring examples', () => {
    expect(exponentialSchedule(12, 0, 2)).toEqual([12, 11, 9, 5, 0]);
    expect(exponentialSchedule(24, 3, 2)).toEqual([24, 23, 22, 21, 20, 18, 14, 6, 0]);
    expect(exponentialSchedule(12, 1, 2)).toEqual([12, 11, 10, 8, 4, 0]);
    expect(exponentialSchedule(12, 3, 2)).toEqual([12, 11, 10, 9, 8, 6, 2, 0]);
    expect(exponentialSchedule(12, null, 2)).toEqual([12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0]);
  });
  it('merges specific points (remaining counts) and drops those above n', () => {
    expect(exponentialSchedule(12, 0, 2, [4, 7, 100])).toEqual([12, 11, 9, 8, 5, 0]);
    expect(addSpecificPoints([12, 6, 0], 12, [3, 12])).toEqual([12, 9, 6, 0]);
  });
  it('rejects bad parameters with a UserError', () => {
    expect(() => exponentialSchedule(12, 12, 2)).toThrow(UserError);
    expect(() => exponentialSchedule(12, -1, 2)).toThrow(/cutoff/);
    expect(() => exponentialSchedule(12, 0, 0.5)).toThrow(/exp_base/);
  });
});

describe('linear schedule', () => {
  it('matches the reference example and numpy linspace truncation', () => {
    expect(linearSchedule(12, 3)).toEqual([12, 6, 0]);
    expect(linearSchedule(10, 4)).toEqual([10, 6, 3, 0]);
    expect(linearSchedule(5, 6)).toEqual([5, 4, 3, 2, 1, 0]);
  });
  it('rejects n_points outside [2, n+1]', () => {
    expect(() => linearSchedule(12, 1)).toThrow(UserError);
    expect(() => linearSchedule(12, 14)).toThrow(/n_points/);
  });
});

describe('bisect schedule', () => {
  it('finds the boundary with linear scaling (derived by hand)', () => {
    expect(runBisect(100, 37)).toEqual({ lower: 37, evaluated: [50, 25, 37, 43, 40, 38] });
    expect(runBisect(10, 0)).toEqual({ lower: 0, evaluated: [5, 2, 1] });
    expect(runBisect(10, 10)).toEqual({ lower: 9, evaluated: [5, 7, 8, 9] });
  });
  it('logarithmic scaling starts near 0 and bumps proposals off the bounds', () => {
    expect(runBisect(100, 37, { scaling: 'logarithmic' })).toEqual({ lower: 37, evaluated: [1, 10, 31, 55, 41, 35, 37, 38] });
  });
  it('stops within the tolerance', () => {
    expect(runBisect(100, 37, { tolerance: 10 })).toEqual({ lower: 37, evaluated: [50, 25, 37, 43] });
  });
  it('reproduces the reference proposal sequence of the mod-add ln1.0 edge bisect', () => {
    // reference kept counts: 8321 4161 2081 1041 521 261 131 196 164 148 140 136 134 133 132 → n_edges_required 133
    const n = 129 * 129;
    const r = runBisect(n, n - 133);
    expect(n - r.lower).toBe(133);
    expect(r.evaluated.map((p) => n - p)).toEqual([8321, 4161, 2081, 1041, 521, 261, 131, 196, 164, 148, 140, 136, 134, 133, 132]);
  });
  it('ce_loss: good means the loss stays below base + δ', () => {
    const b = new Bisect(10, { schedule_type: 'bisect', score_target_difference: 0.1, scaling: 'linear', tolerance: 1 }, 'ce_loss', 1);
    const p = b.propose();
    b.update(p, 1.05);
    expect(b.lower).toBe(p);
    const q = b.propose();
    b.update(q, 1.2);
    expect(b.upper).toBe(q);
  });
  it('errors when a proposal repeats (bounds not updated)', () => {
    const b = new Bisect(10, { schedule_type: 'bisect', score_target_difference: 0.1, scaling: 'linear', tolerance: 1 }, 'accuracy', 1);
    b.propose();
    expect(() => b.propose()).toThrow(/repeats/);
  });
});

describe('schedule config validation', () => {
  it('accepts the reference configs and rejects unknown keys / bad values', () => {
    expect(ScheduleSchema.parse({ schedule_type: 'exponential', early_stopping_threshold: null, specific_points: null, ablate_every_vec_cutoff: 10, exp_base: 1.05 }).schedule_type).toBe('exponential');
    expect(ScheduleSchema.parse({ schedule_type: 'bisect', score_target_difference: 0.001, scaling: 'linear', tolerance: 1 }).schedule_type).toBe('bisect');
    expect(ScheduleSchema.safeParse({ schedule_type: 'exponential', cutoff: 3 }).success).toBe(false);
    expect(ScheduleSchema.safeParse({ schedule_type: 'linear', n_points: 1 }).success).toBe(false);
    expect(ScheduleSchema.safeParse({ schedule_type: 'bisect', score_target_difference: 0.1, scaling: 'cubic' }).success).toBe(false);
    expect(ScheduleSchema.safeParse({ schedule_type: 'spiral' }).success).toBe(false);
  });
});

describe('edge mask semantics (spec §8.4)', () => {
  const E = new Float64Array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]); // 3×3
  const str = (m: Uint8Array) => Array.from(m).join('');
  it('keeps the top m entries outside column 0; column 0 is free when centred', () => {
    expect(str(edgeMask(E, 3, 3, 2, true))).toBe('100' + '100' + '111');
    expect(str(edgeMask(E, 3, 3, 0, true))).toBe('100100100');
    expect(str(edgeMask(E, 3, 3, 6, true))).toBe('111111111');
    expect(str(edgeMask(E, 3, 3, 100, true))).toBe('111111111');
    expect(str(edgeMask(E, 3, 3, 2, false))).toBe('000000011');
  });
  it('keeps ties (≥ the m-th largest)', () => {
    const T = new Float64Array([0, 1, 1, 0, 1, 1]); // 2×3
    expect(str(edgeMask(T, 2, 3, 1, true))).toBe('111111');
    expect(str(edgeMask(T, 2, 3, 1, false))).toBe('011011');
  });
});

describe.skipIf(!REFDATA)('reference schedules', () => {
  it('exponential(c=10, β=1.05) over 129 gives the reference node-ablation points', () => {
    const j = JSON.parse(readFileSync(ref('modadd', 'seed0', 'node_ablation_results_rib.json'), 'utf8'));
    const remaining = exponentialSchedule(129, 10, 1.05).map((a) => 129 - a);
    // JS orders integer-like keys ascending; the schedule's remaining counts ascend (0 ablated first reversed)
    expect([...remaining].sort((a, b) => a - b).map(String)).toEqual(Object.keys(j.results['ln1.0']));
    expect(remaining[0]).toBe(0);
  });
});

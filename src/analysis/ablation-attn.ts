/**
 * Attention sections in ablations (browser-safe): the evaluation lives in the attention structure
 * (src/rib/structures/attention.ts); these are its entry points for the analysis code and tests.
 */
import type { Section } from '../models/types.js';
import { detectAttention, type AttnStruct } from '../rib/structures/attention-core.js';
import { attnForwardUnique, uniqueRowsPerPosition } from '../rib/structures/attention.js';

export type { PosUnique } from '../rib/structures/attention.js';
export { attnForwardUnique, transformUnique, uniqueRowsPerPosition } from '../rib/structures/attention.js';

/** An attention section's structure with its number of input positions P. */
export type AttnSection = AttnStruct & { P: number };

/** The attention structure of a section (with its input positions), or null. */
export function detectAttnSection(section: Section): AttnSection | null {
  const st = detectAttention(section);
  return st ? { ...st, P: section.inPos } : null;
}

/** Same as section.forward(x, B) for an attention section, computing q, k, v on distinct rows. */
export function attnForwardFast(a: AttnSection, x: Float64Array, B: number): Float64Array {
  return attnForwardUnique(a, uniqueRowsPerPosition(x, B, a.P, a.dIn), B, a.P);
}

/**
 * Edge ablation of one section (spec §8.4), browser-safe.
 *
 * Given the activations x [B, inPos, dIn] entering section l and a mask [rOut, rIn] over the
 * RIB edges, computes the section's new output [B, outPos, dOut]:
 *
 *   u = x C_in;  for each distinct mask row pattern π with output rows O:
 *       out_rib[…, O] = F((u ⊙ π) C_in⁺) C_out[:, O];
 *   new = out_rib C_out⁺
 *
 * The evaluation is the section structure's (src/rib/structures): `generic` runs the section's
 * forward once per pattern; linear, MLP and attention sections compute the same quantity from
 * their closed forms.
 */
import type { Section } from '../models/types.js';
import { structureFor, type AblationCache, type EdgeBasis } from '../rib/structures/index.js';

export type { EdgeBasis, PatternGroup } from '../rib/structures/masks.js';
export { chainOrder, gatherCols, gatherRows, groupPatterns, mm } from '../rib/structures/masks.js';

/** The new output of `section` for inputs x [B, inPos, dIn] with the edges outside `mask` ablated. */
export function edgeAblatedOutput(
  section: Section,
  x: Float64Array,
  B: number,
  eb: EdgeBasis,
  mask: Uint8Array,
  opts: { generic?: boolean; cache?: AblationCache; /** ignored: the structure comes from the section */ attn?: unknown; uniq?: unknown } = {},
): Float64Array {
  if (section.inDim !== eb.dIn || section.outDim !== eb.dOut) {
    throw new Error(`edge ablation: section ${section.name} is ${section.inDim}→${section.outDim}, basis is ${eb.dIn}→${eb.dOut}`);
  }
  const st = structureFor(section, 'ablation', { structured: !opts.generic });
  return st.edgeAblated(section, x, B, eb, mask, opts.cache ?? new Map());
}

/** The output of `section` for the node-ablated inputs x·T (T [inDim × inDim], spec §8.3). */
export function nodeAblatedOutput(section: Section, x: Float64Array, B: number, T: Float64Array, opts: { generic?: boolean; cache?: AblationCache } = {}): Float64Array {
  const st = structureFor(section, 'ablation', { structured: !opts.generic });
  return st.nodeAblated(section, x, B, T, opts.cache ?? new Map());
}

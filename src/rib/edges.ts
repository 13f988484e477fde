/**
 * The edges worker task (spec §6): one shard of samples, through the section's structure
 * (src/rib/structures). Returns the unnormalised E [r_out × r_in]; the caller reduces shards in
 * order and divides by N·P_in (·R for stochastic sources).
 */
import { sectionedFor } from './context.js';
import { structureFor, type EdgesShardPayload } from './structures/index.js';

export type { EdgesShardPayload } from './structures/index.js';

export function edgesShard(p: EdgesShardPayload): Float64Array {
  const sec = sectionedFor(p.model).sections[p.layer]!;
  return structureFor(sec, 'edges', { structured: p.closedForm !== false, formula: p.formula, stochastic: p.nSources !== null }).edgesShard(sec, p);
}

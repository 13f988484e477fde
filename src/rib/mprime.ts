/**
 * The M′ worker task (spec §5.4): one shard of samples, through the section's structure
 * (src/rib/structures). Returns unnormalised partial sums; the caller reduces shards in order,
 * assembles M′ with the same structure and divides by N·P_in·R.
 */
import { sectionedFor } from './context.js';
import { structureFor, type MprimeShardPayload, type MprimeShardResult } from './structures/index.js';

export type { MprimeShardPayload, MprimeShardResult } from './structures/index.js';
export { integratedVjp } from './structures/generic.js';

export function mprimeShard(p: MprimeShardPayload): MprimeShardResult {
  const sec = sectionedFor(p.model).sections[p.layer]!;
  const stochastic = p.nPos !== null || p.nHidden !== null;
  return structureFor(sec, 'mprime', { structured: p.closedForm !== false, formula: p.formula, stochastic, positionSourcesOnly: p.nHidden === null }).mprimeShard(sec, p);
}

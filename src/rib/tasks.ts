/** Worker tasks of the LIB build (registered on import; src/tasks.ts imports this module). */
import { registerTask } from '../parallel/registry.js';
import { withoutOperandScreen } from '../linalg/index.js';
import { pcaStage, type PcaTaskPayload } from './basis.js';
import { edgesShard, type EdgesShardPayload } from './edges.js';
import { mprimeShard, type MprimeShardPayload } from './mprime.js';
import { forwardShard, gramShard, gramStreamShard, type ForwardShardPayload, type GramShardPayload, type GramStreamPayload } from './stats.js';

/**
 * M′ and edge shards work on activations, bases and weights the build already screened (the
 * statistics pass keeps the NaN/Inf screen), so their Wasm operands skip it; their outputs are
 * screened here instead, naming the shard.
 */
function checkFinite(what: string, p: { layer: number; start: number; end: number }, a: Float64Array | null): void {
  if (!a) return;
  for (let i = 0; i < a.length; i++) {
    if (!Number.isFinite(a[i]!)) {
      throw new RangeError(`${what} (section ${p.layer}, samples ${p.start}–${p.end}): non-finite value ${a[i]} at index ${i} (overflow in the model or the bases?)`);
    }
  }
}

registerTask('rib.forward', (p: ForwardShardPayload) => forwardShard(p));
registerTask('rib.gram', (p: GramShardPayload) => gramShard(p));
registerTask('rib.gramStream', (p: GramStreamPayload) => gramStreamShard(p));
registerTask('rib.pca', (p: PcaTaskPayload) => pcaStage(p.G, p.d, p.mean, p.o));
registerTask('rib.mprime', (p: MprimeShardPayload) => {
  const r = withoutOperandScreen(() => mprimeShard(p));
  checkFinite("M' shard", p, r.M);
  checkFinite("M' shard", p, r.Lp);
  return r;
});
registerTask('rib.edges', (p: EdgesShardPayload) => {
  const E = withoutOperandScreen(() => edgesShard(p));
  checkFinite('edges shard', p, E);
  return E;
});

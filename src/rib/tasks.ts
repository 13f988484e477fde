/** Worker tasks of the LIB build (registered on import; src/tasks.ts imports this module). */
import { registerTask } from '../parallel/registry.js';
import { edgesShard, type EdgesShardPayload } from './edges.js';
import { mprimeShard, type MprimeShardPayload } from './mprime.js';
import { forwardShard, gramShard, type ForwardShardPayload, type GramShardPayload } from './stats.js';

registerTask('rib.forward', (p: ForwardShardPayload) => forwardShard(p));
registerTask('rib.gram', (p: GramShardPayload) => gramShard(p));
registerTask('rib.mprime', (p: MprimeShardPayload) => mprimeShard(p));
registerTask('rib.edges', (p: EdgesShardPayload) => edgesShard(p));

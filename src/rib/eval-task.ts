/** Worker task of the pre-build evaluation (registered on import; src/tasks.ts imports this module). */
import { registerTask } from '../parallel/registry.js';
import { evalShard, type EvalShardPayload } from './evaluate.js';

registerTask('rib.eval', (p: EvalShardPayload) => evalShard(p));

// src/parallel: deterministic sharding, the task registry and the pool interface (browser-safe).
export * from './shards.js';
export * from './registry.js';
export * from './context.js';
export * from './pool.js';
export * from './gram.js';
export { runEnveloped, unwrapEnvelope, taskError, collectTransferables, moveResult } from './envelope.js';
export type { Envelope, TaskMessage, SerializedError } from './envelope.js';
export type { GramShardPayload, SumPayload } from './builtin-tasks.js';

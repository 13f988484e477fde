// Public entry point of the interbasis library (browser-safe: no Node-only imports here).
export * from './errors.js';
export * from './rng.js';
export type * from './models/types.js';
export type * from './data/types.js';

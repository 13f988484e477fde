// Browser-safe LIB build: config schema, stages and the pipeline (file handling: interbasis/node).
export * from './config.js';
export * from './build.js';
export * from './compare.js';

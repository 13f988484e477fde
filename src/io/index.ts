// Browser-safe I/O: tensors, safetensors, .pt and the results format (files: see interbasis/node).
export * from './tensor.js';
export * from './safetensors.js';
export * from './pt.js';
export * from './results.js';

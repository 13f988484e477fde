/**
 * Node-only helpers (file system, piscina worker pool): `import … from 'interbasis/node'`.
 * Everything browser-safe is in the main entry point.
 */
export * from './index.js';
export { readSafetensorsFile, readCheckpoint, readPtFile, readStructured, writeFileAtomic } from './io/files.nodejs.js';
export { saveResults, loadResults } from './io/results.nodejs.js';
export { loadModel } from './models/load.nodejs.js';
export { mnistDigits } from './data/mnist.nodejs.js';
export { fileDataset } from './data/file.nodejs.js';
export { loadHfModel, loadPretrained } from './models/hf/load.nodejs.js';
export { huggingfaceDataset } from './data/hf-dataset.nodejs.js';
export { cifar10 } from './data/cifar.nodejs.js';
export { loadBuildConfig } from './rib/config.nodejs.js';
export { runBuildFromConfig } from './rib/build.nodejs.js';
export { writeReport } from './analysis/report/write.nodejs.js';
export { createNodePool } from '../workers/pool.nodejs.js';

/**
 * Node-only helpers (file system, piscina worker pool): `import … from 'interbasis/node'`.
 * Everything browser-safe is in the main entry point.
 */
export * from './index.js';
export { readSafetensorsFile, readCheckpoint, readPtFile, readStructured, writeFileAtomic } from './io/files-node.js';
export { saveResults, loadResults } from './io/results-node.js';
export { loadModel } from './models/load-node.js';
export { mnistDigits } from './data/mnist-node.js';
export { fileDataset } from './data/file-node.js';
export { loadHfModel, loadPretrained } from './models/hf/load-node.js';
export { huggingfaceDataset } from './data/hf-dataset-node.js';
export { cifar10 } from './data/cifar-node.js';
export { loadBuildConfig } from './rib/config-node.js';
export { runBuildFromConfig } from './rib/build-node.js';
export { writeReport } from './analysis/report/write-node.js';
export { createNodePool } from '../workers/pool-node.js';

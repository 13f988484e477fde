/**
 * `interbasis/browser`: the LIB build, clustering, ablations and labels in a browser tab, on the
 * comlink worker pool (one Wasm instance per worker). See docs/browser.md.
 */
export { build, type BrowserBuildOptions, type BrowserBuildResult } from './build.js';
export { resultsBytes, resultsJsonText, resultsFromBytes, RESULTS_TENSORS, RESULTS_JSON } from './results.js';
export { createPool, loadKernels, DEFAULT_WASM_URL, type PoolOptions } from './runtime.js';
export { readInput, type BrowserFile } from './inputs.js';
export { loadModelFromFiles, ablate, labels, type BrowserAblateOptions } from './analysis.js';
export { ExplorerGraph, pairEdges, visibleEdges, visibleCount, countAtLeast, syntheticGraph, type EdgeFilter, type PairEdges } from './explorer/graph-model.js';
export { drawSvg } from './explorer/svg.js';
// clustering (synchronous, needs loadKernels() first)
export { clusterResults, searchGamma, adjustedRandIndex, type ClusterRun, type ClusterRunOptions } from '../analysis/clusters.js';
export { readAblationCurves, parseAblationConfig, runAblation, ablationJson } from '../analysis/ablation.js';
export { modAddLabels } from '../analysis/labels.js';
export { ribBuild } from '../rib/build.js';
export { parseBuildConfig } from '../rib/config.js';
export { UserError } from '../errors.js';
export type { RibResults } from '../io/results.js';

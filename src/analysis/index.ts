// Browser-safe analysis: schedules, ablations, clustering, edge norms, labels and report HTML.
export * from './schedules.js';
export * from './norms.js';
export * from './graph.js';
export * from './modularity.js';
export * from './leiden.js';
export * from './louvain.js';
export * from './clusters.js';
export * from './labels.js';
export { buildReportHtml } from './report/html.js';

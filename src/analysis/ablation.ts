/**
 * Node and edge ablations (spec §8.1–§8.4), browser-safe: the config (ablation-config.ts), the
 * sweep over the schedules (ablation-sweep.ts) and the JSON in the reference's layout
 * (ablation-json.ts). The evaluators that score one ablated forward pass are the worker task in
 * tasks.ts.
 */
export { AblationConfigSchema, parseAblationConfig, type AblationConfig, type AblationDatasetConfig } from './ablation-config.js';
export {
  edgeMask, nodeRotation, runAblation, type AblationOutput, type AblationProgress, type RunAblationOptions,
} from './ablation-sweep.js';
export { ablationJson, readAblationCurves } from './ablation-json.js';

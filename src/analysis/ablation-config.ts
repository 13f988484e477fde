/**
 * The ablation config (spec §8.1–§8.4): the reference's ablation YAML format, validated strictly
 * with zod, browser-safe. Its dataset uses the build config's dataset schema and its optional
 * model keys (where the model is when the path stored in the results does not exist here) are
 * the build config's model keys, so both resolve through src/rib/inputs.nodejs.ts.
 */
import { z } from 'zod';
import { UserError } from '../errors.js';
import { formatIssues } from '../config-issues.js';
import { datasetSchema, modelSchema, modularMlpSchema, normaliseDataset, validateDataset, type DatasetConfig } from '../rib/config.js';
import { ScheduleSchema } from './schedules.js';

const nullableStr = z.string().min(1).nullable().default(null);

export const AblationConfigSchema = z.strictObject({
  exp_name: z.string().min(1).default('ablation'),
  out_dir: nullableStr,
  ablation_type: z.enum(['rib', 'orthogonal', 'edge']),
  rib_results_path: z.string().min(1),
  schedule: ScheduleSchema,
  dataset: datasetSchema,
  ablation_node_layers: z.array(z.string().min(1)).min(1),
  batch_size: z.number().int().positive().default(99999),
  dtype: z.enum(['float32', 'float64']).default('float64'),
  seed: z.number().int().nonnegative().default(0),
  eval_type: z.enum(['accuracy', 'ce_loss']),
  save_all_edge_masks: z.boolean().default(false),
  // the build config's model keys (our extension): the model, when the results' own path does not exist here
  tlens_model_path: nullableStr,
  mlp_path: nullableStr,
  model: modelSchema.nullable().default(null),
  modular_mlp_config: modularMlpSchema.nullable().default(null),
});
export type AblationConfig = z.infer<typeof AblationConfigSchema>;
/** The dataset of an ablation config: the build config's dataset schema. */
export type AblationDatasetConfig = DatasetConfig;

/** Validate a raw (YAML/JSON) ablation config; unknown keys and bad values are UserErrors. */
export function parseAblationConfig(raw: unknown): AblationConfig {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new UserError('ablation config: expected a mapping at the top level');
  const o = { ...(raw as Record<string, unknown>) };
  if ('dataset' in o) o.dataset = normaliseDataset(o.dataset, 'dataset');
  const r = AblationConfigSchema.safeParse(o);
  if (!r.success) throw new UserError(`ablation config: ${formatIssues(r.error, o)}`);
  const c = r.data;
  validateDataset(c.dataset, 'dataset', (msg) => {
    throw new UserError(`ablation config: ${msg}`);
  });
  const models = (['tlens_model_path', 'mlp_path', 'model', 'modular_mlp_config'] as const).filter((k) => c[k] !== null);
  if (models.length > 1) throw new UserError(`ablation config: give at most one model key, got ${models.join(', ')}`);
  if (c.ablation_type === 'edge' && c.ablation_node_layers.length < 2) {
    throw new UserError('ablation config: edge ablation needs at least two ablation_node_layers (edges run between consecutive layers)');
  }
  if (c.ablation_type !== 'edge' && c.ablation_node_layers.includes('output')) {
    throw new UserError("ablation config: node ablation cannot ablate 'output' (there is no section after it)");
  }
  if (new Set(c.ablation_node_layers).size !== c.ablation_node_layers.length) {
    throw new UserError('ablation config: ablation_node_layers has duplicates');
  }
  return c;
}

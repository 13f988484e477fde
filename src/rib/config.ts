/**
 * The LIB build config (spec §0.3, §9): the reference's `RibBuildConfig` YAML format, validated
 * strictly with zod, plus our extensions (`model: {type, path, config}`, `dataset_type: file`).
 * Browser-safe: path resolution happens in config.nodejs.ts.
 *
 * `parseBuildConfig(raw)` returns the resolved config with every default filled in, or throws a
 * `UserError` naming the offending key: unknown keys, wrong types and invalid combinations are
 * rejected before any work starts.
 */
import { z } from 'zod';
import { UserError } from '../errors.js';
import { formatIssues } from '../config-issues.js';
import { huggingfaceDatasetSchema } from '../data/lm-text.js';

export const INTEGRATION_METHODS = ['gradient', 'trapezoidal', 'gauss-legendre'] as const;
export type IntegrationMethod = (typeof INTEGRATION_METHODS)[number];
export const BASIS_FORMULAS = ['jacobian', '(1-alpha)^2', '(1-0)*alpha', 'svd', 'neuron'] as const;
export type BasisFormula = (typeof BASIS_FORMULAS)[number];

const posInt = z.number().int().positive();
const nonNegInt = z.number().int().nonnegative();
const nullableStr = z.string().min(1).nullable().default(null);

// ---- datasets --------------------------------------------------------------------------------

const subsetKeys = {
  return_set_frac: z.number().gt(0).lte(1).nullable().default(null),
  n_samples: posInt.nullable().default(null),
  /** seeds 1-4 train_config format spells n_samples this way */
  return_set_n_samples: posInt.nullable().default(null),
};

const modularArithmeticSchema = z.strictObject({
  dataset_type: z.literal('modular_arithmetic'),
  /** train_config format (seeds 1-4): `name: modular_arithmetic`, `source: custom` */
  name: z.literal('modular_arithmetic').optional(),
  source: z.literal('custom').optional(),
  return_set: z.enum(['train', 'test', 'all']).default('train'),
  modulus: posInt.nullable().default(null),
  fn_name: z.enum(['add', 'subtract', 'x2xyy2']).nullable().default(null),
  frac_train: z.number().gt(0).lt(1).nullable().default(null),
  seed: nonNegInt.nullable().default(0),
  ...subsetKeys,
});

const blockVectorSchema = z.strictObject({
  dataset_type: z.literal('block_vector'),
  return_set: z.enum(['train', 'test', 'all']).default('all'),
  size: posInt.default(1000),
  length: posInt.default(4),
  first_block_length: posInt.nullable().default(null),
  data_variances: z.tuple([z.number(), z.number()]).default([1, 1]),
  data_perfect_correlation: z.boolean().default(false),
  seed: nonNegInt.nullable().default(0),
  ...subsetKeys,
});

const torchvisionSchema = z.strictObject({
  dataset_type: z.literal('torchvision'),
  name: z.string(),
  return_set: z.enum(['train', 'test']).default('train'),
  /** local folder of the dataset files (CIFAR10: the binary batches) */
  root: z.string().min(1).nullable().default(null),
  seed: nonNegInt.nullable().default(0),
  ...subsetKeys,
});

const fileDatasetSchema = z.strictObject({
  dataset_type: z.literal('file'),
  path: z.string().min(1),
  inputs: z.string().min(1).default('inputs'),
  labels: z.string().min(1).nullable().default(null),
  seed: nonNegInt.nullable().default(0),
  ...subsetKeys,
});

/** Every dataset a config can name (build and ablation configs alike). */
export const datasetSchema = z.discriminatedUnion('dataset_type', [
  modularArithmeticSchema,
  blockVectorSchema,
  torchvisionSchema,
  fileDatasetSchema,
  huggingfaceDatasetSchema,
]);
export type DatasetConfig = z.infer<typeof datasetSchema>;

/** Map the reference's alternative dataset spellings onto `dataset_type`. */
export function normaliseDataset(v: unknown, key: string): unknown {
  if (v === null || v === undefined) return v;
  if (typeof v !== 'object' || Array.isArray(v)) return v; // zod reports the type error
  const o = { ...(v as Record<string, unknown>) };
  if (o.dataset_type === undefined && o.name === 'modular_arithmetic') o.dataset_type = 'modular_arithmetic';
  if (o.dataset_type === undefined) {
    throw new UserError(`missing required key '${key}.dataset_type' (one of modular_arithmetic, block_vector, torchvision, file, huggingface)`);
  }
  return o;
}

// ---- models ----------------------------------------------------------------------------------

export const modularMlpSchema = z.strictObject({
  n_hidden_layers: nonNegInt.default(4),
  width: posInt.default(4),
  first_block_width: posInt.nullable().default(null),
  weight_variances: z.tuple([z.number(), z.number()]).default([1, 1]),
  weight_equal_columns: z.boolean().default(false),
  bias: z.number().default(0),
  activation_fn: z.enum(['relu', 'gelu', 'gelu_new', 'identity', 'tanh', 'sigmoid']).default('relu'),
  dtype: z.enum(['float32', 'float64']).default('float64'),
  seed: nonNegInt.default(0),
});

/** A model file (extension of the reference format): `{type, path, config}`; `hf` is a Hugging Face checkpoint. */
export const modelSchema = z.strictObject({
  type: z.enum(['mlp', 'transformer', 'hf']),
  path: z.string().min(1),
  config: z.string().min(1).nullable().default(null),
  /** hf only: context length override (≤ the model's), e.g. rib's 511 for TinyStories */
  n_ctx: posInt.nullable().default(null),
});

// ---- the build config ------------------------------------------------------------------------

const integrationSchema = z.union([z.enum(INTEGRATION_METHODS), z.record(z.string(), z.enum(INTEGRATION_METHODS))]);

export const buildConfigSchema = z.strictObject({
  exp_name: z.string().min(1),
  out_dir: z.string().min(1).nullable().default('out'),
  seed: nonNegInt.default(0),
  tlens_pretrained: nullableStr,
  tlens_model_path: nullableStr,
  mlp_path: nullableStr,
  modular_mlp_config: modularMlpSchema.nullable().default(null),
  model: modelSchema.nullable().default(null),
  interaction_matrices_path: nullableStr,
  gram_matrices_path: nullableStr,
  calculate_Cs: z.boolean().default(true),
  calculate_edges: z.boolean().default(true),
  node_layers: z.array(z.string().min(1)).min(1),
  rotate_final_node_layer: z.boolean(),
  dataset: datasetSchema.nullable().default(null),
  gram_dataset: datasetSchema.nullable().default(null),
  batch_size: posInt,
  gram_batch_size: posInt.nullable().default(null),
  edge_batch_size: posInt.nullable().default(null),
  truncation_threshold: z.number().nonnegative(),
  last_pos_module_type: z.enum(['add_resid1', 'unembed']).nullable().default(null),
  n_intervals: nonNegInt.default(0),
  integration_method: integrationSchema.default('gradient'),
  dtype: z.enum(['float64', 'float32', 'bfloat16']).default('float64'),
  eval_type: z.enum(['accuracy', 'ce_loss']).nullable().default(null),
  basis_formula: z.enum([...BASIS_FORMULAS, 'pca']).default('jacobian'),
  edge_formula: z.enum(['squared', 'functional']).default('squared'),
  n_stochastic_sources_basis_pos: posInt.nullable().default(null),
  n_stochastic_sources_basis_hidden: posInt.nullable().default(null),
  n_stochastic_sources_edges: posInt.nullable().default(null),
  center: z.boolean().default(true),
  dist_split_over: z.enum(['dataset', 'out_dim']).default('dataset'),
  isolate_ln_var: z.boolean().default(true),
  naive_gradient_flow: z.boolean().default(false),
  /** GB the build may use (`--memory`): activations beyond it are recomputed, not stored (src/rib/memory.ts); null: no limit */
  memory_budget_gb: z.number().positive().finite().nullable().default(null),
});

type RawBuildConfig = z.infer<typeof buildConfigSchema>;
export type ModelFileConfig = z.infer<typeof modelSchema>;
export type ModularMlpConfig = z.infer<typeof modularMlpSchema>;
export type BuildConfig = Omit<RawBuildConfig, 'basis_formula'> & { basis_formula: BasisFormula };

/** Validate a parsed YAML/JSON object; returns the config with defaults filled in. */
export function parseBuildConfig(raw: unknown): BuildConfig {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new UserError('config: expected a mapping of keys to values at the top level');
  }
  const pre = { ...(raw as Record<string, unknown>) };
  if ('dataset' in pre) pre.dataset = normaliseDataset(pre.dataset, 'dataset');
  if ('gram_dataset' in pre) pre.gram_dataset = normaliseDataset(pre.gram_dataset, 'gram_dataset');
  const res = buildConfigSchema.safeParse(pre);
  if (!res.success) throw new UserError(`invalid config: ${formatIssues(res.error, pre)}`);
  const cfg = res.data as RawBuildConfig;
  if (cfg.basis_formula === 'pca') cfg.basis_formula = 'svd';
  validateCombinations(cfg as BuildConfig);
  return cfg as BuildConfig;
}

/** The invalid combinations of spec §0.3 (and a few the reference only finds at run time). */
export function validateCombinations(c: BuildConfig): void {
  const bad = (msg: string): never => {
    throw new UserError(`invalid config: ${msg}`);
  };
  const sources = (['tlens_pretrained', 'tlens_model_path', 'mlp_path', 'modular_mlp_config', 'model'] as const).filter(
    (k) => c[k] !== null,
  );
  if (sources.length !== 1) {
    bad(
      `exactly one model source is required (tlens_pretrained, tlens_model_path, mlp_path, modular_mlp_config or model), got ${
        sources.length === 0 ? 'none' : sources.join(', ')
      }`,
    );
  }
  if (c.model && c.model.n_ctx !== null && c.model.type !== 'hf') bad('model.n_ctx applies only to type "hf" (Hugging Face checkpoints)');
  if (c.dtype === 'bfloat16') bad('dtype: bfloat16 is not supported (use float64, or float32)');
  // node layers
  const nl = c.node_layers;
  if (new Set(nl).size !== nl.length) bad(`node_layers: duplicate entries in [${nl.join(', ')}]`);
  const outIdx = nl.indexOf('output');
  if (outIdx >= 0 && outIdx !== nl.length - 1) bad('node_layers: "output" may only appear last');
  if (nl[0] === 'output') bad('node_layers: the first node layer cannot be "output"');
  if (nl[0] === 'embed' || nl[0] === 'pos_embed') bad(`node_layers: the first node layer cannot be "${nl[0]}"`);
  // integration
  if (typeof c.integration_method === 'string') {
    if (c.integration_method === 'gradient' && c.n_intervals !== 0) {
      bad(`integration_method "gradient" requires n_intervals = 0 (got n_intervals = ${c.n_intervals})`);
    }
  } else {
    const dict = c.integration_method;
    for (const key of Object.keys(dict)) {
      const matches = nl.some((l) => l === key || layerPrefix(l) === key);
      if (!matches) bad(`integration_method: key "${key}" matches no node layer or node-layer prefix of [${nl.join(', ')}]`);
    }
    for (const l of nl) {
      if (!(l in dict) && !(layerPrefix(l) in dict)) {
        bad(`integration_method: node layer "${l}" has no entry (give "${l}" or its prefix "${layerPrefix(l)}")`);
      }
    }
    if (Object.values(dict).includes('gradient') && c.n_intervals !== 0) {
      bad(`integration_method "gradient" (in the per-layer dict) requires n_intervals = 0 (got ${c.n_intervals})`);
    }
  }
  // formulas
  const stochBasis = c.n_stochastic_sources_basis_pos !== null || c.n_stochastic_sources_basis_hidden !== null;
  if (stochBasis && c.basis_formula !== 'jacobian') {
    bad(`n_stochastic_sources_basis_pos/_hidden require basis_formula "jacobian" (got "${c.basis_formula}")`);
  }
  if (c.n_stochastic_sources_edges !== null && c.edge_formula !== 'squared') {
    bad(`n_stochastic_sources_edges requires edge_formula "squared" (got "${c.edge_formula}")`);
  }
  if (c.edge_formula === 'functional' && c.dist_split_over === 'out_dim') {
    bad('edge_formula "functional" cannot be used with dist_split_over "out_dim"');
  }
  if (c.calculate_edges && !c.calculate_Cs && c.interaction_matrices_path === null) {
    bad('calculate_edges requires calculate_Cs (or interaction_matrices_path to load the Cs from)');
  }
  if (c.basis_formula === 'neuron' && c.center) bad('basis_formula "neuron" does not support center: true');
  if (c.basis_formula === '(1-alpha)^2' && usesOnlyGradient(c)) {
    bad('basis_formula "(1-alpha)^2" is identically zero with integration_method "gradient"; use trapezoidal or gauss-legendre');
  }
  if (c.rotate_final_node_layer && c.center && nl[nl.length - 1] === 'output') {
    bad('rotate_final_node_layer with center: true and a final "output" node layer is unsupported (logits have no constant coordinate)');
  }
  if ((c.mlp_path !== null || c.modular_mlp_config !== null || c.model?.type === 'mlp') && c.naive_gradient_flow) {
    bad('naive_gradient_flow is only supported for transformers');
  }
  if ((c.mlp_path !== null || c.modular_mlp_config !== null || c.model?.type === 'mlp') && c.last_pos_module_type !== null) {
    bad('last_pos_module_type only applies to transformers');
  }
  const needsData = c.calculate_Cs && c.interaction_matrices_path === null ? c.basis_formula !== 'neuron' : false;
  if (c.dataset === null && (c.calculate_edges || needsData || (c.gram_dataset === null && c.gram_matrices_path === null))) {
    bad('dataset: required (it may be null only when means and Grams come from gram_dataset/gram_matrices_path and nothing else needs data)');
  }
  for (const [k, d] of [['dataset', c.dataset], ['gram_dataset', c.gram_dataset]] as const) {
    if (d) validateDataset(d, k, bad);
  }
}

/** The invalid dataset configs the schema cannot express (build and ablation configs). */
export function validateDataset(d: DatasetConfig, key: string, bad: (msg: string) => never): void {
  if (d.dataset_type === 'torchvision' && !['MNIST', 'CIFAR10'].includes(d.name.toUpperCase())) {
    bad(`${key}.name: torchvision dataset "${d.name}" is unavailable offline; MNIST and CIFAR10 are supported`);
  }
  if (d.dataset_type === 'torchvision' && d.name.toUpperCase() === 'CIFAR10' && d.root === null) {
    bad(`${key}.root: CIFAR10 needs the folder holding the binary batches (data_batch_1.bin … test_batch.bin)`);
  }
  if (d.dataset_type === 'huggingface' && d.n_documents !== null && d.return_set_frac !== null) bad(`${key}: give return_set_frac or n_documents, not both`);
  if (d.dataset_type !== 'huggingface' && d.n_samples !== null && d.return_set_frac !== null) bad(`${key}: give n_samples or return_set_frac, not both`);
}

/** The node-layer prefix used by per-layer dicts: `ln2.1` → `ln2`, `output` → `output`. */
export function layerPrefix(layer: string): string {
  const i = layer.indexOf('.');
  return i < 0 ? layer : layer.slice(0, i);
}

/** The integration method of node layer `layer` (full id wins over prefix). */
export function integrationMethodFor(c: BuildConfig, layer: string): IntegrationMethod {
  const m = c.integration_method;
  if (typeof m === 'string') return m;
  const v = m[layer] ?? m[layerPrefix(layer)];
  if (v === undefined) throw new UserError(`integration_method: no entry for node layer "${layer}"`);
  return v;
}

function usesOnlyGradient(c: BuildConfig): boolean {
  const m = c.integration_method;
  if (typeof m === 'string') return m === 'gradient';
  return c.node_layers.slice(0, -1).every((l) => integrationMethodFor(c, l) === 'gradient');
}

/** Keys whose value is a file path (resolved against the config file's folder). */
export const PATH_KEYS = ['out_dir', 'tlens_model_path', 'mlp_path', 'interaction_matrices_path', 'gram_matrices_path'] as const;

/**
 * The reference data the benches read (../shared/refdata beside the checkout, or
 * $INTERBASIS_REFDATA), and the reference's mod-add seed-0 build config they time.
 */
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The refdata folder, or null when it is not there (the benches then skip with a message). */
export function refdata(): string | null {
  const here = dirname(fileURLToPath(import.meta.url));
  // bench/ (sources) or dist/bench/ (compiled)
  for (const c of [process.env.INTERBASIS_REFDATA, resolve(here, '..', '..', 'shared', 'refdata'), resolve(here, '..', '..', '..', 'shared', 'refdata')]) {
    if (c && existsSync(resolve(c, 'README.md'))) return c;
  }
  return null;
}

/** refdata's rib_build_config_rib.yaml for mod-add seed 0 (the reference config), with the checkpoint at `model`. */
export function modaddConfig(model: string, expName: string): Record<string, unknown> {
  return {
    exp_name: expName,
    out_dir: null,
    tlens_model_path: model,
    last_pos_module_type: 'add_resid1',
    dataset: { dataset_type: 'modular_arithmetic', return_set: 'train', fn_name: 'add', modulus: 113, frac_train: 0.3 },
    node_layers: ['ln1.0', 'ln2.0', 'unembed', 'output'],
    rotate_final_node_layer: false,
    batch_size: 99999,
    dtype: 'float64',
    truncation_threshold: 1e-15,
    basis_formula: 'jacobian',
    edge_formula: 'squared',
    dist_split_over: 'out_dim',
  };
}

/** Shared helpers for the rib tests: test configs with the refdata build settings, comparisons. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { RibResults } from '../src/io/results.js';
import { ref } from './helpers/refdata.js';

export function tmpDir(prefix = 'rib-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** The settings of refdata's rib_build_config_{rib,pca}.yaml, pointing at the refdata checkpoint. */
export function modaddConfig(seed: number, basis: 'rib' | 'pca', extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    exp_name: `modular_arithmetic_${basis}_seed${seed}`,
    seed: 0,
    tlens_pretrained: null,
    tlens_model_path: ref(`modadd/seed${seed}/model.safetensors`),
    out_dir: null,
    last_pos_module_type: 'add_resid1',
    dataset: { dataset_type: 'modular_arithmetic', return_set: 'train', fn_name: 'add', modulus: 113, frac_train: 0.3 },
    eval_type: 'accuracy',
    node_layers: ['ln1.0', 'ln2.0', 'unembed', 'output'],
    rotate_final_node_layer: false,
    gram_batch_size: null,
    batch_size: 99999,
    edge_batch_size: null,
    dist_split_over: 'out_dim',
    dtype: 'float64',
    truncation_threshold: 1e-15,
    n_intervals: 0,
    integration_method: 'gradient',
    gram_matrices_path: null,
    calculate_Cs: true,
    interaction_matrices_path: null,
    basis_formula: basis === 'rib' ? 'jacobian' : 'svd',
    center: true,
    naive_gradient_flow: false,
    n_stochastic_sources_basis_pos: null,
    n_stochastic_sources_basis_hidden: null,
    calculate_edges: true,
    edge_formula: 'squared',
    n_stochastic_sources_edges: null,
    ...extra,
  };
}

export function writeConfig(dir: string, cfg: Record<string, unknown>, name = 'config.yaml'): string {
  const p = join(dir, name);
  writeFileSync(p, stringify(cfg));
  return p;
}

export function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i]! - b[i]!) ** 2;
    den += b[i]! ** 2;
  }
  return Math.sqrt(num / den);
}

export function maxRelEntries(a: ArrayLike<number>, b: ArrayLike<number>, floorFrac: number): number {
  let mx = 0;
  for (let i = 0; i < b.length; i++) mx = Math.max(mx, Math.abs(b[i]!));
  let worst = 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    if (Math.abs(b[i]!) <= floorFrac * mx) continue;
    worst = Math.max(worst, Math.abs(a[i]! - b[i]!) / Math.abs(b[i]!));
  }
  return worst;
}

export const sortDesc = (v: ArrayLike<number>): number[] => Array.from(v).sort((x, y) => y - x);

export function sum(a: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]!;
  return s;
}

export function basisOf(r: RibResults, L: string) {
  const b = r.bases.find((x) => x.nodeLayer === L);
  if (!b) throw new Error(`no basis ${L}`);
  return b;
}

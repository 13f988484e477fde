/** The build config: reference format, defaults, strict validation, path resolution. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { UserError } from '../src/errors.js';
import { integrationMethodFor, parseBuildConfig } from '../src/rib/config.js';
import { loadBuildConfig } from '../src/rib/config.nodejs.js';
import { REFDATA, ref } from './helpers/refdata.js';
import { tmpDir } from './rib-helpers.js';

const base = {
  exp_name: 'x',
  tlens_model_path: 'model.safetensors',
  node_layers: ['ln1.0', 'ln2.0', 'unembed', 'output'],
  rotate_final_node_layer: false,
  dataset: { dataset_type: 'modular_arithmetic', return_set: 'train' },
  batch_size: 100,
  truncation_threshold: 1e-15,
};

function err(raw: unknown): string {
  try {
    parseBuildConfig(raw);
  } catch (e) {
    expect(e).toBeInstanceOf(UserError);
    return (e as Error).message;
  }
  throw new Error('expected a UserError');
}

describe('rib config', () => {
  it('fills the reference defaults (spec §0.3)', () => {
    const c = parseBuildConfig(base);
    expect(c.seed).toBe(0);
    expect(c.center).toBe(true);
    expect(c.basis_formula).toBe('jacobian');
    expect(c.edge_formula).toBe('squared');
    expect(c.integration_method).toBe('gradient');
    expect(c.n_intervals).toBe(0);
    expect(c.dtype).toBe('float64');
    expect(c.isolate_ln_var).toBe(true);
    expect(c.calculate_Cs && c.calculate_edges).toBe(true);
    expect(c.dist_split_over).toBe('dataset');
    expect(parseBuildConfig({ ...base, basis_formula: 'pca' }).basis_formula).toBe('svd');
  });

  it('rejects unknown keys and wrong types, naming the key', () => {
    expect(err({ ...base, bogus_key: 1 })).toMatch(/unknown key 'bogus_key'/);
    expect(err({ ...base, dataset: { ...base.dataset, extra: 1 } })).toMatch(/dataset\.extra/);
    expect(err({ ...base, batch_size: 'big' })).toMatch(/batch_size/);
    expect(err({ ...base, truncation_threshold: undefined })).toMatch(/truncation_threshold/);
    expect(err({ ...base, basis_formula: 'magic' })).toMatch(/basis_formula/);
    expect(err({ ...base, dataset: { dataset_type: 'imagenet' } })).toMatch(/dataset_type/);
  });

  it('says in plain words what is wrong, naming the key path, for every kind of schema error', () => {
    const cases: Array<[string, Record<string, unknown>, string]> = [
      ['missing key', { ...base, rotate_final_node_layer: undefined }, "missing required key 'rotate_final_node_layer'"],
      ['missing list', { ...base, node_layers: undefined }, "missing required key 'node_layers'"],
      ['missing nested', { ...base, dataset: { dataset_type: 'torchvision' } }, "missing required key 'dataset.name'"],
      ['unknown key', { ...base, dataset: { ...base.dataset, colour: 'red' } }, "unknown key 'dataset.colour'"],
      ['wrong type', { ...base, batch_size: 'big' }, `'batch_size' must be a number, got "big"`],
      ['wrong type (bool)', { ...base, center: 'yes' }, `'center' must be true or false, got "yes"`],
      ['null for a required value', { ...base, rotate_final_node_layer: null }, "'rotate_final_node_layer' must be true or false, got null"],
      ['not an integer', { ...base, batch_size: 1.5 }, "'batch_size' must be an integer, got 1.5"],
      ['below the minimum', { ...base, batch_size: 0 }, "'batch_size' must be > 0, got 0"],
      ['above the maximum', { ...base, dataset: { ...base.dataset, frac_train: 2 } }, "'dataset.frac_train' must be < 1, got 2"],
      ['bad enum', { ...base, edge_formula: 'cubic' }, `'edge_formula' must be one of squared, functional; got "cubic"`],
      ['bad discriminator', { ...base, dataset: { dataset_type: 'imagenet' } }, `'dataset.dataset_type' must be one of modular_arithmetic, block_vector, torchvision, file, huggingface; got "imagenet"`],
      ['empty list', { ...base, node_layers: [] }, "'node_layers' must have at least 1 entry, got 0"],
      ['list item', { ...base, node_layers: ['ln1.0', 3] }, "'node_layers[1]' must be a string, got 3"],
      ['short tuple', { ...base, dataset: { dataset_type: 'block_vector', data_variances: [1] } }, "'dataset.data_variances' must have at least 2 entries, got 1"],
      ['union', { ...base, integration_method: 5 }, "'integration_method' must be one of gradient, trapezoidal, gauss-legendre, or a mapping; got 5"],
      ['inside a union branch', { ...base, integration_method: { ln1: 'simpson' } }, `'integration_method.ln1' must be one of gradient, trapezoidal, gauss-legendre; got "simpson"`],
      ['wrong container', { ...base, dataset: 'mod-add' }, `'dataset' must be a mapping, got "mod-add"`],
    ];
    for (const [name, raw, msg] of cases) {
      const m = err(raw);
      expect(m, name).toBe(`invalid config: ${msg}`);
      expect(m, name).not.toMatch(/received|Invalid input|Invalid option/);
    }
    expect(err({ ...base, dataset: { return_set: 'train' } })).toBe("missing required key 'dataset.dataset_type' (one of modular_arithmetic, block_vector, torchvision, file, huggingface)");
    // several problems are all reported
    expect(err({ ...base, batch_size: undefined, bogus: 1 })).toBe("invalid config: missing required key 'batch_size'; unknown key 'bogus'");
  });

  it('rejects invalid combinations (spec §0.3)', () => {
    expect(err({ ...base, n_intervals: 3 })).toMatch(/gradient.*n_intervals/);
    expect(err({ ...base, basis_formula: 'svd', n_stochastic_sources_basis_pos: 2 })).toMatch(/jacobian/);
    expect(err({ ...base, edge_formula: 'functional', n_stochastic_sources_edges: 2, integration_method: 'trapezoidal' })).toMatch(/squared/);
    expect(err({ ...base, edge_formula: 'functional', dist_split_over: 'out_dim', integration_method: 'trapezoidal' })).toMatch(/out_dim/);
    expect(err({ ...base, calculate_Cs: false })).toMatch(/calculate_edges requires calculate_Cs/);
    expect(err({ ...base, mlp_path: 'a.safetensors' })).toMatch(/exactly one model source/);
    expect(err({ ...base, tlens_model_path: null })).toMatch(/exactly one model source/);
    expect(err({ ...base, tlens_model_path: null, model: { type: 'transformer', path: 'm.safetensors', n_ctx: 5 } })).toMatch(/n_ctx applies only to type "hf"/);
    expect(err({ ...base, node_layers: ['output', 'ln1.0'] })).toMatch(/output/);
    expect(err({ ...base, node_layers: ['ln1.0', 'ln1.0'] })).toMatch(/duplicate/);
    expect(err({ ...base, basis_formula: 'neuron' })).toMatch(/neuron/);
    expect(err({ ...base, basis_formula: '(1-alpha)^2' })).toMatch(/identically zero/);
    expect(err({ ...base, dtype: 'bfloat16' })).toMatch(/bfloat16/);
    expect(err({ ...base, rotate_final_node_layer: true })).toMatch(/rotate_final_node_layer/);
    expect(err({ ...base, dataset: { dataset_type: 'huggingface', name: 'x', return_set_frac: 0.5, n_documents: 3 } })).toMatch(/return_set_frac or n_documents/);
  });

  it('per-layer integration dicts: full id wins over prefix; every layer needs a key; unknown keys are errors', () => {
    const c = parseBuildConfig({ ...base, n_intervals: 2, integration_method: { ln1: 'trapezoidal', 'ln2.0': 'gauss-legendre', ln2: 'trapezoidal', unembed: 'gauss-legendre', output: 'trapezoidal' } });
    expect(integrationMethodFor(c, 'ln1.0')).toBe('trapezoidal');
    expect(integrationMethodFor(c, 'ln2.0')).toBe('gauss-legendre');
    expect(err({ ...base, n_intervals: 2, integration_method: { ln1: 'trapezoidal', unembed: 'trapezoidal', output: 'trapezoidal' } })).toMatch(/ln2\.0/);
    expect(err({ ...base, n_intervals: 2, integration_method: { ln1: 'trapezoidal', ln2: 'trapezoidal', unembed: 'trapezoidal', output: 'trapezoidal', mlp_out: 'trapezoidal' } })).toMatch(/mlp_out/);
  });

  it('accepts both train_config dataset formats (dataset_type, or name/source)', () => {
    const c = parseBuildConfig({ ...base, dataset: { name: 'modular_arithmetic', source: 'custom', return_set: 'train', return_set_frac: null, return_set_n_samples: null, seed: 0, fn_name: 'add', frac_train: 0.3, modulus: 113 } });
    expect(c.dataset?.dataset_type).toBe('modular_arithmetic');
    const f = parseBuildConfig({ ...base, dataset: { dataset_type: 'file', path: 'd.safetensors', inputs: 'x', labels: 'y' } });
    expect(f.dataset?.dataset_type).toBe('file');
    const m = parseBuildConfig({ ...base, tlens_model_path: null, model: { type: 'mlp', path: 'm.safetensors' }, last_pos_module_type: null, node_layers: ['layers.0', 'output'], dataset: { dataset_type: 'torchvision', name: 'MNIST' } });
    expect(m.model?.type).toBe('mlp');
  });

  it('resolves relative paths against the config file folder', async () => {
    const dir = tmpDir();
    const p = join(dir, 'c.yaml');
    writeFileSync(p, `exp_name: x\ntlens_model_path: sub/model.safetensors\nnode_layers: [ln1.0, output]\nrotate_final_node_layer: false\ndataset: {dataset_type: file, path: data.safetensors}\nbatch_size: 4\ntruncation_threshold: 1.0e-15\nout_dir: results\n`);
    const c = await loadBuildConfig(p);
    expect(c.tlens_model_path).toBe(join(dir, 'sub/model.safetensors'));
    expect(c.out_dir).toBe(join(dir, 'results'));
    expect(c.dataset?.dataset_type === 'file' && c.dataset.path).toBe(join(dir, 'data.safetensors'));
  });

  it.skipIf(!REFDATA)('parses the reference build configs verbatim', async () => {
    for (const b of ['rib', 'pca']) {
      const c = await loadBuildConfig(ref(`modadd/seed0/rib_build_config_${b}.yaml`));
      expect(c.node_layers).toEqual(['ln1.0', 'ln2.0', 'unembed', 'output']);
      expect(c.basis_formula).toBe(b === 'rib' ? 'jacobian' : 'svd');
    }
  });
});

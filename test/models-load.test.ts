import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { initKernels } from '../src/linalg/index.js';
import { serializeSafetensors } from '../src/io/safetensors.js';
import { loadModel } from '../src/models/load.nodejs.js';
import type { Tensor } from '../src/io/tensor.js';

await initKernels();

const f32 = (shape: number[], vals: number[]): Tensor => ({ dtype: 'F32', shape, data: Float32Array.from(vals) });

function mlpTensors(): Record<string, Tensor> {
  return {
    'layers.0.W': f32([2, 3], [1, -1, 0.5, 2, 0, -0.5]),
    'layers.0.b': f32([3], [0.1, 0.2, -0.3]),
    'layers.1.W': f32([3, 2], [1, 0, 0, 1, 1, 1]),
    'layers.1.b': f32([2], [0, 0.5]),
  };
}

describe('loadModel', () => {
  it('finds train_config.yaml beside a checkpoint directory and reads its model section', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'interbasis-load-'));
    writeFileSync(join(dir, 'model.safetensors'), serializeSafetensors(mlpTensors()));
    writeFileSync(join(dir, 'train_config.yaml'), 'model:\n  input_size: 2\n  hidden_sizes: [3]\n  output_size: 2\n  activation_fn: relu\n  bias: true\nseed: 0\n');
    const m = await loadModel({ path: dir });
    expect(m.kind).toBe('mlp');
    const y = m.sectioned(['layers.0', 'layers.1', 'output']).logits({ kind: 'floats', data: new Float64Array([1, 2]), batch: 1, width: 2 });
    // h = relu([1+4+0.1, -1+0+0.2, 0.5-1-0.3]) = [5.1, 0, 0]; y = [5.1, 0 + 0.5]
    expect(Array.from(y).map((v) => +v.toFixed(5))).toEqual([5.1, 0.5]);
  });
  it('config.json with resolved_model_config wins over train_config.yaml; clear errors', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'interbasis-load-'));
    writeFileSync(join(dir, 'model.safetensors'), serializeSafetensors(mlpTensors()));
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ model: { input_size: 2, hidden_sizes: [3], output_size: 2 }, resolved_model_config: { input_size: 2, hidden_sizes: [3], output_size: 2, activation_fn: 'gelu', dtype: 'float32' } }));
    writeFileSync(join(dir, 'train_config.yaml'), 'model: {input_size: 5}\n');
    const m = await loadModel({ path: join(dir, 'model.safetensors') });
    expect(m.config['activation_fn']).toBe('gelu');
    const empty = mkdtempSync(join(tmpdir(), 'interbasis-load-'));
    writeFileSync(join(empty, 'model.safetensors'), serializeSafetensors(mlpTensors()));
    await expect(loadModel({ path: empty })).rejects.toThrow(/no model config beside .*looked for config\.json, config\.yaml/);
    writeFileSync(join(empty, 'config.yaml'), 'model:\n  input_size: 2\n  hidden_sizes: [4]\n  output_size: 2\n');
    await expect(loadModel({ path: empty })).rejects.toThrow(/layers\.0\.W has shape \[2, 3\] but the config implies \[2, 4\]/);
    await expect(loadModel({ path: empty, type: 'cnn' as never })).rejects.toThrow(/model type must be/);
  });
});

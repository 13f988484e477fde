/**
 * Hugging Face checkpoints from disk (model.safetensors, sharded index, pytorch_model.bin,
 * folder or file, config beside or given), `tlens_pretrained` from the local models folder,
 * `interbasis inspect`, and a small generic-path build per architecture with the spec §11
 * invariants and the LM Gram null directions.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gemm, initKernels } from '../src/linalg/index.js';
import { serializeSafetensors } from '../src/io/safetensors.js';
import type { Tensor } from '../src/io/tensor.js';
import { loadHfModel, loadPretrained } from '../src/models/hf/load.nodejs.js';
import { runInspect } from '../src/cli/inspect.js';
import { parseBuildConfig } from '../src/rib/config.js';
import { ribBuild } from '../src/rib/build.js';
import { loadModelFor } from '../src/rib/build.nodejs.js';
import { centeringMatrix } from '../src/rib/eig.js';
import { InlinePool } from '../src/parallel/pool.js';
import '../src/tasks.js';
import type { LayerBasis, RibResults } from '../src/io/results.js';
import { UserError } from '../src/errors.js';
import { REPO_ROOT } from './helpers/refdata.js';
import { hfForward, logSoftmax, makeHfCheckpoint, randomTokens, torchSaveStateDict, type Arch, type HfFixture } from './lm-fixtures.js';

let dir = '';
beforeAll(async () => {
  await initKernels();
  dir = mkdtempSync(join(tmpdir(), 'hf-load-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function writeFolder(name: string, fx: HfFixture, form: 'safetensors' | 'sharded' | 'bin'): string {
  const folder = join(dir, name);
  mkdirSync(folder, { recursive: true });
  writeFileSync(join(folder, 'config.json'), JSON.stringify(fx.config));
  if (form === 'safetensors') writeFileSync(join(folder, 'model.safetensors'), serializeSafetensors(fx.tensors));
  else if (form === 'bin') writeFileSync(join(folder, 'pytorch_model.bin'), torchSaveStateDict(fx.tensors));
  else {
    const names = [...fx.tensors.keys()];
    const half = Math.ceil(names.length / 2);
    const shards = [names.slice(0, half), names.slice(half)];
    const weight_map: Record<string, string> = {};
    shards.forEach((ns, i) => {
      const f = `model-0000${i + 1}-of-00002.safetensors`;
      const m = new Map<string, Tensor>();
      for (const n of ns) {
        m.set(n, fx.tensors.get(n)!);
        weight_map[n] = f;
      }
      writeFileSync(join(folder, f), serializeSafetensors(m));
    });
    writeFileSync(join(folder, 'model.safetensors.index.json'), JSON.stringify({ metadata: { total_size: 0 }, weight_map }));
  }
  return folder;
}

const fxOf = (arch: Arch) =>
  makeHfCheckpoint(arch, arch === 'GPTNeoXForCausalLM' ? { seed: 5, d: 8, heads: 2, dMlp: 12, vocab: 13, positions: 16, prefix: true, f32: true } : { seed: 5, d: 8, heads: 2, vocab: 13, positions: 16, prefix: true, f32: true });

async function expectUserError(p: Promise<unknown>, re: RegExp): Promise<void> {
  let e: unknown;
  try {
    await p;
  } catch (x) {
    e = x;
  }
  expect(e).toBeInstanceOf(UserError);
  expect((e as Error).message).toMatch(re);
}

describe('reading Hugging Face files', () => {
  const forms: Array<[Arch, 'safetensors' | 'sharded' | 'bin']> = [
    ['GPT2LMHeadModel', 'safetensors'],
    ['GPTNeoForCausalLM', 'bin'],
    ['GPTNeoXForCausalLM', 'sharded'],
  ];
  for (const [arch, form] of forms) {
    it(`${arch} from a folder with ${form}`, async () => {
      const fx = fxOf(arch);
      const folder = writeFolder(`${arch}-${form}`, fx, form);
      const m = await loadHfModel({ path: folder });
      const inp = { kind: 'tokens' as const, data: randomTokens(2, 9, 13, 1), batch: 2, seqLen: 9 };
      const ref = logSoftmax(hfForward(fx, inp.data, 2, 9), 13);
      const got = logSoftmax(m.forwardUnfolded(inp), 13);
      for (let i = 0; i < ref.length; i++) expect(Math.abs(got[i]! - ref[i]!)).toBeLessThan(1e-12);
      expect(m.config['original_architecture']).toBe(arch);
    });
  }
  it('a checkpoint file with config.json beside it, or an explicit config', async () => {
    const fx = fxOf('GPT2LMHeadModel');
    const folder = writeFolder('gpt2-file', fx, 'safetensors');
    const m = await loadHfModel({ path: join(folder, 'model.safetensors') });
    expect(m.moduleIds[0]).toBe('embed');
    writeFileSync(join(dir, 'other-config.json'), JSON.stringify({ ...fx.config, n_ctx: 8 }));
    const m2 = await loadHfModel({ path: join(folder, 'model.safetensors'), config: join(dir, 'other-config.json') });
    expect(m2.config['n_ctx']).toBe(8);
    await expectUserError(loadHfModel({ path: join(dir, 'nope') }), /checkpoint not found/);
    mkdirSync(join(dir, 'empty'), { recursive: true });
    await expectUserError(loadHfModel({ path: join(dir, 'empty') }), /has no checkpoint \(looked for model\.safetensors, model\.safetensors\.index\.json, pytorch_model\.bin\)/);
  });
  it('tlens_pretrained resolves under the models folder; a missing model names the folder and files', async () => {
    const models = join(dir, 'models');
    mkdirSync(models, { recursive: true });
    const fx = makeHfCheckpoint('GPTNeoForCausalLM', { seed: 2, d: 8, heads: 2, vocab: 13, positions: 600 });
    writeFolder(join('models', 'tiny-stories-1M'), fx, 'safetensors');
    const m = await loadPretrained('tiny-stories-1M', models);
    expect(m.config['n_ctx']).toBe(511); // rib's TinyStories override
    await expectUserError(loadPretrained('gpt2', models), new RegExp(`model folder ${join(models, 'gpt2').replace(/[/\\]/g, '.')} does not exist; put config\\.json and model\\.safetensors \\(or pytorch_model\\.bin\\) from the Hugging Face repository openai-community/gpt2 there`));
    mkdirSync(join(models, 'pythia-14m'), { recursive: true });
    await expectUserError(loadPretrained('pythia-14m', models), /pythia-14m lacks config\.json and a checkpoint/);
    await expectUserError(loadPretrained('llama-7b', models), /unknown model "llama-7b"/);
    const c = parseBuildConfig({ exp_name: 'x', tlens_pretrained: 'tiny-stories-1M', node_layers: ['ln1.0', 'unembed'], rotate_final_node_layer: false, dataset: { dataset_type: 'file', path: 'x.safetensors' }, batch_size: 2, truncation_threshold: 0 });
    const m2 = await loadModelFor(c, models);
    expect(m2.config['use_local_attn']).toBe(true);
  });
  it('interbasis inspect prints the architecture, module ids and widths', async () => {
    const fx = fxOf('GPTNeoXForCausalLM');
    const folder = writeFolder('inspect-neox', fx, 'safetensors');
    let text = '';
    const out = { write: (s: string) => ((text += s), true) } as unknown as NodeJS.WritableStream;
    await runInspect(folder, {}, out);
    expect(text).toMatch(/architecture: GPTNeoXForCausalLM \(transformer\)/);
    expect(text).toMatch(/rotary_dim 2/);
    expect(text).toMatch(/module ids: embed, ln1\.0, ln1_out\.0/);
    expect(text).toMatch(/\nln2\.0\s+18\s+16\n/); // 2D, D = 9, positions = n_ctx
    expect(text).toMatch(/\noutput\s+13\s+16\n/);
    text = '';
    await runInspect(folder, { json: true }, out);
    const j = JSON.parse(text) as { node_layers: Array<{ name: string; dim: number }> };
    expect(j.node_layers.find((l) => l.name === 'attn_out.1')!.dim).toBe(4 * 8 + 2 + 1);
  });
});

describe('the interbasis CLI (compiled dist/)', () => {
  const BIN = join(REPO_ROOT, 'bin', 'interbasis.js');
  const cli = (args: string[], env: Record<string, string> = {}) => spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 120_000, env: { ...process.env, ...env } });
  it('inspect prints widths; a missing pretrained model exits 2 naming the folder; build --models-dir', () => {
    const models = join(dir, 'cli-models');
    writeFolder(join('cli-models', 'pythia-14m'), fxOf('GPTNeoXForCausalLM'), 'safetensors');
    const ok = cli(['inspect', 'pythia-14m', '--json'], { INTERBASIS_MODELS: models });
    expect(ok.status, ok.stderr).toBe(0);
    const j = JSON.parse(ok.stdout) as { architecture: string; node_layers: Array<{ name: string; dim: number }> };
    expect(j.architecture).toBe('GPTNeoXForCausalLM');
    expect(j.node_layers.find((l) => l.name === 'ln2_out.0')!.dim).toBe(19);
    const miss = cli(['inspect', 'gpt2', '--models-dir', models]);
    expect(miss.status).toBe(2);
    expect(miss.stderr).toContain(`model folder ${join(models, 'gpt2')} does not exist`);
    const cfg = join(dir, 'cli-build.yaml');
    writeFileSync(cfg, JSON.stringify({ exp_name: 'x', tlens_pretrained: 'gpt2', node_layers: ['ln1.0', 'unembed'], rotate_final_node_layer: false, dataset: { dataset_type: 'huggingface', name: 'd', path: dir }, batch_size: 2, truncation_threshold: 0, out_dir: null }));
    const b = cli(['build', cfg, '--models-dir', models, '--workers', '1']);
    expect(b.status).toBe(2);
    expect(b.stderr).toMatch(/tlens_pretrained gpt2: model folder .* does not exist/);
  });
});

function CtGC(r: RibResults, b: LayerBasis): Float64Array {
  const L = b.nodeLayer;
  const d = b.origDim;
  const G = r.grams.get(L)!.data;
  const Yi = centeringMatrix(r.means.get(L)!, true);
  const T = gemm(true, false, d, d, d, Yi, G, new Float64Array(d * d));
  const Gu = gemm(false, false, d, d, d, T, Yi, new Float64Array(d * d));
  const k = b.C!.cols;
  const GC = gemm(false, false, d, k, d, Gu, b.C!.data, new Float64Array(d * k));
  return gemm(true, false, k, k, d, b.C!.data, GC, new Float64Array(k * k));
}

describe('small generic-path builds from HF checkpoints (spec §11 invariants)', () => {
  const pool = new InlinePool();
  for (const arch of ['GPT2LMHeadModel', 'GPTNeoForCausalLM', 'GPTNeoXForCausalLM'] as Arch[]) {
    it(arch, async () => {
      const fx = fxOf(arch);
      const folder = writeFolder(`build-${arch}`, fx, 'safetensors');
      const S = 5;
      const N = 40;
      const nl = ['ln1.0', 'attn_out.0', 'ln2.0', 'ln2_out.0', 'mlp_out.0', 'ln1.1', 'unembed'];
      const config = parseBuildConfig({
        exp_name: arch, out_dir: null, model: { type: 'hf', path: folder }, node_layers: nl, rotate_final_node_layer: false,
        dataset: { dataset_type: 'file', path: 'unused.safetensors' }, batch_size: 40, truncation_threshold: 1e-12,
      });
      const m = await loadModelFor(config);
      const ds = { name: 'tokens', n: N, inputs: { kind: 'tokens' as const, data: randomTokens(N, S, 13, 4), batch: N, seqLen: S }, labels: null };
      const r = await ribBuild({ config, model: m, dataset: ds, gramDataset: null, pool });
      expect(r.bases.map((b) => b.nodeLayer)).toEqual(nl);
      for (const b of r.bases.filter((x) => x.C)) {
        const k = b.C!.cols;
        const d = b.origDim;
        expect(k).toBeGreaterThan(1);
        const PC = gemm(false, false, k, k, d, b.Cpinv!.data, b.C!.data, new Float64Array(k * k));
        for (let i = 0; i < k; i++) for (let j = 0; j < k; j++) expect(Math.abs(PC[i * k + j]! - (i === j ? 1 : 0)), b.nodeLayer).toBeLessThan(1e-6);
        const M = CtGC(r, b);
        let mx = 0;
        for (let i = 0; i < k; i++) mx = Math.max(mx, Math.abs(M[i * k + i]!));
        // isolate_ln_var: at ln*_out the variance direction (index 1) is kept apart, not diagonalised
        const iso = /^ln\w*_out/.test(b.nodeLayer) ? 1 : -1;
        for (let i = 0; i < k; i++) for (let j = 0; j < k; j++) if (i !== j && i !== iso && j !== iso) expect(Math.abs(M[i * k + j]!) / mx, `${b.nodeLayer} off-diagonal`).toBeLessThan(1e-8);
      }
      // structural null direction: the residual slot of ln1.1 has zero mean over d_model (spec LM §4, §6.5)
      const G = r.grams.get('ln1.1')!;
      const D = 9;
      let gmax = 0;
      for (let i = 0; i < D * D; i++) gmax = Math.max(gmax, Math.abs(G.data[i]!));
      for (let i = 0; i < D; i++) {
        let s = 0;
        for (let j = 0; j < 8; j++) s += G.data[i * D + j]!;
        expect(Math.abs(s) / gmax).toBeLessThan(1e-13);
      }
      for (const e of r.edges) for (const v of e.E.data) expect(Number.isFinite(v)).toBe(true);
      expect(r.edges.length).toBe(nl.length - 1);
    });
  }
});

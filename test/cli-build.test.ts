/**
 * `interbasis build` as a user meets it: bad input → clear error, exit code 2, no partial output;
 * no overwrite without --force; resuming from saved Grams/Cs gives the same result; reuse with an
 * incompatible config is an error. The CLI subprocess runs the compiled dist/ (npm run build:ts).
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { initKernels } from '../src/linalg/index.js';
import { runBuildCli } from '../src/cli/build.js';
import { REPO_ROOT } from './helpers/refdata.js';
import { tmpDir, writeConfig } from './rib-helpers.js';

const BIN = join(REPO_ROOT, 'bin', 'interbasis.js');

function mlpConfig(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    exp_name: 'tiny',
    modular_mlp_config: { n_hidden_layers: 2, width: 6, first_block_width: 3, weight_variances: [1, 1], bias: 0, activation_fn: 'relu', seed: 1 },
    node_layers: ['layers.0', 'layers.1', 'layers.2', 'output'],
    rotate_final_node_layer: false,
    dataset: { dataset_type: 'block_vector', size: 600, length: 6, data_variances: [1, 2], seed: 3 },
    batch_size: 100,
    truncation_threshold: 1e-12,
    out_dir: 'out',
    ...extra,
  };
}

function cli(args: string[]) {
  return spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 120_000 });
}

const quiet = { out: { write: () => true } as unknown as NodeJS.WritableStream, err: { write: () => true } as unknown as NodeJS.WritableStream };

describe('interbasis build: bad input', () => {
  beforeAll(async () => {
    await initKernels();
  });

  it.each([
    ['unknown key', { bogus: 1 }, /unknown key 'bogus'/],
    ['missing required key', { rotate_final_node_layer: undefined }, /missing required key 'rotate_final_node_layer'/],
    ['wrong type', { batch_size: 'x' }, /batch_size/],
    ['invalid combination', { n_intervals: 2 }, /gradient.*n_intervals/],
    ['missing model file', { modular_mlp_config: null, mlp_path: 'nope.safetensors' }, /mlp_path: file not found/],
    ['missing dataset file', { dataset: { dataset_type: 'file', path: 'nope.safetensors' } }, /dataset\.path: file not found/],
  ])('%s → exit code 2, clear message, no output', (_n, extra, msg) => {
    const dir = tmpDir();
    const cfg = writeConfig(dir, mlpConfig(extra as Record<string, unknown>));
    const r = cli(['build', cfg, '--workers', '1']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(msg);
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
    expect(existsSync(join(dir, 'out'))).toBe(false);
  });

  it('a missing config file and a bad --workers are exit code 2', () => {
    expect(cli(['build', '/nonexistent/c.yaml']).status).toBe(2);
    const dir = tmpDir();
    const cfg = writeConfig(dir, mlpConfig());
    const r = cli(['build', cfg, '--workers', 'zero']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--workers/);
  });

  it('builds, refuses to overwrite without --force, overwrites with it', () => {
    const dir = tmpDir();
    const cfg = writeConfig(dir, mlpConfig());
    const ok = cli(['build', cfg, '--workers', '1', '--json']);
    expect(ok.status, ok.stderr).toBe(0);
    const events = ok.stdout.trim().split('\n').map((l) => JSON.parse(l) as { event: string; stage?: string; done?: number; total?: number });
    expect(events.some((e) => e.event === 'progress' && e.stage === 'grams' && typeof e.total === 'number')).toBe(true);
    expect(events[events.length - 1]!.event).toBe('done');
    const st = join(dir, 'out', 'tiny', 'results.safetensors');
    const before = readFileSync(st);
    const again = cli(['build', cfg, '--workers', '1']);
    expect(again.status).toBe(2);
    expect(again.stderr).toMatch(/already exists.*--force/);
    expect(Buffer.compare(readFileSync(st), before)).toBe(0);
    expect(readdirSync(join(dir, 'out', 'tiny')).sort()).toEqual(['results.json', 'results.safetensors']);
    const forced = cli(['build', cfg, '--workers', '1', '--force']);
    expect(forced.status, forced.stderr).toBe(0);
    expect(Buffer.compare(readFileSync(st), before)).toBe(0); // deterministic
  });

  it('resumes from saved Grams or Cs with the same result; incompatible reuse is an error', async () => {
    const dir = tmpDir();
    const first = await runBuildCli(writeConfig(dir, mlpConfig(), 'a.yaml'), { workers: 1, out: join(dir, 'a') }, quiet);
    const bytes = (p: string) => readFileSync(join(p, 'results.safetensors'));
    const grams = await runBuildCli(writeConfig(dir, mlpConfig({ gram_matrices_path: 'a' }), 'b.yaml'), { workers: 1, out: join(dir, 'b') }, quiet);
    expect(Buffer.compare(bytes(join(dir, 'a')), bytes(join(dir, 'b')))).toBe(0);
    const cs = await runBuildCli(writeConfig(dir, mlpConfig({ interaction_matrices_path: 'a', calculate_Cs: false }), 'c.yaml'), { workers: 1, out: join(dir, 'c') }, quiet);
    expect(cs.results.edges.map((e) => Array.from(e.E.data))).toEqual(first.results.edges.map((e) => Array.from(e.E.data)));
    expect(grams.results.bases.length).toBe(4);
    // different data → the saved statistics do not match
    const badData = writeConfig(dir, mlpConfig({ gram_matrices_path: 'a', dataset: { dataset_type: 'block_vector', size: 600, length: 6, data_variances: [1, 2], seed: 4 } }), 'd.yaml');
    await expect(runBuildCli(badData, { workers: 1, out: join(dir, 'd') }, quiet)).rejects.toThrow(/different model or dataset|does not match/);
    // different basis → the saved Cs do not fit this config
    const badBasis = writeConfig(dir, mlpConfig({ interaction_matrices_path: 'a', calculate_Cs: false, basis_formula: 'svd' }), 'e.yaml');
    await expect(runBuildCli(badBasis, { workers: 1, out: join(dir, 'e') }, quiet)).rejects.toThrow(/basis_formula/);
    // node layers not in the saved results
    const badLayers = writeConfig(dir, mlpConfig({ gram_matrices_path: 'a', node_layers: ['layers.0', 'layers.1', 'output'], modular_mlp_config: { n_hidden_layers: 1, width: 6, first_block_width: 3, seed: 1 } }), 'f.yaml');
    await expect(runBuildCli(badLayers, { workers: 1, out: join(dir, 'f') }, quiet)).rejects.toThrow();
    for (const k of ['d', 'e', 'f']) expect(existsSync(join(dir, k))).toBe(false);
  });
});

describe('interbasis build: refused before any stage runs', () => {
  /** A refused run: exit code 2, the message, and no progress event (no stage started). */
  function refused(args: string[], msg: RegExp): void {
    const r = cli(['build', ...args, '--workers', '2', '--json']);
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr).toMatch(msg);
    expect(r.stdout).toBe('');
  }

  it('an existing result (either file) without --force', () => {
    const dir = tmpDir();
    const cfg = writeConfig(dir, mlpConfig());
    for (const name of ['results.json', 'results.safetensors']) {
      const out = join(dir, `out-${name}`);
      mkdirSync(out);
      writeFileSync(join(out, name), 'earlier result');
      refused([cfg, '--out', out], new RegExp(`${name.replace('.', '\\.')} already exists; use --force`));
      expect(readFileSync(join(out, name), 'utf8')).toBe('earlier result');
      expect(readdirSync(out)).toEqual([name]);
    }
  });

  it('an output folder that cannot be created or written', () => {
    const dir = tmpDir();
    const cfg = writeConfig(dir, mlpConfig());
    writeFileSync(join(dir, 'a-file'), 'x');
    refused([cfg, '--out', join(dir, 'a-file', 'sub')], /cannot be created: .*a-file is a file, not a folder/);
    refused([cfg, '--out', join(dir, 'a-file')], /a-file is a file, not a folder/);
    // root writes through permission bits, so as root use a folder of the kernel's /proc instead
    let ro = '/proc/interbasis-out';
    if (process.getuid?.() !== 0) {
      ro = join(dir, 'read-only');
      mkdirSync(ro);
      chmodSync(ro, 0o555);
    }
    refused([cfg, '--out', ro], /not writable/);
  });

  it('a missing dataset file', () => {
    const dir = tmpDir();
    const cfg = writeConfig(dir, mlpConfig({ dataset: { dataset_type: 'file', path: 'missing.safetensors' } }));
    refused([cfg, '--out', join(dir, 'o')], /dataset\.path: file not found: .*missing\.safetensors/);
    expect(existsSync(join(dir, 'o'))).toBe(false);
  });
});

describe('interbasis --version', () => {
  it('prints the package.json version, which results.json records', async () => {
    const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
    expect(pkg.version).toMatch(/^\d+\.\d+\.\d+/);
    for (const flag of ['--version', '-V']) {
      const r = cli([flag]);
      expect(r.status).toBe(0);
      expect(r.stdout).toBe(`${pkg.version}\n`);
    }
    const dir = tmpDir();
    await runBuildCli(writeConfig(dir, mlpConfig()), { workers: 1, out: join(dir, 'v') }, quiet);
    const doc = JSON.parse(readFileSync(join(dir, 'v', 'results.json'), 'utf8')) as { info: { versions: { interbasis: string } } };
    expect(doc.info.versions.interbasis).toBe(pkg.version);
  });
});

describe('one --workers convention for every command that runs tasks', () => {
  it('same parser, same meaning, same error text', async () => {
    const { parseWorkers, makePool } = await import('../src/cli/options.js');
    const { availableParallelism } = await import('node:os');
    expect(parseWorkers(undefined)).toBe(Math.max(1, availableParallelism()));
    expect(parseWorkers('0')).toBe(0);
    expect(parseWorkers('2')).toBe(2);
    expect(parseWorkers(256)).toBe(256);
    // 0 and 1 run in this thread
    for (const n of [0, 1]) {
      const p = await makePool(n);
      expect(p.constructor.name).toBe('InlinePool');
      expect(p.size).toBe(1);
      await p.destroy();
    }
    const text = "--workers must be an integer from 0 to 256 (0 or 1: run in this thread), got '257'";
    expect(() => parseWorkers('257')).toThrow(text);
    for (const cmd of [['build', 'c.yaml'], ['ablate', 'c.yaml'], ['demo']]) {
      const r = cli([...cmd, '--workers', '257']);
      expect(r.status, cmd[0]).toBe(2);
      expect(r.stderr, cmd[0]).toBe(`interbasis: error: ${text}\n`);
    }
  });
});

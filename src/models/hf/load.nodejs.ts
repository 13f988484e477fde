/**
 * Hugging Face checkpoints from disk: a model.safetensors file, a sharded
 * model.safetensors.index.json, a pytorch_model.bin (restricted .pt reader), or a folder holding
 * one of them with config.json; and `tlens_pretrained` names resolved to local folders under
 * $INTERBASIS_MODELS (nothing is downloaded).
 */
import { stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { UserError } from '../../errors.js';
import { pathExists, readCheckpoint, readStructured } from '../../io/files.nodejs.js';
import type { Model } from '../types.js';
import { hfModel } from './index.js';

/** Checkpoint files looked for in a model folder, in this order. */
export const HF_CHECKPOINT_NAMES = ['model.safetensors', 'model.safetensors.index.json', 'pytorch_model.bin'];

/**
 * transformer-lens aliases rib uses, with the Hugging Face repository whose files go into the
 * folder, and rib's context override (spec LM §6.1: 511 for tiny-stories-*).
 */
export const PRETRAINED: Record<string, { repo: string; nCtx?: number }> = {
  gpt2: { repo: 'openai-community/gpt2' },
  'gpt2-medium': { repo: 'openai-community/gpt2-medium' },
  'gpt2-large': { repo: 'openai-community/gpt2-large' },
  'gpt2-xl': { repo: 'openai-community/gpt2-xl' },
  'tiny-stories-1M': { repo: 'roneneldan/TinyStories-1M', nCtx: 511 },
  'tiny-stories-3M': { repo: 'roneneldan/TinyStories-3M', nCtx: 511 },
  'tiny-stories-8M': { repo: 'roneneldan/TinyStories-8M', nCtx: 511 },
  'tiny-stories-28M': { repo: 'roneneldan/TinyStories-28M', nCtx: 511 },
  'tiny-stories-33M': { repo: 'roneneldan/TinyStories-33M', nCtx: 511 },
  'pythia-14m': { repo: 'EleutherAI/pythia-14m' },
  'pythia-70m': { repo: 'EleutherAI/pythia-70m' },
  'pythia-160m': { repo: 'EleutherAI/pythia-160m' },
  'pythia-410m': { repo: 'EleutherAI/pythia-410m' },
  'pythia-1b': { repo: 'EleutherAI/pythia-1b' },
  'pythia-1.4b': { repo: 'EleutherAI/pythia-1.4b' },
};

async function isDir(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isDirectory();
  } catch {
    return false;
  }
}

/** The checkpoint file and config.json for a file or folder path. */
export async function resolveHfFiles(path: string, config?: string | null): Promise<{ checkpoint: string; config: string; folder: string }> {
  const abs = resolve(path);
  let checkpoint = abs;
  const folder = (await isDir(abs)) ? abs : dirname(abs);
  if (await isDir(abs)) {
    const found: string[] = [];
    for (const n of HF_CHECKPOINT_NAMES) if (await pathExists(join(abs, n))) found.push(join(abs, n));
    if (!found.length) throw new UserError(`${path}: the folder has no checkpoint (looked for ${HF_CHECKPOINT_NAMES.join(', ')})`);
    checkpoint = found[0]!;
  } else if (!(await pathExists(abs))) {
    throw new UserError(`checkpoint not found: ${path}`);
  }
  const cfg = config ? resolve(config) : join(folder, 'config.json');
  if (!(await pathExists(cfg))) throw new UserError(`${config ? 'model.config' : `no config.json beside ${path}`}: file not found: ${cfg}`);
  return { checkpoint, config: cfg, folder };
}

/** Loads a Hugging Face model (file or folder) as the processed transformer-lens model. */
export async function loadHfModel(o: { path: string; config?: string | null; nCtx?: number | null }): Promise<Model> {
  const files = await resolveHfFiles(o.path, o.config);
  const doc = await readStructured(files.config);
  const tensors = await readCheckpoint(files.checkpoint);
  return hfModel(doc, tensors, { nCtx: o.nCtx, what: files.checkpoint });
}

/** The models folder: --models-dir, else $INTERBASIS_MODELS. */
export function modelsDir(explicit?: string | null): string {
  const d = explicit ?? process.env['INTERBASIS_MODELS'];
  if (!d) throw new UserError('tlens_pretrained needs a local models folder: set INTERBASIS_MODELS (or pass --models-dir) to a folder holding one sub-folder per model');
  return resolve(d);
}

/**
 * `tlens_pretrained: NAME` → `<models dir>/NAME` with config.json and a checkpoint. A missing
 * folder or file is an error naming the folder and the files to put there.
 */
export async function resolvePretrained(name: string, dir?: string | null): Promise<{ folder: string; nCtx: number | null }> {
  const known = PRETRAINED[name];
  if (!known) throw new UserError(`tlens_pretrained: unknown model ${JSON.stringify(name)} (known: ${Object.keys(PRETRAINED).join(', ')})`);
  const folder = join(modelsDir(dir), name);
  const need = `put config.json and model.safetensors (or pytorch_model.bin) from the Hugging Face repository ${known.repo} there, plus tokenizer.json for text datasets`;
  if (!(await isDir(folder))) throw new UserError(`tlens_pretrained ${name}: model folder ${folder} does not exist; ${need}`);
  const missing: string[] = [];
  if (!(await pathExists(join(folder, 'config.json')))) missing.push('config.json');
  let hasCk = false;
  for (const n of HF_CHECKPOINT_NAMES) if (await pathExists(join(folder, n))) hasCk = true;
  if (!hasCk) missing.push(`a checkpoint (${HF_CHECKPOINT_NAMES.join(' or ')})`);
  if (missing.length) throw new UserError(`tlens_pretrained ${name}: ${folder} lacks ${missing.join(' and ')}; ${need}`);
  return { folder, nCtx: known.nCtx ?? null };
}

/** Loads `tlens_pretrained: NAME` from the local models folder (with rib's n_ctx override). */
export async function loadPretrained(name: string, dir?: string | null): Promise<Model> {
  const { folder, nCtx } = await resolvePretrained(name, dir);
  return loadHfModel({ path: folder, nCtx });
}

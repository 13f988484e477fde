/**
 * `interbasis inspect MODEL`: the architecture, the config, every module id and the node-layer
 * width (and positions) at each, for a Hugging Face folder or file, a `tlens_pretrained` name in
 * the models folder, or a transformer-lens / rib MLP checkpoint.
 */
import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import { initKernels } from '../linalg/index.js';
import { UserError } from '../errors.js';
import { readStructured } from '../io/files.nodejs.js';
import { loadModel } from '../models/load.nodejs.js';
import { loadHfModel, loadPretrained, PRETRAINED, resolveHfFiles } from '../models/hf/load.nodejs.js';
import type { Model, NodeLayerInfo } from '../models/types.js';

export interface InspectOptions {
  config?: string;
  modelsDir?: string;
  nCtx?: string;
  json?: boolean;
}

/** Loads MODEL: an existing path (HF if its config.json has `architectures`), else a pretrained name. */
export async function loadForInspect(model: string, o: InspectOptions): Promise<{ model: Model; source: string }> {
  const nCtx = o.nCtx === undefined ? null : Number(o.nCtx);
  if (nCtx !== null && !(Number.isInteger(nCtx) && nCtx > 0)) throw new UserError(`--n-ctx must be a positive integer, got ${o.nCtx}`);
  if (!existsSync(model)) {
    if (PRETRAINED[model]) return { model: await loadPretrained(model, o.modelsDir), source: `tlens_pretrained ${model}` };
    throw new UserError(`${model}: no such file or folder, and not a known pretrained name (${Object.keys(PRETRAINED).join(', ')})`);
  }
  let hf = false;
  try {
    const files = await resolveHfFiles(model, o.config);
    const doc = (await readStructured(files.config)) as Record<string, unknown>;
    hf = Array.isArray(doc?.['architectures']);
  } catch {
    hf = false;
  }
  if (hf) return { model: await loadHfModel({ path: model, config: o.config, nCtx }), source: `Hugging Face checkpoint ${model}` };
  return { model: await loadModel({ path: model, config: o.config }), source: `checkpoint ${model}` };
}

/** Node-layer info at every module id (widths after bias folding). */
export function allNodeLayers(m: Model): NodeLayerInfo[] {
  const stem = m.kind === 'transformer' ? new Set(['embed', 'pos_embed', 'add_embed']) : new Set<string>();
  const ids = m.moduleIds.filter((id) => !stem.has(id));
  const seqLen = m.kind === 'transformer' ? Math.min(m.config['n_ctx'] as number, 2) : undefined;
  const infos = m.sectioned([...ids, 'output'], { seqLen }).nodeLayers;
  const P = m.kind === 'transformer' ? (m.config['n_ctx'] as number) : 1;
  return infos.map((i) => ({ ...i, positions: m.kind === 'transformer' ? P : i.positions }));
}

export async function runInspect(model: string, o: InspectOptions, out: NodeJS.WritableStream = process.stdout): Promise<void> {
  await initKernels();
  const { model: m, source } = await loadForInspect(model, o);
  const layers = allNodeLayers(m);
  const arch = (m.config['original_architecture'] as string | null | undefined) ?? (m.kind === 'mlp' ? 'rib MLP' : 'transformer-lens transformer');
  if (o.json) {
    out.write(JSON.stringify({ source, kind: m.kind, architecture: arch, config: m.config, module_ids: m.moduleIds, node_layers: layers }) + '\n');
    return;
  }
  const c = m.config;
  const lines = [`${source}`, `architecture: ${arch} (${m.kind})`];
  if (m.kind === 'transformer') {
    lines.push(
      `n_layers ${c['n_layers']}, d_model ${c['d_model']}, n_heads ${c['n_heads']}, d_head ${c['d_head']}, d_mlp ${c['d_mlp']}, d_vocab ${c['d_vocab']}, n_ctx ${c['n_ctx']}, act ${c['act_fn']}, normalization ${c['normalization_type']}`,
      `positional embedding ${c['positional_embedding_type']}${c['rotary_dim'] ? ` (rotary_dim ${c['rotary_dim']})` : ''}, parallel attn+MLP ${c['parallel_attn_mlp'] ? 'yes' : 'no'}, local attention ${c['use_local_attn'] ? 'odd layers, window 256' : 'no'}, attention scale ${c['use_attn_scale'] ? '1/√d_head' : 'none'}`,
    );
  }
  lines.push(`module ids: ${m.moduleIds.join(', ')}`, '', 'node layer'.padEnd(16) + 'width'.padStart(8) + 'positions'.padStart(11));
  for (const l of layers) lines.push(l.name.padEnd(16) + String(l.dim).padStart(8) + String(l.positions).padStart(11));
  out.write(lines.join('\n') + '\n');
}

export function register(program: Command): void {
  program
    .command('inspect')
    .description('print a model\'s architecture, module ids and node-layer widths')
    .argument('<model>', 'Hugging Face folder or file, tlens_pretrained name, or transformer-lens / MLP checkpoint')
    .option('--config <file>', 'model config (default: config.json beside the checkpoint)')
    .option('--models-dir <dir>', 'folder of local pretrained models (default: $INTERBASIS_MODELS)')
    .option('--n-ctx <n>', 'context length override for Hugging Face models')
    .option('--json', 'one JSON object on stdout')
    .action(async (model: string, o: InspectOptions) => {
      await runInspect(model, o);
    });
}

/**
 * Text tokenisation from a Hugging Face `tokenizer.json` (and optional `tokenizer_config.json`)
 * with `@huggingface/tokenizers` (pure JS, browser-safe), as rib calls `tokenizer(text)`: special
 * tokens added by the post-processor (none for GPT-2 / GPT-Neo / GPT-NeoX byte-level BPE).
 */
import { Tokenizer } from '@huggingface/tokenizers';
import { UserError } from '../errors.js';
import type { TextTokenizer } from './lm-text.js';

const isObj = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** The EOS token string: tokenizer_config.json `eos_token` (string or {content}), else <|endoftext|>. */
function eosToken(config: Record<string, unknown> | null): string {
  const e = config?.['eos_token'];
  if (typeof e === 'string') return e;
  if (isObj(e) && typeof e['content'] === 'string') return e['content'];
  return '<|endoftext|>';
}

/** Vocabulary size: 1 + the largest id of the model vocabulary and the added tokens. */
function vocabSizeOf(json: Record<string, unknown>): number {
  let mx = -1;
  const model = json['model'];
  if (isObj(model) && isObj(model['vocab'])) for (const v of Object.values(model['vocab'])) if (typeof v === 'number' && v > mx) mx = v;
  if (isObj(model) && Array.isArray(model['vocab'])) mx = Math.max(mx, model['vocab'].length - 1);
  const added = json['added_tokens'];
  if (Array.isArray(added)) for (const a of added) if (isObj(a) && typeof a['id'] === 'number' && a['id'] > mx) mx = a['id'];
  return mx + 1;
}

export function tokenizerFromJson(json: unknown, config: unknown = null, what = 'tokenizer.json'): TextTokenizer {
  if (!isObj(json) || !isObj(json['model'])) throw new UserError(`${what}: not a Hugging Face tokenizer.json (no "model" object)`);
  const cfg = isObj(config) ? config : null;
  let tok: Tokenizer;
  try {
    tok = new Tokenizer(json, cfg ?? {});
  } catch (e) {
    throw new UserError(`${what}: cannot build the tokenizer: ${(e as Error).message}`);
  }
  const eos = eosToken(cfg);
  const eosId = tok.token_to_id(eos);
  if (eosId === undefined) throw new UserError(`${what}: the EOS token ${JSON.stringify(eos)} is not in the vocabulary`);
  return {
    encode: (text: string) => tok.encode(text).ids.slice(),
    eosId,
    vocabSize: vocabSizeOf(json),
  };
}

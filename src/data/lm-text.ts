/**
 * rib's Hugging Face text datasets (spec LM §7), browser-safe: the split slice, the token stream
 * (pre-tokenised ids as they are, or text tokenised with EOS appended to every document), chunks of
 * n_ctx with the last chunk always dropped, the seeded torch-randperm choice of n_samples chunks,
 * and next-token labels [N, n_ctx].
 */
import { z } from 'zod';
import { UserError } from '../errors.js';
import { roundHalfEven } from '../io/tensor.js';
import { mt19937Randperm } from './mt19937.js';
import type { Dataset } from './types.js';

/** `dataset_type: huggingface` with the reference's keys (plus local `path` / `tokenizer_path`). */
export const huggingfaceDatasetSchema = z.strictObject({
  dataset_type: z.literal('huggingface'),
  name: z.string().min(1),
  tokenizer_name: z.string().min(1).nullable().default(null),
  return_set: z.enum(['train', 'test', 'validation']).default('train'),
  return_set_frac: z.number().min(0.01).max(1).nullable().default(null),
  n_documents: z.number().int().positive().nullable().default(null),
  return_set_portion: z.enum(['first', 'last']).default('first'),
  n_samples: z.number().int().positive().nullable().default(null),
  n_ctx: z.number().int().positive().nullable().default(null),
  seed: z.number().int().nonnegative().nullable().default(0),
  /** local dataset: a file or folder (default: $INTERBASIS_DATASETS/<name>) */
  path: z.string().min(1).nullable().default(null),
  /** tokenizer.json (default: the one in the model's folder) */
  tokenizer_path: z.string().min(1).nullable().default(null),
});
export type HuggingfaceDatasetConfig = z.infer<typeof huggingfaceDatasetSchema>;

/** Python's round(): halves to even. */
const pyRound = roundHalfEven;

/**
 * Document range [start, end) of the split string rib builds: `set[:P%]` / `set[-P%:]` with
 * P = int(100·frac) (HF rounds percent boundaries to the closest index), `set[:n]` / `set[-n:]`,
 * or the whole split.
 */
export function documentRange(nDocs: number, o: { return_set_frac: number | null; n_documents: number | null; return_set_portion: 'first' | 'last' }, key = 'dataset'): [number, number] {
  if (o.return_set_frac !== null && o.n_documents !== null) throw new UserError(`${key}: give return_set_frac or n_documents, not both`);
  if (o.return_set_frac !== null) {
    const P = Math.trunc(o.return_set_frac * 100); // Python int(100·f)
    const k = pyRound((P * nDocs) / 100);
    return o.return_set_portion === 'first' ? [0, k] : [nDocs - k, nDocs];
  }
  if (o.n_documents !== null) {
    const k = Math.min(o.n_documents, nDocs);
    return o.return_set_portion === 'first' ? [0, k] : [nDocs - k, nDocs];
  }
  return [0, nDocs];
}

/** A document: text, or pre-tokenised ids. */
export type Document = { text: string } | { ids: ArrayLike<number> };

export interface TextTokenizer {
  encode(text: string): number[];
  eosId: number;
  vocabSize: number;
}

/** The concatenated token stream (EOS after every text document). */
export function tokenStream(docs: Document[], tok: TextTokenizer | null, key = 'dataset'): Int32Array {
  const parts: ArrayLike<number>[] = [];
  let total = 0;
  let eos = 0;
  let nText = 0;
  for (const d of docs) {
    if ('ids' in d) {
      parts.push(d.ids);
      total += d.ids.length;
    } else {
      if (!tok) throw new UserError(`${key}: the documents are text, so a tokenizer is needed (tokenizer.json in the model folder, or tokenizer_path)`);
      const ids = tok.encode(d.text);
      ids.push(tok.eosId);
      nText++;
      for (const t of ids) if (t === tok.eosId) eos++;
      parts.push(ids);
      total += ids.length;
    }
  }
  const out = new Int32Array(total);
  let o = 0;
  for (const p of parts) {
    for (let i = 0; i < p.length; i++) {
      const v = p[i]!;
      if (!Number.isInteger(v) || v < 0 || v >= 2 ** 31) throw new UserError(`${key}: token id ${v} is not a valid id`);
      out[o++] = v;
    }
  }
  // rib checks that the EOS count equals the number of documents
  if (nText && eos !== nText) throw new UserError(`${key}: the token stream holds ${eos} EOS tokens for ${nText} documents (a document contains the EOS text, or the tokenizer adds its own)`);
  return out;
}

/**
 * Chunks of n_ctx (the last chunk always dropped), optionally n_samples of them chosen by
 * randperm(c, seed); labels are the next tokens of the stream.
 */
export function packChunks(stream: Int32Array, nCtx: number, nSamples: number | null, seed: number, name: string, key = 'dataset'): Dataset {
  const c = Math.ceil(stream.length / nCtx) - 1;
  if (c < 1) throw new UserError(`${key}: ${stream.length} tokens give no complete chunk of n_ctx = ${nCtx} with a next-token label (the last chunk is dropped)`);
  let order: ArrayLike<number>;
  if (nSamples !== null) {
    if (nSamples > c) throw new UserError(`${key}: n_samples ${nSamples} exceeds the ${c} chunks of ${nCtx} tokens`);
    order = mt19937Randperm(c, seed).subarray(0, nSamples);
  } else {
    order = Int32Array.from({ length: c }, (_, i) => i);
  }
  const N = order.length;
  const x = new Int32Array(N * nCtx);
  const y = new Int32Array(N * nCtx);
  for (let i = 0; i < N; i++) {
    const s = order[i]! * nCtx;
    x.set(stream.subarray(s, s + nCtx), i * nCtx);
    y.set(stream.subarray(s + 1, s + nCtx + 1), i * nCtx);
  }
  return { name, n: N, inputs: { kind: 'tokens', data: x, batch: N, seqLen: nCtx }, labels: y, labelWidth: nCtx };
}

/** Throws if any id is outside the model's embedding [0, vocab). */
export function checkVocab(stream: Int32Array, vocab: number, key = 'dataset'): void {
  for (let i = 0; i < stream.length; i++) {
    if (stream[i]! >= vocab) throw new UserError(`${key}: token id ${stream[i]} (position ${i} of the token stream) is outside the model's embedding of ${vocab} rows`);
  }
}

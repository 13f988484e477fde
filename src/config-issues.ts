/**
 * Plain-words messages for schema (zod) validation failures of config files, browser-safe.
 *
 * Every message names the key path the way a config file spells it (`dataset.modulus`,
 * `node_layers[0]`) and says what is wrong with the value found there, for example
 *   missing required key 'node_layers'
 *   unknown key 'dataset.colour'
 *   'batch_size' must be an integer, got 1.5
 *   'basis_formula' must be one of jacobian, svd; got "magic"
 * instead of the schema library's own wording ("expected boolean, received undefined").
 */
import type { z } from 'zod';

type Issue = z.core.$ZodIssue;
type Path = ReadonlyArray<PropertyKey>;

/** `dataset.modulus`, `node_layers[0]`, `(top level)` for the empty path. */
export function keyPath(path: Path): string {
  let s = '';
  for (const p of path) {
    if (typeof p === 'number') s += `[${p}]`;
    else s += (s ? '.' : '') + String(p);
  }
  return s || '(top level)';
}

/** A short rendering of a value found in a config file. */
export function describeValue(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (typeof v === 'string') return JSON.stringify(v.length > 60 ? v.slice(0, 57) + '...' : v);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return `a list of ${v.length} item${v.length === 1 ? '' : 's'}`;
  if (typeof v === 'object') return 'a mapping';
  return typeof v;
}

const TYPE_WORDS: Record<string, string> = {
  boolean: 'true or false',
  number: 'a number',
  int: 'an integer',
  string: 'a string',
  array: 'a list',
  tuple: 'a list',
  object: 'a mapping',
  record: 'a mapping',
  null: 'null',
};

interface Found {
  present: boolean;
  value: unknown;
}

/** The value at `path` inside `root`, and whether its key is present at all. */
function lookup(root: unknown, path: Path): Found {
  let cur: unknown = root;
  for (const p of path) {
    if (cur === null || typeof cur !== 'object') return { present: false, value: undefined };
    if (!(p in (cur as object))) return { present: false, value: undefined };
    cur = (cur as Record<PropertyKey, unknown>)[p];
  }
  return { present: cur !== undefined, value: cur };
}

const oneOf = (values: readonly unknown[]): string =>
  values.length === 1 ? JSON.stringify(values[0]) : `one of ${values.map((v) => (typeof v === 'string' ? v : JSON.stringify(v))).join(', ')}`;

/** What a single issue says is expected (for the alternatives of a union). */
function expectation(iss: Issue): string {
  switch (iss.code) {
    case 'invalid_type':
      return TYPE_WORDS[iss.expected] ?? iss.expected;
    case 'invalid_value':
      return oneOf(iss.values);
    default:
      return iss.message;
  }
}

function bound(iss: Extract<Issue, { code: 'too_small' | 'too_big' }>, found: unknown): string {
  const small = iss.code === 'too_small';
  const lim = Number(small ? (iss as { minimum: number | bigint }).minimum : (iss as { maximum: number | bigint }).maximum);
  const inclusive = iss.inclusive !== false;
  if (iss.origin === 'array' || iss.origin === 'set') {
    const n = Array.isArray(found) ? found.length : null;
    const what = `${lim} entr${lim === 1 ? 'y' : 'ies'}`;
    return `must have ${small ? 'at least' : 'at most'} ${what}${n === null ? '' : `, got ${n}`}`;
  }
  if (iss.origin === 'string') {
    if (small && lim === 1) return 'must not be empty';
    return `must have ${small ? 'at least' : 'at most'} ${lim} characters, got ${describeValue(found)}`;
  }
  const op = small ? (inclusive ? '≥' : '>') : inclusive ? '≤' : '<';
  return `must be ${op} ${lim}, got ${describeValue(found)}`;
}

/** Plain-words messages for one issue (unknown keys give one message per key). */
function messages(iss: Issue, root: unknown, prefix: Path): string[] {
  const path = [...prefix, ...iss.path];
  const key = keyPath(path);
  const at = lookup(root, path);
  switch (iss.code) {
    case 'unrecognized_keys':
      return iss.keys.map((k) => `unknown key '${keyPath([...path, k])}'`);
    case 'invalid_type':
      if (!at.present) return [`missing required key '${key}'`];
      if (iss.expected === 'int') return [`'${key}' must be an integer, got ${describeValue(at.value)}`];
      return [`'${key}' must be ${TYPE_WORDS[iss.expected] ?? iss.expected}, got ${describeValue(at.value)}`];
    case 'invalid_value':
      if (!at.present) return [`missing required key '${key}' (${oneOf(iss.values)})`];
      return [`'${key}' must be ${oneOf(iss.values)}; got ${describeValue(at.value)}`];
    case 'too_small':
    case 'too_big':
      return [`'${key}' ${bound(iss, at.value)}`];
    case 'invalid_union': {
      const u = iss as Issue & { note?: string; discriminator?: string; options?: unknown[] };
      if (u.note === 'No matching discriminator') {
        const opts = oneOf(u.options ?? []);
        // zod puts the discriminator key in the path already
        return at.present ? [`'${key}' must be ${opts}; got ${describeValue(at.value)}`] : [`missing required key '${key}' (${opts})`];
      }
      if (!at.present) return [`missing required key '${key}'`];
      // a branch whose issues all lie deeper than the union matched the shape: report those
      const deeper = iss.errors.find((branch) => branch.length > 0 && branch.every((b) => b.path.length > 0));
      if (deeper) return deeper.flatMap((b) => messages(b, root, path));
      const alts = iss.errors.map((branch) => (branch[0] ? expectation(branch[0]) : '')).filter(Boolean);
      return [`'${key}' must be ${alts.join(', or ')}; got ${describeValue(at.value)}`];
    }
    case 'invalid_format':
      return [`'${key}' must be a valid ${iss.format}, got ${describeValue(at.value)}`];
    case 'not_multiple_of':
      return [`'${key}' must be a multiple of ${String(iss.divisor)}, got ${describeValue(at.value)}`];
    default:
      return [`'${key}': ${iss.message}`];
  }
}

/**
 * All issues of a failed parse of `input`, in plain words, joined by "; ".
 * `input` is the object that was validated (used to tell a missing key from a wrong value).
 */
export function formatIssues(err: z.ZodError, input: unknown): string {
  return err.issues.flatMap((iss) => messages(iss, input, [])).join('; ');
}

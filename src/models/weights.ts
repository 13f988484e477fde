/** Checkpoint validation and config access shared by the MLP and transformer builders. */
import { UserError } from '../errors.js';
import { toFloat64, type Tensor } from '../io/tensor.js';

export const fmtShape = (s: readonly number[]): string => `[${s.join(', ')}]`;

/**
 * Checks a checkpoint against the tensors a config implies: every `expected` name must be present
 * with exactly that shape, `ignored` names (buffers) are allowed and skipped, anything else is an
 * error. Returns float64 copies keyed by name.
 */
export function takeTensors(
  tensors: Map<string, Tensor>,
  expected: Map<string, number[]>,
  ignored: (name: string) => boolean,
  what: string,
): Map<string, Float64Array> {
  const missing: string[] = [];
  for (const [name, shape] of expected) if (!tensors.has(name)) missing.push(`${name} ${fmtShape(shape)}`);
  if (missing.length) {
    throw new UserError(`${what}: checkpoint is missing tensor${missing.length > 1 ? 's' : ''} ${missing.join(', ')} (expected by the config)`);
  }
  const extra = [...tensors.keys()].filter((n) => !expected.has(n) && !ignored(n));
  if (extra.length) {
    throw new UserError(`${what}: checkpoint has unknown tensor${extra.length > 1 ? 's' : ''} ${extra.join(', ')} that the config does not use`);
  }
  const out = new Map<string, Float64Array>();
  for (const [name, shape] of expected) {
    const t = tensors.get(name)!;
    const got = t.shape;
    if (got.length !== shape.length || got.some((d, i) => d !== shape[i])) {
      throw new UserError(`${what}: tensor ${name} has shape ${fmtShape(got)} but the config implies ${fmtShape(shape)}`);
    }
    if (t.dtype === 'BOOL' || t.dtype === 'I64' || t.dtype === 'I32' || t.dtype === 'U8') {
      throw new UserError(`${what}: tensor ${name} has dtype ${t.dtype}; weights must be floating point`);
    }
    const f = t.data instanceof Float64Array ? t.data : toFloat64(t);
    for (let i = 0; i < f.length; i++) {
      if (!Number.isFinite(f[i]!)) throw new UserError(`${what}: tensor ${name} contains a non-finite value at flat index ${i}`);
    }
    out.set(name, f);
  }
  return out;
}

export function cfgInt(cfg: Record<string, unknown>, key: string, what: string, dflt?: number): number {
  const v = cfg[key] ?? dflt;
  if (v === undefined || v === null) throw new UserError(`${what} config: '${key}' is missing`);
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) {
    throw new UserError(`${what} config: '${key}' must be a non-negative integer, got ${JSON.stringify(cfg[key])}`);
  }
  return v;
}

export function cfgPosInt(cfg: Record<string, unknown>, key: string, what: string, dflt?: number): number {
  const v = cfgInt(cfg, key, what, dflt);
  if (v < 1) throw new UserError(`${what} config: '${key}' must be ≥ 1, got ${v}`);
  return v;
}

export function cfgBool(cfg: Record<string, unknown>, key: string, what: string, dflt: boolean): boolean {
  const v = cfg[key] ?? dflt;
  if (typeof v !== 'boolean') throw new UserError(`${what} config: '${key}' must be true or false, got ${JSON.stringify(cfg[key])}`);
  return v;
}

export function cfgNum(cfg: Record<string, unknown>, key: string, what: string, dflt: number): number {
  const v = cfg[key] ?? dflt;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new UserError(`${what} config: '${key}' must be a number, got ${JSON.stringify(cfg[key])}`);
  return v;
}

/** Plain-object check for configs. */
export function asRecord(v: unknown, what: string): Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new UserError(`${what}: expected an object, got ${v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v}`);
  return v as Record<string, unknown>;
}

/**
 * Elementwise activations: forward, derivative (for the VJP) and `root_one` (spec §2.1, §13.6).
 * Transcendental functions come from the Wasm math in src/linalg.
 */
import { UserError } from '../errors.js';
import { erf, exp, tanh } from '../linalg/index.js';
import type { ActivationName } from './types.js';

export const ACTIVATIONS: readonly ActivationName[] = ['relu', 'gelu', 'gelu_new', 'identity', 'tanh', 'sigmoid'];

const SQRT1_2 = Math.SQRT1_2;
const INV_SQRT_2PI = 0.3989422804014327; // 1/sqrt(2π)
const GELU_NEW_C = 0.7978845608028654; // sqrt(2/π)
const GELU_NEW_A = 0.044715;

/** Normalises config spellings ('ReLU', 'gelu_new', 'gelu_fast'?) to an ActivationName or throws. */
export function parseActivation(name: unknown, where = 'activation'): ActivationName {
  const s = typeof name === 'string' ? name.toLowerCase() : name;
  if (typeof s === 'string' && (ACTIVATIONS as readonly string[]).includes(s)) return s as ActivationName;
  throw new UserError(`${where}: unsupported activation ${JSON.stringify(name)} (supported: ${ACTIVATIONS.join(', ')})`);
}

/** act(x) for one value. */
export function actScalar(act: ActivationName, x: number): number {
  switch (act) {
    case 'relu':
      return x > 0 ? x : 0;
    case 'identity':
      return x;
    case 'gelu':
      return 0.5 * x * (1 + erf(x * SQRT1_2));
    case 'gelu_new':
      return 0.5 * x * (1 + tanh(GELU_NEW_C * (x + GELU_NEW_A * x * x * x)));
    case 'tanh':
      return tanh(x);
    case 'sigmoid':
      return 1 / (1 + exp(-x));
  }
}

/** act'(x) for one value (relu'(0) = 0, as autograd gives). */
export function actDerivScalar(act: ActivationName, x: number): number {
  switch (act) {
    case 'relu':
      return x > 0 ? 1 : 0;
    case 'identity':
      return 1;
    case 'gelu':
      return 0.5 * (1 + erf(x * SQRT1_2)) + x * INV_SQRT_2PI * exp(-0.5 * x * x);
    case 'gelu_new': {
      const T = tanh(GELU_NEW_C * (x + GELU_NEW_A * x * x * x));
      return 0.5 * (1 + T) + 0.5 * x * (1 - T * T) * GELU_NEW_C * (1 + 3 * GELU_NEW_A * x * x);
    }
    case 'tanh': {
      const t = tanh(x);
      return 1 - t * t;
    }
    case 'sigmoid': {
      const s = 1 / (1 + exp(-x));
      return s * (1 - s);
    }
  }
}

/** out[i] = act(x[i]) (out may alias x). */
export function actForward(act: ActivationName, x: Float64Array, out: Float64Array = new Float64Array(x.length)): Float64Array {
  const n = x.length;
  if (act === 'relu') {
    for (let i = 0; i < n; i++) out[i] = x[i]! > 0 ? x[i]! : 0;
  } else if (act === 'identity') {
    if (out !== x) out.set(x);
  } else {
    for (let i = 0; i < n; i++) out[i] = actScalar(act, x[i]!);
  }
  return out;
}

/** out[i] = act'(x[i]). */
export function actDeriv(act: ActivationName, x: Float64Array, out: Float64Array = new Float64Array(x.length)): Float64Array {
  const n = x.length;
  if (act === 'relu') {
    for (let i = 0; i < n; i++) out[i] = x[i]! > 0 ? 1 : 0;
  } else if (act === 'identity') {
    out.fill(1);
  } else {
    for (let i = 0; i < n; i++) out[i] = actDerivScalar(act, x[i]!);
  }
  return out;
}

const rootCache = new Map<ActivationName, number>();

/**
 * ρ with act(ρ) ≈ 1, so a folded constant survives the activation (spec §2.1, §13.6):
 * relu / identity exactly 1; gelu and gelu_new by the reference's bisection on [−1, 4] in float64,
 * stopping when |act(x) − 1| < 1e-11 (≤ 500 steps). This reproduces the reference's values bit for
 * bit: gelu → 1.144450718351436 (act(ρ) − 1 = −1.6e-12), gelu_new → 1.1446303090306174
 * (act(ρ) − 1 = +8.7e-12). tanh and sigmoid are not foldable (error).
 */
export function rootOne(act: ActivationName): number {
  if (act === 'relu' || act === 'identity') return 1;
  if (act === 'tanh' || act === 'sigmoid') {
    throw new UserError(`cannot fold biases through activation '${act}': it has no root_one (act(x) = 1); use relu, gelu, gelu_new or identity`);
  }
  const hit = rootCache.get(act);
  if (hit !== undefined) return hit;
  let lo = -1;
  let hi = 4;
  let mid = 0.5 * (lo + hi);
  for (let it = 0; it < 500; it++) {
    mid = 0.5 * (lo + hi);
    const v = actScalar(act, mid);
    if (Math.abs(v - 1) < 1e-11) break;
    if (v < 1) lo = mid;
    else hi = mid;
  }
  rootCache.set(act, mid);
  return mid;
}

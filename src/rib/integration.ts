/**
 * Integration points (α_k, w_k) on [0, 1] (spec §5.3): `gradient`, `trapezoidal`, `gauss-legendre`.
 */
import { cos } from '../linalg/index.js';
import { UserError } from '../errors.js';
import type { IntegrationMethod } from './config.js';

export interface IntegrationPoints {
  alphas: number[];
  weights: number[];
}

export function integrationPoints(method: IntegrationMethod, nIntervals: number): IntegrationPoints {
  if (!Number.isInteger(nIntervals) || nIntervals < 0) throw new UserError(`n_intervals must be a non-negative integer, got ${nIntervals}`);
  switch (method) {
    case 'gradient':
      if (nIntervals !== 0) throw new UserError(`integration_method "gradient" requires n_intervals = 0 (got ${nIntervals})`);
      return { alphas: [1], weights: [1] };
    case 'trapezoidal':
      return trapezoidal(nIntervals);
    case 'gauss-legendre':
      return gaussLegendreUnit(nIntervals + 1);
    default:
      throw new UserError(`unknown integration_method "${method as string}"`);
  }
}

/** ε = 1e-3/(n+1); α = linspace(ε, 1−ε, n+1); w = 1/n (halved at the ends). n = 0: α = 0.5, w = 1. */
export function trapezoidal(n: number, epsilon = 1e-3 / (n + 1)): IntegrationPoints {
  if (n === 0) return { alphas: [0.5], weights: [1] };
  const a = epsilon;
  const b = 1 - epsilon;
  const step = (b - a) / n;
  const alphas: number[] = [];
  const weights: number[] = [];
  for (let i = 0; i <= n; i++) {
    // torch.linspace fills the first half from the start and the second half from the end
    alphas.push(i < (n + 1) / 2 ? a + step * i : b - step * (n - i));
    weights.push(i === 0 || i === n ? 1 / (2 * n) : 1 / n);
  }
  return { alphas, weights };
}

/**
 * Gauss–Legendre nodes/weights with `m` points on [−1, 1] (ascending, as numpy's leggauss), by Newton's
 * method on the Legendre polynomial P_m in float64; initial guesses cos(π(i + 0.75)/(m + 0.5)).
 */
export function gaussLegendre(m: number): { nodes: Float64Array; weights: Float64Array } {
  if (!Number.isInteger(m) || m < 1) throw new Error(`gaussLegendre: need m ≥ 1 points, got ${m}`);
  const nodes = new Float64Array(m);
  const weights = new Float64Array(m);
  const half = Math.floor((m + 1) / 2);
  for (let i = 0; i < half; i++) {
    let x = cos((Math.PI * (i + 0.75)) / (m + 0.5));
    let dp = 0;
    for (let it = 0; it < 100; it++) {
      const [p, d] = legendre(m, x);
      dp = d;
      const dx = p / d;
      x -= dx;
      if (Math.abs(dx) <= 1e-16 * Math.max(1, Math.abs(x))) break;
    }
    dp = legendre(m, x)[1];
    const w = 2 / ((1 - x * x) * dp * dp);
    // x is the i-th largest root; store ascending and mirror
    nodes[m - 1 - i] = x;
    nodes[i] = -x;
    weights[m - 1 - i] = w;
    weights[i] = w;
  }
  if (m % 2 === 1) nodes[(m - 1) / 2] = 0;
  return { nodes, weights };
}

/** (P_m(x), P_m'(x)) by the three-term recurrence. */
function legendre(m: number, x: number): [number, number] {
  let p0 = 1;
  let p1 = x;
  if (m === 0) return [1, 0];
  for (let k = 2; k <= m; k++) {
    const p2 = ((2 * k - 1) * x * p1 - (k - 1) * p0) / k;
    p0 = p1;
    p1 = p2;
  }
  const d = (m * (x * p1 - p0)) / (x * x - 1);
  return [p1, d];
}

/** Gauss–Legendre mapped to [0, 1]: α = (x + 1)/2, w = w_leg/2. */
export function gaussLegendreUnit(m: number): IntegrationPoints {
  const { nodes, weights } = gaussLegendre(m);
  return { alphas: Array.from(nodes, (x) => (x + 1) / 2), weights: Array.from(weights, (w) => w / 2) };
}

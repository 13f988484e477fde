/**
 * Diagnostics of a build (browser-safe): eigenvalues near the truncation threshold, kept values
 * below the resolution of a standard eigensolver, and the dims table of results.json.
 */
import type { LayerBasis } from '../io/results.js';
import type { NodeLayerInfo } from '../models/types.js';
import { nearThreshold } from './basis.js';

export interface NearThresholdEntry {
  index: number;
  value: number;
  kept: boolean;
}

interface FloorCount {
  floor: number;
  kept_below: number;
}

/** Collects, per node layer, the Gram eigenvalues and Λ near the threshold and below ε·n·max. */
export class Diagnostics {
  readonly near: Record<string, { gram: NearThresholdEntry[]; lambda: NearThresholdEntry[] }> = {};
  readonly floor: Record<string, { gram: FloorCount; lambda: FloorCount | null }> = {};
  constructor(readonly thr: number) {}

  /** The Gram eigenvalues D of a layer (all of them, sorted descending). */
  gram(layer: string, D: Float64Array, withFloor = true): void {
    this.near[layer] = { gram: nearThreshold(D, this.thr, 'gram'), lambda: [] };
    if (withFloor) this.floor[layer] = { gram: this.belowFloor(D, 0, 'gram'), lambda: null };
  }

  /** Λ of a layer; the first `nMasked` entries are not eigenvalues of M. */
  lambda(layer: string, lambda: Float64Array, nMasked: number): void {
    this.near[layer]!.lambda = nearThreshold(lambda, this.thr, 'lambda');
    this.floor[layer]!.lambda = this.belowFloor(lambda, nMasked, 'lambda');
  }

  /** Kept values below the resolution of a standard (backward-stable) eigensolver, ε·n·max. */
  private belowFloor(v: Float64Array, from: number, rule: 'gram' | 'lambda'): FloorCount {
    const thr = this.thr;
    let mx = 0;
    for (const x of v) mx = Math.max(mx, Math.abs(x));
    const floor = 2.220446049250313e-16 * v.length * mx;
    let n = 0;
    for (let i = from; i < v.length; i++) if ((rule === 'gram' ? v[i]! > thr : v[i]! >= thr) && v[i]! < floor) n++;
    return { floor, kept_below: n };
  }

  /** Warns about every finding; returns results.json's `near_threshold` record. */
  report(warn: (msg: string) => void): Record<string, unknown> {
    const thr = this.thr;
    const nearSummary: Record<string, unknown> = {};
    for (const [L, v] of Object.entries(this.near)) {
      if (v.gram.length || v.lambda.length) {
        nearSummary[L] = v;
        const fmt = (a: NearThresholdEntry[]) => a.map((e) => `${e.value.toExponential(2)}${e.kept ? '' : ' (dropped)'}`).join(', ');
        if (v.gram.length) warn(`${L}: ${v.gram.length} Gram eigenvalue(s) within 100× of truncation_threshold ${thr}: ${fmt(v.gram)} — the kept dimension rests on rounding noise`);
        if (v.lambda.length) warn(`${L}: ${v.lambda.length} Λ value(s) within 100× of truncation_threshold ${thr}: ${fmt(v.lambda)} — the RIB dimension rests on rounding noise`);
      }
    }
    for (const [L, f] of Object.entries(this.floor)) {
      for (const [kind, v] of [['Gram', f.gram], ['Λ', f.lambda]] as const) {
        if (v && v.kept_below > 0) {
          warn(`${L}: ${v.kept_below} kept ${kind} value(s) lie below ε·n·max = ${v.floor.toExponential(2)}, the resolution of a standard eigensolver; implementations (and the reference) may disagree on the rank here`);
        }
      }
    }
    return { threshold: thr, factor: 100, layers: nearSummary, solver_noise_floor: this.floor };
  }
}

/** results.json's dims: width, positions, W columns and C columns per node layer. */
export function layerDims(nl: readonly string[], infos: readonly NodeLayerInfo[], bases: ReadonlyArray<LayerBasis | undefined>) {
  const dims: Record<string, { orig: number; positions: number; trunc: number | null; rib: number | null }> = {};
  nl.forEach((L, l) => {
    const b = bases[l];
    dims[L] = { orig: infos[l]!.dim, positions: infos[l]!.positions, trunc: b?.W ? b.W.cols : null, rib: b?.C ? b.C.cols : null };
  });
  return dims;
}

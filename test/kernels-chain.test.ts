// nearestChain (Wasm) against a plain-TS greedy nearest-neighbour chain: random and adversarial
// bitsets (duplicates, ties, all equal, one row, a single 64-bit word, sizes not multiples of 32).
import { beforeAll, describe, expect, it } from 'vitest';
import { initKernels, nearestChain } from '../src/linalg/index.js';
import { Rng } from '../src/rng.js';

beforeAll(async () => {
  await initKernels();
});

function popcount(v: number): number {
  let c = 0;
  for (let x = v >>> 0; x; x &= x - 1) c++;
  return c;
}

/** The reference: scan every unused row, strict < (ties keep the lowest index). */
function refChain(bits: Int32Array, rows: number, words: number): Int32Array {
  const order = new Int32Array(rows);
  const used = new Uint8Array(rows);
  if (rows === 0) return order;
  used[0] = 1;
  let cur = 0;
  for (let k = 1; k < rows; k++) {
    let best = -1;
    let bd = Infinity;
    for (let j = 0; j < rows; j++) {
      if (used[j]) continue;
      let d = 0;
      for (let w = 0; w < words; w++) d += popcount(bits[cur * words + w]! ^ bits[j * words + w]!);
      if (d < bd) {
        bd = d;
        best = j;
      }
    }
    used[best] = 1;
    order[k] = best;
    cur = best;
  }
  return order;
}

function randomBits(rng: Rng, rows: number, words: number, density: number, distinct: number): Int32Array {
  // `distinct` prototypes, each row a prototype with a few flipped bits (clusters, many ties)
  const protos = Array.from({ length: distinct }, () => {
    const p = new Int32Array(words);
    for (let i = 0; i < words * 32; i++) if (rng.uniform() < density) p[i >> 5]! |= 1 << (i & 31);
    return p;
  });
  const bits = new Int32Array(rows * words);
  for (let r = 0; r < rows; r++) {
    bits.set(protos[rng.int(distinct)]!, r * words);
    const flips = rng.int(3);
    for (let f = 0; f < flips; f++) {
      const i = rng.int(words * 32);
      bits[r * words + (i >> 5)]! ^= 1 << (i & 31);
    }
  }
  return bits;
}

describe('nearestChain', () => {
  it('matches the plain-TS greedy chain on random clustered bitsets', () => {
    const rng = new Rng(7, 1);
    for (const [rows, words, density, distinct] of [
      [1, 2, 0.5, 1],
      [2, 2, 0.5, 2],
      [37, 2, 0.3, 5],
      [200, 16, 0.5, 12],
      [513, 8, 0.1, 40],
      [300, 4, 0.9, 300],
    ] as const) {
      const bits = randomBits(rng, rows, words, density, distinct);
      const got = nearestChain(bits, rows, words);
      expect(Array.from(got)).toEqual(Array.from(refChain(bits, rows, words)));
      // a permutation of the rows, starting at row 0
      expect(got[0]).toBe(0);
      expect(new Set(got).size).toBe(rows);
    }
  });

  it('breaks ties by the lowest row index (all rows equal → identity order)', () => {
    const rows = 50;
    const bits = new Int32Array(rows * 2).fill(-1);
    expect(Array.from(nearestChain(bits, rows, 2))).toEqual(Array.from({ length: rows }, (_, i) => i));
  });

  it('handles zero rows and refuses bad shapes', () => {
    expect(nearestChain(new Int32Array(0), 0, 2).length).toBe(0);
    expect(() => nearestChain(new Int32Array(6), 2, 3)).toThrow(/words must be even/);
    expect(() => nearestChain(new Int32Array(3), 2, 2)).toThrow(/bits has 3 entries, expected 4/);
  });
});

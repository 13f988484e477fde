import { log } from '../linalg/index.js';

/** Standard 32-bit Mersenne Twister (MT19937, init_genrand) and torch's CPU randperm (spec §1.5.1). */
export class MT19937 {
  private readonly mt = new Uint32Array(624);
  private idx = 625;

  constructor(seed: number) {
    const mt = this.mt;
    mt[0] = seed >>> 0;
    for (let i = 1; i < 624; i++) {
      const prev = mt[i - 1]! ^ (mt[i - 1]! >>> 30);
      // 1812433253 * prev + i, mod 2^32 (split multiply to stay exact)
      mt[i] = (Math.imul(1812433253, prev) + i) >>> 0;
    }
    this.idx = 624;
  }

  /** init_by_array(key) (the reference MT19937 seeding CPython's random.seed uses). */
  static fromArray(key: readonly number[]): MT19937 {
    const m = new MT19937(19650218);
    const mt = m.mt;
    const N = 624;
    let i = 1;
    let j = 0;
    const mul = (a: number, b: number) => Math.imul(a, b) >>> 0;
    for (let k = Math.max(N, key.length); k > 0; k--) {
      const prev = mt[i - 1]! ^ (mt[i - 1]! >>> 30);
      mt[i] = ((mt[i]! ^ mul(prev, 1664525)) + (key[j]! >>> 0) + j) >>> 0;
      i++;
      j++;
      if (i >= N) {
        mt[0] = mt[N - 1]!;
        i = 1;
      }
      if (j >= key.length) j = 0;
    }
    for (let k = N - 1; k > 0; k--) {
      const prev = mt[i - 1]! ^ (mt[i - 1]! >>> 30);
      mt[i] = ((mt[i]! ^ mul(prev, 1566083941)) - i) >>> 0;
      i++;
      if (i >= N) {
        mt[0] = mt[N - 1]!;
        i = 1;
      }
    }
    mt[0] = 0x80000000;
    m.idx = 624;
    return m;
  }

  nextUint32(): number {
    const mt = this.mt;
    if (this.idx >= 624) {
      for (let k = 0; k < 624; k++) {
        const y = (mt[k]! & 0x80000000) | (mt[(k + 1) % 624]! & 0x7fffffff);
        let v = mt[(k + 397) % 624]! ^ (y >>> 1);
        if (y & 1) v ^= 0x9908b0df;
        mt[k] = v >>> 0;
      }
      this.idx = 0;
    }
    let y = mt[this.idx++]!;
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    y ^= y >>> 18;
    return y >>> 0;
  }
}

/** torch.randperm(n, generator=manual_seed(seed)) on CPU: z = next_uint32 mod (n−i), swap r[i], r[i+z]. */
export function mt19937Randperm(n: number, seed: number): Int32Array {
  if (!Number.isInteger(n) || n < 0) throw new Error(`randperm: n must be a non-negative integer, got ${n}`);
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new Error(`randperm: seed must be a 32-bit non-negative integer, got ${seed}`);
  const mt = new MT19937(seed);
  const r = new Int32Array(n);
  for (let i = 0; i < n; i++) r[i] = i;
  for (let i = 0; i < n - 1; i++) {
    const z = mt.nextUint32() % (n - i);
    const t = r[i]!;
    r[i] = r[i + z]!;
    r[i + z] = t;
  }
  return r;
}

/**
 * Python's `random` module on MT19937: `random.seed(n)` (init_by_array over the 32-bit words of
 * |n|), `getrandbits`, `_randbelow` and `random.sample(range(n), k)` exactly as CPython draws them.
 */
export class PythonRandom {
  private readonly mt: MT19937;
  constructor(seed: number) {
    if (!Number.isSafeInteger(seed)) throw new Error(`PythonRandom: seed must be an integer, got ${seed}`);
    const a = Math.abs(seed);
    const key: number[] = [];
    let v = a;
    do {
      key.push(v % 0x100000000);
      v = Math.floor(v / 0x100000000);
    } while (v > 0);
    this.mt = MT19937.fromArray(key);
  }
  /** getrandbits(k) for 0 < k ≤ 53 (words little-endian, the last one shifted right). */
  getrandbits(k: number): number {
    if (k <= 32) return this.mt.nextUint32() >>> (32 - k);
    const lo = this.mt.nextUint32();
    const hi = this.mt.nextUint32() >>> (64 - k);
    return hi * 0x100000000 + lo;
  }
  /** _randbelow_with_getrandbits(n): rejection sampling on n.bit_length() bits. */
  randbelow(n: number): number {
    let k = 0; // n.bit_length()
    for (let t = n; t > 0; t = Math.floor(t / 2)) k++;
    let r = this.getrandbits(k);
    while (r >= n) r = this.getrandbits(k);
    return r;
  }
  /** random.sample(range(n), k), in draw order (CPython's pool or set branch). */
  sample(n: number, k: number): number[] {
    if (!Number.isInteger(k) || k < 0 || k > n) throw new Error(`sample larger than population or is negative (k = ${k}, n = ${n})`);
    let setsize = 21;
    if (k > 5) setsize += 4 ** Math.ceil(log(k * 3) / log(4));
    const result: number[] = new Array<number>(k);
    if (n <= setsize) {
      const pool = Array.from({ length: n }, (_, i) => i);
      for (let i = 0; i < k; i++) {
        const j = this.randbelow(n - i);
        result[i] = pool[j]!;
        pool[j] = pool[n - i - 1]!;
      }
    } else {
      const selected = new Set<number>();
      for (let i = 0; i < k; i++) {
        let j = this.randbelow(n);
        while (selected.has(j)) j = this.randbelow(n);
        selected.add(j);
        result[i] = j;
      }
    }
    return result;
  }
}

/** The reference's subset: sorted(random.sample(range(n), k)) after random.seed(seed) (spec §1.5.1). */
export function pythonSampleSorted(n: number, k: number, seed: number): Int32Array {
  return Int32Array.from(new PythonRandom(seed).sample(n, k)).sort();
}

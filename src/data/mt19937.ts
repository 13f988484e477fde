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

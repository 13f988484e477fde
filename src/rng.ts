/**
 * Seeded counter-based RNG (Philox4x32-10, Salmon et al. 2011). A stream is (seed, key2) and a
 * 64-bit counter; every draw is a pure function of (seed, stream, counter), so results never depend
 * on how work is split across workers: derive a stream per shard or per (batch, probe), not per worker.
 * Only integer arithmetic happens here; transformations that need transcendental functions
 * (normals) live beside the Wasm math (src/linalg).
 */

const M0 = 0xd2511f53;
const M1 = 0xcd9e8d57;
const W0 = 0x9e3779b9;
const W1 = 0xbb67ae85;

/** One Philox4x32-10 block: counter (c0..c3), key (k0, k1) → 4 uint32 written to out. */
export function philox4x32(
  c0: number,
  c1: number,
  c2: number,
  c3: number,
  k0: number,
  k1: number,
  out: Uint32Array,
): void {
  for (let r = 0; r < 10; r++) {
    const p0 = mul32(M0, c0);
    const p1 = mul32(M1, c2);
    const n0 = (p1.hi ^ c1 ^ k0) >>> 0;
    const n1 = p1.lo;
    const n2 = (p0.hi ^ c3 ^ k1) >>> 0;
    const n3 = p0.lo;
    c0 = n0;
    c1 = n1;
    c2 = n2;
    c3 = n3;
    k0 = (k0 + W0) >>> 0;
    k1 = (k1 + W1) >>> 0;
  }
  out[0] = c0;
  out[1] = c1;
  out[2] = c2;
  out[3] = c3;
}

/** Exact 32×32 → 64-bit product as (hi, lo), using 16-bit limbs (no precision loss). */
function mul32(a: number, b: number): { hi: number; lo: number } {
  const a0 = a & 0xffff;
  const a1 = a >>> 16;
  const b0 = b & 0xffff;
  const b1 = b >>> 16;
  const p00 = a0 * b0;
  const p01 = a0 * b1;
  const p10 = a1 * b0;
  const p11 = a1 * b1;
  const mid = (p00 >>> 16) + (p01 & 0xffff) + (p10 & 0xffff);
  const lo = ((mid << 16) | (p00 & 0xffff)) >>> 0;
  const hi = (p11 + (p01 >>> 16) + (p10 >>> 16) + (mid >>> 16)) >>> 0;
  return { hi, lo };
}

/**
 * A deterministic stream of random numbers for (seed, stream). Draws are indexed by a counter that
 * starts at 0; `at(counter)` jumps anywhere in O(1).
 */
export class Rng {
  private readonly k0: number;
  private readonly k1: number;
  private readonly s0: number;
  private readonly s1: number;
  private counter = 0; // block counter
  private readonly buf = new Uint32Array(4);
  private pos = 4;

  constructor(seed: number, stream: number = 0) {
    if (!Number.isInteger(seed) || !Number.isInteger(stream) || seed < 0 || stream < 0) {
      throw new Error(`Rng: seed and stream must be non-negative integers, got seed=${seed}, stream=${stream}`);
    }
    this.k0 = seed >>> 0;
    this.k1 = Math.floor(seed / 4294967296) >>> 0;
    this.s0 = stream >>> 0;
    this.s1 = Math.floor(stream / 4294967296) >>> 0;
  }

  /** Position the stream at a given 32-bit-word index. */
  seek(word: number): this {
    this.counter = Math.floor(word / 4);
    this.pos = 4;
    const skip = word % 4;
    for (let i = 0; i < skip; i++) this.nextUint32();
    return this;
  }

  nextUint32(): number {
    if (this.pos === 4) {
      const c = this.counter++;
      philox4x32(c >>> 0, Math.floor(c / 4294967296) >>> 0, this.s0, this.s1, this.k0, this.k1, this.buf);
      this.pos = 0;
    }
    return this.buf[this.pos++]!;
  }

  /** Uniform in [0, 1) with 53 random bits. */
  uniform(): number {
    const hi = this.nextUint32() >>> 5; // 27 bits
    const lo = this.nextUint32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** Uniform integer in [0, n) without modulo bias (n ≤ 2^32). */
  int(n: number): number {
    if (!(n >= 1 && n <= 4294967296 && Number.isInteger(n))) throw new Error(`Rng.int: bad bound ${n}`);
    const limit = 4294967296 - (4294967296 % n);
    for (;;) {
      const x = this.nextUint32();
      if (x < limit) return x % n;
    }
  }

  /** ±1 with probability 1/2 each (spec §5.4a: +1 if uniform > 0.5). */
  sign(): number {
    return this.uniform() > 0.5 ? 1 : -1;
  }

  /** Fill `out` with ±1 draws. */
  fillSigns(out: Float64Array): Float64Array {
    for (let i = 0; i < out.length; i++) out[i] = this.sign();
    return out;
  }

  /** Fill `out` with uniforms in [0, 1). */
  fillUniform(out: Float64Array): Float64Array {
    for (let i = 0; i < out.length; i++) out[i] = this.uniform();
    return out;
  }
}

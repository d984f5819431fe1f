/**
 * Seeded pseudo-random numbers. Seeds are parameters, never globals: every function that draws random
 * numbers takes an `Rng` (or a seed) and sub-streams are derived by name, so adding a draw in one place
 * does not shift the numbers drawn in another.
 *
 * Generator: xoshiro128** (Blackman & Vigna, "Scrambled linear pseudorandom number generators",
 * ACM TOMS 2021, Sec. 4), 128-bit state, period 2^128 - 1. Its state is filled from the 32-bit seed by
 * SplitMix32 (the 32-bit variant of Steele, Lea & Flood, "Fast splittable pseudorandom number
 * generators", OOPSLA 2014), as the xoshiro authors recommend for seeding.
 */
export class Rng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;
  private spare: number | null = null;
  readonly seed: number;

  constructor(seed: number) {
    if (!Number.isInteger(seed)) throw new Error(`internal error: seed must be an integer, got ${seed}`);
    this.seed = seed;
    [this.s0, this.s1, this.s2, this.s3] = xoshiroSeedState(seed);
  }

  /** Uniform 32-bit unsigned integer. */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5) >>> 0, 7), 9) >>> 0;
    const t = (this.s1 << 9) >>> 0;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    this.s0 >>>= 0;
    this.s1 >>>= 0;
    this.s2 >>>= 0;
    return result;
  }

  /** Uniform in [0, 1) with 53 bits of resolution. */
  uniform(): number {
    const hi = this.nextUint32() >>> 5; // 27 bits
    const lo = this.nextUint32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** Uniform in [lo, hi). */
  range(lo: number, hi: number): number {
    return lo + (hi - lo) * this.uniform();
  }

  /** Uniform integer in [0, n). Rejection sampling, so it has no modulo bias. */
  int(n: number): number {
    if (!(n >= 1 && n <= 0x100000000 && Number.isInteger(n))) {
      throw new Error(`internal error: Rng.int needs an integer 1..2^32, got ${n}`);
    }
    const limit = 0x100000000 - (0x100000000 % n);
    for (;;) {
      const r = this.nextUint32();
      if (r < limit) return r % n;
    }
  }

  /** Standard normal draw (Marsaglia polar method; Marsaglia & Bray, SIAM Review 6(3), 1964). */
  normal(): number {
    if (this.spare !== null) {
      const s = this.spare;
      this.spare = null;
      return s;
    }
    for (;;) {
      const u = 2 * this.uniform() - 1;
      const v = 2 * this.uniform() - 1;
      const s = u * u + v * v;
      if (s > 0 && s < 1) {
        const m = Math.sqrt((-2 * Math.log(s)) / s);
        this.spare = v * m;
        return u * m;
      }
    }
  }

  /** True with probability p. */
  bernoulli(p: number): boolean {
    return this.uniform() < p;
  }

  /** Index drawn with probability proportional to `weights` (non-negative, not all zero). */
  categorical(weights: readonly number[]): number {
    let total = 0;
    for (const w of weights) total += w;
    let u = this.uniform() * total;
    for (let i = 0; i < weights.length; i++) {
      u -= weights[i]!;
      if (u < 0) return i;
    }
    return weights.length - 1;
  }

  /** In-place Fisher–Yates shuffle; returns the same array. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = items[i]!;
      items[i] = items[j]!;
      items[j] = tmp;
    }
    return items;
  }

  /**
   * An independent stream for a named purpose: `rng.derive('splits')`. Depends only on this Rng's seed
   * and the name, not on how many numbers have been drawn, so streams never shift each other.
   */
  derive(name: string | number): Rng {
    return new Rng(deriveSeed(this.seed, name));
  }
}

/**
 * The four 32-bit words of xoshiro128**'s state for `seed` (unsigned, modulo 2^32), filled by SplitMix32:
 * the state `new Rng(seed)` starts from (src/core/gaussian.ts runs the same stream inline).
 */
export function xoshiroSeedState(seed: number): [number, number, number, number] {
  let x = seed >>> 0;
  const next = (): number => {
    x = (x + 0x9e3779b9) >>> 0;
    let z = x;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
  return [next(), next(), next(), next()];
}

/** 32-bit seed for a named sub-stream: FNV-1a over the parent seed and the name, then mixed. */
export function deriveSeed(seed: number, name: string | number): number {
  let h = 0x811c9dc5;
  const text = `${seed >>> 0}/${name}`;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d) >>> 0;
  return (h ^ (h >>> 12)) >>> 0;
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

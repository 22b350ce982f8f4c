// A small seeded PRNG for reproducible experiments (fuzzing, randomized measurement order). Never for
// secrets: keys come from node:crypto. sfc32 (Chris Doty-Humphrey's "small fast counting" generator, as in
// PractRand), seeded through splitmix32 so that nearby seeds give unrelated streams.

/** The largest seed accepted: seeds are whole numbers that survive a round trip through JSON. */
export const MAX_SEED = Number.MAX_SAFE_INTEGER;

export class Prng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number) {
    if (!Number.isSafeInteger(seed) || seed < 0) throw new Error('prng: seed must be a whole number 0..2^53-1');
    let s = (seed % 0x100000000) >>> 0;
    const hi = Math.floor(seed / 0x100000000) >>> 0;
    // splitmix32: four well-mixed words from the 53-bit seed.
    const next = (): number => {
      s = (s + 0x9e3779b9) | 0;
      let z = s ^ hi;
      z = Math.imul(z ^ (z >>> 16), 0x21f0aaad);
      z = Math.imul(z ^ (z >>> 15), 0x735a2d97);
      return (z ^ (z >>> 15)) >>> 0;
    };
    this.a = next();
    this.b = next();
    this.c = next();
    this.d = next();
    for (let i = 0; i < 12; i++) this.u32();
  }

  /** A uniform 32-bit unsigned integer. */
  u32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** A uniform integer in 0..n-1 (n ≤ 2^32), without modulo bias. */
  below(n: number): number {
    if (!(n >= 1 && n <= 0x100000000)) throw new Error('prng: below(n) needs 1 ≤ n ≤ 2^32');
    const limit = 0x100000000 - (0x100000000 % n);
    for (;;) {
      const x = this.u32();
      if (x < limit) return x % n;
    }
  }

  /** A uniform integer in lo..hi, inclusive. */
  int(lo: number, hi: number): number {
    return lo + this.below(hi - lo + 1);
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.u32() < p * 0x100000000;
  }

  /** One element of a non-empty array. */
  pick<T>(a: readonly T[]): T {
    return a[this.below(a.length)];
  }

  /** Fills b with random bytes and returns it. */
  fill(b: Uint8Array): Uint8Array {
    let i = 0;
    for (; i + 4 <= b.length; i += 4) {
      const x = this.u32();
      b[i] = x;
      b[i + 1] = x >>> 8;
      b[i + 2] = x >>> 16;
      b[i + 3] = x >>> 24;
    }
    if (i < b.length) {
      const x = this.u32();
      for (let k = 0; i < b.length; i++, k += 8) b[i] = x >>> k;
    }
    return b;
  }

  bytes(n: number): Uint8Array {
    return this.fill(new Uint8Array(n));
  }

  /** Fisher–Yates, in place. */
  shuffle<T>(a: T[]): T[] {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.below(i + 1);
      const t = a[i];
      a[i] = a[j];
      a[j] = t;
    }
    return a;
  }
}

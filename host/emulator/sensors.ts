// Simulated sensors and the board's random numbers. Readings are smooth and plausible, not measured:
// a temperature that drifts slowly around 21 °C, analog pins that wander in 0..1.
// Randomness is a fixed-seed generator restarted at every boot, like Math.random/E.hwRand on Espruino's
// Linux build (DESIGN.md §3): firmware must never make secrets on the board, and here it would show.

/** xorshift32 from a fixed seed: the same sequence after every boot. */
export class FixedSeedRandom {
  private s: number;
  constructor(seed = 0x2545f491) {
    this.s = seed >>> 0 || 1;
  }
  /** A 32-bit signed integer (E.hwRand's range). */
  int32(): number {
    let x = this.s;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.s = x >>> 0;
    return x | 0;
  }
  /** A float in [0, 1). */
  float(): number {
    return (this.int32() >>> 0) / 4294967296;
  }
}

export class Sensors {
  private noise: FixedSeedRandom;
  constructor(
    private readonly clock: () => number,
    seed = 1,
  ) {
    this.noise = new FixedSeedRandom(0x9e3779b9 ^ seed);
  }

  /** °C: a 10-minute sine of ±1.5 °C around 21 °C plus ±0.05 °C of noise. */
  temperature(): number {
    const t = this.clock();
    return Math.round((21 + 1.5 * Math.sin((2 * Math.PI * t) / 600) + (this.noise.float() - 0.5) * 0.1) * 100) / 100;
  }

  /** 0..1: each pin its own slow sine, clamped. */
  analog(pin: number): number {
    const t = this.clock();
    const v = 0.5 + 0.4 * Math.sin((2 * Math.PI * t) / (60 + 7 * pin) + pin) + (this.noise.float() - 0.5) * 0.01;
    return Math.min(1, Math.max(0, v));
  }

  /** 0 or 1: a pin that toggles every (pin + 1) × 5 seconds. */
  digital(pin: number): number {
    return Math.floor(this.clock() / ((pin + 1) * 5)) % 2;
  }
}

/** A pin argument as a number: 5, "D5", or a value whose String() is "D5". */
export function pinNumber(pin: unknown): number {
  if (typeof pin === 'number') return pin;
  const m = /^[A-Za-z]*(\d+)$/.exec(String(pin));
  return m ? Number(m[1]) : 0;
}

// Whole-number command-line options with a range, for the measurement commands (fuzz, attack, bench).
import { inputError } from '../errors.js';

/** A commander option parser: a whole number in lo..hi, else an input error naming the option. */
export function intOption(name: string, lo: number, hi: number) {
  return (v: string): number => {
    const s = v.replace(/_/g, '');
    if (!/^\d+$/.test(s)) throw inputError(`--${name}: not a whole number: ${JSON.stringify(v)}`);
    const n = Number(s);
    if (!Number.isSafeInteger(n) || n < lo || n > hi) throw inputError(`--${name}: must be ${lo}..${hi}, got ${v}`);
    return n;
  };
}

/** 1234567 → "1,234,567" for tables. */
export function grouped(n: number): string {
  return Math.round(n).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

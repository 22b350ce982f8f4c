// Numeric command-line options with a range, for the measurement and board commands. A value out of its range
// (or no number at all) is bad input, exit 3, as docs/ARCHITECTURE.md "Exit codes" has it.
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

/** A commander option parser: a number in [lo, hi] (lo itself refused with aboveLo), else an input error naming the option. */
export function numberOption(name: string, lo: number, hi: number, aboveLo = false) {
  return (v: string): number => {
    const n = v.trim() === '' ? NaN : Number(v);
    if (!Number.isFinite(n) || n < lo || (aboveLo && n === lo) || n > hi) {
      throw inputError(`--${name}: expected a number in ${aboveLo ? '(' : '['}${lo}, ${hi}], got ${JSON.stringify(v)}`);
    }
    return n;
  };
}

/** A commander option parser: a whole number above 0 (no upper bound of its own), else an input error naming the option. */
export function positiveWholeOption(name: string) {
  return (v: string): number => {
    if (!/^\d+$/.test(v) || !Number.isSafeInteger(Number(v)) || Number(v) <= 0) throw inputError(`--${name}: expected a positive whole number, got ${JSON.stringify(v)}`);
    return Number(v);
  };
}

/** 1234567 → "1,234,567" for tables. */
export function grouped(n: number): string {
  return Math.round(n).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

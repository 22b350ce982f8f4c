// The statistics the timing demonstration reports: order statistics, Welch's t-test, and a normal tail.

/** Sorted copy (numeric). */
export function sorted(x: ArrayLike<number>): Float64Array {
  return Float64Array.from(x).sort();
}

/** The q-quantile (0..1) of sorted data, linear interpolation between order statistics. */
export function quantileSorted(s: ArrayLike<number>, q: number): number {
  if (s.length === 0) return NaN;
  const h = (s.length - 1) * q;
  const lo = Math.floor(h);
  const hi = Math.min(s.length - 1, lo + 1);
  return s[lo] + (h - lo) * (s[hi] - s[lo]);
}

export function median(x: ArrayLike<number>): number {
  return quantileSorted(sorted(x), 0.5);
}

export function mean(x: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i];
  return s / x.length;
}

/** Sample variance (n - 1). */
export function variance(x: ArrayLike<number>, m = mean(x)): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += (x[i] - m) * (x[i] - m);
  return s / (x.length - 1);
}

/** Complementary error function, Numerical Recipes `erfcc` (Chebyshev fit, relative error < 1.2e-7). */
export function erfc(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r = t * Math.exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 +
    t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
  return x >= 0 ? r : 2 - r;
}

/** Two-sided p-value of a standard normal statistic. */
export function twoSidedNormalP(z: number): number {
  return erfc(Math.abs(z) / Math.SQRT2);
}

export interface WelchResult {
  t: number;
  /** Welch–Satterthwaite degrees of freedom. */
  df: number;
  /** Two-sided p, normal approximation of Student's t (accurate for the df these runs have, in the thousands). */
  p: number;
  meanA: number;
  meanB: number;
  nA: number;
  nB: number;
}

/** Welch's unequal-variances t-test of mean(A) − mean(B). */
export function welch(a: ArrayLike<number>, b: ArrayLike<number>): WelchResult {
  const ma = mean(a);
  const mb = mean(b);
  const va = variance(a, ma) / a.length;
  const vb = variance(b, mb) / b.length;
  const se = Math.sqrt(va + vb);
  const t = se > 0 ? (ma - mb) / se : 0;
  const df = (va + vb) ** 2 / ((va * va) / (a.length - 1) + (vb * vb) / (b.length - 1));
  return { t, df, p: twoSidedNormalP(t), meanA: ma, meanB: mb, nA: a.length, nB: b.length };
}

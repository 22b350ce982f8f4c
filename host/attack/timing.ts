// Timing attack demonstration on the tag comparison (DESIGN.md §4: "tag, compared in constant time").
// An attacker who can time the comparison tries to learn the first tag byte(s) of a forged frame: for the
// byte at position j, a guess that is right makes an early-exit comparer look at one more byte.
//
// Two experiments per comparer, each with `trials` timed measurements (one measurement = `batch` calls),
// in a random order from a seeded PRNG so that drift and noise fall on every class alike:
//  - leak test (TVLA-style "fixed vs random"): each trial is, at random, the right first byte or a random
//    wrong one; Welch's t-test between the two classes after dropping measurements above the pooled
//    `trim` quantile (preemptions, GC). |t| > 4.5 is the usual "leaks" threshold (Goodwill et al., 2011).
//  - recovery: rounds over all 256 candidates in shuffled order; the attacker guesses the candidate with
//    the highest interquartile mean time. We report the true byte's rank among the 256 (1 = guessed) and
//    its z-score against the other candidates' interquartile means. With no leak the rank is uniform: P(rank ≤ r) = r/256.
//
// The naive comparers need help to leak measurably in JavaScript: one byte compared is well under a
// nanosecond, far below the noise of a timer read and a shared VM. The "amplified" comparers do `work`
// iterations of arithmetic per byte compared, a stand-in for a slow device or a long compare. A
// constant-time comparer with the same per-byte work is measured as the control.
import { constantTimeEqual } from '../../core/bytes.js';
import { cpus, loadavg } from 'node:os';
import { Prng } from '../fuzz/prng.js';
import { median, quantileSorted, sorted, welch } from './stats.js';

export type Comparer = (a: Uint8Array, b: Uint8Array) => boolean;

/** Keeps the per-byte work observable so the JIT cannot drop it. */
let sink = 0;

function spin(n: number): void {
  let x = sink;
  for (let k = 0; k < n; k++) x = (Math.imul(x, 1103515245) + 12345) | 0;
  sink = x;
}

/** The mistake: returns at the first differing byte. */
export function naiveEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** naiveEqual with `work` iterations per byte looked at: the early exit, made large enough to time. */
export function amplifiedNaive(work: number): Comparer {
  return (a, b) => {
    if (a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) {
      spin(work);
      if (a[i] !== b[i]) return false;
    }
    return true;
  };
}

/** core constantTimeEqual's loop with the same per-byte work: the control for amplifiedNaive. */
export function amplifiedConstantTime(work: number): Comparer {
  return (a, b) => {
    if (a.length !== b.length) return false;
    let d = 0;
    for (let i = 0; i < a.length; i++) {
      spin(work);
      d |= a[i] ^ b[i];
    }
    return d === 0;
  };
}

export const COMPARERS = ['naive-amplified', 'constant-time-amplified', 'naive', 'constant-time'] as const;
export type ComparerName = (typeof COMPARERS)[number];

interface ComparerSpec {
  name: ComparerName;
  description: string;
  constantTime: boolean;
  amplified: boolean;
  fn: Comparer;
}

function comparer(name: ComparerName, work: number): ComparerSpec {
  switch (name) {
    case 'naive-amplified':
      return { name, constantTime: false, amplified: true, fn: amplifiedNaive(work), description: `early exit, ${work} work iterations per byte compared` };
    case 'constant-time-amplified':
      return { name, constantTime: true, amplified: true, fn: amplifiedConstantTime(work), description: `no early exit, ${work} work iterations per byte (control)` };
    case 'naive':
      return { name, constantTime: false, amplified: false, fn: naiveEqual, description: 'early exit, plain JavaScript loop' };
    case 'constant-time':
      return { name, constantTime: true, amplified: false, fn: constantTimeEqual, description: 'core/bytes.ts constantTimeEqual, unmodified (what the verifier runs)' };
  }
}

export interface TimingOptions {
  /** Timed measurements per experiment per comparer. */
  trials: number;
  /** Seeds the secret tag and the measurement order. */
  seed: number;
  /** Calls per timed measurement (default 16). */
  batch?: number;
  /** Work iterations per compared byte in the amplified comparers (default 50). */
  work?: number;
  /** Tag bytes to recover one after another in the recovery experiment (default 1). */
  bytes?: number;
  comparers?: readonly ComparerName[];
  /** |t| above which the leak test says "distinguishable" (default 4.5). */
  threshold?: number;
  /** Measurements above this pooled quantile are dropped before the t-test (default 0.95). */
  trim?: number;
  onProgress?: (label: string, done: number, total: number) => void;
}

export interface LeakTest {
  test: string;
  t: number;
  df: number;
  p: number;
  threshold: number;
  distinguishable: boolean;
  /** Measurements kept after trimming, per class. */
  nRight: number;
  nWrong: number;
  /** Trimmed mean per call, ns, for a right and a wrong first byte. */
  meanRightNs: number;
  meanWrongNs: number;
  medianRightNs: number;
  medianWrongNs: number;
}

export interface Recovery {
  position: number;
  trueByte: number;
  guess: number;
  /** 1 = the true byte had the highest interquartile mean time of the 256 candidates. */
  rank: number;
  /** P(rank this good or better) with no leak: rank/256. */
  rankP: number;
  /** (interquartile mean of the true byte − mean of the others') / their standard deviation. */
  scoreTrueNs: number;
  scoreOthersNs: number;
  z: number;
  recovered: boolean;
  samplesPerCandidate: number;
}

export interface ComparerReport {
  name: ComparerName;
  description: string;
  constantTime: boolean;
  amplified: boolean;
  /** Median time of one call, ns (measurement / batch). */
  nsPerCall: number;
  leak: LeakTest;
  recovery: Recovery[];
}

export interface TimingReport {
  trials: number;
  batch: number;
  work: number;
  seed: number;
  threshold: number;
  trim: number;
  platform: { node: string; cpu: string; cores: number; loadavg: number[] };
  comparers: ComparerReport[];
  /** Did any naive comparer leak / did any constant-time one? */
  verdict: { naiveDistinguishable: boolean; constantTimeDistinguishable: boolean };
}

const TAG_BYTES = 16;
const SLICE = 4096;

function measure(fn: Comparer, a: Uint8Array, b: Uint8Array, batch: number): number {
  let hits = 0;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < batch; i++) if (fn(a, b)) hits++;
  const t1 = process.hrtime.bigint();
  sink ^= hits;
  return Number(t1 - t0);
}

/** Welch's t between right-first-byte and wrong-first-byte trials, interleaved at random. */
function leakTest(c: ComparerSpec, tag: Uint8Array, rng: Prng, o: Required<Omit<TimingOptions, 'onProgress' | 'comparers'>> & Pick<TimingOptions, 'onProgress'>): LeakTest {
  const cand = new Uint8Array(TAG_BYTES);
  const time = new Float64Array(o.trials);
  const right = new Uint8Array(o.trials);
  for (let i = 0; i < o.trials; i++) {
    if (i % SLICE === 0) o.onProgress?.(`${c.name}: leak test`, i, o.trials);
    // No branch on the class: what runs just before the timer is the same instructions for both classes.
    const wrong = (tag[0] + 1 + rng.below(255)) & 255;
    const bit = rng.u32() >>> 31;
    const mask = -bit & 255;
    cand[0] = (tag[0] & mask) | (wrong & ~mask);
    right[i] = bit;
    time[i] = measure(c.fn, tag, cand, o.batch);
  }
  const cut = quantileSorted(sorted(time), o.trim);
  const a: number[] = [];
  const b: number[] = [];
  for (let i = 0; i < o.trials; i++) {
    if (time[i] > cut) continue;
    (right[i] ? a : b).push(time[i] / o.batch);
  }
  const w = welch(a, b);
  return {
    test: `Welch's t-test, right vs wrong first tag byte, measurements above the pooled ${o.trim} quantile dropped`,
    t: w.t, df: w.df, p: w.p, threshold: o.threshold, distinguishable: Math.abs(w.t) > o.threshold,
    nRight: a.length, nWrong: b.length, meanRightNs: w.meanA, meanWrongNs: w.meanB, medianRightNs: median(a), medianWrongNs: median(b),
  };
}

/** The attacker's side: guess bytes 0..bytes-1 in turn, each from the candidate with the highest median time. */
function recover(c: ComparerSpec, tag: Uint8Array, rng: Prng, o: Required<Omit<TimingOptions, 'onProgress' | 'comparers'>> & Pick<TimingOptions, 'onProgress'>): Recovery[] {
  const out: Recovery[] = [];
  const cand = new Uint8Array(TAG_BYTES);
  const rounds = Math.max(1, Math.ceil(o.trials / 256));
  const order = Array.from({ length: 256 }, (_, i) => i);
  for (let j = 0; j < Math.min(o.bytes, TAG_BYTES); j++) {
    const samples = Array.from({ length: 256 }, () => new Float64Array(rounds));
    for (let r = 0; r < rounds; r++) {
      if (r % Math.max(1, Math.floor(SLICE / 256)) === 0) o.onProgress?.(`${c.name}: recover byte ${j}`, r * 256, rounds * 256);
      rng.shuffle(order);
      for (const v of order) {
        cand[j] = v;
        samples[v][r] = measure(c.fn, tag, cand, o.batch);
      }
    }
    // Score = each candidate's interquartile mean (the mean of its middle half): robust to a preemption or a GC
    // landing in a few of a candidate's samples, and not tied the way medians of quantised timings are.
    const lo = Math.floor(rounds / 4);
    const hi = Math.max(lo + 1, rounds - lo);
    const score = samples.map((x) => {
      const s = sorted(x);
      let sum = 0;
      for (let i = lo; i < hi; i++) sum += s[i];
      return sum / (hi - lo) / o.batch;
    });
    const byTime = rng.shuffle(order.slice()).sort((x, y) => score[y] - score[x]);
    const guess = byTime[0];
    const truth = tag[j];
    const rank = byTime.indexOf(truth) + 1;
    const others = score.filter((_, v) => v !== truth);
    const m = others.reduce((s, x) => s + x, 0) / others.length;
    const sd = Math.sqrt(others.reduce((s, x) => s + (x - m) ** 2, 0) / (others.length - 1));
    out.push({
      position: j, trueByte: truth, guess, rank, rankP: rank / 256, scoreTrueNs: score[truth], scoreOthersNs: m,
      z: sd > 0 ? (score[truth] - m) / sd : 0, recovered: guess === truth, samplesPerCandidate: rounds,
    });
    // The attacker keeps its guess, right or wrong, and moves on to the next byte.
    cand[j] = guess;
  }
  return out;
}

/** Runs the demonstration. Synchronous on purpose: nothing else runs while it measures. */
export function runTiming(opts: TimingOptions): TimingReport {
  const o = {
    trials: opts.trials, seed: opts.seed, batch: opts.batch ?? 16, work: opts.work ?? 50, bytes: opts.bytes ?? 1,
    threshold: opts.threshold ?? 4.5, trim: opts.trim ?? 0.95, onProgress: opts.onProgress,
  };
  if (!(Number.isSafeInteger(o.trials) && o.trials >= 512)) throw new Error('timing: trials must be a whole number ≥ 512');
  const rng = new Prng(o.seed);
  // The secret: a 16-byte tag, as the verifier would compute it. Its value does not matter, only that the attacker does not have it.
  const tag = rng.bytes(TAG_BYTES);
  const names = opts.comparers ?? COMPARERS;
  const reports: ComparerReport[] = [];
  for (const name of names) {
    const c = comparer(name, o.work);
    // Warm-up: every path of the comparer compiled before the first measurement counts.
    const w = new Uint8Array(TAG_BYTES);
    for (let i = 0; i < 20000; i++) {
      w[0] = i & 1 ? tag[0] : tag[0] ^ 1;
      w[1] = i & 2 ? tag[1] : tag[1] ^ 1;
      measure(c.fn, tag, w, 1);
    }
    const leak = leakTest(c, tag, rng, o);
    const recovery = recover(c, tag, rng, o);
    reports.push({
      name: c.name, description: c.description, constantTime: c.constantTime, amplified: c.amplified,
      nsPerCall: (leak.medianRightNs + leak.medianWrongNs) / 2, leak, recovery,
    });
  }
  return {
    trials: o.trials, batch: o.batch, work: o.work, seed: o.seed, threshold: o.threshold, trim: o.trim,
    platform: { node: process.version, cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, loadavg: loadavg().map((x) => Math.round(x * 100) / 100) },
    comparers: reports,
    verdict: {
      naiveDistinguishable: reports.some((r) => !r.constantTime && r.leak.distinguishable),
      constantTimeDistinguishable: reports.some((r) => r.constantTime && r.leak.distinguishable),
    },
  };
}

// `sealmq attack timing`: the statistics are right on known data, core constantTimeEqual is not
// distinguishable, and an early-exit comparer is. Only verdicts are asserted, never a duration.
import test from 'ava';
import { amplifiedConstantTime, amplifiedNaive, naiveEqual, runTiming } from '../host/attack/timing.js';
import { erfc, median, quantileSorted, twoSidedNormalP, welch } from '../host/attack/stats.js';
import { sealmq } from './cli-helpers.js';

test('stats: erfc, normal p-values, quantiles and Welch\'s t on textbook values', (t) => {
  t.true(Math.abs(erfc(0) - 1) < 1e-7);
  t.true(Math.abs(erfc(1) - 0.157299207050285) < 1e-7);
  t.true(Math.abs(erfc(2) / 0.004677734981047 - 1) < 1e-6);
  t.true(Math.abs(erfc(-1) - 1.842700792949715) < 1e-7);
  t.true(Math.abs(twoSidedNormalP(1.959963985) - 0.05) < 1e-6);
  t.true(twoSidedNormalP(8) < 1e-14 && twoSidedNormalP(8) > 0);
  t.is(median([5, 1, 3]), 3);
  t.is(median([4, 1, 3, 2]), 2.5);
  t.is(quantileSorted([10, 20, 30, 40, 50], 0.9), 46);
  const w = welch([1, 2, 3, 4, 5], [2, 4, 6, 8, 10]);
  t.true(Math.abs(w.t - -1.8973665961) < 1e-9);
  t.true(Math.abs(w.df - 5.8823529412) < 1e-9);
});

test('the comparers compare: equal, unequal at any position, unequal length', (t) => {
  for (const eq of [naiveEqual, amplifiedNaive(3), amplifiedConstantTime(3)]) {
    const a = new Uint8Array([1, 2, 3, 4]);
    t.true(eq(a, new Uint8Array([1, 2, 3, 4])));
    for (let i = 0; i < 4; i++) {
      const b = new Uint8Array(a);
      b[i] ^= 0x40;
      t.false(eq(a, b));
    }
    t.false(eq(a, new Uint8Array([1, 2, 3])));
  }
});

test('core constantTimeEqual and its amplified twin are not distinguishable (|t| ≤ 4.5 at 20,000 trials)', (t) => {
  const r = runTiming({ trials: 20_000, seed: 314159, comparers: ['constant-time', 'constant-time-amplified'], work: 20 });
  for (const c of r.comparers) {
    t.true(Math.abs(c.leak.t) <= c.leak.threshold, `${c.name}: t = ${c.leak.t}`);
    t.false(c.leak.distinguishable);
    t.is(c.recovery.length, 1);
    t.true(c.recovery[0].rank >= 1 && c.recovery[0].rank <= 256);
    t.true(c.leak.nRight > 8000 && c.leak.nWrong > 8000, 'both classes well filled after trimming');
  }
  t.false(r.verdict.constantTimeDistinguishable);
});

test('the amplified early-exit comparer leaks its first tag byte (up to 3 attempts on a busy machine)', (t) => {
  let last = '';
  for (let attempt = 0; attempt < 3; attempt++) {
    const r = runTiming({ trials: 5_000, seed: 2718 + attempt, comparers: ['naive-amplified'], work: 50 });
    const c = r.comparers[0];
    last = `t = ${c.leak.t}, rank ${c.recovery[0].rank}`;
    if (c.leak.distinguishable && c.leak.t > 0 && c.recovery[0].recovered) {
      t.true(r.verdict.naiveDistinguishable);
      return;
    }
  }
  t.fail(`no leak seen in 3 attempts (${last})`);
});

test('sealmq attack timing --json: one object with the statistics; exit 0', async (t) => {
  const r = await sealmq(['attack', 'timing', '--trials', '2048', '--seed', '1', '--comparer', 'constant-time', 'naive-amplified', '--json']);
  const j = JSON.parse(r.stdout);
  t.is(r.code, j.verdict.constantTimeDistinguishable ? 1 : 0, r.stderr);
  t.is(j.trials, 2048);
  t.deepEqual(j.comparers.map((c: any) => c.name), ['constant-time', 'naive-amplified']);
  for (const c of j.comparers) {
    for (const k of ['t', 'df', 'p', 'threshold', 'meanRightNs', 'meanWrongNs']) t.is(typeof c.leak[k], 'number', k);
    t.is(typeof c.recovery[0].rank, 'number');
  }
  const table = await sealmq(['attack', 'timing', '--trials', '1024', '--seed', '1', '--comparer', 'constant-time']);
  t.regex(table.stdout, /Welch's t-test/);
  t.regex(table.stdout, /RANK OF TRUE BYTE/);
  t.is((await sealmq(['attack', 'timing', '--trials', '10'])).code, 3);
});

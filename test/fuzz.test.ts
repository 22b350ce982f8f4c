// `sealmq fuzz`: the seeded PRNG is reproducible, 10,000 mutants neither crash nor pass the Verifier,
// and the fuzzer itself notices a verifier that throws, accepts a forgery or writes state on a reject.
import test from 'ava';
import { runFuzz } from '../host/fuzz/fuzz.js';
import { Prng } from '../host/fuzz/prng.js';
import { Verifier, VerifierOptions, VerifyResult } from '../host/verifier/verifier.js';
import { sealmq } from './cli-helpers.js';

test('the PRNG is deterministic per seed, unrelated across nearby seeds, and uniform enough', (t) => {
  const a = new Prng(42);
  const b = new Prng(42);
  const c = new Prng(43);
  const xs = Array.from({ length: 1000 }, () => a.u32());
  t.deepEqual(Array.from({ length: 1000 }, () => b.u32()), xs);
  const ys = Array.from({ length: 1000 }, () => c.u32());
  t.true(xs.filter((x, i) => x === ys[i]).length < 3);
  const counts = new Array(16).fill(0);
  const r = new Prng(7);
  for (let i = 0; i < 160000; i++) counts[r.below(16)]++;
  // Chi-square with 15 degrees of freedom: 99.99th percentile ≈ 44.3; a generous bound, not a flaky one.
  const chi = counts.reduce((s, n) => s + (n - 10000) ** 2 / 10000, 0);
  t.true(chi < 60, `chi-square ${chi}`);
  t.throws(() => new Prng(-1));
  t.throws(() => new Prng(1.5));
});

test('10,000 mutants: 0 crashes, 0 accepted, nothing past the tag, no state written on a reject', async (t) => {
  const r = await runFuzz({ frames: 10_000, seed: 20260101 });
  t.is(r.crashes, 0, JSON.stringify(r.samples));
  t.is(r.acceptedMutants, 0, JSON.stringify(r.samples));
  t.is(r.tagPasses, 0);
  t.is(r.stateWritesOnReject, 0);
  t.deepEqual(r.originals, { fed: 59, accepted: 59 });
  t.true(r.ok);
  const total = Object.values(r.rejectedByReason).reduce((a, b) => a + b, 0);
  t.is(total, 10_000, 'every mutant was rejected with a reason');
  // The mutations reach every step of the receiver order (DESIGN.md §4), not only the first checks.
  for (const reason of ['bad-topic', 'unknown-device', 'revoked', 'malformed', 'wrong-direction', 'old-epoch', 'stale', 'unknown-epoch', 'bad-tag', 'replay']) {
    t.true((r.rejectedByReason[reason] ?? 0) > 0, reason);
  }
  for (const [kind, m] of Object.entries(r.byMutation)) if (kind !== 'huge') t.true(m.fed > 0, kind);
});

test('the same seed gives the same run', async (t) => {
  const a = await runFuzz({ frames: 3000, seed: 99 });
  const b = await runFuzz({ frames: 3000, seed: 99 });
  t.deepEqual(a, b);
});

test('the fuzzer catches a verifier that throws, accepts forgeries or writes state when it rejects', async (t) => {
  const broken = (o: VerifierOptions) => {
    const v = new Verifier(o);
    return {
      handle(topic: string, payload: Uint8Array): VerifyResult {
        if (payload.length === 0) throw new Error('boom');
        const r = v.handle(topic, payload);
        if (!r.ok && r.reason === 'malformed' && payload.length === 3) o.replay.put('fuzz-a', 'up', { epoch: 0, window: { top: 1, hi: 0, lo: 1 } });
        if (!r.ok && r.reason === 'bad-tag' && payload[0] === 1 && payload[payload.length - 1] === 0x5a) {
          return { ok: true, device: r.device!, topic, epoch: 0, counter: 1, t: null, kind: 'other', message: {}, latencyMs: null };
        }
        return r;
      },
    };
  };
  const r = await runFuzz({ frames: 20_000, seed: 5, makeVerifier: broken });
  t.false(r.ok);
  t.true(r.crashes > 0);
  t.true(r.acceptedMutants > 0);
  t.true(r.stateWritesOnReject > 0);
  t.true(r.samples.length > 0 && r.samples.length <= 10);
  t.regex(r.samples.map((s) => s.detail).join('\n'), /threw: Error: boom/);
});

test('sealmq fuzz --json: one object, exit 0; the table names the seed to rerun with', async (t) => {
  const j = await sealmq(['fuzz', '--frames', '2000', '--seed', '11', '--json']);
  t.is(j.code, 0, j.stderr);
  const r = JSON.parse(j.stdout);
  t.is(r.frames, 2000);
  t.is(r.seed, 11);
  t.is(r.crashes, 0);
  t.is(r.acceptedMutants, 0);
  const h = await sealmq(['fuzz', '--frames', '500', '--seed', '11']);
  t.is(h.code, 0, h.stderr);
  t.regex(h.stdout, /sealmq fuzz --frames 500 --seed 11/);
  t.regex(h.stdout, /REJECTED BY REASON/);
  t.regex(h.stdout, /result: PASS/);
  const bad = await sealmq(['fuzz', '--frames', 'lots']);
  t.is(bad.code, 3);
});

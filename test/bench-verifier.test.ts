// `sealmq bench verifier`: the report's shape and that the verifier opened every frame of every pass.
// No speed is asserted (DESIGN.md §8: budgets are measured by benchmarks, not by timed tests).
import test from 'ava';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runVerifierBench } from '../host/bench/verifier.js';
import { haveMosquitto } from '../host/pipeline/mosquitto.js';
import { sealmq, tmpHome } from './cli-helpers.js';

test('runVerifierBench: medians, ratio, and every frame opened in every verifier pass', (t) => {
  const r = runVerifierBench({ frames: 600, devices: 7, runs: 3, warmupFrames: 100 });
  for (const k of ['framesPerSecond', 'ceilingFramesPerSecond', 'keyedCeilingFramesPerSecond'] as const) t.true(r[k] > 0, k);
  t.true(Math.abs(r.ratio - r.framesPerSecond / r.ceilingFramesPerSecond) < 0.01);
  t.is(r.budgetFramesPerSecond, 100_000);
  t.is(r.meetsBudget, r.framesPerSecond >= 100_000);
  t.true(r.allOpened);
  t.is(r.frames, 600);
  t.is(r.devices, 7);
  t.is(r.frameBytes % 16, (7 + 16) % 16, 'header + whole blocks + tag');
  const verifierRuns = r.detail.filter((d) => d.kind === 'verifier');
  t.deepEqual(verifierRuns.map((d) => d.run), [0, 1, 2, 3]);
  t.deepEqual(verifierRuns.map((d) => d.opened), [100, 600, 600, 600]);
  for (const kind of ['ceiling', 'ceiling-keyed']) t.is(r.detail.filter((d) => d.kind === kind).length, 4, kind);
});

test('sealmq bench verifier --json writes verifier.json and verifier.csv under --out', async (t) => {
  const out = join(tmpHome('sealmq-bench-'), 'results');
  const run = await sealmq(['bench', 'verifier', '--frames', '500', '--devices', '5', '--runs', '1', '--json', '--out', out]);
  t.is(run.code, 0, run.stderr);
  const j = JSON.parse(run.stdout);
  for (const k of ['framesPerSecond', 'ceilingFramesPerSecond', 'ratio']) t.is(typeof j[k], 'number', k);
  t.true(j.allOpened);
  t.true(j.detail.filter((d: any) => d.kind === 'verifier').every((d: any) => d.opened === d.frames));
  t.deepEqual(JSON.parse(readFileSync(join(out, 'verifier.json'), 'utf8')).frames, 500);
  const csv = readFileSync(join(out, 'verifier.csv'), 'utf8').trim().split('\n');
  t.is(csv[0], 'kind,run,frames,seconds,cpu_seconds,frames_per_second,cpu_frames_per_second,opened');
  t.is(csv.length, 1 + 3 * 2, 'a warm-up and one run of each kind');
  const table = await sealmq(['bench', 'verifier', '--frames', '300', '--runs', '1', '--out', out]);
  t.is(table.code, 0, table.stderr);
  t.regex(table.stdout, /FRAMES\/S/);
  t.regex(table.stdout, /budget \(DESIGN\.md §8\)/);
  t.true(existsSync(join(out, 'verifier.csv')));
  t.is((await sealmq(['bench', 'verifier', '--frames', '0'])).code, 3);
  const shots = await sealmq(['bench', 'verifier', '--through-broker', '--shots', '0']);
  t.is(shots.code, 3);
  t.regex(shots.stderr, /--shots/);
});

test('sealmq bench verifier --through-broker: synthetic publishers (own process, --packets-per-write) through the embedded broker and Mosquitto to the registry verifier in its own process, in shots', async (t) => {
  const out = join(tmpHome('sealmq-bench-broker-'), 'results');
  const run = await sealmq(['bench', 'verifier', '--frames', '300', '--runs', '1', '--through-broker', '--publishers', '6', '--publisher-frames', '15', '--shots', '3', '--packets-per-write', '4', '--json', '--out', out], {}, 110_000);
  t.is(run.code, 0, run.stderr);
  const j = JSON.parse(run.stdout);
  const b = j.broker;
  // 15 frames a publisher a shot, 4 packets a write: the last write of each holds 3, and every frame still arrives
  // whole; three shots, the counters going on (a shot that started again at 1 would be refused as replays).
  t.like(b, { broker: 'embedded', publishers: 6, framesPerPublisher: 15, packetsPerWrite: 4, frames: 270, accepted: 270, rejected: 0 });
  t.is(b.shots.length, 3);
  t.deepEqual(b.shots.map((s: { accepted: number }) => s.accepted), [90, 90, 90]);
  const fps = b.shots.map((s: { framesPerSecond: number }) => s.framesPerSecond).sort((x: number, y: number) => x - y);
  t.is(b.framesPerSecond, fps[1], 'the median shot');
  t.deepEqual(b.framesPerSecondRange, { min: fps[0], max: fps[2] });
  t.regex(b.method, /4 packets a write/);
  t.true(b.commits >= 1 && b.commits < 270, `commits ${b.commits}: grouped, not one per frame`);
  t.true(b.publishSeconds >= 0);
  const m = j.mosquitto;
  if (haveMosquitto()) {
    t.like(m, { broker: 'mosquitto', frames: 270, accepted: 270, rejected: 0 });
    t.true(m.framesPerSecond > 0);
  } else t.regex(m.skipped, /mosquitto not found/);
  t.true(b.framesPerSecond > 0 && b.verifierFramesPerSecond > 0);
  t.is(b.ratioToInProcess, Math.round((b.framesPerSecond / j.framesPerSecond) * 1000) / 1000);
  for (const at of ['before', 'peak', 'after']) {
    t.true(b.memory[at].heapUsed > 0 && b.memory[at].rss > 0, at);
  }
  t.true(b.memory.peak.heapUsed >= b.memory.before.heapUsed);
  t.true(b.memory.samples >= 1);
  const csv = readFileSync(join(out, 'verifier.csv'), 'utf8').trim().split('\n');
  for (const shot of [1, 2, 3]) t.true(csv.some((row) => row.startsWith(`broker,${shot},90,`)), `CSV row of shot ${shot}`);
  if (haveMosquitto()) t.regex(csv[csv.length - 1], /^broker-mosquitto,3,90,/);
  const svg = readFileSync(join(out, 'verifier.svg'), 'utf8');
  t.regex(svg, /^<svg/);
  t.regex(svg, /via the broker \(6 devices, 3 shots\)/);
});

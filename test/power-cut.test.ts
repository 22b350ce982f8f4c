// "Save every K" (RFC 8613 App. B.1.1) under fire: the firmware on an emulated board has its power cut at
// random moments, some of them in the middle of a Storage write (a torn record), and no counter is ever
// sent twice; Storage is written about once per K frames, not once per frame.
import test from 'ava';
import { runPowerCutCampaign } from '../host/emulator/power-cuts.js';

test('200 random power cuts, some during a Storage write: zero reused counters, every frame genuine', async (t) => {
  const r = await runPowerCutCampaign({ cuts: 200, k: 4, tornShare: 0.35, maxUpMs: 180 });
  t.log(`seed ${r.seed}: ${r.cuts} cuts (${r.tornCuts} torn), ${r.frames} frames, highest counter ${r.highestCounter}, ${r.skippedCounters} skipped, ${r.storageWrites} Storage writes`);
  t.is(r.reusedCounters, 0, `seed ${r.seed}`);
  t.is(r.badFrames, 0);
  t.true(r.tornCuts >= 30, `cuts during a Storage write: ${r.tornCuts}`);
  t.true(r.frames > r.cuts, 'the board kept publishing between cuts');
  t.true(r.skippedCounters <= (r.cuts + 1) * r.k, 'at most K counters lost per cut');
});

test('without cuts, Storage is written once per K frames (plus one block at boot)', async (t) => {
  const r = await runPowerCutCampaign({ cuts: 0, k: 8, tailMs: 2500 });
  t.log(`${r.frames} frames, ${r.storageWrites} Storage writes, K=${r.k}`);
  t.true(r.frames >= 16);
  t.is(r.reusedCounters, 0);
  t.true(r.storageWrites <= Math.ceil(r.frames / r.k) + 1, `${r.storageWrites} writes for ${r.frames} frames`);
  t.true(r.storageWrites >= Math.floor(r.frames / r.k));
});

test('sealmq emulate --cuts: the campaign as a command, JSON, exit 0 with no reuse', async (t) => {
  const { sealmq } = await import('./cli-helpers.js');
  const r = await sealmq(['emulate', '--cuts', '8', '--seed', '42', '--k', '4', '--json']);
  t.is(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  t.like(j, { cuts: 8, reusedCounters: 0, badFrames: 0, k: 4, seed: 42 });
  t.true(j.frames > 0);
});

// The whole pipeline on QEMU boards (issue 12, item 4): Espruino's own STM32 firmware on qemu-system-arm,
// flashed and provisioned through its console, its MQTT over Serial2 through a `sealmq gateway` each, the
// embedded broker and the verifier; `sealmq demo --target qemu` and `sealmq bench latency --target qemu`
// as a user runs them. Without qemu-system-arm or the firmware: skipped, reason in the title
// (SEALMQ_REQUIRE_QEMU=1, as in CI, makes that a failure instead). No time is asserted.
import test from 'ava';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { qemuTools } from '../host/qemu/bin.js';
import { sealmq, tmpHome } from './cli-helpers.js';

const { tools, why: reason } = qemuTools();
const maybe = tools ? test.serial : test.skip;
const why = tools ? '' : ` — skipped: ${reason}`;

maybe(`sealmq demo --target qemu --boards 2: every sealed frame verified, none rejected, a command round trip, the frames relayed by each board's gateway${why}`, async (t) => {
  t.timeout(240_000);
  const r = await sealmq(['demo', '--target', 'qemu', '--boards', '2', '--seconds', '20', '--json'], {}, 230_000);
  t.is(r.code, 0, r.stderr.slice(-3000));
  const s = JSON.parse(r.stdout.trim().split('\n').pop()!);
  t.log(`demo on QEMU boards: ${JSON.stringify(s)}`);
  t.is(s.boards, 2);
  t.true(s.sealed > 0);
  t.is(s.verified, s.sealed);
  t.is(s.rejected, 0);
  t.true(s.commandRoundTrip);
  // Every sealed reading reached the broker through a gateway (plus each session's CONNECT and SUBSCRIBE).
  t.is(s.gateways.count, 2);
  t.true(s.gateways.packetsToBroker >= s.sealed + 4, JSON.stringify(s.gateways));
  t.true(s.gateways.packetsToBoards >= 2 + 1, 'CONNACK and SUBACK to each board, and the command');
  t.regex(r.stderr, /QEMU boards/);
});

maybe(`sealmq bench latency --target qemu: sealed and research plain pipelines on QEMU boards in one run, clocks aligned over the console${why}`, async (t) => {
  t.timeout(240_000);
  const out = join(tmpHome('sealmq-qemu-lat-'), 'out');
  const r = await sealmq(['bench', 'latency', '--target', 'qemu', '--boards', '1', '--seconds', '5', '--warmup', '1', '--json', '--out', out], {}, 230_000);
  t.is(r.code, 0, r.stderr.slice(-3000));
  const j = JSON.parse(readFileSync(join(out, 'latency.json'), 'utf8'));
  t.regex(j.target, /^QEMU Cortex-M4 boards/);
  t.true(j.plain.n > 0 && j.sealed.n > 0, `plain ${j.plain.n}, sealed ${j.sealed.n}`);
  t.is(j.plain.rejected + j.sealed.rejected, 0);
  // The boards' clocks were set from the console: each one's correction is reported with its round trip.
  t.is(j.clocks.length, 2);
  for (const c of j.clocks) t.is(typeof c.correctedMs, 'number');
  t.log(`QEMU latency p50: plain ${j.plain.p50Ms} ms, sealed ${j.sealed.p50Ms} ms; clocks ${JSON.stringify(j.clocks)}`);
});

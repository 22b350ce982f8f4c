// `sealmq attack --pipeline both --runs N --json` (issue 5, item 2; docs/SECURITY.md "The attack table"):
// the whole suite, as a user runs it, on the embedded broker and on a real Mosquitto (the OS package,
// started by the pipeline on a free loopback port). Every attack succeeds N/N on the research plain
// pipeline and 0/N on the sealed one; counter rollback is detected N/N. The same table on both brokers: on
// Mosquitto the sealed pipeline runs the files of `sealmq broker --emit-mosquitto`, whose plugin checks the
// boards' TOTP logins as the embedded broker does, so a sniffed login and a client id takeover are refused.
import test, { ExecutionContext } from 'ava';
import { haveMosquitto, MOSQUITTO_BIN } from '../host/pipeline/mosquitto.js';
import { ATTACKS, frameCounter, recoverClear, tamperPlain, tamperSealed } from '../host/attack/pipelines.js';
import { parseConnect, parsePublish, splitPackets } from '../host/attack/relay.js';
import { publishPacket } from '../host/mqtt/packets.js';
import type { AttackReport } from '../host/attack/pipelines.js';
import { checkSealed } from './attack-helpers.js';
import { sealmq } from './cli-helpers.js';

const N = 5;

async function suite(t: ExecutionContext, broker: 'embedded' | 'mosquitto'): Promise<AttackReport> {
  const r = await sealmq(['attack', '--pipeline', 'both', '--broker', broker, '--runs', String(N), '--json'], {}, 400_000);
  if (r.code !== 0 && r.code !== 1) throw new Error(`sealmq attack exited ${r.code}: ${r.stderr.trim()}`);
  const report = JSON.parse(r.stdout) as AttackReport;
  t.log(`${broker}: ${report.seconds} s`);
  for (const x of report.results) t.log(`${x.pipeline.padEnd(6)} ${x.attack.padEnd(21)} succeeded ${x.succeeded}/${N} detected ${x.detected}/${N}  ${JSON.stringify(x.reasons)}`);
  t.is(report.runs, N);
  t.is(report.broker, broker);
  t.deepEqual(new Set(report.results.map((x) => x.attack)), new Set(ATTACKS), 'every attack ran');
  return Object.assign(report, { code: r.code });
}

function check(t: ExecutionContext, report: AttackReport): void {
  const get = (a: string, p: string) => report.results.find((x) => x.attack === a && x.pipeline === p)!;
  for (const a of ATTACKS) t.is(get(a, 'plain').succeeded, N, `plain ${a} succeeds every run`);
  checkSealed(t, report, N);
  t.is((report as AttackReport & { code: number }).code, 0, 'exit 0: nothing succeeded on the sealed pipeline');
}

test.serial('sealmq attack on the embedded broker: every attack succeeds on plain, none on sealed, rollback detected', async (t) => {
  t.timeout(420_000);
  check(t, await suite(t, 'embedded'));
});

test.serial('sealmq attack on a real Mosquitto (TOTP through sealmq\'s plugin): the same table', async (t) => {
  t.timeout(420_000);
  if (!haveMosquitto()) {
    t.fail(`mosquitto (${MOSQUITTO_BIN}) does not run here: install the OS package (apt install mosquitto; .ci/run does) or set SEALMQ_MOSQUITTO`);
    return;
  }
  check(t, await suite(t, 'mosquitto'));
});

test('sealmq attack --help names the attacks, --target and the exit code; a bad --pipeline, --target or --interval is a usage error; attack timing --json is timing\'s', async (t) => {
  const h = await sealmq(['attack', '--help']);
  t.is(h.code, 0);
  t.regex(h.stdout, /--pipeline/);
  t.regex(h.stdout, /timing/);
  t.regex(h.stdout, /Exit code/);
  t.regex(h.stdout, /--target <target>/);
  t.regex(h.stdout, /"qemu"/);
  const bad = await sealmq(['attack', '--pipeline', 'open']);
  t.is(bad.code, 2);
  t.is((await sealmq(['attack', '--target', 'esp32'])).code, 2);
  t.is((await sealmq(['attack', '--interval', '0.01'])).code, 3, 'faster than the firmware\'s 0.05 s: a value out of its range');
  // The suite's --json belongs to `attack`; after a subcommand's name it is the subcommand's.
  const timing = await sealmq(['attack', 'timing', '--trials', '600', '--json']);
  t.is(JSON.parse(timing.stdout).trials, 600);
});

test('the relay splits a byte stream into whole MQTT packets and reads CONNECT credentials and PUBLISH topics', (t) => {
  const body = Buffer.concat([Buffer.from([0, 4]), Buffer.from('MQTT'), Buffer.from([4, 0xc2, 0, 60]),
    Buffer.from([0, 7]), Buffer.from('node-01'), Buffer.from([0, 7]), Buffer.from('node-01'), Buffer.from([0, 8]), Buffer.from('12345678')]);
  const connect = Buffer.concat([Buffer.from([0x10, body.length]), body]);
  const pub = publishPacket('sealmq/node-01/up', Buffer.alloc(200, 7));
  const stream = Buffer.concat([connect, pub]);
  const first = splitPackets(stream.subarray(0, connect.length + 2))!;
  t.is(first.packets.length, 1, 'a packet whose length bytes are cut is kept for later');
  const all = splitPackets(stream)!;
  t.is(all.packets.length, 2);
  t.is(all.rest.length, 0);
  t.deepEqual({ ...parseConnect(all.packets[0])!, password: parseConnect(all.packets[0])!.password!.toString() },
    { clientId: 'node-01', username: 'node-01', password: '12345678' });
  const p = parsePublish(all.packets[1])!;
  t.is(p.topic, 'sealmq/node-01/up');
  t.is(p.payload.length, 200);
  t.is(splitPackets(Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01])), null, 'a 5-byte Remaining Length is malformed');
});

test('tamper flips one bit in the field of the run: each sealed field in turn; a plain value stays valid JSON', (t) => {
  const frame = Buffer.alloc(7 + 32 + 16, 0);
  frame[0] = 1;
  const fields = Array.from({ length: 6 }, (_, i) => tamperSealed(frame, i));
  t.deepEqual(fields.map((f) => f.field), ['version', 'flags', 'epoch', 'counter', 'ciphertext', 'tag']);
  for (const f of fields) {
    let bits = 0;
    for (let j = 0; j < frame.length; j++) bits += [...(f.frame[j] ^ frame[j]).toString(2)].filter((c) => c === '1').length;
    t.is(bits, 1, f.field);
  }
  t.is(frameCounter(Buffer.from([1, 0, 0, 0, 0, 1, 2])), 258);
  const m = { t: 1763860000.125, d: { temp: 21.5, a0: 0.25, free: 9000 }, plain: true };
  const changed = [0, 1, 2, 3].map((i) => tamperPlain(m, i));
  t.deepEqual(changed.map((c) => c.field), ['t', 'temp', 'a0', 'free']);
  t.is(changed[0].message.t, 1763860000.124);
  t.is((changed[1].message.d as { temp: number }).temp, 21.4);
  t.is((changed[3].message.d as { free: number }).free, 9001);
  t.is(recoverClear(Buffer.from(JSON.stringify(changed[2].message)))!.plain, true);
  t.is(recoverClear(frame), null, 'a sealed frame is not readable JSON');
});

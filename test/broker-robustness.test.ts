// The embedded broker against hostile bytes on raw TCP sockets (issue 5, item 5): bogus first packets,
// a huge announced Remaining Length, oversized packets, many half-open connections. Each time the broker
// closes the connection, stays up (a good client still logs in and publishes after), and its memory stays
// bounded. Memory is measured in this process (the broker runs here): heapUsed and RSS growth over the
// whole flood, after a GC when --expose-gc is available, against bounds stated below.
import test, { ExecutionContext } from 'ava';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect as tcpConnect, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { DEVICE_TOTP_DIGITS, DEVICE_TOTP_STEP, totp } from '../core/otp.js';
import { remainingLength } from '../host/mqtt/packets.js';
import { BrokerEvent, RunningBroker, startBroker } from '../host/broker/broker.js';
import { HeaderScanner } from '../host/broker/packet-guard.js';
import { sha1 } from '../host/protocol/node-primitives.js';
import { openRegistry, Registry } from '../host/registry/registry.js';

const PASS = 'robustness test passphrase';
const VIEWER_PW = 'viewer password, long enough';
const ID = 'node-01';

interface World { reg: Registry; broker: RunningBroker; events: BrokerEvent[]; seed: Uint8Array; clock: { now: number } }

async function world(t: ExecutionContext, o: { connectTimeoutMs?: number } = {}): Promise<World> {
  const home = mkdtempSync(join(tmpdir(), 'sealmq-robust-'));
  const clock = { now: Date.UTC(2026, 0, 1, 12, 0, 10) };
  const reg = openRegistry({ home, clock: () => clock.now });
  await reg.unlock(PASS);
  const seed = new Uint8Array(randomBytes(20));
  reg.recordProvisioned({ id: ID, root: new Uint8Array(randomBytes(32)), otpSeed: seed, actor: 'test' });
  await reg.addOperator({ name: 'vera', role: 'viewer', password: VIEWER_PW, actor: 'test' });
  const events: BrokerEvent[] = [];
  const broker = await startBroker({
    registry: reg, listen: 'mqtt://127.0.0.1:0', clock: () => clock.now, onEvent: (e) => events.push(e),
    connectTimeoutMs: o.connectTimeoutMs, auditPerMinute: 50,
  });
  t.teardown(async () => {
    await broker.close();
    reg.close();
    rmSync(home, { recursive: true, force: true });
  });
  return { reg, broker, events, seed, clock };
}

/** Opens a raw socket, writes bytes, resolves when the broker closes it (or after ms: 'open'). */
function rawSend(w: World, bytes: Buffer | Buffer[], ms = 5000): Promise<'closed' | 'open'> {
  return new Promise((res) => {
    const s: Socket = tcpConnect(w.broker.port, '127.0.0.1', () => {
      for (const b of Array.isArray(bytes) ? bytes : [bytes]) s.write(b);
    });
    s.on('error', () => {});
    const timer = setTimeout(() => { s.destroy(); res('open'); }, ms);
    s.on('close', () => { clearTimeout(timer); res('closed'); });
    s.resume();
  });
}

/** A good device logs in and publishes a frame-sized payload; the viewer receives it. */
async function goodClientWorks(w: World): Promise<boolean> {
  const viewer = await mqtt.connectAsync(w.broker.url, { username: 'vera', password: VIEWER_PW, reconnectPeriod: 0, protocolVersion: 4 });
  try {
    await viewer.subscribeAsync('sealmq/+/up');
    const got = new Promise<boolean>((res) => {
      const timer = setTimeout(() => res(false), 5000);
      viewer.on('message', (topic) => { if (topic === `sealmq/${ID}/up`) { clearTimeout(timer); res(true); } });
    });
    const code = totp(sha1, 64, w.seed, w.clock.now / 1000, DEVICE_TOTP_STEP, DEVICE_TOTP_DIGITS);
    w.clock.now += DEVICE_TOTP_STEP * 1000;
    const dev = await mqtt.connectAsync(w.broker.url, { username: ID, password: code, clientId: ID, reconnectPeriod: 0, protocolVersion: 4 });
    try {
      await dev.publishAsync(`sealmq/${ID}/up`, Buffer.from(randomBytes(55)));
      return await got;
    } finally {
      await dev.endAsync();
    }
  } finally {
    await viewer.endAsync();
  }
}

/** Remaining Length bytes (§2.2.3), as the attack relay writes them. */
const rl = remainingLength;

const str = (s: string) => Buffer.concat([Buffer.from([s.length >> 8, s.length & 255]), Buffer.from(s, 'latin1')]);

function connectPacket(o: { name?: string; level?: number; flags?: number } = {}): Buffer {
  const body = Buffer.concat([str(o.name ?? 'MQTT'), Buffer.from([o.level ?? 4, o.flags ?? 0x02, 0, 60]), str('x')]);
  return Buffer.concat([Buffer.from([0x10]), rl(body.length), body]);
}

// A real collection before each reading, so the growth is what the broker keeps, not garbage not yet collected.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as (() => void) | undefined;
function memory(): { heap: number; rss: number } {
  gc?.();
  const m = process.memoryUsage();
  return { heap: m.heapUsed, rss: m.rss };
}

test('the fixed-header scanner refuses a non-CONNECT first packet, reserved types, 5-byte lengths and oversized packets, across chunks', (t) => {
  const feed = (max: number, ...chunks: number[][]) => {
    const s = new HeaderScanner(max);
    for (const c of chunks) {
      const r = s.feed(new Uint8Array(c));
      if (r) return r;
    }
    return null;
  };
  t.is(feed(100, [0x30, 0]), 'first-not-connect'); // PUBLISH first (MQTT-3.1.0-1)
  t.is(feed(100, [0xc0, 0]), 'first-not-connect'); // PINGREQ first
  t.is(feed(100, [0x00, 0]), 'reserved-type');
  t.is(feed(100, [0xf0, 0]), 'reserved-type');
  t.is(feed(1 << 30, [0x10, 0xff, 0xff, 0xff, 0xff, 0x01]), 'malformed-length');
  t.is(feed(1000, [0x10, 0xff, 0xff, 0xff, 0x7f]), 'too-large'); // 268,435,455 announced
  t.is(feed(1000, [0x10, 0xe6], [0x07]), 'too-large'); // 998 + 3 header bytes = 1001, the length split across chunks
  t.is(feed(1000, [0x10, 0xe5, 0x07]), null); // 997 + 3 = 1000: exactly the limit
  // A CONNECT of 2 body bytes split across chunks, then a PUBLISH whose header straddles chunks.
  t.is(feed(100, [0x10], [0x02, 0xaa], [0xbb, 0x30], [0x05, 1, 2, 3, 4, 5]), null);
  t.is(feed(100, [0x10, 0x00, 0x30, 0x64]), 'too-large'); // 100 + 2 > 100
  t.is(feed(100, [0x10, 0x00, 0xf0, 0x00]), 'reserved-type'); // later packets too
});

test.serial('bogus first packets, bad protocol names and levels, and garbage are closed; the broker stays up', async (t) => {
  t.timeout(60_000);
  const w = await world(t, { connectTimeoutMs: 2000 });
  const cases: [string, Buffer | Buffer[]][] = [
    ['PUBLISH before CONNECT', Buffer.concat([Buffer.from([0x30]), rl(12), str('sealmq/x'), Buffer.from('hi')])],
    ['SUBSCRIBE before CONNECT', Buffer.concat([Buffer.from([0x82]), rl(6), Buffer.from([0, 1]), str('#').subarray(0, 3), Buffer.from([0])])],
    ['PINGREQ before CONNECT', Buffer.from([0xc0, 0x00])],
    ['reserved packet type 0', Buffer.from([0x00, 0x00])],
    ['reserved packet type 15', Buffer.from([0xf0, 0x00])],
    ['protocol name "MQTX"', connectPacket({ name: 'MQTX' })],
    ['protocol level 9', connectPacket({ level: 9 })],
    ['reserved CONNECT flag bit 0 set (MQTT-3.1.2-3)', connectPacket({ flags: 0x03 })],
    ['a CONNECT shorter than its header says', Buffer.from([0x10, 0x04, 0x00, 0x04, 0x4d])],
    ['a 5-byte Remaining Length', Buffer.from([0x10, 0xff, 0xff, 0xff, 0xff, 0x01])],
    ['HTTP instead of MQTT', Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n')],
    ['TLS ClientHello bytes', Buffer.from([0x16, 0x03, 0x01, 0x00, 0xa5, 0x01, 0x00, 0x00, 0xa1, 0x03, 0x03])],
    ['random bytes', randomBytes(4096)],
  ];
  for (const [name, bytes] of cases) {
    t.is(await rawSend(w, bytes), 'closed', name);
  }
  t.true(await goodClientWorks(w), 'a good client logs in and publishes after the garbage');
  const refused = w.events.filter((e) => e.type === 'connection-refused').map((e) => e.reason);
  t.true(refused.includes('first-not-connect') && refused.includes('reserved-type') && refused.includes('malformed-length'), refused.join(','));
});

test.serial('a huge announced Remaining Length (268,435,455) and oversized packets are closed at the header, memory bounded', async (t) => {
  t.timeout(90_000);
  const w = await world(t);
  t.true(await goodClientWorks(w), 'warm-up');
  const before = memory();
  // 50 connections each announce the MQTT maximum, 268,435,455 bytes, and send 64 KiB of it: without the
  // guard, mqtt-packet would buffer every byte sent while waiting for the rest.
  const huge = await Promise.all(Array.from({ length: 50 }, () =>
    rawSend(w, [Buffer.concat([Buffer.from([0x10]), rl(268_435_455)]), randomBytes(65_536)])));
  t.true(huge.every((r) => r === 'closed'), 'every huge-length connection is closed');
  // An authenticated client sending one packet over the limit (a 100 KiB PUBLISH) is closed too.
  const code = totp(sha1, 64, w.seed, w.clock.now / 1000, DEVICE_TOTP_STEP, DEVICE_TOTP_DIGITS);
  w.clock.now += DEVICE_TOTP_STEP * 1000;
  const dev = await mqtt.connectAsync(w.broker.url, { username: ID, password: code, clientId: ID, reconnectPeriod: 0, protocolVersion: 4 });
  const closed = new Promise<void>((res) => dev.once('close', () => res()));
  dev.publish(`sealmq/${ID}/up`, Buffer.alloc(100 * 1024, 7));
  await closed;
  await dev.endAsync(true);
  // A CONNECT over the limit, sent whole (8 MiB of a 16 MiB announced one).
  t.is(await rawSend(w, [Buffer.concat([Buffer.from([0x10]), rl(16 << 20)]), Buffer.alloc(8 << 20, 1)]), 'closed');
  t.true(await goodClientWorks(w), 'a good client logs in and publishes after the flood');
  const after = memory();
  const heapGrowth = after.heap - before.heap;
  const rssGrowth = after.rss - before.rss;
  t.log(`sent ~11.3 MiB of oversized packets; heapUsed growth ${(heapGrowth / 1048576).toFixed(1)} MiB, RSS growth ${(rssGrowth / 1048576).toFixed(1)} MiB${gc ? '' : ' (no --expose-gc: not collected first)'}`);
  // Bounds: what was sent is ~11 MiB; a broker that buffered it would grow by at least that much.
  t.true(heapGrowth < 8 * 1048576, `heapUsed grew ${heapGrowth} bytes (bound 8 MiB)`);
  t.true(rssGrowth < 48 * 1048576, `RSS grew ${rssGrowth} bytes (bound 48 MiB)`);
  const reasons = new Set(w.events.filter((e) => e.type === 'connection-refused').map((e) => e.reason));
  t.true(reasons.has('too-large'), [...reasons].join(','));
});

test.serial('many half-open connections are closed at the connect timeout; the broker stays up and memory stays bounded', async (t) => {
  t.timeout(90_000);
  const w = await world(t, { connectTimeoutMs: 1500 });
  t.true(await goodClientWorks(w), 'warm-up');
  const before = memory();
  // 300 connections: 100 send nothing, 100 send half a CONNECT, 100 a full CONNECT header and a few bytes.
  const half = connectPacket().subarray(0, 6);
  const partial = Buffer.concat([Buffer.from([0x10]), rl(60_000), Buffer.alloc(100, 0)]);
  const results = await Promise.all(Array.from({ length: 300 }, (_, i) =>
    rawSend(w, i < 100 ? [] : i < 200 ? half : partial, 20_000)));
  const closed = results.filter((r) => r === 'closed').length;
  t.is(closed, 300, 'every half-open connection was closed by the broker');
  t.true(await goodClientWorks(w), 'a good client logs in and publishes after');
  const after = memory();
  const heapGrowth = after.heap - before.heap;
  const rssGrowth = after.rss - before.rss;
  t.log(`300 half-open connections; heapUsed growth ${(heapGrowth / 1048576).toFixed(1)} MiB, RSS growth ${(rssGrowth / 1048576).toFixed(1)} MiB`);
  t.true(heapGrowth < 8 * 1048576, `heapUsed grew ${heapGrowth} bytes (bound 8 MiB)`);
  t.true(rssGrowth < 48 * 1048576, `RSS grew ${rssGrowth} bytes (bound 48 MiB)`);
});

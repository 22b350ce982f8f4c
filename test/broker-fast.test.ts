// The embedded broker's short path for a device's QoS 0 PUBLISH (host/broker/fast-publish.ts): the same
// decisions as aedes' hooks, packets forwarded byte for byte and in order, anything else through aedes.
import test, { ExecutionContext } from 'ava';
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { IClientOptions, MqttClient } from 'mqtt';
import { DEVICE_TOTP_DIGITS, DEVICE_TOTP_STEP, totp } from '../core/otp.js';
import { sha1 } from '../host/protocol/node-primitives.js';
import { BrokerEvent, RunningBroker, startBroker } from '../host/broker/broker.js';
import { openRegistry, Registry } from '../host/registry/registry.js';

const PASS = 'broker fast path test passphrase';
const VIEWER_PW = 'viewer password, long enough';

interface World { reg: Registry; broker: RunningBroker; seeds: Record<string, Uint8Array>; events: BrokerEvent[]; clients: MqttClient[] }

async function world(t: ExecutionContext, fastPublish = true): Promise<World> {
  const home = mkdtempSync(join(tmpdir(), 'sealmq-broker-fast-'));
  const reg = openRegistry({ home });
  await reg.unlock(PASS);
  const seeds: Record<string, Uint8Array> = {};
  for (const id of ['node-01', 'node-02']) {
    seeds[id] = new Uint8Array(randomBytes(20));
    reg.recordProvisioned({ id, root: new Uint8Array(randomBytes(32)), otpSeed: seeds[id], actor: 'test' });
  }
  await reg.addOperator({ name: 'vera', role: 'viewer', password: VIEWER_PW, actor: 'test' });
  const events: BrokerEvent[] = [];
  const broker = await startBroker({ registry: reg, listen: 'mqtt://127.0.0.1:0', onEvent: (e) => events.push(e), fastPublish });
  const w: World = { reg, broker, seeds, events, clients: [] };
  t.teardown(async () => {
    for (const c of w.clients) c.end(true);
    await broker.close();
    reg.close();
  });
  return w;
}

async function connect(w: World, o: IClientOptions): Promise<MqttClient> {
  const c = await mqtt.connectAsync(w.broker.url, { reconnectPeriod: 0, connectTimeout: 20_000, protocolVersion: 4, clean: true, ...o });
  w.clients.push(c);
  return c;
}

const device = (w: World, id: string, o: IClientOptions = {}) =>
  connect(w, { username: id, clientId: id, password: totp(sha1, 64, w.seeds[id], Date.now() / 1000, DEVICE_TOTP_STEP, DEVICE_TOTP_DIGITS), ...o });

/** A PUBLISH packet as a device writes it: QoS 0, flags as given (0x30 = plain). */
function publish(topic: string, payload: Buffer, first = 0x30): Buffer {
  const t = Buffer.from(topic);
  let rem = 2 + t.length + payload.length;
  const len: number[] = [];
  do {
    len.push((rem % 128) | (rem >= 128 ? 128 : 0));
    rem = Math.floor(rem / 128);
  } while (rem > 0);
  return Buffer.concat([Buffer.from([first, ...len, t.length >> 8, t.length & 255]), t, payload]);
}

/** Collects what a viewer receives on sealmq/+/up: topic, payload (hex) and the retain flag. */
async function viewer(w: World, filters = ['sealmq/+/up']): Promise<{ got: { topic: string; payload: string; retain: boolean }[] }> {
  const v = await connect(w, { username: 'vera', password: VIEWER_PW });
  const out = { got: [] as { topic: string; payload: string; retain: boolean }[] };
  v.on('message', (topic, payload, packet) => out.got.push({ topic, payload: payload.toString('hex'), retain: packet.retain }));
  for (const f of filters) await v.subscribeAsync(f, { qos: 0 });
  return out;
}

const until = async (cond: () => boolean, ms = 10_000) => {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
};

test('a burst in one write, and packets cut across writes, reach the subscriber in order, byte for byte, by the short path', async (t) => {
  const w = await world(t);
  const v = await viewer(w);
  const d = await device(w, 'node-01');
  const payloads = Array.from({ length: 300 }, (_, i) => randomBytes(1 + (i * 37) % 300));
  const bytes = Buffer.concat(payloads.map((p) => publish('sealmq/node-01/up', p)));
  d.stream.write(bytes.subarray(0, 4000));
  // The rest in small pieces, cutting packets (and their headers) anywhere.
  for (let i = 4000; i < bytes.length; i += 7) {
    d.stream.write(bytes.subarray(i, Math.min(bytes.length, i + 7)));
    if (i % 700 === 0) await new Promise((r) => setImmediate(r));
  }
  await until(() => v.got.length >= payloads.length);
  t.deepEqual(v.got.map((g) => g.payload), payloads.map((p) => p.toString('hex')));
  t.true(v.got.every((g) => g.topic === 'sealmq/node-01/up' && !g.retain));
  t.true(w.broker.fastPublished() >= payloads.length - 5, `short path taken (${w.broker.fastPublished()})`);
});

test('a refused publish in the middle of a burst: what came before is delivered, the refusal audited, the connection closed, nothing after it forwarded', async (t) => {
  const w = await world(t);
  const v = await viewer(w);
  const d = await device(w, 'node-01');
  const closed = new Promise<void>((r) => d.once('close', () => r()));
  const before = [1, 2, 3].map((i) => publish('sealmq/node-01/up', Buffer.from('before-' + i)));
  const after = [1, 2, 3].map((i) => publish('sealmq/node-01/up', Buffer.from('after-' + i)));
  d.stream.write(Buffer.concat([...before, publish('sealmq/node-02/up', Buffer.from('forged')), ...after]));
  await closed;
  await new Promise((r) => setTimeout(r, 300));
  t.deepEqual(v.got.map((g) => Buffer.from(g.payload, 'hex').toString()), ['before-1', 'before-2', 'before-3']);
  const denied = w.reg.auditLog().filter((e) => e.action === 'broker.publish.denied');
  t.is(denied.length, 1);
  t.is(denied[0].device, 'node-01');
  t.like(denied[0].detail, { reason: 'other-device-topic' });
  t.true(w.events.some((e) => e.type === 'publish-denied' && e.topic === 'sealmq/node-02/up'));
});

test('a retained publish between plain ones goes through aedes: flag stripped and reported, order kept', async (t) => {
  const w = await world(t);
  const v = await viewer(w);
  const d = await device(w, 'node-01');
  d.stream.write(Buffer.concat([
    publish('sealmq/node-01/up', Buffer.from('a')), publish('sealmq/node-01/up', Buffer.from('b'), 0x31),
    publish('sealmq/node-01/up', Buffer.from('c')), publish('sealmq/node-01/up', Buffer.from('d')),
  ]));
  await until(() => v.got.length >= 4);
  await new Promise((r) => setTimeout(r, 100));
  t.deepEqual(v.got.map((g) => Buffer.from(g.payload, 'hex').toString()), ['a', 'b', 'c', 'd']);
  t.true(v.got.every((g) => !g.retain));
  t.true(w.events.some((e) => e.type === 'retain-stripped'));
  // Nothing was kept for a later subscriber.
  const late = await viewer(w);
  await new Promise((r) => setTimeout(r, 200));
  t.is(late.got.length, 0);
});

test('overlapping subscriptions get one copy, as through aedes; with the short path off the same', async (t) => {
  for (const fast of [true, false]) {
    const w = await world(t, fast);
    const v = await viewer(w, ['sealmq/+/up', 'sealmq/node-01/up']);
    const d = await device(w, 'node-01');
    d.stream.write(Buffer.concat([1, 2, 3].map((i) => publish('sealmq/node-01/up', Buffer.from([i])))));
    await until(() => v.got.length >= 3);
    await new Promise((r) => setTimeout(r, 200));
    t.deepEqual(v.got.map((g) => g.payload), ['01', '02', '03'], fast ? 'short path' : 'aedes');
    t.is(w.broker.fastPublished() > 0, fast);
  }
});

test('a device that only publishes keeps its session past the keepalive (the short path refreshes it, as aedes does)', async (t) => {
  const w = await world(t);
  const v = await viewer(w);
  // mqtt.js would ping: the stream is written directly, so only the PUBLISH packets keep the session.
  const d = await device(w, 'node-01', { keepalive: 1 });
  const km = (d as unknown as { keepaliveManager: { destroy(): void } | null }).keepaliveManager;
  t.truthy(km);
  km!.destroy();
  (d as unknown as { keepaliveManager: null }).keepaliveManager = null;
  let closed = false;
  d.stream.on('close', () => (closed = true));
  for (let i = 0; i < 16; i++) {
    d.stream.write(publish('sealmq/node-01/up', Buffer.from([i])));
    await new Promise((r) => setTimeout(r, 250));
  }
  t.false(closed);
  t.is(v.got.length, 16);
  t.true(w.broker.fastPublished() >= 15);
});

test('a subscriber that stops reading holds the publisher (the broker does not buffer without bound); once it reads again, every packet arrives in order', async (t) => {
  t.timeout(60_000);
  const w = await world(t);
  const v = await viewer(w);
  const d = await device(w, 'node-01');
  // The viewer (connected first) stops reading: its kernel buffers fill, then the broker's socket to it is behind.
  const vc = w.clients[0];
  vc.stream.pause();
  // 48 MB in 16 KB packets: far more than the loopback buffers on both sides can hold (a few MB each).
  const n = 3000;
  const payloads = Array.from({ length: n }, (_, i) => { const p = Buffer.alloc(16_000, i & 255); p.writeUInt32BE(i, 0); return p; });
  const ds = d.stream as unknown as { write(b: Buffer): boolean; writableLength: number };
  for (const p of payloads) ds.write(publish('sealmq/node-01/up', p));
  const total = n * (16_000 + 22);
  let last = -1;
  // Wait until the broker stops taking the device's bytes (the backlog left in the device's socket is steady).
  for (let i = 0; i < 100 && ds.writableLength !== last; i++) {
    last = ds.writableLength;
    await new Promise((r) => setTimeout(r, 200));
  }
  t.true(ds.writableLength > total / 3, `the publisher is held: ${(ds.writableLength / 1e6).toFixed(1)} of ${(total / 1e6).toFixed(1)} MB still at the device`);
  t.true(v.got.length === 0, 'nothing delivered while the viewer does not read');
  vc.stream.resume();
  await until(() => v.got.length >= n, 50_000);
  t.is(v.got.length, n);
  t.true(v.got.every((g, i) => Buffer.from(g.payload, 'hex').readUInt32BE(0) === i), 'in order');
  t.true(w.broker.fastPublished() >= n - 5, `short path taken (${w.broker.fastPublished()})`);
});

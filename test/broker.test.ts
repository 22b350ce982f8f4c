// The embedded broker over real MQTT (mqtt.js client, TCP loopback): TOTP device logins, operator
// logins, the topic policy of docs/BROKER.md, and an audit entry for every refusal.
import test, { ExecutionContext } from 'ava';
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { connect as connectTcp } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { IClientOptions, MqttClient } from 'mqtt';
import { DEVICE_TOTP_DIGITS, DEVICE_TOTP_STEP, totp } from '../core/otp.js';
import { sha1 } from '../host/protocol/node-primitives.js';
import { startBroker, RunningBroker, BrokerEvent } from '../host/broker/broker.js';
import { openRegistry, Registry } from '../host/registry/registry.js';

process.env.SEALMQ_PASSPHRASE = 'broker test passphrase';
const ADMIN_PW = 'admin password, long enough';
const VIEWER_PW = 'viewer password, long enough';

interface World {
  home: string;
  reg: Registry;
  broker: RunningBroker;
  seeds: Record<string, Uint8Array>;
  events: BrokerEvent[];
  clock: { now: number };
  clients: MqttClient[];
  restart(): Promise<void>;
}

async function world(t: ExecutionContext): Promise<World> {
  const home = mkdtempSync(join(tmpdir(), 'sealmq-broker-'));
  const clock = { now: Date.UTC(2026, 0, 1, 12, 0, 10) };
  const reg = openRegistry({ home, clock: () => clock.now });
  await reg.unlock(process.env.SEALMQ_PASSPHRASE!);
  const seeds: Record<string, Uint8Array> = {};
  for (const id of ['node-01', 'node-02', 'node-03']) {
    seeds[id] = new Uint8Array(randomBytes(20));
    reg.recordProvisioned({ id, root: new Uint8Array(randomBytes(32)), otpSeed: seeds[id], actor: 'test' });
  }
  reg.revokeDevice('node-03', 'test', 'stolen');
  await reg.addOperator({ name: 'adam', role: 'admin', password: ADMIN_PW, actor: 'test' });
  await reg.addOperator({ name: 'vera', role: 'viewer', password: VIEWER_PW, actor: 'test' });
  const events: BrokerEvent[] = [];
  const start = (r: Registry) => startBroker({ registry: r, listen: 'mqtt://127.0.0.1:0', clock: () => clock.now, onEvent: (e) => events.push(e) });
  const w: World = {
    home, reg, broker: await start(reg), seeds, events, clock, clients: [],
    async restart() {
      await w.broker.close();
      w.reg.close();
      w.reg = openRegistry({ home, clock: () => clock.now });
      await w.reg.unlock(process.env.SEALMQ_PASSPHRASE!);
      w.broker = await start(w.reg);
    },
  };
  t.teardown(async () => {
    for (const c of w.clients) c.end(true);
    await w.broker.close();
    w.reg.close();
  });
  return w;
}

function code(w: World, id: string, offsetSteps = 0): string {
  return totp(sha1, 64, w.seeds[id], w.clock.now / 1000 + offsetSteps * DEVICE_TOTP_STEP, DEVICE_TOTP_STEP, DEVICE_TOTP_DIGITS);
}

function options(o: IClientOptions): IClientOptions {
  return { reconnectPeriod: 0, connectTimeout: 20_000, protocolVersion: 4, clean: true, ...o };
}

async function connect(w: World, o: IClientOptions): Promise<MqttClient> {
  const c = await mqtt.connectAsync(w.broker.url, options(o));
  w.clients.push(c);
  return c;
}

/** Connects as the device with its current TOTP, then moves the clock one step on (each step is single use). */
async function device(w: World, id: string, o: IClientOptions = {}): Promise<MqttClient> {
  const c = await connect(w, { username: id, password: code(w, id), clientId: id, ...o });
  w.clock.now += DEVICE_TOTP_STEP * 1000;
  return c;
}

const admin = (w: World, o: IClientOptions = {}) => connect(w, { username: 'adam', password: ADMIN_PW, ...o });
const viewer = (w: World, o: IClientOptions = {}) => connect(w, { username: 'vera', password: VIEWER_PW, ...o });

/** The CONNACK return code of a refused connection. */
async function refusedCode(t: ExecutionContext, w: World, o: IClientOptions): Promise<number> {
  try {
    const c = await mqtt.connectAsync(w.broker.url, options(o));
    c.end(true);
    t.fail('the broker accepted the connection');
    return 0;
  } catch (e) {
    return (e as { code: number }).code;
  }
}

function refusals(w: World, action: string, reason: string) {
  return w.reg.auditLog({ action }).filter((e) => e.detail.reason === reason);
}

const closed = (c: MqttClient) => new Promise<void>((res) => (c.connected ? c.once('close', () => res()) : res()));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function collect(c: MqttClient): { topic: string; payload: string; retain: boolean }[] {
  const got: { topic: string; payload: string; retain: boolean }[] = [];
  c.on('message', (topic, payload, packet) => got.push({ topic, payload: payload.toString(), retain: packet.retain }));
  return got;
}

/** SUBACK return codes, one per filter (mqtt.js rejects when any is 0x80; the packet still says which). */
async function grants(c: MqttClient, filters: string | string[], qos: 0 | 1 | 2 = 0): Promise<number[]> {
  try {
    return (await c.subscribeAsync(filters, { qos })).map((g) => g.qos);
  } catch (e) {
    const granted = (e as { packet?: { granted?: number[] } }).packet?.granted;
    if (!granted) throw e;
    return granted;
  }
}

async function until(cond: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await sleep(10);
}

test('a device with its current TOTP connects (and the login is audited)', async (t) => {
  const w = await world(t);
  const c = await device(w, 'node-01');
  t.true(c.connected);
  t.is(w.broker.clients().get('node-01'), 'device:node-01');
  const login = w.reg.auditLog({ action: 'broker.login', device: 'node-01' });
  t.is(login.length, 1);
  t.truthy(w.reg.getDevice('node-01')!.lastSeenAt);
});

test('TOTP of the previous and next step is accepted (clock skew ±1 step)', async (t) => {
  const w = await world(t);
  const a = await connect(w, { username: 'node-01', clientId: 'node-01', password: code(w, 'node-01', -1) });
  t.true(a.connected);
  a.end(true);
  const b = await connect(w, { username: 'node-02', clientId: 'node-02', password: code(w, 'node-02', +1) });
  t.true(b.connected);
  t.is(await refusedCode(t, w, { username: 'node-01', clientId: 'node-01', password: code(w, 'node-01', -2) }), 4);
  t.is(await refusedCode(t, w, { username: 'node-01', clientId: 'node-01', password: code(w, 'node-01', +2) }), 4);
});

test('a wrong TOTP is refused with "bad user name or password", audited as bad-totp', async (t) => {
  const w = await world(t);
  const right = code(w, 'node-01');
  const wrong = ((Number(right) + 1) % 1e8).toString().padStart(8, '0');
  t.is(await refusedCode(t, w, { username: 'node-01', clientId: 'node-01', password: wrong }), 4);
  t.is(await refusedCode(t, w, { username: 'node-01', clientId: 'node-01', password: code(w, 'node-02') }), 4);
  t.is(await refusedCode(t, w, { username: 'node-01', clientId: 'node-01', password: 'not-digits' }), 4);
  t.is(await refusedCode(t, w, { username: 'node-01', clientId: 'node-01' }), 4);
  const bad = refusals(w, 'broker.login.refused', 'bad-totp');
  t.is(bad.length, 3);
  t.is(bad[0].device, 'node-01');
  t.false(JSON.stringify(w.reg.auditLog()).includes(wrong), 'the audit log never holds a password');
});

test('a TOTP step is accepted once, also after a broker restart', async (t) => {
  const w = await world(t);
  const c1 = code(w, 'node-01');
  const a = await connect(w, { username: 'node-01', clientId: 'node-01', password: c1 });
  a.end(true);
  await closed(a);
  t.is(await refusedCode(t, w, { username: 'node-01', clientId: 'node-01', password: c1 }), 4);
  await w.restart();
  t.is(await refusedCode(t, w, { username: 'node-01', clientId: 'node-01', password: c1 }), 4);
  t.is(refusals(w, 'broker.login.refused', 'totp-reused').length, 2);
  // The next step works; the previous one (still inside ±1) does not, since it is older than the last used.
  const next = code(w, 'node-01', +1);
  const b = await connect(w, { username: 'node-01', clientId: 'node-01', password: next });
  t.true(b.connected);
  w.clock.now += DEVICE_TOTP_STEP * 1000;
  t.is(await refusedCode(t, w, { username: 'node-01', clientId: 'node-01', password: c1 }), 4);
});

test('unknown and revoked devices are refused, audited with their reason', async (t) => {
  const w = await world(t);
  t.is(await refusedCode(t, w, { username: 'node-99', clientId: 'node-99', password: '12345678' }), 4);
  t.is(await refusedCode(t, w, { username: 'node-03', clientId: 'node-03', password: code(w, 'node-03') }), 4);
  t.is(await refusedCode(t, w, { username: 'a/b', clientId: 'a/b', password: '12345678' }), 4);
  const revoked = refusals(w, 'broker.login.refused', 'revoked');
  t.is(revoked.length, 1);
  t.is(revoked[0].device, 'node-03');
  t.is(refusals(w, 'broker.login.refused', 'unknown-user').length, 2, 'neither a device nor an operator');
});

test('client id takeover is refused: a device must use its own id, an operator never a device id', async (t) => {
  const w = await world(t);
  const victim = await device(w, 'node-01');
  let victimClosed = false;
  victim.on('close', () => (victimClosed = true));
  // MQTT-3.1.4-2 would close the victim's session if the broker let this CONNECT through.
  t.is(await refusedCode(t, w, { username: 'node-02', clientId: 'node-01', password: code(w, 'node-02') }), 2);
  t.is(await refusedCode(t, w, { username: 'node-02', clientId: '', password: code(w, 'node-02'), clean: true }), 2);
  t.is(await refusedCode(t, w, { username: 'adam', password: ADMIN_PW, clientId: 'node-01' }), 2);
  const dash = await admin(w, { clientId: 'dashboard' });
  t.is(await refusedCode(t, w, { username: 'vera', password: VIEWER_PW, clientId: 'dashboard' }), 2);
  await sleep(100);
  t.false(victimClosed);
  t.true(victim.connected && dash.connected);
  t.is(refusals(w, 'broker.login.refused', 'client-id-mismatch').length, 2);
  t.is(refusals(w, 'broker.login.refused', 'client-id-reserved').length, 1);
  t.is(refusals(w, 'broker.login.refused', 'client-id-taken').length, 1);
});

test('operators log in with their password; a wrong one is refused', async (t) => {
  const w = await world(t);
  t.true((await admin(w)).connected);
  t.true((await viewer(w)).connected);
  t.is(await refusedCode(t, w, { username: 'adam', password: VIEWER_PW }), 4);
  t.is(await refusedCode(t, w, { username: 'mallory', password: ADMIN_PW }), 4);
  t.is(refusals(w, 'broker.login.refused', 'bad-password').length, 1);
  t.is(refusals(w, 'broker.login.refused', 'unknown-user').length, 1);
});

test('wills are refused at CONNECT', async (t) => {
  const w = await world(t);
  const will = { topic: 'sealmq/node-01/up', payload: Buffer.from('gone'), qos: 0 as const, retain: false };
  t.is(await refusedCode(t, w, { username: 'node-01', clientId: 'node-01', password: code(w, 'node-01'), will }), 5);
  t.is(await refusedCode(t, w, { username: 'adam', password: ADMIN_PW, will }), 5);
  t.is(refusals(w, 'broker.login.refused', 'will-not-allowed').length, 2);
});

test('a device publishing on another device\'s topic is denied; the subscriber never receives it', async (t) => {
  const w = await world(t);
  const v = await viewer(w);
  t.deepEqual((await v.subscribeAsync('sealmq/+/up', { qos: 0 })).map((g) => g.qos), [0]);
  const got = collect(v);
  const evil = await device(w, 'node-01');
  const gone = closed(evil);
  evil.publish('sealmq/node-02/up', 'forged');
  await gone; // MQTT-3.3.5-2: the connection is closed
  const honest = await device(w, 'node-02');
  await honest.publishAsync('sealmq/node-02/up', 'real');
  await until(() => got.length >= 1);
  await sleep(100);
  t.deepEqual(got.map((m) => m.payload), ['real']);
  const denied = w.reg.auditLog({ action: 'broker.publish.denied', device: 'node-01' });
  t.is(denied.length, 1);
  t.is(denied[0].detail.reason, 'other-device-topic');
  t.is(denied[0].detail.topic, 'sealmq/node-02/up');
});

test('a device may not publish on its own down topic, nor anywhere else', async (t) => {
  const w = await world(t);
  for (const topic of ['sealmq/node-01/down', 'sealmq/node-01/up/x', 'other/node-01/up', 'sealmq/node-01']) {
    const c = await device(w, 'node-01');
    const gone = closed(c);
    c.publish(topic, 'x');
    await gone;
  }
  t.is(w.reg.auditLog({ action: 'broker.publish.denied', device: 'node-01' }).length, 4);
});

test('a device subscribing to another\'s down, to # or to + is denied (SUBACK 0x80); its own down works', async (t) => {
  const w = await world(t);
  const c = await device(w, 'node-01');
  const filters = ['sealmq/node-02/down', '#', 'sealmq/+/down', 'sealmq/node-01/#', 'sealmq/node-01/up', '$SYS/#', 'sealmq/node-01/down'];
  t.deepEqual(await grants(c, filters, 1), filters.map((_, i) => (i === filters.length - 1 ? 1 : 128)));
  t.true(c.connected, 'a refused SUBSCRIBE does not close the connection');
  const got = collect(c);
  const a = await admin(w);
  await a.publishAsync('sealmq/node-02/down', 'for node-02', { qos: 1 });
  await a.publishAsync('sealmq/node-01/down', 'for node-01', { qos: 1 });
  await until(() => got.length >= 1);
  await sleep(100);
  t.deepEqual(got.map((m) => m.payload), ['for node-01']);
  const denied = w.reg.auditLog({ action: 'broker.subscribe.denied', device: 'node-01' });
  t.deepEqual(denied.map((e) => e.detail.reason), ['other-device-topic', 'topic-not-allowed', 'wildcard', 'device-reads-only-down', 'device-reads-only-down', 'sys-topic']);
});

test('a viewer reads telemetry and publishes nothing', async (t) => {
  const w = await world(t);
  const v = await viewer(w);
  t.deepEqual(await grants(v, ['sealmq/+/up', 'sealmq/node-01/up', 'sealmq/+/down', 'sealmq/#', '#']), [0, 0, 128, 128, 128]);
  const got = collect(v);
  const d = await device(w, 'node-01');
  await d.publishAsync('sealmq/node-01/up', 'reading');
  await until(() => got.length >= 1);
  await sleep(100);
  t.deepEqual(got.map((m) => m.payload), ['reading'], 'overlapping subscriptions deliver once');
  for (const topic of ['sealmq/node-01/down', 'sealmq/node-01/up', 'anything']) {
    const c = await viewer(w);
    const gone = closed(c);
    c.publish(topic, 'x');
    await gone;
  }
  const denied = w.reg.auditLog({ action: 'broker.publish.denied' });
  t.is(denied.length, 3);
  t.true(denied.every((e) => e.detail.reason === 'viewer-publishes-nothing' || e.detail.reason === 'topic-not-allowed'));
});

test('an admin publishes commands on down topics and reads telemetry; not up topics', async (t) => {
  const w = await world(t);
  const d = await device(w, 'node-02');
  await d.subscribeAsync('sealmq/node-02/down');
  const got = collect(d);
  const a = await admin(w);
  t.deepEqual((await a.subscribeAsync('sealmq/+/up')).map((g) => g.qos), [0]);
  await a.publishAsync('sealmq/node-02/down', 'command', { qos: 1 });
  await until(() => got.length >= 1);
  t.deepEqual(got.map((m) => m.payload), ['command']);
  const gone = closed(a);
  a.publish('sealmq/node-02/up', 'forged reading');
  await gone;
  t.is(refusals(w, 'broker.publish.denied', 'admin-publishes-only-down').length, 1);
});

test('$SYS is denied to everyone, admin included', async (t) => {
  const w = await world(t);
  for (const c of [await admin(w), await viewer(w), await device(w, 'node-01')]) {
    t.deepEqual(await grants(c, ['$SYS/#', '$SYS/+/new/clients']), [128, 128]);
  }
  // Publishing to aedes' internal $SYS/<id>/new/clients would close another client's session.
  const victim = await device(w, 'node-02');
  let victimClosed = false;
  victim.on('close', () => (victimClosed = true));
  const a = await admin(w);
  const gone = closed(a);
  a.publish('$SYS/someone/new/clients', 'node-02');
  await gone;
  await sleep(100);
  t.false(victimClosed);
  t.is(refusals(w, 'broker.subscribe.denied', 'sys-topic').length, 6);
  t.is(refusals(w, 'broker.publish.denied', 'sys-topic').length, 1);
});

test('retained flags are stripped: nothing is kept for later subscribers', async (t) => {
  const w = await world(t);
  const v = await viewer(w);
  await v.subscribeAsync('sealmq/+/up');
  const got = collect(v);
  const d = await device(w, 'node-01');
  await d.publishAsync('sealmq/node-01/up', 'sticky', { retain: true, qos: 1 });
  await until(() => got.length >= 1);
  t.deepEqual(got.map((m) => [m.payload, m.retain]), [['sticky', false]]);
  const late = await viewer(w);
  const lateGot = collect(late);
  await late.subscribeAsync('sealmq/+/up');
  await sleep(200);
  t.deepEqual(lateGot, []);
  t.true(w.events.some((e) => e.type === 'retain-stripped'));
});

test('repeated failures for one user name are rate-limited, and the limit is audited once', async (t) => {
  const w = await world(t);
  for (let i = 0; i < 10; i++) t.is(await refusedCode(t, w, { username: 'node-01', clientId: 'node-01', password: '00000000' }), 4);
  // Now even the right code is refused, unchecked, until the window passes.
  t.is(await refusedCode(t, w, { username: 'node-01', clientId: 'node-01', password: code(w, 'node-01') }), 5);
  t.is(await refusedCode(t, w, { username: 'node-01', clientId: 'node-01', password: code(w, 'node-01') }), 5);
  t.is(refusals(w, 'broker.login.refused', 'rate-limited').length, 1);
  w.clock.now += 61_000;
  t.true((await device(w, 'node-01')).connected);
});

test('failures from another address do not lock the device out: the limit counts per user name and address', async (t) => {
  const w = await world(t);
  const u = new URL(w.broker.url);
  // A stranger on 127.0.0.2 who knows the device id fails on purpose, past the limit.
  const fromStranger = (password: string) => new Promise<number>((resolve) => {
    const c = new mqtt.MqttClient(() => connectTcp({ host: u.hostname, port: Number(u.port), localAddress: '127.0.0.2' }),
      options({ username: 'node-01', clientId: 'node-01', password }));
    c.once('connect', () => { c.end(true); resolve(0); });
    c.once('error', (e) => { c.end(true); resolve((e as { code: number }).code); });
  });
  for (let i = 0; i < 10; i++) t.is(await fromStranger('00000000'), 4);
  t.is(await fromStranger('00000000'), 5, 'the stranger is now refused unchecked');
  t.is(await fromStranger(code(w, 'node-01')), 5, 'even with the right code, from that address');
  // The device, from its own address, still logs in at once.
  t.true((await device(w, 'node-01')).connected);
  const limited = refusals(w, 'broker.login.refused', 'rate-limited');
  t.is(limited.length, 1);
  t.regex(String(limited[0].detail.remote), /^127\.0\.0\.2:/);
});

// `sealmq broker --emit-mosquitto` against a REAL Mosquitto (the OS package), started on a free loopback
// port with the generated files (never the system one on 1883): the whole ACL matrix with mqtt.js clients,
// asserted on what receivers actually get (Mosquitto drops denied publishes silently and, depending on the
// version, refuses or grants-then-filters denied subscriptions). Devices log in with their TOTP through
// sealmq's plugin (test/mosquitto-plugin.test.ts tests the plugin itself). Plus: refusals write nothing.
import test, { ExecutionContext } from 'ava';
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer, connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { MqttClient } from 'mqtt';
import { hotp } from '../core/otp.js';
import { emitMosquitto, MosquittoPolicy, mosquittoAcl } from '../host/broker/mosquitto.js';
import { Principal, publishDecision, readDecision, subscribeDecision } from '../host/broker/policy.js';
import { sha1 } from '../host/protocol/node-primitives.js';
import { openRegistry, Registry } from '../host/registry/registry.js';
import { sealmq } from './cli-helpers.js';

const PASS = 'mosquitto test passphrase';
const P = 'sealmq';
const A = 'node-01';
const B = 'node-02';
const MOSQUITTO = existsSync('/usr/sbin/mosquitto') ? '/usr/sbin/mosquitto' : 'mosquitto';
const HAVE_MOSQUITTO = spawnSync(MOSQUITTO, ['-h']).status !== null && spawnSync('mosquitto_passwd', []).error === undefined;
const mtest = HAVE_MOSQUITTO ? test.serial : test.skip;

function tmp(t: ExecutionContext, prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  t.teardown(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => res(port));
    });
  });
}

const SEEDS = new Map<string, Uint8Array>();

async function registry(t: ExecutionContext): Promise<Registry> {
  const reg = openRegistry({ home: tmp(t, 'sealmq-mq-home-') });
  t.teardown(() => reg.close());
  await reg.unlock(PASS);
  for (const id of [A, B, 'node-03']) {
    const seed = new Uint8Array(randomBytes(20));
    SEEDS.set(id, seed);
    reg.recordProvisioned({ id, root: new Uint8Array(randomBytes(32)), otpSeed: seed.slice(), actor: 'test' });
  }
  reg.revokeDevice('node-03', 'test', 'stolen');
  await reg.addOperator({ name: 'adam', role: 'admin', password: 'admin password, long enough', actor: 'test' });
  await reg.addOperator({ name: 'vera', role: 'viewer', password: 'viewer password, long enough', actor: 'test' });
  return reg;
}

/** Starts mosquitto -c conf; resolves once the port accepts connections. Killed at teardown. */
async function startMosquitto(t: ExecutionContext, conf: string, port: number): Promise<ChildProcess> {
  const p = spawn(MOSQUITTO, ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  p.stderr!.on('data', (d) => { log += d; });
  let exited = false;
  p.on('exit', () => { exited = true; });
  t.teardown(() => new Promise<void>((res) => {
    if (exited) return res();
    p.once('exit', () => res());
    p.kill('SIGTERM');
    setTimeout(() => { if (!exited) p.kill('SIGKILL'); }, 3000).unref();
  }));
  for (let i = 0; i < 100; i++) {
    if (exited) throw new Error('mosquitto exited: ' + log);
    const up = await new Promise<boolean>((res) => {
      const s = tcpConnect(port, '127.0.0.1', () => { s.destroy(); res(true); });
      s.on('error', () => res(false));
    });
    if (up) return p;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('mosquitto did not listen: ' + log);
}

interface Got { topic: string; payload: string }

/**
 * A device's next TOTP (the plugin accepts steps t-1..t+1, each once and never an older one): the step after
 * the last one used, waiting for the clock when t+1 was used already.
 */
const lastStep = new Map<string, number>();
async function nextCode(id: string): Promise<string> {
  for (;;) {
    const now = Math.floor(Date.now() / 30_000);
    const step = Math.max((lastStep.get(id) ?? -Infinity) + 1, now - 1);
    if (step <= now + 1) {
      lastStep.set(id, step);
      return hotp(sha1, 64, SEEDS.get(id)!, step, 8);
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}
const currentCode = (id: string) => hotp(sha1, 64, SEEDS.get(id)!, Math.floor(Date.now() / 30_000), 8);

function matches(filter: string, topic: string): boolean {
  if (topic.startsWith('$') && (filter.startsWith('#') || filter.startsWith('+'))) return false;
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true;
    if (i >= t.length || (f[i] !== '+' && f[i] !== t[i])) return false;
  }
  return f.length === t.length;
}

const ROLES: Record<string, Principal> = {
  devA: { kind: 'device', id: A },
  devB: { kind: 'device', id: B },
  viewer: { kind: 'operator', name: 'vera', role: 'viewer' },
  admin: { kind: 'operator', name: 'adam', role: 'admin' },
};
const USER: Record<string, string> = { devA: A, devB: B, viewer: 'vera', admin: 'adam' };
const TOPICS = [`${P}/${A}/up`, `${P}/${A}/down`, `${P}/${B}/up`, `${P}/${B}/down`];

async function until(cond: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await new Promise((r) => setTimeout(r, 25));
}

mtest('a real mosquitto with the generated files enforces the whole ACL matrix', async (t) => {
  t.timeout(150_000);
  const reg = await registry(t);
  const dir = join(tmp(t, 'sealmq-mq-'), 'conf');
  const port = await freePort();
  t.not(port, 1883);
  const r = await emitMosquitto({ registry: reg, dir, host: '127.0.0.1', port, prefix: P, actor: 'test' });
  t.deepEqual([r.devices, r.operators], [2, 2]);
  const pwText = readFileSync(r.files.passwords, 'utf8');
  t.deepEqual([...r.credentials.keys()].sort(), ['adam', 'vera'], 'static passwords for operators only');
  t.false(pwText.includes(A) || pwText.includes(B), 'devices log in with their TOTP, never from the password file');
  for (const [user, pw] of r.credentials) {
    t.false(pwText.includes(pw), `the password file holds ${user}'s password in clear`);
    t.regex(pwText, new RegExp(`^${user}:\\$7\\$`, 'm'));
  }
  t.false(pwText.includes('node-03'), 'a revoked device gets no password');
  const acl = readFileSync(r.files.acl, 'utf8');
  t.false(/#/.test(acl.split('\n').filter((l) => !l.startsWith('#')).join('\n')));
  t.false(acl.includes('$'));
  t.regex(readFileSync(r.files.conf, 'utf8'), /^allow_anonymous false$/m);
  // A second emit keeps the same passwords (deployed devices keep working).
  const again = await emitMosquitto({ registry: reg, dir, host: '127.0.0.1', port, prefix: P, actor: 'test' });
  t.deepEqual([...again.credentials], [...r.credentials]);

  await startMosquitto(t, r.files.conf, port);
  const url = `mqtt://127.0.0.1:${port}`;
  const opts = { reconnectPeriod: 0, connectTimeout: 5000, protocolVersion: 4 as const, clean: true };
  const clients: MqttClient[] = [];
  t.teardown(() => { for (const c of clients) c.end(true); });

  // Logins: anonymous, a wrong password, a revoked device, an operator's embedded-broker password: refused.
  const refused = async (o: Record<string, unknown>, what: string) => {
    const err = await mqtt.connectAsync(url, { ...opts, ...o }).then((c) => { clients.push(c); return null; }, (e: Error) => e);
    t.truthy(err, `${what} must be refused`);
  };
  await refused({}, 'anonymous');
  await refused({ username: A, password: 'wrong' }, 'wrong password');
  await refused({ username: A, password: currentCode(B) }, "another device's code");
  await refused({ username: 'node-03', password: 'anything-at-all' }, 'revoked device');
  await refused({ username: 'vera', password: 'viewer password, long enough' }, 'embedded-broker password');

  const got: Record<string, Got[]> = {};
  const c: Record<string, MqttClient> = {};
  for (const role of Object.keys(ROLES)) {
    got[role] = [];
    const password = ROLES[role].kind === 'device' ? await nextCode(USER[role]) : r.credentials.get(USER[role]);
    c[role] = await mqtt.connectAsync(url, { ...opts, username: USER[role], password, clientId: 'spoofed-' + role });
    clients.push(c[role]);
    c[role].on('message', (topic, payload) => got[role].push({ topic, payload: payload.toString() }));
  }
  const reset = () => { for (const k of Object.keys(got)) got[k].length = 0; };

  // ── publish matrix: each role × each topic (+ $SYS), observed by someone allowed to read the topic.
  await c.viewer.subscribeAsync(`${P}/+/up`);
  await c.devA.subscribeAsync(`${P}/${A}/down`);
  await c.devB.subscribeAsync(`${P}/${B}/down`);
  const observer = (topic: string) => (topic.endsWith('/up') ? 'viewer' : topic.includes(A) ? 'devA' : 'devB');
  reset();
  const expected: [string, string][] = [];
  const forbidden: [string, string][] = [];
  for (const role of Object.keys(ROLES)) {
    for (const topic of [...TOPICS, '$SYS/broker/forged', `${P}/${A}/up/extra`, `${P}/${A}`]) {
      const payload = `pub ${role} ${topic}`;
      await c[role].publishAsync(topic, payload, { qos: 1 }).catch(() => undefined);
      const obs = topic.startsWith('$') || topic.split('/').length !== 3 ? null : observer(topic);
      if (!obs) continue;
      (publishDecision(ROLES[role], P, topic).allow ? expected : forbidden).push([obs, payload]);
    }
  }
  const seen = (who: string, payload: string) => got[who].some((g) => g.payload === payload);
  await until(() => expected.every(([o, p]) => seen(o, p)), 5000);
  await new Promise((res) => setTimeout(res, 300));
  for (const [o, p] of expected) t.true(seen(o, p), `allowed publish not delivered: ${p}`);
  for (const [o, p] of forbidden) t.false(seen(o, p), `denied publish was delivered: ${p}`);
  t.is(expected.length, 4, 'devA→A/up, devB→B/up, admin→A/down, admin→B/down');
  for (const role of Object.keys(ROLES)) for (const g of got[role]) t.false(g.topic.startsWith('$'), `${role} got ${g.topic}`);
  await c.viewer.unsubscribeAsync(`${P}/+/up`);
  await c.devA.unsubscribeAsync(`${P}/${A}/down`);
  await c.devB.unsubscribeAsync(`${P}/${B}/down`);

  // ── subscribe matrix: each role subscribes to each filter in turn; fresh messages on every topic.
  const FILTERS = [...TOPICS, `${P}/+/up`, `${P}/+/down`, `${P}/#`, `${P}/+/+`, '#', '+/+/up', '$SYS/#', '$SYS/broker/clients/connected'];
  let granted = 0;
  for (const f of FILTERS) {
    reset();
    const subacks: Record<string, number> = {};
    await Promise.all(Object.keys(ROLES).map(async (role) => {
      const g = await c[role].subscribeAsync(f, { qos: 0 });
      subacks[role] = g[0]?.qos ?? 128;
    }));
    const sent: [string, string][] = [];
    const publisher = (topic: string) => (topic.endsWith('/down') ? 'admin' : topic.includes(A) ? 'devA' : 'devB');
    for (const topic of TOPICS) {
      const payload = `sub ${f} ${topic}`;
      await c[publisher(topic)].publishAsync(topic, payload, { qos: 1 });
      sent.push([topic, payload]);
    }
    const must: [string, string][] = [];
    for (const role of Object.keys(ROLES)) {
      if (!subscribeDecision(ROLES[role], P, f).allow) continue;
      for (const [topic, payload] of sent) if (matches(f, topic)) must.push([role, payload]);
    }
    await until(() => must.every(([role, p]) => seen(role, p)), 5000);
    await new Promise((res) => setTimeout(res, 300));
    for (const [role, p] of must) t.true(seen(role, p), `${role} subscribed to ${f} may read but did not get: ${p}`);
    for (const role of Object.keys(ROLES)) {
      for (const g of got[role]) {
        t.false(g.topic.startsWith('$'), `${role} subscribed to ${f} got ${g.topic}`);
        t.true(readDecision(ROLES[role], P, g.topic).allow && matches(f, g.topic), `${role} subscribed to ${f} got ${g.topic}, which it may not read`);
      }
      if (subacks[role] !== 128) granted++;
    }
    t.log(`${f}: SUBACK ${JSON.stringify(subacks)}; got ${JSON.stringify(Object.fromEntries(Object.entries(got).map(([k, v]) => [k, v.map((g) => g.topic)])))}`);
    await Promise.all(Object.keys(ROLES).map((role) => c[role].unsubscribeAsync(f)));
  }
  t.true(granted > 0);

  // A will to a topic its client may not write is never delivered; a retained PUBLISH closes the connection.
  reset();
  await c.devB.subscribeAsync(`${P}/${B}/down`);
  const w = await mqtt.connectAsync(url, { ...opts, username: A, password: await nextCode(A), will: { topic: `${P}/${B}/down`, payload: 'will', qos: 0, retain: false } });
  clients.push(w);
  w.stream.destroy();
  await new Promise((res) => setTimeout(res, 700));
  t.false(got.devB.some((g) => g.payload === 'will'), "a device's will reached another device's down topic");
  const closed = new Promise<boolean>((res) => { c.viewer.once('close', () => res(true)); setTimeout(() => res(false), 3000); });
  const v = await mqtt.connectAsync(url, { ...opts, username: A, password: await nextCode(A) });
  clients.push(v);
  const vClosed = new Promise<boolean>((res) => { v.once('close', () => res(true)); setTimeout(() => res(false), 3000); });
  void v.publishAsync(`${P}/${A}/up`, 'retained', { qos: 1, retain: true }).catch(() => undefined);
  t.true(await vClosed, 'a retained PUBLISH must close the connection (retain_available false)');
  t.false(await closed, 'an unrelated session was closed');
});

mtest('refuses an empty registry, malformed identities and a non-loopback listener, writing nothing', async (t) => {
  const home = tmp(t, 'sealmq-mq-empty-');
  const dir = join(tmp(t, 'sealmq-mq-out-'), 'conf');
  const run = await sealmq(['broker', '--emit-mosquitto', dir, '--listen', 'mqtt://127.0.0.1:18830'], { SEALMQ_HOME: home, SEALMQ_PASSPHRASE: PASS });
  t.is(run.code, 3, run.stderr);
  t.regex(run.stderr, /empty policy|no active device/);
  t.false(existsSync(dir));

  const reg = await registry(t);
  const good: MosquittoPolicy = { prefix: P, devices: [A, B], operators: [{ name: 'vera', role: 'viewer' }] };
  t.notThrows(() => mosquittoAcl(good));
  const bad: [string, MosquittoPolicy][] = [
    ['plus', { ...good, devices: ['node+1'] }],
    ['hash', { ...good, devices: ['#'] }],
    ['slash', { ...good, devices: ['node/up'] }],
    ['nul', { ...good, devices: ['node\u00001'] }],
    ['empty id', { ...good, devices: [''] }],
    ['upper case', { ...good, devices: ['Node'] }],
    ['operator wildcard', { ...good, operators: [{ name: 'v+', role: 'viewer' }] }],
    ['operator role', { ...good, operators: [{ name: 'vera', role: 'root' as 'admin' }] }],
    ['device = operator', { ...good, operators: [{ name: A, role: 'viewer' }] }],
    ['no devices', { ...good, devices: [] }],
    ['wildcard prefix', { ...good, prefix: 'sealmq/#' }],
    ['sys prefix', { ...good, prefix: '$SYS' }],
  ];
  for (const [what, policy] of bad) {
    const e = await t.throwsAsync(emitMosquitto({ registry: reg, dir, host: '127.0.0.1', port: 18830, prefix: P, actor: 'test', policy }), undefined, what);
    t.is((e as { kind?: string }).kind, 'input', what);
    t.false(existsSync(dir), `${what}: something was written`);
  }
  const e = await t.throwsAsync(emitMosquitto({ registry: reg, dir, host: '0.0.0.0', port: 18830, prefix: P, actor: 'test' }));
  t.regex(e!.message, /loopback only/);
  t.false(existsSync(dir));
});

mtest('the CLI emits the files and reveals the passwords only with the passphrase', async (t) => {
  const home = tmp(t, 'sealmq-mq-cli-');
  const reg = openRegistry({ home });
  await reg.unlock(PASS);
  const seedA = new Uint8Array(randomBytes(20));
  reg.recordProvisioned({ id: A, root: new Uint8Array(randomBytes(32)), otpSeed: seedA.slice(), actor: 'test' });
  await reg.addOperator({ name: 'vera', role: 'viewer', password: 'viewer password, long enough', actor: 'test' });
  reg.close();
  const dir = join(home, 'mq');
  const locked = await sealmq(['broker', '--emit-mosquitto', dir, '--listen', 'mqtt://127.0.0.1:18831', '--reveal'], { SEALMQ_HOME: home });
  t.is(locked.code, 5, locked.stderr);
  t.false(existsSync(dir));
  const r = await sealmq(['broker', '--emit-mosquitto', dir, '--listen', 'mqtt://127.0.0.1:18831', '--reveal'], { SEALMQ_HOME: home, SEALMQ_PASSPHRASE: PASS });
  t.is(r.code, 0, r.stderr);
  const creds = JSON.parse(r.stdout) as Record<string, string>;
  t.deepEqual(Object.keys(creds), ['vera'], 'devices have no static password: they log in with their TOTP');
  t.regex(creds.vera, /^[A-Za-z0-9_-]{32}$/);
  for (const f of ['mosquitto.conf', 'passwords', 'acl', 'devices']) t.false(readFileSync(join(dir, f), 'utf8').includes(creds.vera));
  t.regex(readFileSync(join(dir, 'devices'), 'utf8'), new RegExp(`^${A} active 0 ${Buffer.from(seedA).toString('hex')}$`, 'm'));
  t.is(statSync(join(dir, 'devices')).mode & 0o777, 0o600);
  t.true(existsSync(join(dir, 'sealmq_totp_auth.so')));
  t.regex(readFileSync(join(dir, 'mosquitto.conf'), 'utf8'), /^listener 18831 127\.0\.0\.1$/m);
  const audit = await sealmq(['audit', 'tail', '--json', '-n', '50'], { SEALMQ_HOME: home });
  t.is(audit.code, 0, audit.stderr);
  t.false(audit.stdout.includes(creds.vera), 'a password reached the audit log');
  t.false(audit.stdout.includes(Buffer.from(seedA).toString('hex')), 'a seed reached the audit log');
  t.regex(audit.stdout, /broker\.mosquitto\.reveal/);
});

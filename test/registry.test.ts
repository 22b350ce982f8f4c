// The registry (docs/REGISTRY.md): secrets encrypted at rest, a wrong passphrase detected, provisioning
// atomic, replay state and TOTP steps durable across reopening, the audit log free of secrets.
import test from 'ava';
import Database from 'better-sqlite3';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { toHex, utf8Encode } from '../core/bytes.js';
import { deriveKeys, receive, seal } from '../core/frame.js';
import { nodePrimitives as P } from '../host/protocol/node-primitives.js';
import { SealmqError } from '../host/errors.js';
import { openRegistry, Registry } from '../host/registry/registry.js';
import { DB_FILE } from '../host/registry/home.js';
import { DoctorReport, recordDoctor } from '../host/board/doctor.js';

const PASS = 'correct horse battery staple';
let clockNow = Date.UTC(2026, 0, 1);
const clock = () => clockNow;

function freshHome(): string {
  return mkdtempSync(join(tmpdir(), 'sealmq-reg-'));
}

async function unlocked(home: string, pass = PASS): Promise<Registry> {
  const reg = openRegistry({ home, clock });
  await reg.unlock(pass);
  return reg;
}

const secretsOf = () => ({ root: new Uint8Array(randomBytes(32)), otpSeed: new Uint8Array(randomBytes(20)) });

function isSealmq(kind: string, re: RegExp) {
  return (e: unknown) => e instanceof SealmqError && e.kind === kind && re.test(e.message);
}

test('SEALMQ_HOME is created 0700 and the database 0600', async (t) => {
  const home = join(freshHome(), 'nested', 'home');
  const reg = await unlocked(home);
  t.is(statSync(home).mode & 0o777, 0o700);
  t.is(statSync(join(home, DB_FILE)).mode & 0o777, 0o600);
  reg.recordProvisioned({ id: 'node-01', ...secretsOf(), actor: 'test' });
  for (const f of readdirSync(home)) t.is(statSync(join(home, f)).mode & 0o077, 0, `${f} is private`);
  reg.close();
});

test('a home that others can enter is refused, not silently used', (t) => {
  const home = join(freshHome(), 'open');
  mkdirSync(home, { mode: 0o755 });
  const err = t.throws(() => openRegistry({ home }), { instanceOf: SealmqError });
  t.regex(err!.message, /accessible to other users/);
});

test('wrong passphrase: a clear auth error, and nothing is decrypted', async (t) => {
  const home = freshHome();
  const reg = await unlocked(home);
  reg.recordProvisioned({ id: 'node-01', ...secretsOf(), actor: 'test' });
  reg.close();
  const again = openRegistry({ home, clock });
  const err = await t.throwsAsync(again.unlock('Correct horse battery staple'));
  t.true(isSealmq('auth', /wrong passphrase for the registry/)(err));
  t.false(again.unlocked);
  t.true(isSealmq('auth', /locked/)(t.throws(() => again.secrets('node-01'))));
  await again.unlock(PASS);
  t.truthy(again.secrets('node-01'));
  again.close();
});

test('a new registry refuses a short passphrase', async (t) => {
  const reg = openRegistry({ home: freshHome(), clock });
  await t.throwsAsync(reg.unlock('short'), { message: /at least 8/ });
  reg.close();
});

test('secrets are not readable from the database files without the passphrase', async (t) => {
  const home = freshHome();
  const reg = await unlocked(home);
  const s = secretsOf();
  reg.recordProvisioned({ id: 'node-01', ...s, actor: 'test', brokerUrl: 'mqtt://127.0.0.1:1883', interval: 10 });
  const scan = () => {
    const all = Buffer.concat(readdirSync(home).map((f) => readFileSync(join(home, f))));
    for (const needle of [toHex(s.root), toHex(s.root).toUpperCase(), toHex(s.otpSeed)]) t.false(all.includes(needle), 'hex secret in a file');
    t.false(all.includes(Buffer.from(s.root)), 'raw root in a file');
    t.false(all.includes(Buffer.from(s.otpSeed)), 'raw OTP seed in a file');
    t.false(all.includes(Buffer.from(s.root).toString('base64')), 'base64 root in a file');
  };
  scan(); // while open: the WAL too
  t.deepEqual(reg.otpSeed('node-01'), { epoch: 0, seed: s.otpSeed });
  t.deepEqual(reg.secrets('node-01')!.root, s.root);
  reg.exportSecrets('node-01', 'test');
  reg.close();
  scan();
});

test('provisioning is one transaction: a failure at the last step leaves nothing written', async (t) => {
  const home = freshHome();
  const reg = await unlocked(home);
  // A real failure inside the transaction: the audit insert (its last statement) aborts.
  const side = new Database(join(home, DB_FILE));
  side.exec(`CREATE TRIGGER fail_audit BEFORE INSERT ON audit WHEN NEW.action = 'device.provision'
    BEGIN SELECT RAISE(ABORT, 'disk said no'); END`);
  t.throws(() => reg.recordProvisioned({ id: 'node-01', ...secretsOf(), actor: 'test' }), { message: /disk said no/ });
  t.is(reg.getDevice('node-01'), null);
  t.deepEqual(reg.epochs('node-01'), []);
  for (const table of ['devices', 'device_secrets', 'key_epochs', 'audit']) {
    t.is((side.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n, 0, table);
  }
  side.exec('DROP TRIGGER fail_audit');
  side.close();
  const d = reg.recordProvisioned({ id: 'node-01', ...secretsOf(), actor: 'test' });
  t.is(d.status, 'active');
  t.is(reg.auditLog({ device: 'node-01', action: 'device.provision' }).length, 1);
  reg.close();
});

test('recording a known device again is refused unless it is a rekey to epoch + 1', async (t) => {
  const reg = await unlocked(freshHome());
  const s0 = secretsOf();
  reg.recordProvisioned({ id: 'node-01', ...s0, actor: 'test' });
  t.throws(() => reg.recordProvisioned({ id: 'node-01', ...secretsOf(), actor: 'test' }), { message: /already in the registry/ });
  const s1 = secretsOf();
  const d = reg.recordProvisioned({ id: 'node-01', ...s1, actor: 'test', rekey: true });
  t.is(d.epoch, 1);
  t.deepEqual(reg.epochs('node-01').map((e) => [e.epoch, e.status]), [[0, 'old'], [1, 'current']]);
  t.deepEqual(reg.secrets('node-01')!.root, s1.root);
  t.deepEqual(reg.secrets('node-01', 0)!.root, s0.root);
  const rec = reg.deviceRecord('node-01')!;
  t.deepEqual(rec.retiredEpochs, [0]);
  t.is(rec.epoch, 1);
  reg.revokeDevice('node-01', 'test', 'lost in the field');
  t.is(reg.getDevice('node-01')!.status, 'revoked');
  t.throws(() => reg.recordProvisioned({ id: 'node-01', ...secretsOf(), actor: 'test', rekey: true }), { message: /revoked/ });
  reg.close();
});

test('secret records are bound to their device and epoch: swapped rows do not open', async (t) => {
  const home = freshHome();
  const reg = await unlocked(home);
  reg.recordProvisioned({ id: 'node-01', ...secretsOf(), actor: 'test' });
  reg.recordProvisioned({ id: 'node-02', ...secretsOf(), actor: 'test' });
  reg.close();
  const side = new Database(join(home, DB_FILE));
  const a = side.prepare(`SELECT nonce, box FROM device_secrets WHERE device_id = 'node-01'`).get() as { nonce: Buffer; box: Buffer };
  side.prepare(`UPDATE device_secrets SET nonce = ?, box = ? WHERE device_id = 'node-02'`).run(a.nonce, a.box);
  side.close();
  const again = await unlocked(home);
  t.truthy(again.secrets('node-01'));
  t.throws(() => again.secrets('node-02'), { message: /do not open/ });
  again.close();
});

test('malformed device ids are refused by the library and nothing is written', async (t) => {
  const reg = await unlocked(freshHome());
  for (const id of ['a/b', '#', '+', '', 'x'.repeat(33), 'Node', '-x', 'a\u0000b']) {
    t.throws(() => reg.recordProvisioned({ id, ...secretsOf(), actor: 'test' }), { instanceOf: SealmqError, message: /is not valid/ });
    t.throws(() => reg.getDevice(id), { message: /is not valid/ });
  }
  t.deepEqual(reg.listDevices(), []);
  t.deepEqual(reg.auditLog(), []);
  reg.close();
});

test('replay state: check-and-update persists before delivery; a reopened registry accepts no old frame', async (t) => {
  const home = freshHome();
  const reg = await unlocked(home);
  const s = secretsOf();
  reg.recordProvisioned({ id: 'node-01', ...s, actor: 'test' });
  const keys = deriveKeys(P, s.root, 'node-01', 'up', 0);
  const frame = (n: number) => seal(P, keys, 'node-01', 'up', 'up', 0, n, utf8Encode('{"t":null,"d":{"n":' + n + '}}'));
  const open = (r: Registry, f: Uint8Array) =>
    r.withReceiveState('node-01', 'up', (st) => receive(P, (e) => (e === 0 ? keys : null), 'node-01', 'up', 'up', st, f));
  t.true(open(reg, frame(5)).ok);
  t.true(open(reg, frame(3)).ok);
  t.is(open(reg, frame(5)).reason, 'replay');
  reg.close();
  const again = await unlocked(home);
  t.deepEqual(again.getReceiveState('node-01', 'up'), { epoch: 0, window: { top: 5, hi: 0, lo: 0b101 } });
  t.is(open(again, frame(5)).reason, 'replay');
  t.is(open(again, frame(3)).reason, 'replay');
  t.true(open(again, frame(4)).ok);
  t.is(open(again, frame(4)).reason, 'replay');
  // A bad tag writes nothing.
  const bad = frame(9);
  bad[bad.length - 1] ^= 1;
  t.is(open(again, bad).reason, 'bad-tag');
  t.is(again.getReceiveState('node-01', 'up')!.window.top, 5);
  // The window never moves backwards.
  t.throws(() => again.putReceiveState('node-01', 'up', { epoch: 0, window: { top: 2, hi: 0, lo: 1 } }), { message: /backwards/ });
  t.deepEqual(again.getReceiveState('node-01', 'down'), { epoch: 0, window: { top: 0, hi: 0, lo: 0 } });
  again.close();
});

test('replay state after a rekey starts at the new epoch, so frames of the old epoch are old-epoch', async (t) => {
  const reg = await unlocked(freshHome());
  const s0 = secretsOf();
  reg.recordProvisioned({ id: 'node-01', ...s0, actor: 'test' });
  reg.putReceiveState('node-01', 'up', { epoch: 0, window: { top: 10, hi: 0, lo: 1 } });
  reg.recordProvisioned({ id: 'node-01', ...secretsOf(), actor: 'test', rekey: true });
  const st = reg.getReceiveState('node-01', 'up')!;
  t.deepEqual(st, { epoch: 1, window: { top: 0, hi: 0, lo: 0 } });
  const k0 = deriveKeys(P, s0.root, 'node-01', 'up', 0);
  const old = seal(P, k0, 'node-01', 'up', 'up', 0, 11, utf8Encode('{}'));
  t.is(receive(P, () => k0, 'node-01', 'up', 'up', st, old).reason, 'old-epoch');
  reg.close();
});

test('a persisted receive state (a frame with a good tag) also records when the device was last heard from', async (t) => {
  const reg = await unlocked(freshHome());
  reg.recordProvisioned({ id: 'node-01', ...secretsOf(), actor: 'test' });
  t.is(reg.getDevice('node-01')!.lastSeenAt, null);
  reg.putReceiveState('node-01', 'up', { epoch: 0, window: { top: 3, hi: 0, lo: 1 } });
  t.is(reg.getDevice('node-01')!.lastSeenAt, clockNow);
  reg.close();
});

test('a receive state under an epoch the registry holds no keys for is refused', async (t) => {
  const reg = await unlocked(freshHome());
  reg.recordProvisioned({ id: 'node-01', ...secretsOf(), actor: 'test' });
  t.throws(() => reg.putReceiveState('node-01', 'up', { epoch: 3, window: { top: 1, hi: 0, lo: 1 } }), { message: /no usable key epoch 3/ });
  t.is(reg.getDevice('node-01')!.epoch, 0);
  reg.close();
});

test('TOTP steps: each accepted once, never one older than the last, across reopening', async (t) => {
  const home = freshHome();
  const reg = await unlocked(home);
  reg.recordProvisioned({ id: 'node-01', ...secretsOf(), actor: 'test' });
  t.true(reg.consumeTotpStep('node-01', 1000));
  t.false(reg.consumeTotpStep('node-01', 1000));
  t.false(reg.consumeTotpStep('node-01', 999));
  reg.close();
  const again = openRegistry({ home, clock });
  t.false(again.consumeTotpStep('node-01', 1000));
  t.true(again.consumeTotpStep('node-01', 1001));
  t.is(again.lastTotpStep('node-01'), 1001);
  again.close();
});

test('operators: scrypt hashes, constant-time verify, password policy, names apart from device ids', async (t) => {
  const home = freshHome();
  const reg = await unlocked(home);
  await reg.addOperator({ name: 'adam', role: 'admin', password: 'a long enough password', actor: 'test' });
  t.deepEqual((await reg.verifyOperator('adam', 'a long enough password'))?.role, 'admin');
  t.is(await reg.verifyOperator('adam', 'a long enough passworD'), null);
  t.is(await reg.verifyOperator('nobody', 'a long enough password'), null);
  await t.throwsAsync(reg.addOperator({ name: 'vera', role: 'viewer', password: 'short', actor: 'test' }), { message: /at least 12/ });
  await t.throwsAsync(reg.addOperator({ name: 'vera', role: 'viewer', password: 'vera-vera-vera-vera', actor: 'test' }), { message: /user name/ });
  await t.throwsAsync(reg.addOperator({ name: 'adam', role: 'viewer', password: 'another long password', actor: 'test' }), { message: /already exists/ });
  await t.throwsAsync(reg.addOperator({ name: 'Bad Name', role: 'viewer', password: 'another long password', actor: 'test' }), { message: /not valid/ });
  await t.throwsAsync(reg.addOperator({ name: 'eve', role: 'root' as 'admin', password: 'another long password', actor: 'test' }), { message: /role/ });
  reg.recordProvisioned({ id: 'node-01', ...secretsOf(), actor: 'test' });
  await t.throwsAsync(reg.addOperator({ name: 'node-01', role: 'viewer', password: 'another long password', actor: 'test' }), { message: /already a device id/ });
  t.throws(() => reg.recordProvisioned({ id: 'adam', ...secretsOf(), actor: 'test' }), { message: /operator's name/ });
  t.deepEqual(reg.listOperators().map((o) => o.name), ['adam']);
  reg.close();
  const file = readFileSync(join(home, DB_FILE));
  t.false(file.includes('a long enough password'));
});

test('the audit log refuses anything that looks like a secret', async (t) => {
  const reg = await unlocked(freshHome());
  t.throws(() => reg.audit({ actor: 't', action: 'x', detail: { rootSecret: 'ab' } }), { message: /looks like a secret/ });
  t.throws(() => reg.audit({ actor: 't', action: 'x', detail: { nested: { password: 'p' } } }), { message: /looks like a secret/ });
  t.throws(() => reg.audit({ actor: 't', action: 'x', detail: { blob: new Uint8Array(4) } }), { message: /raw bytes/ });
  t.throws(() => reg.audit({ actor: 't', action: 'x', device: 'a/b' }), { message: /is not valid/ });
  const seq = reg.audit({ actor: 't', action: 'x', detail: { reason: 'ok' } });
  t.deepEqual(reg.auditLog().map((e) => e.seq), [seq]);
  reg.close();
});

test('a registry from a newer sealmq is refused', (t) => {
  const home = freshHome();
  openRegistry({ home }).close();
  const side = new Database(join(home, DB_FILE));
  side.pragma('user_version = 99');
  side.close();
  t.throws(() => openRegistry({ home }), { message: /schema version 99/ });
});

test('device posture (doctor --device): one row per device, the last run wins, audited; no secret, no unknown device, no other board', async (t) => {
  const home = freshHome();
  const reg = await unlocked(home);
  t.teardown(() => reg.close());
  reg.recordProvisioned({ id: 'node-01', ...secretsOf(), actor: 'test' });
  t.is(reg.getPosture('node-01'), null);
  const report = { port: 'tcp://x', device: 'node-01', firmware: '0.1.0', consoleLocked: true, clockOffsetS: 0.01, warnings: ['one'] } as unknown as DoctorReport;
  const first = recordDoctor(reg, 'node-01', report, 'operator:ann');
  t.like(first.recorded, { device: 'node-01', actor: 'operator:ann', warnings: ['one'] });
  clockNow += 1000;
  recordDoctor(reg, 'node-01', { ...report, warnings: [] }, 'cli:doctor');
  const p = reg.getPosture('node-01')!;
  t.like(p, { at: clockNow, actor: 'cli:doctor', warnings: [] });
  t.is(p.report.firmware, '0.1.0');
  t.deepEqual([...reg.listPostures().keys()], ['node-01']);
  t.deepEqual(reg.auditLog({ action: 'device.doctor' }).map((e) => [e.actor, e.detail.warnings]), [['operator:ann', 1], ['cli:doctor', 0]]);
  // A report read from another board (a wrong --port) is not filed under this id.
  const other = recordDoctor(reg, 'node-01', { ...report, device: 'node-02' }, 'cli:doctor');
  t.is(other.recorded, null);
  t.regex(other.why!, /says it is node-02/);
  t.is(reg.getPosture('node-01')!.at, clockNow);
  t.true(isSealmq('input', /no device node-09/)(t.throws(() => reg.recordPosture('node-09', { warnings: [] }, 'test'))));
  t.throws(() => reg.recordPosture('node-01', { rootSecret: 'x' }, 'test'), { message: /looks like a secret/ });
  t.true(isSealmq('input', /over 16384/)(t.throws(() => reg.recordPosture('node-01', { note: 'x'.repeat(17000) }, 'test'))));
});

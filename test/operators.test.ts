// Operators (issue 4 item 7, docs/OPERATORS.md) at library level, on a registry whose clock the test
// moves: wrong password, wrong code, reused code, expired session, wrong role, back-off that grows,
// lockout then admin unlock, passphrase recovery, password reset by TOTP code; each with its audit entry.
import test from 'ava';
import Database from 'better-sqlite3';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SealmqError } from '../host/errors.js';
import { backoffMs, checkSession, confirmEnrolment, hashToken, LOCK_AFTER, login, logout, resetPassword } from '../host/operators/auth.js';
import { actionsOf, allowed, PERMISSIONS } from '../host/operators/roles.js';
import { base32, base32Decode, matchStep, operatorCode, otpauthUri, stepAt } from '../host/operators/totp.js';
import { AuditEntry, openRegistry, OPERATOR_SEED_LEN, Registry, Role } from '../host/registry/registry.js';
import { MIGRATIONS } from '../host/registry/schema.js';
import { parseTopic, publishDecision, readDecision, subscribeDecision } from '../host/broker/policy.js';
import { mosquittoAcl, policyFromRegistry } from '../host/broker/mosquitto.js';
import { tmpHome } from './cli-helpers.js';

const PASS = 'operators test passphrase';
const KDF = { N: 1 << 15, r: 8, p: 1 };
const T0 = Date.UTC(2026, 10, 23, 3, 0, 0);

interface Op { name: string; role: Role; password: string; seed: Uint8Array }

async function setup(t: { teardown(fn: () => void): void }) {
  const home = tmpHome('sealmq-ops-');
  const clock = { now: T0 };
  const reg = openRegistry({ home, clock: () => clock.now, kdf: KDF });
  await reg.unlock(PASS);
  t.teardown(() => reg.close());
  /** A code of the step `d` steps from now. */
  const code = (op: Op, d = 0) => operatorCode(op.seed, clock.now + d * 30_000);
  const add = async (name: string, role: Role): Promise<Op> => {
    const op = { name, role, password: `a long password, role ${role}`, seed: new Uint8Array(randomBytes(OPERATOR_SEED_LEN)) };
    await reg.addOperator({ name, role, password: op.password, actor: 'test', otpSeed: op.seed });
    confirmEnrolment(reg, name, code(op, -1), 'operator:' + name);
    return op;
  };
  const last = (action: string): AuditEntry | undefined => reg.auditLog({ action }).at(-1);
  return { home, clock, reg, code, add, last };
}

const authError = { instanceOf: SealmqError, message: /./ };

function kindOf(e: unknown): string | undefined {
  return e instanceof SealmqError ? e.kind : undefined;
}

test('TOTP for operators: RFC 6238 SHA-1 vector (6 digits), RFC 4648 base32, an otpauth URI an app reads', (t) => {
  // RFC 6238 Appendix B, SHA-1, T = 59 s: 94287082 (8 digits) → 287082 in 6.
  const rfcSeed = new TextEncoder().encode('12345678901234567890');
  t.is(operatorCode(rfcSeed, 59_000), '287082');
  t.is(operatorCode(rfcSeed, 1111111109_000), '081804');
  // RFC 4648 §10 vectors (no padding, as the Key Uri Format wants).
  const enc = (s: string) => base32(new TextEncoder().encode(s));
  t.deepEqual(['', 'f', 'fo', 'foo', 'foob', 'fooba', 'foobar'].map(enc), ['', 'MY', 'MZXQ', 'MZXW6', 'MZXW6YQ', 'MZXW6YTB', 'MZXW6YTBOI']);
  t.deepEqual(base32Decode('MZXW6YTBOI'), new TextEncoder().encode('foobar'));
  const uri = new URL(otpauthUri('alice', rfcSeed));
  t.is(uri.protocol, 'otpauth:');
  t.is(uri.host, 'totp');
  t.is(decodeURIComponent(uri.pathname), '/sealmq:alice');
  t.deepEqual(base32Decode(uri.searchParams.get('secret')!), rfcSeed);
  t.like(Object.fromEntries(uri.searchParams), { issuer: 'sealmq', algorithm: 'SHA1', digits: '6', period: '30' });
  // The window is t-1 … t+1 and the latest matching step wins.
  const now = 1_700_000_000_000;
  t.is(matchStep(rfcSeed, operatorCode(rfcSeed, now - 30_000), now), stepAt(now) - 1);
  t.is(matchStep(rfcSeed, operatorCode(rfcSeed, now + 30_000), now), stepAt(now) + 1);
  t.is(matchStep(rfcSeed, operatorCode(rfcSeed, now - 60_000), now), null);
  t.is(matchStep(rfcSeed, '12345', now), null);
  t.is(matchStep(rfcSeed, '12345a', now), null);
});

test('roles: one table, deny by default; technician flashes and provisions new boards, only admin changes identities', (t) => {
  t.deepEqual(actionsOf('admin'), Object.keys(PERMISSIONS));
  t.deepEqual(actionsOf('technician'), ['flash', 'provision']);
  t.deepEqual(actionsOf('viewer'), []);
  t.false(allowed('admin', 'no.such.action'));
  t.false(allowed('root', 'flash'));
  for (const a of ['devices.revoke', 'devices.export', 'devices.rotate', 'send', 'provision.replace', 'users.manage']) t.false(allowed('technician', a), a);
});

test('login: the right password and code open a session (audited as operator.login); only the token hash is stored', async (t) => {
  const { home, reg, code, add, last } = await setup(t);
  const alice = await add('alice', 'admin');
  t.is(last('operator.enrol')?.actor, 'operator:alice');
  const r = await login(reg, { name: 'alice', password: alice.password, code: code(alice), from: 'test' });
  t.is(r.operator.name, 'alice');
  t.regex(r.token, /^[A-Za-z0-9_-]{43}$/);
  t.like(last('operator.login'), { actor: 'operator:alice', detail: { name: 'alice', role: 'admin', ttlS: 8 * 3600 } });
  t.like(reg.getSession(hashToken(r.token)), { operator: 'alice', role: 'admin' });
  const s = checkSession(reg, r.token, 'devices.export', 'test');
  t.like(s, { operator: 'alice', role: 'admin', actor: 'operator:alice' });
  t.like(last('operator.allowed'), { actor: 'operator:alice', detail: { action: 'devices.export', role: 'admin' } });
  // Neither the token, nor the seed, nor the password is anywhere in the database or its audit log.
  reg.close();
  const db = new Database(join(home, 'registry.db'), { readonly: true });
  const dump = JSON.stringify(db.prepare('SELECT * FROM audit').all()) + JSON.stringify(db.prepare('SELECT token_hash FROM sessions').all());
  db.close();
  const bytes = Buffer.concat([readFileSync(join(home, 'registry.db')), Buffer.from(dump)]);
  for (const secret of [r.token, alice.password, base32(alice.seed), Buffer.from(alice.seed).toString('hex')]) t.false(bytes.includes(secret), 'a secret in the registry');
  t.true(bytes.includes(hashToken(r.token)));
});

test('wrong password and wrong code are refused (exit 5), counted and audited with the reason', async (t) => {
  const { clock, reg, code, add, last } = await setup(t);
  const alice = await add('alice', 'admin');
  const e1 = await t.throwsAsync(login(reg, { name: 'alice', password: 'not the password at all', code: code(alice) }), authError);
  t.is(kindOf(e1), 'auth');
  t.is((e1 as SealmqError).exitCode, 5);
  t.like(last('operator.login.failure'), { actor: 'operator:alice', detail: { name: 'alice', reason: 'bad-password', failures: 1 } });
  clock.now += backoffMs(1);
  const wrong = code(alice) === '000000' ? '000001' : '000000';
  await t.throwsAsync(login(reg, { name: 'alice', password: alice.password, code: wrong }), authError);
  t.like(last('operator.login.failure'), { detail: { reason: 'bad-code', failures: 2 } });
  t.is(reg.getOperator('alice')!.failures, 2);
  // An unknown name costs the same and is audited under the local actor, with the name it tried.
  await t.throwsAsync(login(reg, { name: 'mallory', password: 'whatever password', code: '123456', from: 'cli:tester' }), authError);
  t.like(last('operator.login.failure'), { actor: 'cli:tester', detail: { name: 'mallory', reason: 'unknown-operator' } });
  // A success clears the count.
  clock.now += backoffMs(2);
  await login(reg, { name: 'alice', password: alice.password, code: code(alice) });
  t.is(reg.getOperator('alice')!.failures, 0);
});

test('a TOTP step is accepted once: the same code twice, or an older step after a newer one, is refused', async (t) => {
  const { clock, reg, code, add, last } = await setup(t);
  const alice = await add('alice', 'admin');
  const c = code(alice);
  await login(reg, { name: 'alice', password: alice.password, code: c });
  clock.now += 2000; // same 30 s step
  await t.throwsAsync(login(reg, { name: 'alice', password: alice.password, code: c }), authError);
  t.like(last('operator.login.failure'), { actor: 'operator:alice', detail: { reason: 'code-reused' } });
  // The next step is fine; after it, the previous step (still inside the ±1 window) is not.
  clock.now += backoffMs(1);
  await login(reg, { name: 'alice', password: alice.password, code: code(alice, 1) });
  clock.now += 1000;
  await t.throwsAsync(login(reg, { name: 'alice', password: alice.password, code: code(alice) }), authError);
  t.like(last('operator.login.failure'), { detail: { reason: 'code-reused' } });
  // Enrolment used step t-1 already: also refused for login.
  const bob = await add('bob', 'viewer');
  await t.throwsAsync(login(reg, { name: 'bob', password: bob.password, code: code(bob, -1) }), authError);
  t.like(last('operator.login.failure'), { actor: 'operator:bob', detail: { reason: 'code-reused' } });
});

test('a session expires: refused after its TTL (session.expired audited, row removed); logout ends one at once', async (t) => {
  const { clock, reg, code, add, last } = await setup(t);
  const alice = await add('alice', 'admin');
  const r = await login(reg, { name: 'alice', password: alice.password, code: code(alice), ttlMs: 60_000 });
  t.like(checkSession(reg, r.token, 'send'), { operator: 'alice' });
  clock.now += 59_999;
  t.notThrows(() => checkSession(reg, r.token, 'send'));
  clock.now += 1;
  const e = t.throws(() => checkSession(reg, r.token, 'send'), authError);
  t.is(kindOf(e), 'auth');
  t.regex(e!.message, /expired/);
  t.regex((e as SealmqError).hint ?? '', /sealmq login/);
  t.like(last('session.expired'), { actor: 'operator:alice', detail: { action: 'send' } });
  t.is(reg.getSession(hashToken(r.token)), null, 'the expired session is forgotten');
  t.throws(() => checkSession(reg, r.token, 'send'), { message: /not known/ });
  t.like(last('operator.denied'), { detail: { action: 'send', reason: 'unknown-session' } });
  // Logout.
  clock.now += 30_000;
  const r2 = await login(reg, { name: 'alice', password: alice.password, code: code(alice) });
  t.is(logout(reg, r2.token), 'alice');
  t.like(last('operator.logout'), { actor: 'operator:alice' });
  t.throws(() => checkSession(reg, r2.token, 'send'), authError);
  // No session at all.
  t.throws(() => checkSession(reg, null, 'flash', 'cli:tester'), { message: /needs an operator session/ });
  t.like(last('operator.denied'), { actor: 'cli:tester', detail: { action: 'flash', reason: 'no-session' } });
  await t.throwsAsync(login(reg, { name: 'alice', password: alice.password, code: code(alice, 1), ttlMs: 25 * 3600_000 }), { message: /1 min to 24 h/ });
});

test('wrong role: a technician may provision and flash but not revoke, export, rotate, send or replace; audited as operator.denied', async (t) => {
  const { reg, code, add, last } = await setup(t);
  const tina = await add('tina', 'technician');
  const vic = await add('vic', 'viewer');
  const tt = (await login(reg, { name: 'tina', password: tina.password, code: code(tina) })).token;
  const vt = (await login(reg, { name: 'vic', password: vic.password, code: code(vic) })).token;
  for (const a of ['provision', 'flash'] as const) t.like(checkSession(reg, tt, a), { operator: 'tina', role: 'technician' });
  for (const a of ['devices.revoke', 'devices.export', 'devices.rotate', 'send', 'provision.replace', 'users.manage'] as const) {
    const e = t.throws(() => checkSession(reg, tt, a), authError);
    t.is((e as SealmqError).exitCode, 5);
    t.regex(e!.message, new RegExp(`tina \\(technician\\) may not ${a.replace('.', '\\.')}`));
    t.regex((e as SealmqError).hint ?? '', /sealmq login/);
    t.like(last('operator.denied'), { actor: 'operator:tina', detail: { action: a, role: 'technician', reason: 'role' } });
  }
  t.throws(() => checkSession(reg, vt, 'flash'), authError);
  t.like(last('operator.denied'), { actor: 'operator:vic', detail: { action: 'flash', role: 'viewer' } });
});

test('failed logins back off exponentially per account (1 s, 2 s, 4 s …): early attempts are refused unchecked', async (t) => {
  const { clock, reg, code, add, last } = await setup(t);
  const alice = await add('alice', 'admin');
  const bob = await add('bob', 'admin');
  t.deepEqual([1, 2, 3, 4, 5, 9, 10, 20].map(backoffMs), [1000, 2000, 4000, 8000, 16000, 256000, 300000, 300000]);
  const bad = () => login(reg, { name: 'alice', password: 'not the password at all', code: code(alice) });
  for (let n = 1; n <= 4; n++) {
    await t.throwsAsync(bad(), { message: new RegExp(`failure ${n} of ${LOCK_AFTER}; next attempt in ${backoffMs(n) / 1000} s`) });
    // Inside the delay, even the right password and code are refused without being checked or counted.
    clock.now += backoffMs(n) - 1;
    await t.throwsAsync(login(reg, { name: 'alice', password: alice.password, code: code(alice) }), { message: /try again in 1 s/ });
    t.like(last('operator.login.refused'), { actor: 'operator:alice', detail: { reason: 'backoff', waitS: 1 } });
    t.is(reg.getOperator('alice')!.failures, n, 'a refused attempt is not counted');
    clock.now += 1;
  }
  // Per account: bob is not slowed down by alice's failures.
  await login(reg, { name: 'bob', password: bob.password, code: code(bob) });
  // The delay is a property of the account, not a window to sit out: after waiting, it is still 8 s after the next failure.
  clock.now += 3600_000;
  await t.throwsAsync(bad(), { message: /failure 5 of 10; next attempt in 16 s/ });
});

async function lockOut(ctx: Awaited<ReturnType<typeof setup>>, op: Op): Promise<void> {
  for (let n = 1; n <= LOCK_AFTER; n++) {
    await login(ctx.reg, { name: op.name, password: 'not the password at all', code: ctx.code(op) }).catch(() => undefined);
    ctx.clock.now += backoffMs(n);
  }
}

test('lockout after 10 consecutive failures; an admin session unlocks; the broker refuses a locked operator too', async (t) => {
  const ctx = await setup(t);
  const { clock, reg, code, add, last } = ctx;
  const admin = await add('root-admin', 'admin');
  const tina = await add('tina', 'technician');
  await lockOut(ctx, tina);
  t.like(reg.getOperator('tina'), { status: 'locked', failures: LOCK_AFTER });
  t.like(last('operator.lock'), { actor: 'registry', detail: { name: 'tina', failures: LOCK_AFTER } });
  const lockFailure = reg.auditLog({ action: 'operator.login.failure' }).at(-1)!;
  t.is(lockFailure.detail.failures, LOCK_AFTER);
  // Right password and code: still refused, audited; no waiting makes it pass.
  clock.now += 24 * 3600_000;
  await t.throwsAsync(login(reg, { name: 'tina', password: tina.password, code: code(tina) }), { message: /locked after 10 failed attempts/ });
  t.like(last('operator.login.refused'), { actor: 'operator:tina', detail: { reason: 'locked' } });
  t.is(await reg.verifyOperator('tina', tina.password), null, 'the broker password login is refused while locked');
  // An admin (with a session that may users.manage) unlocks.
  const at = (await login(reg, { name: 'root-admin', password: admin.password, code: code(admin) })).token;
  const s = checkSession(reg, at, 'users.manage');
  reg.unlockOperator('tina', s.actor);
  t.like(last('operator.unlock'), { actor: 'operator:root-admin', detail: { name: 'tina', was: 'locked', failures: LOCK_AFTER } });
  t.like(await login(reg, { name: 'tina', password: tina.password, code: code(tina) }), { operator: { name: 'tina', status: 'active', failures: 0 } });
});

test('recovery with the registry passphrase: a new authenticator (the old one stops working), pending until confirmed', async (t) => {
  const ctx = await setup(t);
  const { clock, reg, code, add, last } = ctx;
  const solo = await add('solo', 'admin');
  await lockOut(ctx, solo);
  t.is(reg.getOperator('solo')!.status, 'locked');
  // `sealmq users recover solo`: the registry is unlocked with the passphrase (here: setup did).
  const fresh: Op = { ...solo, seed: new Uint8Array(randomBytes(OPERATOR_SEED_LEN)) };
  reg.resetOperatorTotp('solo', fresh.seed, 'passphrase:cli:tester', 'operator.recover', { was: 'locked' });
  t.like(last('operator.recover'), { actor: 'passphrase:cli:tester', detail: { name: 'solo', was: 'locked' } });
  t.like(reg.getOperator('solo'), { status: 'pending', failures: 0 });
  await t.throwsAsync(login(reg, { name: 'solo', password: solo.password, code: code(fresh) }), { message: /has not confirmed an authenticator/ });
  t.like(last('operator.login.refused'), { detail: { reason: 'not-enrolled' } });
  t.throws(() => confirmEnrolment(reg, 'solo', code(solo), 'operator:solo'), { message: /does not match/ });
  t.like(last('operator.enrol.failure'), { detail: { name: 'solo', reason: 'bad-code' } });
  confirmEnrolment(reg, 'solo', code(fresh, -1), 'operator:solo');
  clock.now += 1;
  await t.throwsAsync(login(reg, { name: 'solo', password: solo.password, code: code(solo) }), { message: /wrong operator name, password or code/ });
  clock.now += backoffMs(1);
  t.like(await login(reg, { name: 'solo', password: solo.password, code: code(fresh) }), { operator: { name: 'solo', status: 'active' } });
});

test('password reset needs a valid TOTP code (not the old password); it ends the sessions; audited', async (t) => {
  const { clock, reg, code, add, last } = await setup(t);
  const alice = await add('alice', 'admin');
  const tok = (await login(reg, { name: 'alice', password: alice.password, code: code(alice) })).token;
  const wrong = code(alice, 1) === '000000' ? '000001' : '000000';
  clock.now += 30_000;
  await t.throwsAsync(resetPassword(reg, { name: 'alice', code: wrong, newPassword: 'a brand new passphrase' }), { message: /wrong code/ });
  t.like(last('operator.passwd.failure'), { actor: 'operator:alice', detail: { reason: 'bad-code', failures: 1 } });
  t.not(await reg.verifyOperator('alice', alice.password), null, 'the old password still works');
  clock.now += backoffMs(1);
  await t.throwsAsync(resetPassword(reg, { name: 'alice', code: code(alice), newPassword: 'alice' + ' is my password' }), { message: /must not contain the user name/ });
  await resetPassword(reg, { name: 'alice', code: code(alice), newPassword: 'a brand new passphrase', from: 'cli:tester' });
  t.like(last('operator.passwd'), { actor: 'operator:alice', detail: { name: 'alice', from: 'cli:tester' } });
  t.is(await reg.verifyOperator('alice', alice.password), null);
  t.not(await reg.verifyOperator('alice', 'a brand new passphrase'), null);
  t.throws(() => checkSession(reg, tok, 'send'), authError, 'the sessions opened with the old password ended');
  // The code used for the reset cannot be used again to log in.
  await t.throwsAsync(login(reg, { name: 'alice', password: 'a brand new passphrase', code: code(alice) }), authError);
  t.like(last('operator.login.failure'), { detail: { reason: 'code-reused' } });
});

test('schema v4 keeps operators of an older registry: active, no authenticator, so login says to enrol one', async (t) => {
  const home = tmpHome('sealmq-ops-v3-');
  const d = new Database(join(home, 'registry.db'));
  for (let v = 0; v < 3; v++) { d.exec(MIGRATIONS[v]); d.pragma(`user_version = ${v + 1}`); }
  d.close();
  // An operator written the V3 way (the old addOperator): add it with this sealmq, then downgrade the row's view.
  const reg = openRegistry({ home, kdf: KDF });
  t.teardown(() => reg.close());
  await reg.unlock(PASS);
  await reg.addOperator({ name: 'old-admin', role: 'admin', password: 'the old admin password', actor: 'test' });
  t.like(reg.getOperator('old-admin'), { status: 'active', hasTotp: false });
  t.not(await reg.verifyOperator('old-admin', 'the old admin password'), null, 'its broker login still works');
  await t.throwsAsync(login(reg, { name: 'old-admin', password: 'the old admin password', code: '123456' }), { message: /no TOTP authenticator enrolled/ });
  t.like(reg.auditLog({ action: 'operator.login.refused' }).at(-1), { detail: { reason: 'no-authenticator' } });
});

test('at the broker a technician reads telemetry like a viewer and writes nothing; locked and pending operators get no Mosquitto entry', async (t) => {
  const tech = { kind: 'operator', name: 'tina', role: 'technician' } as const;
  const viewer = { kind: 'operator', name: 'vic', role: 'viewer' } as const;
  for (const topic of ['sealmq/node-01/up', 'sealmq/node-01/down', 'sealmq/+/up', '$SYS/x']) {
    t.false(publishDecision(tech, 'sealmq', topic).allow, topic);
    t.is(subscribeDecision(tech, 'sealmq', topic).allow, subscribeDecision(viewer, 'sealmq', topic).allow, topic);
    t.is(readDecision(tech, 'sealmq', topic).allow, readDecision(viewer, 'sealmq', topic).allow, topic);
  }
  t.is(publishDecision(tech, 'sealmq', 'sealmq/node-01/down').reason, 'technician-publishes-nothing');
  const acl = mosquittoAcl({ prefix: 'sealmq', devices: ['node-01'], operators: [{ name: 'tina', role: 'technician' }] });
  t.regex(acl, /user tina\ntopic read sealmq\/\+\/up\s*$/);
  t.notRegex(acl, /write sealmq\/node-01\/down/);

  const ctx = await setup(t);
  ctx.reg.recordProvisioned({ id: 'node-01', root: new Uint8Array(32).fill(1), otpSeed: new Uint8Array(20).fill(2), actor: 'test' });
  const tina = await ctx.add('tina', 'technician');
  await ctx.reg.addOperator({ name: 'pete', role: 'viewer', password: 'a long password, pending', actor: 'test', otpSeed: new Uint8Array(randomBytes(20)) });
  t.deepEqual(policyFromRegistry(ctx.reg, 'sealmq').operators, [{ name: 'tina', role: 'technician' }]);
  await lockOut(ctx, tina);
  t.deepEqual(policyFromRegistry(ctx.reg, 'sealmq').operators, [], 'locked and pending operators are left out');
});

test('parseTopic: <prefix>/<id>/<channel> exactly, as splitting on "/" reads it, for every shape of topic', (t) => {
  // The reference: the definition the broker's policy was first written with.
  const bySplit = (prefix: string, topic: string) => {
    if (!topic.startsWith(prefix + '/')) return null;
    const rest = topic.slice(prefix.length + 1).split('/');
    return rest.length === 2 ? { id: rest[0], channel: rest[1] } : null;
  };
  const parts = ['', 'sealmq', 'sealmq2', 'seal', 'node-01', '+', '#', 'up', 'down', '/', '$SYS', 'ü'];
  let n = 0;
  for (const prefix of ['sealmq', 'plant/a']) {
    for (const a of parts) for (const b of parts) for (const c of parts) for (const d of ['', '/', '/x', 'x']) {
      const topic = a + (a ? '/' : '') + b + '/' + c + d;
      for (const tp of [topic, prefix + '/' + b + '/' + c + d, prefix + b + '/' + c]) {
        t.deepEqual(parseTopic(prefix, tp), bySplit(prefix, tp), `${prefix} ${JSON.stringify(tp)}`);
        n++;
      }
    }
  }
  t.true(n > 10_000);
});

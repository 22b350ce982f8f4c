// Operators through the real CLI (docs/OPERATORS.md): the first admin by passphrase, TOTP enrolment
// confirmed by a first code, login/whoami/logout, a technician refused revoke and export (exit 5, a hint
// naming `sealmq login`, an audit entry), lockout shown to the user, admin unlock, passphrase recovery with
// a new authenticator, password reset by TOTP code. Time-dependent cases are at library level
// (test/operators.test.ts, with the registry's clock injected); the CLI has no test-only time hook.
import test from 'ava';
import { randomBytes } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { backoffMs, LOCK_AFTER, login } from '../host/operators/auth.js';
import { base32Decode } from '../host/operators/totp.js';
import { openRegistry } from '../host/registry/registry.js';
import { enrolOperator, loginAs, nextCode, sealmq, tmpHome } from './cli-helpers.js';

const PASS = 'operators cli passphrase';
const BOSS_PW = 'a long admin pass phrase';
const TINA_PW = 'the technician password';

async function homeWithDevice(): Promise<string> {
  const home = tmpHome('sealmq-ops-cli-');
  const reg = openRegistry({ home });
  await reg.unlock(PASS);
  reg.recordProvisioned({ id: 'node-01', root: new Uint8Array(randomBytes(32)), otpSeed: new Uint8Array(randomBytes(20)), actor: 'test' });
  reg.close();
  return home;
}

function audit(home: string, action: string) {
  const reg = openRegistry({ home });
  try {
    return reg.auditLog({ action });
  } finally {
    reg.close();
  }
}

const seedOf = (otpauth: string) => base32Decode(new URL(otpauth).searchParams.get('secret')!);

test('first admin by passphrase, confirmed by a first code; login, whoami; a technician is refused revoke and export (exit 5, audited); logout', async (t) => {
  t.timeout(240_000);
  const home = await homeWithDevice();
  const env = { SEALMQ_HOME: home, SEALMQ_PASSPHRASE: PASS };

  const none = await sealmq(['devices', 'revoke', 'node-01'], { SEALMQ_HOME: home });
  t.is(none.code, 5, none.stderr);
  t.regex(none.stderr, /devices\.revoke needs an operator session, and there is none\n {2}→ .*sealmq login/);
  t.like(audit(home, 'operator.denied').at(-1), { detail: { action: 'devices.revoke', reason: 'no-session' } });

  const notAdmin = await sealmq(['users', 'add', 'tina', '--role', 'technician', '--password-env', 'PW'], { ...env, PW: TINA_PW });
  t.is(notAdmin.code, 3);
  t.regex(notAdmin.stderr, /the first operator must be an admin/);

  const add = await sealmq(['users', 'add', 'boss', '--role', 'admin', '--password-env', 'PW', '--json'], { ...env, PW: BOSS_PW });
  t.is(add.code, 0, add.stderr);
  const enrol = JSON.parse(add.stdout);
  t.like(enrol, { name: 'boss', role: 'admin', status: 'pending', confirm: 'sealmq users confirm boss' });
  const boss = seedOf(enrol.otpauth);
  t.is(boss.length, 20);
  t.like(audit(home, 'operator.add').at(-1), { detail: { name: 'boss', role: 'admin', status: 'pending', bootstrap: true } });
  t.regex(audit(home, 'operator.add').at(-1)!.actor, /^passphrase:cli:/);

  const early = await sealmq(['login', '--user', 'boss'], { ...env, SEALMQ_PASSWORD: BOSS_PW, SEALMQ_CODE: await nextCode(boss) });
  t.is(early.code, 5);
  t.regex(early.stderr, /has not confirmed an authenticator yet\n.*sealmq users confirm boss/);
  const badConfirm = await sealmq(['users', 'confirm', 'boss'], { ...env, SEALMQ_CODE: '12345x' });
  t.is(badConfirm.code, 5);
  const confirm = await sealmq(['users', 'confirm', 'boss'], { ...env, SEALMQ_CODE: await nextCode(boss) });
  t.is(confirm.code, 0, confirm.stderr);
  t.regex(confirm.stdout, /boss \(admin\) is active/);

  const li = await sealmq(['login', '--user', 'boss', '--ttl', '2h', '--json'], { ...env, SEALMQ_PASSWORD: BOSS_PW, SEALMQ_CODE: await nextCode(boss) });
  t.is(li.code, 0, li.stderr);
  const session = JSON.parse(li.stdout);
  t.like(session, { operator: 'boss', role: 'admin', file: join(home, 'session') });
  t.is(statSync(session.file).mode & 0o777, 0o600);
  t.like(audit(home, 'operator.login').at(-1), { actor: 'operator:boss', detail: { ttlS: 7200 } });
  const who = await sealmq(['whoami', '--json'], { SEALMQ_HOME: home });
  t.like(JSON.parse(who.stdout), { session: true, operator: 'boss', role: 'admin' });

  // The admin adds a technician (a session is needed from now on), who confirms and logs in with a token for $SEALMQ_SESSION.
  const addT = await sealmq(['users', 'add', 'tina', '--role', 'technician', '--password-env', 'PW', '--json'], { ...env, PW: TINA_PW });
  t.is(addT.code, 0, addT.stderr);
  t.like(audit(home, 'operator.add').at(-1), { actor: 'operator:boss', detail: { name: 'tina', role: 'technician' } });
  const tina = seedOf(JSON.parse(addT.stdout).otpauth);
  t.is((await sealmq(['users', 'confirm', 'tina'], { ...env, SEALMQ_CODE: await nextCode(tina) })).code, 0);
  const tl = await sealmq(['login', '--user', 'tina', '--print-token'], { ...env, SEALMQ_PASSWORD: TINA_PW, SEALMQ_CODE: await nextCode(tina) });
  t.is(tl.code, 0, tl.stderr);
  const tinaEnv = { SEALMQ_HOME: home, SEALMQ_PASSPHRASE: PASS, SEALMQ_SESSION: tl.stdout.trim() };
  t.like(JSON.parse((await sealmq(['whoami', '--json'], tinaEnv)).stdout), { operator: 'tina', role: 'technician', may: ['flash', 'provision'] });

  for (const args of [['devices', 'revoke', 'node-01'], ['devices', 'export', 'node-01']]) {
    const r = await sealmq(args, tinaEnv);
    t.is(r.code, 5, args.join(' '));
    t.is(r.stdout, '');
    const action = args.slice(0, 2).join('.');
    t.regex(r.stderr, new RegExp(`tina \\(technician\\) may not ${action}: it needs admin\\n.*sealmq login`));
    t.like(audit(home, 'operator.denied').at(-1), { actor: 'operator:tina', detail: { action, role: 'technician', reason: 'role' } });
  }
  const users = await sealmq(['users', 'unlock', 'boss'], tinaEnv);
  t.is(users.code, 5);
  // New boards are a technician's; changing who an existing identity is, or commanding a device, is not.
  // Refused before any board or broker is touched (nothing listens on these ports).
  for (const [args, action] of [
    [['provision', '--port', 'tcp://127.0.0.1:9', '--device', 'node-01', '--rekey'], 'provision.replace'],
    [['provision', '--port', 'tcp://127.0.0.1:9', '--replace', 'node-01'], 'provision.replace'],
    [['send', '--device', 'node-01', '--command', 'ping', '--broker', 'mqtt://127.0.0.1:9'], 'send'],
    [['devices', 'rotate', 'node-01', '--broker', 'mqtt://127.0.0.1:9'], 'devices.rotate'],
  ] as const) {
    const r = await sealmq([...args], tinaEnv);
    t.is(r.code, 5, args.join(' '));
    t.regex(r.stderr, new RegExp(`may not ${action.replace('.', '\\.')}`));
  }
  const ttl = await sealmq(['login', '--user', 'boss', '--ttl', '25h'], env);
  t.is(ttl.code, 3);
  t.regex(ttl.stderr, /a session lasts from 1 min to 24 h/);

  // The admin may; the device.revoke entry carries the admin's name.
  const rev = await sealmq(['devices', 'revoke', 'node-01', '--reason', 'test'], { SEALMQ_HOME: home });
  t.is(rev.code, 0, rev.stderr);
  t.like(audit(home, 'device.revoke').at(-1), { actor: 'operator:boss', device: 'node-01' });
  t.like(audit(home, 'operator.allowed').at(-1), { actor: 'operator:boss', detail: { action: 'devices.revoke' } });

  const out = await sealmq(['logout'], { SEALMQ_HOME: home });
  t.is(out.stdout, 'logged out boss\n');
  t.false(existsSync(join(home, 'session')));
  const after = await sealmq(['whoami'], { SEALMQ_HOME: home });
  t.is(after.code, 5);
  t.regex(after.stderr, /not logged in: no session/);
  t.like(audit(home, 'operator.logout').at(-1), { actor: 'operator:boss' });
});

test('lockout shown to the user; an admin session unlocks; passphrase recovery enrols a new authenticator; password reset needs a code', async (t) => {
  t.timeout(240_000);
  const home = await homeWithDevice();
  const env = { SEALMQ_HOME: home, SEALMQ_PASSPHRASE: PASS };
  await loginAs(home, PASS, 'admin');
  // tina is locked out at library level, on a clock that jumps over each back-off delay.
  let offset = 0;
  const reg = openRegistry({ home, clock: () => Date.now() + offset });
  await reg.unlock(PASS);
  t.teardown(() => reg.close());
  const tina = await enrolOperator(reg, 'tina', 'technician', TINA_PW);
  const lockOut = async () => {
    for (let n = 1; n <= LOCK_AFTER; n++) {
      await login(reg, { name: 'tina', password: 'not her password at all', code: '000000' }).catch(() => undefined);
      offset += backoffMs(n);
    }
  };
  await lockOut();

  const locked = await sealmq(['login', '--user', 'tina', '--print-token'], { ...env, SEALMQ_PASSWORD: TINA_PW, SEALMQ_CODE: await nextCode(tina.seed) });
  t.is(locked.code, 5);
  t.regex(locked.stderr, /tina is locked after 10 failed attempts\n.*sealmq users unlock tina.*sealmq users recover tina/);
  t.like(audit(home, 'operator.login.refused').at(-1), { actor: 'operator:tina', detail: { reason: 'locked' } });
  const list = JSON.parse((await sealmq(['users', 'list', '--json'], { SEALMQ_HOME: home })).stdout);
  t.like(list.find((u: { name: string }) => u.name === 'tina'), { role: 'technician', status: 'locked', totp: true, failures: 10 });

  const unlock = await sealmq(['users', 'unlock', 'tina'], { SEALMQ_HOME: home });
  t.is(unlock.code, 0, unlock.stderr);
  t.is(unlock.stdout, 'tina is active\n');
  t.like(audit(home, 'operator.unlock').at(-1), { actor: 'operator:test-admin', detail: { name: 'tina', was: 'locked' } });
  const back = await sealmq(['login', '--user', 'tina', '--print-token'], { ...env, SEALMQ_PASSWORD: TINA_PW, SEALMQ_CODE: await nextCode(tina.seed) });
  t.is(back.code, 0, back.stderr);

  // A wrong password tells the user the count and the delay.
  const wrong = await sealmq(['login', '--user', 'tina', '--print-token'], { ...env, SEALMQ_PASSWORD: 'not her password at all', SEALMQ_CODE: await nextCode(tina.seed) });
  t.is(wrong.code, 5);
  t.regex(wrong.stderr, /wrong operator name, password or code \(failure 1 of 10; next attempt in 1 s\)/);

  // Locked again, and no admin at hand: recovery with the passphrase, a NEW authenticator.
  offset += 3600_000;
  await lockOut();
  const rec = await sealmq(['users', 'recover', 'tina', '--json'], env);
  t.is(rec.code, 0, rec.stderr);
  const fresh = seedOf(JSON.parse(rec.stdout).otpauth);
  t.notDeepEqual(fresh, tina.seed);
  t.like(audit(home, 'operator.recover').at(-1), { detail: { name: 'tina', was: 'locked', renewed: ['authenticator'] } });
  t.regex(audit(home, 'operator.recover').at(-1)!.actor, /^passphrase:cli:/);
  const old = await sealmq(['users', 'confirm', 'tina'], { ...env, SEALMQ_CODE: await nextCode(tina.seed) });
  t.is(old.code, 5, 'the old authenticator no longer works');
  t.is((await sealmq(['users', 'confirm', 'tina'], { ...env, SEALMQ_CODE: await nextCode(fresh) })).code, 0);
  const again = await sealmq(['login', '--user', 'tina', '--print-token'], { ...env, SEALMQ_PASSWORD: TINA_PW, SEALMQ_CODE: await nextCode(fresh) });
  t.is(again.code, 0, again.stderr);

  // Password reset: the TOTP code, not the old password.
  const NEW_PW = 'a brand new technician secret';
  const badCode = await sealmq(['users', 'passwd', 'tina', '--password-env', 'NEW'], { ...env, NEW: NEW_PW, SEALMQ_CODE: '99999' });
  t.is(badCode.code, 5);
  t.regex(badCode.stderr, /wrong code/);
  t.like(audit(home, 'operator.passwd.failure').at(-1), { actor: 'operator:tina', detail: { reason: 'bad-code' } });
  offset = 0;
  await new Promise((r) => setTimeout(r, backoffMs(1) + 100));
  const reset = await sealmq(['users', 'passwd', 'tina', '--password-env', 'NEW'], { ...env, NEW: NEW_PW, SEALMQ_CODE: await nextCode(fresh) });
  t.is(reset.code, 0, reset.stderr);
  t.like(audit(home, 'operator.passwd').at(-1), { actor: 'operator:tina', detail: { name: 'tina' } });
  const withNew = await sealmq(['login', '--user', 'tina', '--print-token'], { ...env, SEALMQ_PASSWORD: NEW_PW, SEALMQ_CODE: await nextCode(fresh) });
  t.is(withNew.code, 0, withNew.stderr);
  // No secret reached the audit log.
  const all = JSON.stringify(audit(home, 'operator.passwd').concat(audit(home, 'operator.login'), audit(home, 'operator.recover')));
  for (const s of [NEW_PW, TINA_PW, withNew.stdout.trim()]) t.false(all.includes(s));
});

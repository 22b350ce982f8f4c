// The tamper-evident audit log (docs/SECURITY.md): SHA-256 chain + Ed25519 signatures. `sealmq audit
// verify` passes on an intact log and names the first bad entry after an edit, a deletion, a reorder or a
// broken signature; entries written while locked are chained at once and signed at the next unlock;
// secrets never reach the log.
import test, { ExecutionContext } from 'ava';
import Database from 'better-sqlite3';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import nacl from 'tweetnacl';
import { entryHash, signedBytes, signEntry } from '../host/registry/audit-chain.js';
import { openRegistry } from '../host/registry/registry.js';
import { MIGRATIONS } from '../host/registry/schema.js';
import { loginAs, sealmq, tmpHome } from './cli-helpers.js';

const PASS = 'audit test passphrase';

/** A registry with a dozen audited actions, one of them (a revoke) written while locked. */
async function world(t: ExecutionContext): Promise<{ home: string; secrets: string[] }> {
  const home = tmpHome('sealmq-audit-');
  const reg = openRegistry({ home });
  await reg.unlock(PASS);
  const secrets: string[] = [PASS];
  for (const id of ['node-01', 'node-02', 'node-03']) {
    const root = new Uint8Array(randomBytes(32));
    const seed = new Uint8Array(randomBytes(20));
    secrets.push(Buffer.from(root).toString('hex'), Buffer.from(seed).toString('hex'));
    reg.recordProvisioned({ id, root, otpSeed: seed, actor: 'test', detail: { note: 'bench ' + id } });
  }
  await reg.addOperator({ name: 'vera', role: 'viewer', password: 'viewer password, long enough', actor: 'test' });
  secrets.push('viewer password, long enough');
  reg.exportSecrets('node-01', 'test');
  secrets.push(reg.brokerPassword('device:node-02', 'test').password);
  for (let i = 0; i < 4; i++) reg.audit({ actor: 'test', action: 'test.note', detail: { i } });
  reg.close();
  const op = await loginAs(home, PASS);
  secrets.push(op.password, op.token!);
  const r = await sealmq(['devices', 'revoke', 'node-03', '--reason', 'lost'], { SEALMQ_HOME: home });
  t.is(r.code, 0, r.stderr);
  return { home, secrets };
}

const db = (home: string) => new Database(join(home, 'registry.db'));
const verify = (home: string, ...args: string[]) => sealmq(['audit', 'verify', ...args], { SEALMQ_HOME: home });

test('an intact log verifies; entries written while locked are chained, then signed at the next unlock', async (t) => {
  const { home } = await world(t);
  let r = await verify(home, '--json');
  t.is(r.code, 0, r.stderr);
  const res = JSON.parse(r.stdout);
  t.true(res.ok);
  t.is(res.pending, 2, 'the locked revoke (and the session check before it, operator.allowed) is chained but not signed yet');
  t.is(res.entries, res.signed + 2);
  t.regex(res.publicKey, /^[0-9a-f]{64}$/);
  // The signatures are plain RFC 8032 Ed25519: tweetnacl checks them too.
  const d = db(home);
  const first = d.prepare('SELECT hash, sig FROM audit WHERE seq = 1').get() as { hash: string; sig: string };
  d.close();
  t.true(nacl.sign.detached.verify(signedBytes(first.hash), Buffer.from(first.sig, 'hex'), Buffer.from(res.publicKey, 'hex')));
  r = await verify(home, '--strict');
  t.is(r.code, 1);
  t.regex(r.stderr, new RegExp(`entry ${res.head.seq - 1} and 1 after it are not signed`));
  // Any unlock signs what was pending.
  const reg = openRegistry({ home });
  await reg.unlock(PASS);
  reg.close();
  r = await verify(home, '--strict');
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /audit log intact: \d+ entries, \d+ signed\n/);
  // Pinning the key: the right one passes, another fails at the first signed entry.
  t.is((await verify(home, '--pubkey', res.publicKey)).code, 0);
  const other = Buffer.from(nacl.sign.keyPair().publicKey).toString('hex');
  r = await verify(home, '--pubkey', other);
  t.is(r.code, 1);
  t.regex(r.stderr, /entry 1: the signature does not verify/);
  // tail shows the latest, oldest first.
  r = await sealmq(['audit', 'tail', '-n', '3', '--json'], { SEALMQ_HOME: home });
  t.is(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
  t.is(lines.length, 3);
  t.is(lines[2].action, 'device.revoke');
  t.true(lines[2].signed);
  r = await sealmq(['audit', 'tail'], { SEALMQ_HOME: home });
  t.regex(r.stdout, /device\.revoke/);
});

test('an edited entry is named, whether or not its hash was recomputed', async (t) => {
  const { home } = await world(t);
  const d = db(home);
  d.prepare(`UPDATE audit SET detail = '{"reason":"found"}' WHERE action = 'device.revoke'`).run();
  const seq = (d.prepare(`SELECT seq FROM audit WHERE action = 'device.revoke'`).get() as { seq: number }).seq;
  d.prepare(`UPDATE audit SET actor = 'someone-else' WHERE seq = 5`).run();
  d.close();
  let r = await verify(home);
  t.is(r.code, 1);
  t.regex(r.stderr, /entry 5 was edited/);
  // An attacker who also recomputes the hash still cannot sign it.
  const e = db(home);
  const row = e.prepare('SELECT * FROM audit WHERE seq = 5').get() as { seq: number; at: number; actor: string; action: string; device_id: string | null; detail: string; prev: string };
  e.prepare('UPDATE audit SET hash = ? WHERE seq = 5').run(entryHash({ ...row, device: row.device_id }));
  e.close();
  r = await verify(home);
  t.is(r.code, 1);
  t.regex(r.stderr, /entry 5: the signature does not verify/);
  t.true(seq > 5);
});

test('a deleted entry is named', async (t) => {
  const { home } = await world(t);
  const d = db(home);
  d.prepare('DELETE FROM audit WHERE seq = 4').run();
  d.close();
  const r = await verify(home);
  t.is(r.code, 1);
  t.regex(r.stderr, /entry 4 was deleted: entry 5 does not follow entry 3/);
});

test('reordered entries are named', async (t) => {
  const { home } = await world(t);
  const d = db(home);
  const cols = 'at, actor, action, device_id, detail, prev, hash, sig';
  const a = d.prepare(`SELECT ${cols} FROM audit WHERE seq = 6`).get() as Record<string, unknown>;
  const b = d.prepare(`SELECT ${cols} FROM audit WHERE seq = 7`).get() as Record<string, unknown>;
  const put = d.prepare(`UPDATE audit SET at = @at, actor = @actor, action = @action, device_id = @device_id, detail = @detail, prev = @prev, hash = @hash, sig = @sig WHERE seq = @seq`);
  put.run({ ...b, seq: 6 });
  put.run({ ...a, seq: 7 });
  d.close();
  const r = await verify(home);
  t.is(r.code, 1);
  t.regex(r.stderr, /entry 6 was reordered: its content was written as entry 7/);
});

test('a broken signature, a stripped signature and a replaced public key are caught', async (t) => {
  const { home } = await world(t);
  const d = db(home);
  const sig = (d.prepare('SELECT sig FROM audit WHERE seq = 3').get() as { sig: string }).sig;
  d.prepare('UPDATE audit SET sig = ? WHERE seq = 3').run((sig[0] === '0' ? '1' : '0') + sig.slice(1));
  d.close();
  let r = await verify(home);
  t.is(r.code, 1);
  t.regex(r.stderr, /entry 3: the signature does not verify/);

  const e = db(home);
  e.prepare('UPDATE audit SET sig = ? WHERE seq = 3').run(sig);
  e.prepare('UPDATE audit SET sig = NULL WHERE seq = 2').run();
  e.close();
  r = await verify(home);
  t.is(r.code, 1);
  t.regex(r.stderr, /entry 2 is unsigned but later entries are signed/);

  // A forger replaces the public key and re-signs everything: verify alone is fooled (so pin the key),
  // and the next unlock refuses, because the sealed private key no longer matches.
  const f = db(home);
  const kp = nacl.sign.keyPair();
  const pinned = (f.prepare(`SELECT value FROM meta WHERE key = 'audit_pubkey'`).get() as { value: string }).value;
  f.prepare(`UPDATE meta SET value = ? WHERE key = 'audit_pubkey'`).run(Buffer.from(kp.publicKey).toString('hex'));
  for (const row of f.prepare('SELECT seq, hash FROM audit').all() as { seq: number; hash: string }[]) {
    f.prepare('UPDATE audit SET sig = ? WHERE seq = ?').run(signEntry(kp.secretKey, row.hash), row.seq);
  }
  f.close();
  t.is((await verify(home)).code, 0);
  r = await verify(home, '--pubkey', pinned);
  t.is(r.code, 1);
  const reg = openRegistry({ home });
  await t.throwsAsync(reg.unlock(PASS), { message: /audit public key in the registry was replaced/ });
  reg.close();
});

test('secrets never appear in the audit log', async (t) => {
  const { home, secrets } = await world(t);
  const d = db(home);
  const dump = JSON.stringify(d.prepare('SELECT * FROM audit').all());
  const meta = JSON.stringify(d.prepare('SELECT * FROM meta').all());
  d.close();
  for (const s of secrets) t.false(dump.includes(s), 'a secret reached the audit log');
  const tail = await sealmq(['audit', 'tail', '-n', '1000', '--json'], { SEALMQ_HOME: home });
  for (const s of secrets) t.false(tail.stdout.includes(s));
  // The audit private key is sealed: only the public key is in clear.
  t.regex(meta, /audit_pubkey/);
  t.notRegex(meta, /audit_seckey|secretKey/);
  const reg = openRegistry({ home });
  t.throws(() => reg.audit({ actor: 'test', action: 'x', detail: { password: 'nope' } }), { message: /looks like a secret/ });
  t.throws(() => reg.audit({ actor: 'test', action: 'x', detail: { blob: new Uint8Array(4) } }), { message: /raw bytes/ });
  reg.close();
});

test('a registry from before schema v3 gets its old entries chained at open and signed at the next unlock', async (t) => {
  const home = tmpHome('sealmq-audit-v2-');
  const d = new Database(join(home, 'registry.db'));
  for (let v = 0; v < 2; v++) {
    d.exec(MIGRATIONS[v]);
    d.pragma(`user_version = ${v + 1}`);
  }
  const ins = d.prepare('INSERT INTO audit(at, actor, action, device_id, detail) VALUES (?, ?, ?, ?, ?)');
  for (let i = 0; i < 3; i++) ins.run(1000 + i, 'old', 'legacy.entry', null, JSON.stringify({ i }));
  d.close();
  const reg = openRegistry({ home });
  let res = reg.verifyAudit();
  t.true(res.ok, res.problem?.message);
  t.is(res.entries, 3);
  t.is(res.pending, 3);
  await reg.unlock(PASS);
  reg.audit({ actor: 'test', action: 'new.entry' });
  res = reg.verifyAudit({ strict: true });
  t.true(res.ok, res.problem?.message);
  t.deepEqual([res.entries, res.signed], [4, 4]);
  reg.close();
});

// The audit log (docs/SECURITY.md): append-only, each entry hash-chained to the one before and signed by
// the registry's audit key (Ed25519) when unlocked; entries written while locked are signed at the next unlock.
import nacl from 'tweetnacl';
import { randomBytes } from 'node:crypto';
import { toHex } from '../../core/bytes.js';
import { inputError, SealmqError } from '../errors.js';
import { AuditRow, AuditVerifyResult, entryHash, GENESIS, signEntry, signingKey, verifyChain } from './audit-chain.js';
import { openBox, sealBox, wipe } from './crypto.js';
import type { RegistryStore } from './store.js';
import { AuditEntry, AuditInput, AuditQuery, checkAuditDetail, checkDeviceId, u8 } from './types.js';

const AUDIT_KEY_TEXT = 'sealmq audit key v1\0';

interface RawAuditRow {
  seq: number; at: number; actor: string; action: string; device_id: string | null; detail: string;
  prev: string | null; hash: string | null; sig: string | null;
}

/** Appends one audit entry. Throws if the detail looks like it carries a secret. */
export function audit(store: RegistryStore, e: AuditInput): number {
  return insertAudit(store, e, store.clock());
}

export function insertAudit(store: RegistryStore, e: AuditInput, at: number): number {
  if (typeof e.actor !== 'string' || e.actor === '' || typeof e.action !== 'string' || e.action === '') {
    throw inputError('an audit entry needs an actor and an action');
  }
  if (e.device != null) checkDeviceId(e.device);
  const detail = e.detail ?? {};
  checkAuditDetail(detail);
  const text = JSON.stringify(detail);
  // One transaction (a savepoint inside a caller's): read the head, append, hash, sign when unlocked.
  return store.tx(() => {
    const last = store.sql('SELECT hash FROM audit ORDER BY seq DESC LIMIT 1').get() as { hash: string | null } | undefined;
    const prev = last?.hash ?? GENESIS;
    const r = store.sql('INSERT INTO audit(at, actor, action, device_id, detail, prev) VALUES (?, ?, ?, ?, ?, ?)')
      .run(at, e.actor, e.action, e.device ?? null, text, prev);
    const seq = Number(r.lastInsertRowid);
    const hash = entryHash({ seq, at, actor: e.actor, action: e.action, device: e.device ?? null, detail: text, prev });
    // Locked (e.g. `devices revoke`): chained now, signed by signPendingAudit at the next unlock.
    const sig = store.auditSecret ? signEntry(store.auditSecret, hash) : null;
    store.sql('UPDATE audit SET hash = ?, sig = ? WHERE seq = ?').run(hash, sig, seq);
    return seq;
  });
}

/** The audit public key (hex), or null before the registry was first unlocked. */
export function auditPublicKey(store: RegistryStore): string | null {
  return store.meta('audit_pubkey');
}

/**
 * Checks the chain and the signatures of the whole log (no passphrase needed). `publicKey` pins the key
 * (hex) instead of trusting the one stored in the registry.
 */
export function verifyAudit(store: RegistryStore, opts: { publicKey?: string; strict?: boolean } = {}): AuditVerifyResult & { publicKey: string | null } {
  const pk = opts.publicKey ?? auditPublicKey(store);
  if (pk !== null && !/^[0-9a-f]{64}$/i.test(pk)) throw inputError('an audit public key is 64 hex digits');
  const rows = (store.sql('SELECT * FROM audit ORDER BY seq').all() as RawAuditRow[]).map((r): AuditRow => ({
    seq: r.seq, at: r.at, actor: r.actor, action: r.action, device: r.device_id, detail: r.detail, prev: r.prev, hash: r.hash, sig: r.sig,
  }));
  const res = verifyChain(rows, pk ? new Uint8Array(Buffer.from(pk, 'hex')) : null, opts.strict);
  return { ...res, publicKey: pk ? pk.toLowerCase() : null };
}

export function auditLog(store: RegistryStore, q: AuditQuery = {}): AuditEntry[] {
  const where: string[] = [];
  const args: (string | number)[] = [];
  if (q.device !== undefined) { where.push('device_id = ?'); args.push(checkDeviceId(q.device)); }
  if (q.action !== undefined) { where.push('action = ?'); args.push(q.action); }
  if (q.afterSeq !== undefined) { where.push('seq > ?'); args.push(q.afterSeq); }
  const limit = Math.max(1, Math.min(q.limit ?? 1000, 100000));
  const sql = `SELECT * FROM (SELECT * FROM audit ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY seq DESC LIMIT ${limit}) ORDER BY seq`;
  // Built per query (filters and limit vary): not kept in the statement cache.
  return (store.db.prepare(sql).all(...args) as RawAuditRow[])
    .map((r) => ({ seq: r.seq, at: r.at, actor: r.actor, action: r.action, device: r.device_id, detail: JSON.parse(r.detail), hash: r.hash, signed: r.sig !== null }));
}

/** Entries from before schema V3 carry no hash: chained once, in seq order, ahead of any new entry. */
export function chainLegacyAudit(store: RegistryStore): void {
  if (!store.sql('SELECT 1 FROM audit WHERE hash IS NULL LIMIT 1').get()) return;
  store.tx(() => {
    const rows = store.sql('SELECT * FROM audit ORDER BY seq').all() as RawAuditRow[];
    let prev = GENESIS;
    const upd = store.sql('UPDATE audit SET prev = ?, hash = ? WHERE seq = ?');
    for (const r of rows) {
      if (r.hash === null) {
        const hash = entryHash({ seq: r.seq, at: r.at, actor: r.actor, action: r.action, device: r.device_id, detail: r.detail, prev });
        upd.run(prev, hash, r.seq);
        prev = hash;
      } else prev = r.hash;
    }
  });
}

/**
 * The audit key: created once per registry (tweetnacl seed from the CSPRNG), the public key in clear in
 * meta (so `audit verify` needs no passphrase), the seed sealed under the registry key. A public key
 * that the sealed seed does not produce means meta was altered: refused.
 */
export function loadAuditKey(store: RegistryStore): void {
  const key = store.requireKey();
  store.tx(() => {
    if (store.meta('audit_key') !== null) return;
    const seed = new Uint8Array(randomBytes(32));
    const kp = nacl.sign.keyPair.fromSeed(seed);
    const sealed = sealBox(key, new Uint8Array(Buffer.concat([Buffer.from(AUDIT_KEY_TEXT), seed])));
    wipe(seed);
    wipe(kp.secretKey);
    store.sql('INSERT INTO meta(key, value) VALUES (?, ?)').run('audit_key', JSON.stringify({ nonce: toHex(sealed.nonce), box: toHex(sealed.box) }));
    store.sql('INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)').run('audit_pubkey', toHex(kp.publicKey));
  });
  const v = JSON.parse(store.meta('audit_key')!) as { nonce: string; box: string };
  const pt = openBox(key, { nonce: u8(Buffer.from(v.nonce, 'hex')), box: u8(Buffer.from(v.box, 'hex')) });
  const tag = Buffer.from(AUDIT_KEY_TEXT);
  if (!pt || pt.length !== tag.length + 32 || !Buffer.from(pt.subarray(0, tag.length)).equals(tag)) {
    wipe(pt);
    throw new SealmqError('internal', 'the audit key of the registry does not open: the registry was altered');
  }
  const kp = nacl.sign.keyPair.fromSeed(pt.subarray(tag.length));
  wipe(pt);
  if (store.meta('audit_pubkey') !== toHex(kp.publicKey)) {
    wipe(kp.secretKey);
    throw new SealmqError('internal', 'the audit public key in the registry was replaced: it does not match the sealed audit key', {
      hint: 'the audit log cannot be trusted; run `sealmq audit verify --pubkey <the key you recorded>`',
    });
  }
  store.auditSecret = signingKey(kp.secretKey);
  wipe(kp.secretKey);
}

/** Signs, oldest first, every chained entry written while the registry was locked. */
export function signPendingAudit(store: RegistryStore): void {
  const sk = store.auditSecret;
  if (!sk) return;
  store.tx(() => {
    const rows = store.sql('SELECT seq, hash FROM audit WHERE sig IS NULL AND hash IS NOT NULL ORDER BY seq').all() as { seq: number; hash: string }[];
    const upd = store.sql('UPDATE audit SET sig = ? WHERE seq = ?');
    for (const r of rows) upd.run(signEntry(sk, r.hash), r.seq);
  });
}

// The tamper-evident audit log (docs/SECURITY.md): each entry carries the SHA-256 of the previous one and
// an Ed25519 signature (tweetnacl) by the registry's audit key over its own hash. Pure functions: the
// registry computes and stores, `sealmq audit verify` recomputes with the public key alone.
import { createHash, createPrivateKey, createPublicKey, KeyObject, sign as edSign, verify as edVerify } from 'node:crypto';
import nacl from 'tweetnacl';

/** The `prev` of the first entry. */
export const GENESIS = '0'.repeat(64);
const DOMAIN = 'sealmq audit v1';

/** One row as stored: detail is the exact JSON text that was written. */
export interface AuditRow {
  seq: number;
  at: number;
  actor: string;
  action: string;
  device: string | null;
  detail: string;
  prev: string | null;
  hash: string | null;
  sig: string | null;
}

/**
 * Canonical encoding: a JSON array in a fixed order of a domain tag, seq, time, actor, action, device (or
 * null), the detail text exactly as stored, and prev. JSON.stringify of strings, integers and null is
 * deterministic, and the array form leaves no ambiguity about where one field ends.
 */
export function canonical(r: Pick<AuditRow, 'seq' | 'at' | 'actor' | 'action' | 'device' | 'detail' | 'prev'>): string {
  return JSON.stringify([DOMAIN, r.seq, r.at, r.actor, r.action, r.device, r.detail, r.prev]);
}

export function entryHash(r: Pick<AuditRow, 'seq' | 'at' | 'actor' | 'action' | 'device' | 'detail' | 'prev'>): string {
  return createHash('sha256').update(canonical(r), 'utf8').digest('hex');
}

/** What is signed: the domain tag and the 32-byte entry hash. */
function signedMessage(hashHex: string): Uint8Array {
  const tag = Buffer.from(DOMAIN + ' sig\0', 'utf8');
  return new Uint8Array(Buffer.concat([tag, Buffer.from(hashHex, 'hex')]));
}

/*
 * Ed25519 (RFC 8032) is deterministic: the key pair comes from tweetnacl (keyPair.fromSeed), and the
 * signatures are computed and checked by Node's OpenSSL binding, byte for byte the same as tweetnacl's
 * (test/audit.test.ts checks one with nacl.sign.detached.verify) but ~100x faster, which matters on the
 * broker's login path and when verifying a long log.
 */
const b64u = (b: Uint8Array): string => Buffer.from(b).toString('base64url');

/** A signing key from a tweetnacl 64-byte secret key (seed ‖ public key). */
export function signingKey(naclSecretKey: Uint8Array): KeyObject {
  if (naclSecretKey.length !== nacl.sign.secretKeyLength) throw new Error('an Ed25519 secret key is 64 bytes');
  return createPrivateKey({
    key: { kty: 'OKP', crv: 'Ed25519', d: b64u(naclSecretKey.subarray(0, 32)), x: b64u(naclSecretKey.subarray(32)) }, format: 'jwk',
  });
}

export function verifyingKey(publicKey: Uint8Array): KeyObject {
  if (publicKey.length !== nacl.sign.publicKeyLength) throw new Error('an Ed25519 public key is 32 bytes');
  return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: b64u(publicKey) }, format: 'jwk' });
}

export function signEntry(key: KeyObject | Uint8Array, hashHex: string): string {
  const k = key instanceof Uint8Array ? signingKey(key) : key;
  return edSign(null, signedMessage(hashHex), k).toString('hex');
}

export function checkSignature(publicKey: KeyObject | Uint8Array, hashHex: string, sigHex: string): boolean {
  if (!/^[0-9a-f]{128}$/.test(sigHex) || !/^[0-9a-f]{64}$/.test(hashHex)) return false;
  const k = publicKey instanceof Uint8Array ? verifyingKey(publicKey) : publicKey;
  return edVerify(null, signedMessage(hashHex), k, Buffer.from(sigHex, 'hex'));
}

/** The exact bytes signed for an entry hash (for checking with another Ed25519 implementation). */
export function signedBytes(hashHex: string): Uint8Array {
  return signedMessage(hashHex);
}

export interface AuditProblem {
  /** The first entry found bad (for a deletion: the entry after the gap). */
  seq: number;
  kind: 'edited' | 'deleted' | 'reordered' | 'inserted' | 'bad-signature' | 'unsigned' | 'unchained';
  message: string;
}

export interface AuditVerifyResult {
  ok: boolean;
  entries: number;
  signed: number;
  /** Newest entries written while the registry was locked, not signed yet (chained, signed at next unlock). */
  pending: number;
  /** seq and hash of the newest entry: keep a copy elsewhere to detect a truncated tail. */
  head: { seq: number; hash: string } | null;
  problem: AuditProblem | null;
}

/**
 * Checks the whole chain in seq order and stops at the first bad entry. A signed entry vouches for every
 * entry before it (its hash covers prev, which covers the one before, …), so unsigned entries are allowed
 * only as the newest tail; `strict` refuses even that.
 */
export function verifyChain(rows: AuditRow[], publicKeyBytes: Uint8Array | null, strict = false): AuditVerifyResult {
  const publicKey = publicKeyBytes ? verifyingKey(publicKeyBytes) : null;
  const res: AuditVerifyResult = { ok: true, entries: rows.length, signed: 0, pending: 0, head: null, problem: null };
  const fail = (seq: number, kind: AuditProblem['kind'], message: string): AuditVerifyResult => {
    res.ok = false;
    res.problem = { seq, kind, message };
    return res;
  };
  let prevHash = GENESIS;
  let prevSeq = 0;
  let firstUnsigned: number | null = null;
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i];
    if (r.hash === null || r.prev === null) return fail(r.seq, 'unchained', `entry ${r.seq} carries no hash: it was written outside sealmq or the chain was stripped`);
    const recomputed = entryHash(r);
    if (recomputed !== r.hash) {
      // Its content hashes correctly under another seq: the row was moved there from elsewhere.
      for (const o of rows) {
        if (o.seq !== r.seq && entryHash({ ...r, seq: o.seq }) === r.hash) {
          return fail(r.seq, 'reordered', `entry ${r.seq} was reordered: its content was written as entry ${o.seq}`);
        }
      }
      return fail(r.seq, 'edited', `entry ${r.seq} was edited: its content no longer matches its hash`);
    }
    if (r.prev !== prevHash) {
      if (r.seq > prevSeq + 1) {
        const missing = r.seq === prevSeq + 2 ? `entry ${prevSeq + 1} was` : `entries ${prevSeq + 1}..${r.seq - 1} were`;
        return fail(prevSeq + 1, 'deleted', `${missing} deleted: entry ${r.seq} does not follow entry ${prevSeq || '(start)'}`);
      }
      return fail(r.seq, 'reordered', `entry ${r.seq} does not follow entry ${prevSeq || '(start)'}: entries were reordered, replaced or inserted`);
    }
    if (r.sig !== null) {
      if (!publicKey || !checkSignature(publicKey, r.hash, r.sig)) return fail(r.seq, 'bad-signature', `entry ${r.seq}: the signature does not verify with the audit key`);
      if (firstUnsigned !== null) {
        return fail(firstUnsigned, 'unsigned', `entry ${firstUnsigned} is unsigned but later entries are signed: a signature was removed`);
      }
      res.signed++;
    } else if (firstUnsigned === null) {
      firstUnsigned = r.seq;
    }
    prevHash = r.hash;
    prevSeq = r.seq;
  }
  res.pending = rows.length - res.signed;
  if (rows.length) res.head = { seq: prevSeq, hash: prevHash };
  if (strict && firstUnsigned !== null) return fail(firstUnsigned, 'unsigned', `entry ${firstUnsigned} and ${res.pending - 1} after it are not signed yet (written while the registry was locked)`);
  return res;
}

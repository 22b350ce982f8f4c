// The host registry (docs/REGISTRY.md): devices, their secrets (encrypted at rest), key epochs, replay
// state, operators, used TOTP steps and the audit log, in one SQLite database under $SEALMQ_HOME.
// A library: it never prints and never prompts; the clock is injected; errors are SealmqError.
import Database from 'better-sqlite3';
import { closeSync, existsSync, openSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { toHex, utf8Decode, utf8Encode } from '../../core/bytes.js';
import { initialReceiveState, ReceiveState } from '../../core/frame.js';
import { isDeviceId } from '../../core/ids.js';
import { inputError, SealmqError } from '../errors.js';
import {
  checkScryptParams, ctEqual, KEY_LEN, openBox, PASSWORD_KDF, randomSalt, REGISTRY_KDF, ScryptParams, scrypt, sealBox, wipe,
} from './crypto.js';
import { DB_FILE, ensureHome, registryHome } from './home.js';
import { migrate } from './schema.js';
import { AuditRow, AuditVerifyResult, entryHash, GENESIS, signEntry, signingKey, verifyChain } from './audit-chain.js';
import type { KeyObject } from 'node:crypto';
import nacl from 'tweetnacl';
import { randomBytes } from 'node:crypto';

/** Milliseconds since the Unix epoch. */
export type Clock = () => number;
export type DeviceStatus = 'active' | 'revoked';
export type EpochStatus = 'current' | 'old' | 'revoked';
export type Direction = 'up' | 'down';
export type Role = 'admin' | 'technician' | 'viewer';
export const ROLES: readonly Role[] = ['admin', 'technician', 'viewer'];
/** pending: TOTP not confirmed yet; locked: too many failed attempts (docs/OPERATORS.md). */
export type OperatorStatus = 'pending' | 'active' | 'locked';

export const ROOT_LEN = 32;
export const OTP_SEED_LEN = 20;
/** An operator's TOTP seed: 160 bits (RFC 4226 §4 R6). */
export const OPERATOR_SEED_LEN = 20;
/** Operator names: also their MQTT user names; disjoint from device ids in one registry. */
export const OPERATOR_NAME_PATTERN = /^[a-z][a-z0-9._-]{0,31}$/;
export const MIN_PASSWORD_LENGTH = 12;
export const MAX_PASSWORD_LENGTH = 1024;
export const MIN_PASSPHRASE_LENGTH = 8;

export interface DeviceInfo {
  id: string;
  status: DeviceStatus;
  /** Current key epoch. */
  epoch: number;
  createdAt: number;
  updatedAt: number;
  lastSeenAt: number | null;
  brokerUrl: string | null;
  /** Reading interval in seconds. */
  interval: number | null;
  board: string | null;
  /** Free-form, non-secret facts the provisioner wants kept (firmware version, crypto path, …). */
  info: Record<string, unknown>;
}

export interface EpochInfo {
  epoch: number;
  status: EpochStatus;
  createdAt: number;
}

export interface DeviceSecrets {
  id: string;
  epoch: number;
  root: Uint8Array;
  otpSeed: Uint8Array;
}

/** The shape host/verifier's DeviceSource wants. */
export interface DeviceRecord {
  id: string;
  status: DeviceStatus;
  epoch: number;
  root: Uint8Array;
  retiredEpochs: number[];
  /** The epoch `devices rotate` asked for and no frame has confirmed yet (info.rotateTo), or null. */
  pendingEpoch: number | null;
}

export interface ProvisionRecord {
  id: string;
  root: Uint8Array;
  otpSeed: Uint8Array;
  /** Who did it, for the audit log (e.g. localActor()). */
  actor: string;
  brokerUrl?: string | null;
  interval?: number | null;
  board?: string | null;
  info?: Record<string, unknown>;
  /** First epoch of a new device (default 0). Ignored with rekey. */
  epoch?: number;
  /** The device is already registered: retire its current epoch and record these secrets under epoch + 1. */
  rekey?: boolean;
  /** Extra audit detail (never secrets: checked). */
  detail?: Record<string, unknown>;
}

export interface OperatorInfo {
  name: string;
  role: Role;
  status: OperatorStatus;
  /** Has an enrolled TOTP authenticator (needed for `sealmq login`). */
  hasTotp: boolean;
  /** Consecutive failed attempts (login, password reset). */
  failures: number;
  createdAt: number;
  updatedAt: number;
}

export interface SessionInfo {
  operator: string;
  role: Role;
  status: OperatorStatus;
  createdAt: number;
  expiresAt: number;
}

export type OperatorAttempt =
  | { kind: 'unknown' }
  | { kind: 'pending' }
  | { kind: 'locked'; failures: number }
  | { kind: 'wait'; waitMs: number; failures: number }
  | { kind: 'go'; failures: number };

export interface AuditEntry {
  seq: number;
  at: number;
  actor: string;
  action: string;
  device: string | null;
  detail: Record<string, unknown>;
  /** SHA-256 of this entry (hex), chained to the previous one (docs/SECURITY.md). */
  hash?: string | null;
  /** Signed by the registry's audit key (false: written while locked, signed at the next unlock). */
  signed?: boolean;
}

export interface AuditInput {
  actor: string;
  action: string;
  device?: string | null;
  detail?: Record<string, unknown>;
}

export interface AuditQuery {
  device?: string;
  action?: string;
  /** Only entries with seq greater than this. */
  afterSeq?: number;
  /** Newest entries, at most this many (returned oldest first). Default 1000. */
  limit?: number;
}

export interface RegistryOptions {
  /** Directory of the registry; default $SEALMQ_HOME or ~/.sealmq. */
  home?: string;
  env?: NodeJS.ProcessEnv;
  clock?: Clock;
  /** scrypt parameters for a NEW registry's key (never below N = 2^15, r = 8, p = 1). */
  kdf?: ScryptParams;
}

const VERIFIER_TEXT = 'sealmq registry key verifier v1';
const AUDIT_KEY_TEXT = 'sealmq audit key v1\0';
const BROKER_PW_TEXT = 'sealmq broker password v1\0';
const CONSOLE_PW_TEXT = 'sealmq console password v1\0';
const RECORD_VERSION = 1;
const OPERATOR_SEED_TEXT = 'sealmq operator totp v1\0';
/** Detail keys that would mean a secret is about to be written to the audit log. */
const SECRET_KEY = /(secret|password|passphrase|seed|^root$|^key$|^keys$|privkey|token)/i;

/** "cli:<login name>": the actor the CLI records. */
export function localActor(): string {
  let name = 'unknown';
  try {
    name = userInfo().username;
  } catch { /* no passwd entry (containers) */ }
  return 'cli:' + name;
}

export function checkDeviceId(id: unknown, what = 'device id'): string {
  if (!isDeviceId(id)) {
    throw inputError(`${what} ${JSON.stringify(id)} is not valid (device ids match [a-z0-9][a-z0-9-]{0,31})`);
  }
  return id as string;
}

export function checkOperatorName(name: unknown): string {
  if (typeof name !== 'string' || !OPERATOR_NAME_PATTERN.test(name)) {
    throw inputError(`operator name ${JSON.stringify(name)} is not valid (operator names match [a-z][a-z0-9._-]{0,31})`);
  }
  return name;
}

/** The password policy: 12..1024 characters, not the name itself. Returns the reason it fails, or null. */
export function passwordProblem(name: string, password: string): string | null {
  const n = Array.from(password).length;
  if (n < MIN_PASSWORD_LENGTH) return `a password needs at least ${MIN_PASSWORD_LENGTH} characters (got ${n})`;
  if (n > MAX_PASSWORD_LENGTH) return `a password may have at most ${MAX_PASSWORD_LENGTH} characters`;
  if (password.toLowerCase().includes(name.toLowerCase())) return 'a password must not contain the user name';
  return null;
}

function checkDirection(d: string): Direction {
  if (d !== 'up' && d !== 'down') throw inputError(`direction must be "up" or "down", got ${JSON.stringify(d)}`);
  return d;
}

function checkBytes(name: string, b: unknown, len: number): Uint8Array {
  if (!(b instanceof Uint8Array) || b.length !== len) throw inputError(`${name} must be ${len} bytes`);
  return b;
}

/** Throws if an audit detail would carry a secret: a suspicious key name or raw bytes anywhere in it. */
export function checkAuditDetail(detail: unknown, path = 'detail'): void {
  if (detail === null || typeof detail !== 'object') return;
  if (detail instanceof Uint8Array || ArrayBuffer.isView(detail) || detail instanceof ArrayBuffer) {
    throw new Error(`audit ${path}: raw bytes are not allowed in the audit log`);
  }
  for (const [k, v] of Object.entries(detail)) {
    if (SECRET_KEY.test(k)) throw new Error(`audit ${path}.${k}: looks like a secret; secrets never go to the audit log`);
    checkAuditDetail(v, path + '.' + k);
  }
}

/** Secret record plaintext: version, epoch, root(32), otp seed(20), device id. Binding id and epoch stops row swaps. */
function encodeSecretRecord(s: DeviceSecrets): Uint8Array {
  const id = utf8Encode(s.id);
  const out = new Uint8Array(2 + ROOT_LEN + OTP_SEED_LEN + id.length);
  out[0] = RECORD_VERSION;
  out[1] = s.epoch;
  out.set(s.root, 2);
  out.set(s.otpSeed, 2 + ROOT_LEN);
  out.set(id, 2 + ROOT_LEN + OTP_SEED_LEN);
  return out;
}

function decodeSecretRecord(b: Uint8Array, id: string, epoch: number): DeviceSecrets | null {
  if (b.length < 2 + ROOT_LEN + OTP_SEED_LEN + 1 || b[0] !== RECORD_VERSION || b[1] !== epoch) return null;
  if (utf8Decode(b.subarray(2 + ROOT_LEN + OTP_SEED_LEN)) !== id) return null;
  return {
    id, epoch,
    root: b.slice(2, 2 + ROOT_LEN),
    otpSeed: b.slice(2 + ROOT_LEN, 2 + ROOT_LEN + OTP_SEED_LEN),
  };
}

const u8 = (b: Buffer): Uint8Array => new Uint8Array(b.buffer, b.byteOffset, b.length);
const copySecrets = (s: DeviceSecrets): DeviceSecrets => ({ id: s.id, epoch: s.epoch, root: s.root.slice(), otpSeed: s.otpSeed.slice() });

interface RawAuditRow {
  seq: number; at: number; actor: string; action: string; device_id: string | null; detail: string;
  prev: string | null; hash: string | null; sig: string | null;
}

interface DeviceRow {
  id: string; status: DeviceStatus; epoch: number; created_at: number; updated_at: number; last_seen_at: number | null;
  broker_url: string | null; interval_s: number | null; board: string | null; info: string;
}

function deviceFromRow(r: DeviceRow): DeviceInfo {
  return {
    id: r.id, status: r.status, epoch: r.epoch, createdAt: r.created_at, updatedAt: r.updated_at, lastSeenAt: r.last_seen_at,
    brokerUrl: r.broker_url, interval: r.interval_s, board: r.board, info: JSON.parse(r.info),
  };
}

interface OperatorRow {
  name: string; role: Role; status: OperatorStatus; pw_hash: Buffer; pw_salt: Buffer; pw_kdf: string;
  totp_nonce: Buffer | null; totp_box: Buffer | null; totp_last_step: number | null; failures: number; next_try_at: number;
  created_at: number; updated_at: number;
}

function operatorFromRow(r: OperatorRow): OperatorInfo {
  return {
    name: r.name, role: r.role, status: r.status, hasTotp: r.totp_box !== null, failures: r.failures,
    createdAt: r.created_at, updatedAt: r.updated_at,
  };
}

/** The operator's name is bound inside the sealed seed, so one operator's row cannot be pasted onto another's. */
function operatorSeedTag(name: string): Buffer {
  return Buffer.from(OPERATOR_SEED_TEXT + name + '\0', 'utf8');
}

function operatorSeedRecord(name: string, seed: Uint8Array): Uint8Array {
  return new Uint8Array(Buffer.concat([operatorSeedTag(name), seed]));
}

/** Opens (creating if needed) the registry. Secrets need unlock(passphrase) first; the rest works locked. */
export function openRegistry(opts: RegistryOptions = {}): Registry {
  const home = opts.home ?? registryHome(opts.env);
  ensureHome(home);
  return new Registry(join(home, DB_FILE), opts.clock ?? Date.now, opts.kdf ?? REGISTRY_KDF);
}

export class Registry {
  readonly path: string;
  private readonly db: Database.Database;
  private readonly clock: Clock;
  private readonly newKdf: ScryptParams;
  private key: Uint8Array | null = null;
  /** The audit signing key (Ed25519), loaded at unlock. */
  private auditSecret: KeyObject | null = null;
  private readonly cache = new Map<string, DeviceSecrets>();
  private readonly seedCache = new Map<string, Uint8Array>();
  /** Prepared statements by their (constant) SQL text: the verifier reads and writes per frame. */
  private readonly statements = new Map<string, Database.Statement>();

  constructor(path: string, clock: Clock, kdf: ScryptParams) {
    checkScryptParams(kdf);
    this.path = path;
    this.clock = clock;
    this.newKdf = kdf;
    // Created 0600 before SQLite touches it; SQLite gives its -wal and -shm files the same mode.
    if (!existsSync(path)) closeSync(openSync(path, 'a', 0o600));
    try {
      this.db = new Database(path);
      this.db.pragma('busy_timeout = 10000');
      this.db.pragma('journal_mode = WAL');
      // FULL: a committed transaction (a replay window, a used TOTP step) survives a power cut (DESIGN.md §4).
      this.db.pragma('synchronous = FULL');
      this.db.pragma('foreign_keys = ON');
      this.db.pragma('secure_delete = ON');
      migrate(this.db);
      this.chainLegacyAudit();
    } catch (e) {
      if (e instanceof SealmqError) throw e;
      throw new SealmqError('input', `cannot open the registry ${path}: ${(e as Error).message}`, { cause: e });
    }
  }

  get unlocked(): boolean {
    return this.key !== null;
  }

  /**
   * Derives the registry key from the passphrase and checks it against the verifier. The first unlock of
   * a new registry sets the salt and the verifier. A wrong passphrase throws an 'auth' error; nothing is
   * ever decrypted with a key that did not open the verifier.
   */
  async unlock(passphrase: string): Promise<void> {
    if (typeof passphrase !== 'string' || passphrase.length === 0) {
      throw new SealmqError('auth', 'the registry passphrase is empty', { hint: 'set SEALMQ_PASSPHRASE or run on a terminal' });
    }
    const kdfRow = this.meta('kdf');
    if (kdfRow === null && Array.from(passphrase).length < MIN_PASSPHRASE_LENGTH) {
      throw inputError(`a new registry needs a passphrase of at least ${MIN_PASSPHRASE_LENGTH} characters`);
    }
    if (kdfRow === null) {
      this.sql('INSERT OR IGNORE INTO meta(key, value) VALUES (?, ?)')
        .run('kdf', JSON.stringify({ alg: 'scrypt', ...this.newKdf, salt: toHex(randomSalt()) }));
    }
    const kdf = JSON.parse(this.meta('kdf')!) as ScryptParams & { alg: string; salt: string };
    if (kdf.alg !== 'scrypt') throw new SealmqError('input', `registry key derivation ${JSON.stringify(kdf.alg)} is not supported`);
    const key = await scrypt(passphrase, Buffer.from(kdf.salt, 'hex'), { N: kdf.N, r: kdf.r, p: kdf.p }, KEY_LEN);
    if (this.meta('verifier') === null) {
      const v = sealBox(key, utf8Encode(VERIFIER_TEXT));
      this.sql('INSERT OR IGNORE INTO meta(key, value) VALUES (?, ?)')
        .run('verifier', JSON.stringify({ nonce: toHex(v.nonce), box: toHex(v.box) }));
    }
    const v = JSON.parse(this.meta('verifier')!) as { nonce: string; box: string };
    const pt = openBox(key, { nonce: u8(Buffer.from(v.nonce, 'hex')), box: u8(Buffer.from(v.box, 'hex')) });
    if (pt === null || utf8Decode(pt) !== VERIFIER_TEXT) {
      wipe(key);
      throw new SealmqError('auth', `wrong passphrase for the registry ${this.path}`, {
        hint: 'check SEALMQ_PASSPHRASE (the passphrase cannot be recovered; without it the secrets are lost)',
      });
    }
    this.key = key;
    try {
      this.loadAuditKey();
      this.signPendingAudit();
    } catch (e) {
      this.lock();
      throw e;
    }
  }

  /**
   * The audit key: created once per registry (tweetnacl seed from the CSPRNG), the public key in clear in
   * meta (so `audit verify` needs no passphrase), the seed sealed under the registry key. A public key
   * that the sealed seed does not produce means meta was altered: refused.
   */
  private loadAuditKey(): void {
    const key = this.requireKey();
    this.tx(() => {
      if (this.meta('audit_key') !== null) return;
      const seed = new Uint8Array(randomBytes(32));
      const kp = nacl.sign.keyPair.fromSeed(seed);
      const sealed = sealBox(key, new Uint8Array(Buffer.concat([Buffer.from(AUDIT_KEY_TEXT), seed])));
      wipe(seed);
      wipe(kp.secretKey);
      this.sql('INSERT INTO meta(key, value) VALUES (?, ?)').run('audit_key', JSON.stringify({ nonce: toHex(sealed.nonce), box: toHex(sealed.box) }));
      this.sql('INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)').run('audit_pubkey', toHex(kp.publicKey));
    });
    const v = JSON.parse(this.meta('audit_key')!) as { nonce: string; box: string };
    const pt = openBox(key, { nonce: u8(Buffer.from(v.nonce, 'hex')), box: u8(Buffer.from(v.box, 'hex')) });
    const tag = Buffer.from(AUDIT_KEY_TEXT);
    if (!pt || pt.length !== tag.length + 32 || !Buffer.from(pt.subarray(0, tag.length)).equals(tag)) {
      wipe(pt);
      throw new SealmqError('internal', 'the audit key of the registry does not open: the registry was altered');
    }
    const kp = nacl.sign.keyPair.fromSeed(pt.subarray(tag.length));
    wipe(pt);
    if (this.meta('audit_pubkey') !== toHex(kp.publicKey)) {
      wipe(kp.secretKey);
      throw new SealmqError('internal', 'the audit public key in the registry was replaced: it does not match the sealed audit key', {
        hint: 'the audit log cannot be trusted; run `sealmq audit verify --pubkey <the key you recorded>`',
      });
    }
    this.auditSecret = signingKey(kp.secretKey);
    wipe(kp.secretKey);
  }

  /** Signs, oldest first, every chained entry written while the registry was locked. */
  private signPendingAudit(): void {
    const sk = this.auditSecret;
    if (!sk) return;
    this.tx(() => {
      const rows = this.sql('SELECT seq, hash FROM audit WHERE sig IS NULL AND hash IS NOT NULL ORDER BY seq').all() as { seq: number; hash: string }[];
      const upd = this.sql('UPDATE audit SET sig = ? WHERE seq = ?');
      for (const r of rows) upd.run(signEntry(sk, r.hash), r.seq);
    });
  }

  /** Forgets the key and every decrypted secret. */
  lock(): void {
    wipe(this.key);
    this.key = null;
    this.auditSecret = null;
    for (const s of this.cache.values()) {
      wipe(s.root);
      wipe(s.otpSeed);
    }
    this.cache.clear();
    for (const s of this.seedCache.values()) wipe(s);
    this.seedCache.clear();
  }

  /** The prepared statement for a constant SQL text, prepared once per open registry. */
  private sql(text: string): Database.Statement {
    let st = this.statements.get(text);
    if (!st) {
      st = this.db.prepare(text);
      this.statements.set(text, st);
    }
    return st;
  }

  close(): void {
    this.lock();
    this.statements.clear();
    if (this.db.open) this.db.close();
  }

  /**
   * Runs fn in one BEGIN IMMEDIATE transaction (a savepoint when nested): all of it or none of it.
   * SQLite failures come out as SealmqError so the CLI prints one line.
   */
  private tx<T>(fn: () => T): T {
    try {
      return this.db.transaction(fn).immediate();
    } catch (e) {
      if (e instanceof SealmqError) throw e;
      throw new SealmqError('internal', `registry write failed, nothing was written: ${(e as Error).message}`, { cause: e });
    }
  }

  /** Entries from before schema V3 carry no hash: chained once, in seq order, ahead of any new entry. */
  private chainLegacyAudit(): void {
    if (!this.sql('SELECT 1 FROM audit WHERE hash IS NULL LIMIT 1').get()) return;
    this.tx(() => {
      const rows = this.sql('SELECT * FROM audit ORDER BY seq').all() as RawAuditRow[];
      let prev = GENESIS;
      const upd = this.sql('UPDATE audit SET prev = ?, hash = ? WHERE seq = ?');
      for (const r of rows) {
        if (r.hash === null) {
          const hash = entryHash({ seq: r.seq, at: r.at, actor: r.actor, action: r.action, device: r.device_id, detail: r.detail, prev });
          upd.run(prev, hash, r.seq);
          prev = hash;
        } else prev = r.hash;
      }
    });
  }

  private meta(key: string): string | null {
    const r = this.sql('SELECT value FROM meta WHERE key = ?').get(key) as { value: string } | undefined;
    return r ? r.value : null;
  }

  private requireKey(): Uint8Array {
    if (!this.key) throw new SealmqError('auth', 'the registry is locked', { hint: 'unlock it with the passphrase first' });
    return this.key;
  }

  // ── devices ────────────────────────────────────────────────────────────────────────────────────────

  listDevices(): DeviceInfo[] {
    return (this.sql('SELECT * FROM devices ORDER BY id').all() as DeviceRow[]).map(deviceFromRow);
  }

  getDevice(id: string): DeviceInfo | null {
    checkDeviceId(id);
    const r = this.sql('SELECT * FROM devices WHERE id = ?').get(id) as DeviceRow | undefined;
    return r ? deviceFromRow(r) : null;
  }

  epochs(id: string): EpochInfo[] {
    checkDeviceId(id);
    return (this.sql('SELECT epoch, status, created_at FROM key_epochs WHERE device_id = ? ORDER BY epoch').all(id) as
      { epoch: number; status: EpochStatus; created_at: number }[]).map((r) => ({ epoch: r.epoch, status: r.status, createdAt: r.created_at }));
  }

  /**
   * Records a provisioned device: the device row, its encrypted secrets, its key epoch and the audit entry,
   * in ONE transaction: a failure anywhere leaves nothing written. With rekey, an existing active device
   * moves to epoch + 1 (its old epoch becomes 'old') under the new secrets.
   */
  recordProvisioned(p: ProvisionRecord): DeviceInfo {
    const key = this.requireKey();
    const id = checkDeviceId(p.id);
    checkBytes('root secret', p.root, ROOT_LEN);
    checkBytes('OTP seed', p.otpSeed, OTP_SEED_LEN);
    if (typeof p.actor !== 'string' || p.actor === '') throw inputError('actor is required');
    if (p.interval != null && !(Number.isFinite(p.interval) && p.interval > 0)) throw inputError('interval must be a positive number of seconds');
    const info = p.info ?? {};
    checkAuditDetail(info, 'info');
    checkAuditDetail(p.detail ?? {});
    const now = this.clock();
    return this.tx((): DeviceInfo => {
      if (this.sql('SELECT 1 FROM operators WHERE name = ?').get(id)) {
        throw inputError(`${id} is already an operator's name`, 'device ids and operator names must differ');
      }
      const existing = this.sql('SELECT * FROM devices WHERE id = ?').get(id) as DeviceRow | undefined;
      let epoch: number;
      if (!existing) {
        epoch = p.epoch ?? 0;
        if (!(Number.isInteger(epoch) && epoch >= 0 && epoch <= 255)) throw inputError('epoch must be 0..255');
        this.sql(`INSERT INTO devices(id, status, epoch, created_at, updated_at, broker_url, interval_s, board, info)
          VALUES (?, 'active', ?, ?, ?, ?, ?, ?, ?)`).run(id, epoch, now, now, p.brokerUrl ?? null, p.interval ?? null, p.board ?? null, JSON.stringify(info));
      } else {
        if (!p.rekey) {
          throw inputError(`device ${id} is already in the registry (epoch ${existing.epoch})`,
            're-provisioning a known device needs a new key epoch (rekey)');
        }
        if (existing.status === 'revoked') throw inputError(`device ${id} is revoked; revoked ids are not reused`);
        if (existing.epoch >= 255) throw inputError(`device ${id} has used all 256 key epochs`);
        epoch = existing.epoch + 1;
        // A new OTP seed: the steps used under the old one say nothing about it (a replacement board logs in now).
        this.sql('DELETE FROM totp_used WHERE device_id = ?').run(id);
        this.sql(`UPDATE key_epochs SET status = 'old' WHERE device_id = ? AND status = 'current'`).run(id);
        this.sql(`UPDATE devices SET epoch = ?, updated_at = ?, broker_url = coalesce(?, broker_url),
          interval_s = coalesce(?, interval_s), board = coalesce(?, board), info = ? WHERE id = ?`)
          .run(epoch, now, p.brokerUrl ?? null, p.interval ?? null, p.board ?? null, JSON.stringify({ ...JSON.parse(existing.info), ...info }), id);
      }
      this.sql(`INSERT INTO key_epochs(device_id, epoch, status, created_at) VALUES (?, ?, 'current', ?)`).run(id, epoch, now);
      const sealed = sealBox(key, encodeSecretRecord({ id, epoch, root: p.root, otpSeed: p.otpSeed }));
      this.sql('INSERT INTO device_secrets(device_id, epoch, nonce, box) VALUES (?, ?, ?, ?)')
        .run(id, epoch, Buffer.from(sealed.nonce), Buffer.from(sealed.box));
      this.insertAudit({
        actor: p.actor, action: existing ? 'device.rekey' : 'device.provision', device: id,
        detail: { epoch, brokerUrl: p.brokerUrl ?? null, interval: p.interval ?? null, board: p.board ?? null, ...(p.detail ?? {}) },
      }, now);
      return deviceFromRow(this.sql('SELECT * FROM devices WHERE id = ?').get(id) as DeviceRow);
    });
  }

  /** Revokes a device: it can no longer log in; every epoch is 'revoked'. Audited. */
  revokeDevice(id: string, actor: string, reason?: string): DeviceInfo {
    checkDeviceId(id);
    const now = this.clock();
    return this.tx((): DeviceInfo => {
      const r = this.sql(`UPDATE devices SET status = 'revoked', updated_at = ? WHERE id = ?`).run(now, id);
      if (r.changes === 0) throw inputError(`no device ${id} in the registry`);
      this.sql(`UPDATE key_epochs SET status = 'revoked' WHERE device_id = ?`).run(id);
      this.insertAudit({ actor, action: 'device.revoke', device: id, detail: reason ? { reason } : {} }, now);
      return deviceFromRow(this.sql('SELECT * FROM devices WHERE id = ?').get(id) as DeviceRow);
    });
  }

  /**
   * Asks for a device's next key epoch (`sealmq devices rotate`): above every epoch it ever had or was asked
   * for. Nothing changes for the verifier yet: the epoch becomes current only when a frame under it verifies
   * (putReceiveState), i.e. when the board confirmed it. Audited.
   */
  requestRotation(id: string, actor: string): { from: number; to: number } {
    checkDeviceId(id);
    const now = this.clock();
    return this.tx(() => {
      const d = this.sql('SELECT status, epoch, info FROM devices WHERE id = ?').get(id) as { status: DeviceStatus; epoch: number; info: string } | undefined;
      if (!d) throw inputError(`no device ${id} in the registry`);
      if (d.status !== 'active') throw inputError(`device ${id} is revoked`);
      const info = JSON.parse(d.info) as Record<string, unknown>;
      const max = (this.sql('SELECT max(epoch) AS m FROM key_epochs WHERE device_id = ?').get(id) as { m: number }).m;
      const to = Math.max(max, typeof info.rotateTo === 'number' ? info.rotateTo : -1) + 1;
      if (to > 255) throw inputError(`device ${id} has used all 256 key epochs`, 'replace it: sealmq provision --replace');
      this.sql('UPDATE devices SET info = ?, updated_at = ? WHERE id = ?').run(JSON.stringify({ ...info, rotateTo: to }), now, id);
      this.insertAudit({ actor, action: 'device.rotate.request', device: id, detail: { from: d.epoch, to } }, now);
      return { from: d.epoch, to };
    });
  }

  /** The epoch a verified frame moved to, if it is the one a rotation asked for: its row, with the same secrets. */
  private adoptRotation(id: string, from: number, to: number, now: number): { status: EpochStatus } | undefined {
    const d = this.sql('SELECT info FROM devices WHERE id = ?').get(id) as { info: string };
    const info = JSON.parse(d.info) as Record<string, unknown>;
    if (info.rotateTo !== to) return undefined;
    const s = this.secrets(id, from);
    if (!s) return undefined;
    this.sql(`INSERT INTO key_epochs(device_id, epoch, status, created_at) VALUES (?, ?, 'old', ?)`).run(id, to, now);
    const sealed = sealBox(this.requireKey(), encodeSecretRecord({ id, epoch: to, root: s.root, otpSeed: s.otpSeed }));
    this.sql('INSERT INTO device_secrets(device_id, epoch, nonce, box) VALUES (?, ?, ?, ?)').run(id, to, Buffer.from(sealed.nonce), Buffer.from(sealed.box));
    delete info.rotateTo;
    this.sql('UPDATE devices SET info = ? WHERE id = ?').run(JSON.stringify(info), id);
    this.insertAudit({ actor: 'registry', action: 'device.rotate.confirmed', device: id, detail: { from, to } }, now);
    return { status: 'old' };
  }

  /** Notes that a device was heard from (a broker login, a verified frame). */
  touchDevice(id: string, at: number = this.clock()): void {
    checkDeviceId(id);
    this.sql('UPDATE devices SET last_seen_at = max(coalesce(last_seen_at, 0), ?) WHERE id = ?').run(at, id);
  }

  // ── secrets (unlocked registry only) ───────────────────────────────────────────────────────────────

  /** The decrypted secrets of an epoch (default: the current one), or null for an unknown device/epoch. */
  secrets(id: string, epoch?: number): DeviceSecrets | null {
    const key = this.requireKey();
    checkDeviceId(id);
    if (epoch === undefined) {
      const d = this.sql('SELECT epoch FROM devices WHERE id = ?').get(id) as { epoch: number } | undefined;
      if (!d) return null;
      epoch = d.epoch;
    }
    const ck = id + ':' + epoch;
    const hit = this.cache.get(ck);
    if (hit) return copySecrets(hit);
    const row = this.sql('SELECT nonce, box FROM device_secrets WHERE device_id = ? AND epoch = ?').get(id, epoch) as
      { nonce: Buffer; box: Buffer } | undefined;
    if (!row) return null;
    const pt = openBox(key, { nonce: u8(row.nonce), box: u8(row.box) });
    const s = pt ? decodeSecretRecord(pt, id, epoch) : null;
    wipe(pt);
    if (!s) throw new SealmqError('internal', `the secrets of ${id} epoch ${epoch} do not open: the registry was altered`);
    this.cache.set(ck, s);
    return copySecrets(s);
  }

  /**
   * The current OTP seed of a device alone (what the broker needs): the record's root secret is zeroed at
   * once and only the seed is cached. null for an unknown device.
   */
  otpSeed(id: string): { epoch: number; seed: Uint8Array } | null {
    const key = this.requireKey();
    checkDeviceId(id);
    const d = this.sql('SELECT epoch FROM devices WHERE id = ?').get(id) as { epoch: number } | undefined;
    if (!d) return null;
    const ck = id + ':' + d.epoch;
    const full = this.cache.get(ck);
    if (full) return { epoch: d.epoch, seed: full.otpSeed.slice() };
    const hit = this.seedCache.get(ck);
    if (hit) return { epoch: d.epoch, seed: hit.slice() };
    const row = this.sql('SELECT nonce, box FROM device_secrets WHERE device_id = ? AND epoch = ?').get(id, d.epoch) as
      { nonce: Buffer; box: Buffer } | undefined;
    if (!row) return null;
    const pt = openBox(key, { nonce: u8(row.nonce), box: u8(row.box) });
    const s = pt ? decodeSecretRecord(pt, id, d.epoch) : null;
    wipe(pt);
    if (!s) throw new SealmqError('internal', `the secrets of ${id} epoch ${d.epoch} do not open: the registry was altered`);
    wipe(s.root);
    this.seedCache.set(ck, s.otpSeed);
    return { epoch: d.epoch, seed: s.otpSeed.slice() };
  }

  /** What host/verifier needs: status, current epoch and its root, and the epochs never to accept again. */
  deviceRecord(id: string): DeviceRecord | null {
    const d = this.getDevice(id);
    if (!d) return null;
    const s = this.secrets(id, d.epoch);
    if (!s) return null;
    wipe(s.otpSeed);
    const retired = this.epochs(id).filter((e) => e.status !== 'current').map((e) => e.epoch);
    const pendingEpoch = typeof d.info.rotateTo === 'number' ? d.info.rotateTo : null;
    return { id, status: d.status, epoch: d.epoch, root: s.root, retiredEpochs: retired, pendingEpoch };
  }

  /** The current secrets as hex, for `sealmq devices export`; the export is audited first. */
  exportSecrets(id: string, actor: string): { id: string; epoch: number; root: string; otpSeed: string; brokerUrl: string | null; interval: number | null } {
    this.requireKey();
    const d = this.getDevice(id);
    if (!d) throw inputError(`no device ${id} in the registry`);
    const s = this.secrets(id, d.epoch);
    if (!s) throw new SealmqError('internal', `device ${id} has no secrets for epoch ${d.epoch}`);
    this.audit({ actor, action: 'device.export', device: id, detail: { epoch: d.epoch } });
    const out = { id, epoch: d.epoch, root: toHex(s.root), otpSeed: toHex(s.otpSeed), brokerUrl: d.brokerUrl, interval: d.interval };
    wipe(s.root);
    wipe(s.otpSeed);
    return out;
  }

  // ── replay state (DESIGN.md §4) ────────────────────────────────────────────────────────────────────

  /**
   * The receive state of (device, direction). No row yet, or a row under an epoch the device has since
   * left (rekey), gives a fresh window at the device's current epoch, so frames of a retired epoch are
   * 'old-epoch'. null for an unknown device.
   */
  getReceiveState(id: string, direction: string): ReceiveState | null {
    checkDeviceId(id);
    checkDirection(direction);
    const d = this.sql('SELECT epoch FROM devices WHERE id = ?').get(id) as { epoch: number } | undefined;
    if (!d) return null;
    const r = this.sql('SELECT epoch, top, hi, lo FROM replay_state WHERE device_id = ? AND direction = ?').get(id, direction) as
      { epoch: number; top: number; hi: number; lo: number } | undefined;
    if (!r || r.epoch < d.epoch) return initialReceiveState(d.epoch);
    return { epoch: r.epoch, window: { top: r.top, hi: r.hi, lo: r.lo } };
  }

  /**
   * Persists a receive state; durable when it returns (WAL, synchronous=FULL). Refuses to move a window
   * backwards (that would reopen replays). A state under a higher epoch that the registry holds keys for
   * makes that epoch current (DESIGN.md §4). A new state means a frame with a good tag: the device's
   * last-seen time moves in the same transaction (one synchronous commit per frame, not two).
   */
  putReceiveState(id: string, direction: string, st: ReceiveState): void {
    checkDeviceId(id);
    checkDirection(direction);
    const w = st.window;
    const u32 = (n: number) => Number.isInteger(n) && n >= 0 && n <= 0xffffffff;
    if (!(Number.isInteger(st.epoch) && st.epoch >= 0 && st.epoch <= 255 && u32(w.top) && u32(w.hi) && u32(w.lo))) {
      throw inputError('receive state out of range');
    }
    const now = this.clock();
    this.tx(() => {
      const d = this.sql('SELECT epoch FROM devices WHERE id = ?').get(id) as { epoch: number } | undefined;
      if (!d) throw inputError(`no device ${id} in the registry`);
      const cur = this.getReceiveState(id, direction)!;
      if (st.epoch < cur.epoch || (st.epoch === cur.epoch && w.top < cur.window.top)) {
        throw new SealmqError('internal', `replay state of ${id}/${direction} would move backwards (epoch ${cur.epoch} top ${cur.window.top} → epoch ${st.epoch} top ${w.top})`);
      }
      if (st.epoch > d.epoch) {
        const e = (this.sql('SELECT status FROM key_epochs WHERE device_id = ? AND epoch = ?').get(id, st.epoch) as { status: EpochStatus } | undefined)
          ?? this.adoptRotation(id, d.epoch, st.epoch, now);
        if (!e || e.status === 'revoked') throw new SealmqError('internal', `device ${id} has no usable key epoch ${st.epoch}`);
        this.sql(`UPDATE key_epochs SET status = 'old' WHERE device_id = ? AND status = 'current'`).run(id);
        this.sql(`UPDATE key_epochs SET status = 'current' WHERE device_id = ? AND epoch = ?`).run(id, st.epoch);
        this.sql('UPDATE devices SET epoch = ?, updated_at = ? WHERE id = ?').run(st.epoch, now, id);
        this.insertAudit({ actor: 'registry', action: 'device.epoch', device: id, detail: { from: d.epoch, to: st.epoch, direction } }, now);
      }
      this.sql(`INSERT INTO replay_state(device_id, direction, epoch, top, hi, lo, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT(device_id, direction) DO UPDATE SET epoch = excluded.epoch, top = excluded.top, hi = excluded.hi,
        lo = excluded.lo, updated_at = excluded.updated_at`).run(id, direction, st.epoch, w.top, w.hi, w.lo, now);
      this.sql('UPDATE devices SET last_seen_at = max(coalesce(last_seen_at, 0), ?) WHERE id = ?').run(now, id);
    });
  }

  /**
   * Check-and-update as one transaction, safe against a second verifier on the same registry: reads the
   * state, calls fn (e.g. core receive()), and if the result carries a new `state`, persists it before
   * returning. Deliver the reading only after this returns. fn must be synchronous.
   */
  withReceiveState<R extends { state?: ReceiveState }>(id: string, direction: string, fn: (st: ReceiveState) => R): R {
    return this.tx((): R => {
      const st = this.getReceiveState(id, direction);
      if (!st) throw inputError(`no device ${id} in the registry`);
      const r = fn(st);
      if (r.state) this.putReceiveState(id, direction, r.state);
      return r;
    });
  }

  // ── send counters (host → board commands) ──────────────────────────────────────────────────────────

  /**
   * The next counter the host may seal under for (device, direction, epoch), committed (synchronous=FULL)
   * before it is returned: a crash after this call skips a counter, never reuses one. A new epoch starts at 1.
   */
  nextSendCounter(id: string, direction: string, epoch: number): number {
    checkDeviceId(id);
    checkDirection(direction);
    return this.tx(() => {
      if (!this.sql('SELECT 1 FROM devices WHERE id = ?').get(id)) throw inputError(`no device ${id} in the registry`);
      const r = this.sql('SELECT epoch, counter FROM send_counters WHERE device_id = ? AND direction = ?').get(id, direction) as
        { epoch: number; counter: number } | undefined;
      if (r && r.epoch > epoch) throw new SealmqError('internal', `send counter of ${id}/${direction} is at epoch ${r.epoch}, above ${epoch}`);
      const next = r && r.epoch === epoch ? r.counter + 1 : 1;
      if (next > 0xffffffff) throw new SealmqError('input', `${id}/${direction}: counters of epoch ${epoch} are used up`, { hint: 'rotate the device to a new key epoch' });
      this.sql(`INSERT INTO send_counters(device_id, direction, epoch, counter, updated_at) VALUES (?, ?, ?, ?, ?)
        ON CONFLICT(device_id, direction) DO UPDATE SET epoch = excluded.epoch, counter = excluded.counter, updated_at = excluded.updated_at`)
        .run(id, direction, epoch, next, this.clock());
      return next;
    });
  }

  // ── TOTP steps (broker) ────────────────────────────────────────────────────────────────────────────

  /**
   * Accepts a TOTP step for a device only if it is later than every step accepted before (so each step
   * is accepted once, across restarts: otplib-style replay protection). Durable when it returns true.
   */
  consumeTotpStep(id: string, step: number): boolean {
    checkDeviceId(id);
    if (!Number.isSafeInteger(step) || step < 0) throw inputError('TOTP step must be a non-negative integer');
    const now = this.clock();
    return this.tx((): boolean => {
      const r = this.sql('SELECT last_step FROM totp_used WHERE device_id = ?').get(id) as { last_step: number } | undefined;
      if (r && step <= r.last_step) return false;
      this.sql(`INSERT INTO totp_used(device_id, last_step, used_at) VALUES (?, ?, ?)
        ON CONFLICT(device_id) DO UPDATE SET last_step = excluded.last_step, used_at = excluded.used_at`).run(id, step, now);
      return true;
    });
  }

  lastTotpStep(id: string): number | null {
    checkDeviceId(id);
    const r = this.sql('SELECT last_step FROM totp_used WHERE device_id = ?').get(id) as { last_step: number } | undefined;
    return r ? r.last_step : null;
  }

  // ── operators (docs/OPERATORS.md; the policy around these lives in host/operators/) ────────────────

  /** The registry's clock (ms): host/operators computes TOTP steps and session expiry on the same one. */
  now(): number {
    return this.clock();
  }

  private operatorRow(name: string): OperatorRow | undefined {
    if (typeof name !== 'string' || !OPERATOR_NAME_PATTERN.test(name)) return undefined;
    return this.sql('SELECT * FROM operators WHERE name = ?').get(name) as OperatorRow | undefined;
  }

  private requireOperator(name: string): OperatorRow {
    const r = this.operatorRow(name);
    if (!r) throw inputError(`no operator ${name} in the registry`, 'see `sealmq users list`');
    return r;
  }

  /**
   * Adds an operator. With otpSeed (the CLI always gives one) the operator is 'pending' until
   * activateOperator() sees a first valid code; the seed is sealed under the registry key (unlocked only).
   * Without one the operator is active with no authenticator: it can log in to the broker with its
   * password (the demo's throw-away registries) but never open a session (`sealmq login`).
   */
  async addOperator(p: { name: string; role: Role; password: string; actor: string; otpSeed?: Uint8Array; detail?: Record<string, unknown> }): Promise<OperatorInfo> {
    const name = checkOperatorName(p.name);
    if (!ROLES.includes(p.role)) throw inputError(`role must be one of ${ROLES.join(', ')}, got ${JSON.stringify(p.role)}`);
    const problem = passwordProblem(name, p.password);
    if (problem) throw inputError(problem);
    checkAuditDetail(p.detail ?? {});
    let sealed: { nonce: Uint8Array; box: Uint8Array } | null = null;
    if (p.otpSeed !== undefined) {
      checkBytes('operator TOTP seed', p.otpSeed, OPERATOR_SEED_LEN);
      sealed = sealBox(this.requireKey(), operatorSeedRecord(name, p.otpSeed));
    }
    const salt = randomSalt();
    const hash = await scrypt(p.password, salt, PASSWORD_KDF);
    const now = this.clock();
    const status: OperatorStatus = sealed ? 'pending' : 'active';
    this.tx(() => {
      if (this.sql('SELECT 1 FROM devices WHERE id = ?').get(name)) throw inputError(`${name} is already a device id`, 'operator names and device ids must differ');
      if (this.sql('SELECT 1 FROM operators WHERE name = ?').get(name)) throw inputError(`operator ${name} already exists`);
      this.sql(`INSERT INTO operators(name, role, status, pw_hash, pw_salt, pw_kdf, totp_nonce, totp_box, created_at, updated_at)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
        .run(name, p.role, status, Buffer.from(hash), Buffer.from(salt), JSON.stringify({ alg: 'scrypt', ...PASSWORD_KDF }),
          sealed ? Buffer.from(sealed.nonce) : null, sealed ? Buffer.from(sealed.box) : null, now, now);
      this.insertAudit({ actor: p.actor, action: 'operator.add', detail: { name, role: p.role, status, ...(p.detail ?? {}) } }, now);
    });
    return operatorFromRow(this.requireOperator(name));
  }

  listOperators(): OperatorInfo[] {
    return (this.sql('SELECT * FROM operators ORDER BY name').all() as OperatorRow[]).map(operatorFromRow);
  }

  getOperator(name: string): OperatorInfo | null {
    const r = this.operatorRow(name);
    return r ? operatorFromRow(r) : null;
  }

  /**
   * The operator if the password is right and the account is active, else null (the broker's password
   * login). Unknown names cost the same scrypt as known ones; hashes are compared in constant time.
   */
  async verifyOperator(name: string, password: string): Promise<OperatorInfo | null> {
    const r = this.operatorRow(name);
    const ok = await this.passwordMatches(r, password);
    return r && ok && r.status === 'active' ? operatorFromRow(r) : null;
  }

  /** Whether the password is the operator's, whatever the account status (login and reset check status themselves). */
  async checkOperatorPassword(name: string, password: string): Promise<boolean> {
    const r = this.operatorRow(name);
    return (await this.passwordMatches(r, password)) && r !== undefined;
  }

  private async passwordMatches(r: OperatorRow | undefined, password: string): Promise<boolean> {
    const pw = typeof password === 'string' ? password.slice(0, MAX_PASSWORD_LENGTH * 4) : '';
    const params = r ? JSON.parse(r.pw_kdf) as ScryptParams : PASSWORD_KDF;
    const salt = r ? u8(r.pw_salt) : new Uint8Array(16);
    const got = await scrypt(pw, salt, { N: params.N, r: params.r, p: params.p });
    const want = r ? u8(r.pw_hash) : new Uint8Array(got.length);
    return ctEqual(got, want) && r !== undefined;
  }

  /** The operator's TOTP seed (unlocked registry), or null when it has no authenticator. A copy: wipe it after use. */
  operatorTotpSeed(name: string): Uint8Array | null {
    const key = this.requireKey();
    const r = this.requireOperator(name);
    if (r.totp_nonce === null || r.totp_box === null) return null;
    const pt = openBox(key, { nonce: u8(r.totp_nonce), box: u8(r.totp_box) });
    const want = operatorSeedTag(name);
    if (!pt || pt.length !== want.length + OPERATOR_SEED_LEN || !Buffer.from(pt.subarray(0, want.length)).equals(want)) {
      wipe(pt);
      throw new SealmqError('internal', `the TOTP seed of operator ${name} does not open: the registry was altered`);
    }
    const seed = pt.slice(want.length);
    wipe(pt);
    return seed;
  }

  /**
   * A new authenticator (recovery, or a legacy operator enrolling): the new seed sealed, the account
   * 'pending' until a first valid code, back-off cleared, every session of the operator ended. Audited.
   */
  resetOperatorTotp(name: string, seed: Uint8Array, actor: string, action: string, detail: Record<string, unknown> = {}): void {
    checkBytes('operator TOTP seed', seed, OPERATOR_SEED_LEN);
    checkAuditDetail(detail);
    const sealed = sealBox(this.requireKey(), operatorSeedRecord(name, seed));
    const now = this.clock();
    this.tx(() => {
      this.requireOperator(name);
      this.sql(`UPDATE operators SET status = 'pending', totp_nonce = ?, totp_box = ?, totp_last_step = NULL, failures = 0,
        next_try_at = 0, updated_at = ? WHERE name = ?`).run(Buffer.from(sealed.nonce), Buffer.from(sealed.box), now, name);
      this.sql('DELETE FROM sessions WHERE operator = ?').run(name);
      this.insertAudit({ actor, action, detail: { name, ...detail } }, now);
    });
  }

  /** A pending operator's first valid code (its step) makes the account active; the step counts as used. Audited. */
  activateOperator(name: string, step: number, actor: string): OperatorInfo {
    if (!Number.isSafeInteger(step) || step < 0) throw inputError('TOTP step must be a non-negative integer');
    const now = this.clock();
    return this.tx((): OperatorInfo => {
      const r = this.requireOperator(name);
      if (r.status !== 'pending') throw inputError(`operator ${name} is ${r.status}, not waiting for a first code`);
      this.sql(`UPDATE operators SET status = 'active', totp_last_step = ?, failures = 0, next_try_at = 0, updated_at = ? WHERE name = ?`)
        .run(step, now, name);
      this.insertAudit({ actor, action: 'operator.enrol', detail: { name, role: r.role } }, now);
      return operatorFromRow(this.requireOperator(name));
    });
  }

  /**
   * Starts an authentication attempt (login, password reset) under the account's back-off: refused
   * unchecked while the account is locked or inside its back-off delay; otherwise the attempt is counted
   * as a failure at once (so a crash or a concurrent attempt cannot skip the delay) and the next delay
   * set; operatorAttemptSucceeded() clears it. backoffMs(n): the delay after the n-th consecutive failure.
   */
  beginOperatorAttempt(name: string, backoffMs: (failures: number) => number): OperatorAttempt {
    const now = this.clock();
    return this.tx((): OperatorAttempt => {
      const r = this.operatorRow(name);
      if (!r) return { kind: 'unknown' };
      if (r.status === 'locked') return { kind: 'locked', failures: r.failures };
      if (r.status === 'pending') return { kind: 'pending' };
      if (now < r.next_try_at) return { kind: 'wait', waitMs: r.next_try_at - now, failures: r.failures };
      const failures = r.failures + 1;
      const next = now + Math.max(0, Math.floor(backoffMs(failures)));
      this.sql('UPDATE operators SET failures = ?, next_try_at = ? WHERE name = ?').run(failures, next, name);
      return { kind: 'go', failures };
    });
  }

  /**
   * The attempt failed (it was already counted): audits it, and locks the account once `maxFailures`
   * consecutive failures are reached (audited as operator.lock).
   */
  operatorAttemptFailed(name: string, o: { maxFailures: number; actor: string; action: string; detail?: Record<string, unknown> }): { failures: number; locked: boolean; retryAt: number } {
    checkAuditDetail(o.detail ?? {});
    const now = this.clock();
    return this.tx(() => {
      const r = this.requireOperator(name);
      this.insertAudit({ actor: o.actor, action: o.action, detail: { name, failures: r.failures, ...(o.detail ?? {}) } }, now);
      let locked = r.status === 'locked';
      if (!locked && r.failures >= o.maxFailures) {
        this.sql(`UPDATE operators SET status = 'locked', updated_at = ? WHERE name = ?`).run(now, name);
        this.sql('DELETE FROM sessions WHERE operator = ?').run(name);
        this.insertAudit({ actor: 'registry', action: 'operator.lock', detail: { name, failures: r.failures } }, now);
        locked = true;
      }
      return { failures: r.failures, locked, retryAt: r.next_try_at };
    });
  }

  /**
   * The password and the code were right: accepts the code's TOTP step only if it is later than every
   * step accepted before for this operator (each step once, across processes), then clears the back-off.
   * false: the step was used already (the caller records the failure).
   */
  operatorAttemptSucceeded(name: string, step: number): boolean {
    if (!Number.isSafeInteger(step) || step < 0) throw inputError('TOTP step must be a non-negative integer');
    const now = this.clock();
    return this.tx((): boolean => {
      const r = this.requireOperator(name);
      if (r.status !== 'active') return false;
      if (r.totp_last_step !== null && step <= r.totp_last_step) return false;
      this.sql('UPDATE operators SET totp_last_step = ?, failures = 0, next_try_at = 0, updated_at = ? WHERE name = ?').run(step, now, name);
      return true;
    });
  }

  /** Unlocks a locked account (or clears a back-off): failures and delay cleared. Audited. */
  unlockOperator(name: string, actor: string): OperatorInfo {
    const now = this.clock();
    return this.tx((): OperatorInfo => {
      const r = this.requireOperator(name);
      const status: OperatorStatus = r.status === 'locked' ? 'active' : r.status;
      this.sql('UPDATE operators SET status = ?, failures = 0, next_try_at = 0, updated_at = ? WHERE name = ?').run(status, now, name);
      this.insertAudit({ actor, action: 'operator.unlock', detail: { name, was: r.status, failures: r.failures } }, now);
      return operatorFromRow(this.requireOperator(name));
    });
  }

  /** A new password (scrypt, fresh salt); every session of the operator ends. Audited (never the password). */
  async setOperatorPassword(name: string, password: string, actor: string, action: string, detail: Record<string, unknown> = {}): Promise<void> {
    this.requireOperator(name);
    const problem = passwordProblem(name, password);
    if (problem) throw inputError(problem);
    checkAuditDetail(detail);
    const salt = randomSalt();
    const hash = await scrypt(password, salt, PASSWORD_KDF);
    const now = this.clock();
    this.tx(() => {
      this.requireOperator(name);
      this.sql('UPDATE operators SET pw_hash = ?, pw_salt = ?, pw_kdf = ?, updated_at = ? WHERE name = ?')
        .run(Buffer.from(hash), Buffer.from(salt), JSON.stringify({ alg: 'scrypt', ...PASSWORD_KDF }), now, name);
      this.sql('DELETE FROM sessions WHERE operator = ?').run(name);
      this.insertAudit({ actor, action, detail: { name, ...detail } }, now);
    });
  }

  /** Removes an operator, its sessions and its static broker password. Audited. */
  removeOperator(name: string, actor: string): void {
    const now = this.clock();
    this.tx(() => {
      const r = this.requireOperator(name);
      this.sql('DELETE FROM sessions WHERE operator = ?').run(name);
      this.sql('DELETE FROM broker_passwords WHERE principal = ?').run('operator:' + name);
      this.sql('DELETE FROM operators WHERE name = ?').run(name);
      this.insertAudit({ actor, action: 'operator.remove', detail: { name, role: r.role } }, now);
    });
  }

  // ── sessions: only the SHA-256 of each token is kept ───────────────────────────────────────────────

  /** Records a session for an active operator until expiresAt, audited as operator.login; expired rows are purged. */
  createSession(name: string, tokenHash: string, expiresAt: number, detail: Record<string, unknown> = {}): void {
    if (!/^[0-9a-f]{64}$/.test(tokenHash)) throw inputError('a session token hash is 64 hex digits');
    checkAuditDetail(detail);
    const now = this.clock();
    if (!(Number.isSafeInteger(expiresAt) && expiresAt > now)) throw inputError('a session must expire in the future');
    this.tx(() => {
      const r = this.requireOperator(name);
      if (r.status !== 'active') throw new SealmqError('auth', `operator ${name} is ${r.status}`);
      this.sql('DELETE FROM sessions WHERE expires_at <= ?').run(now);
      this.sql('INSERT INTO sessions(token_hash, operator, created_at, expires_at) VALUES (?, ?, ?, ?)').run(tokenHash, name, now, expiresAt);
      this.insertAudit({ actor: 'operator:' + name, action: 'operator.login', detail: { name, role: r.role, expires: new Date(expiresAt).toISOString(), ...detail } }, now);
    });
  }

  /** The session with this token hash (expired or not: the caller decides and says so), with the operator as it is now. */
  getSession(tokenHash: string): SessionInfo | null {
    if (typeof tokenHash !== 'string' || !/^[0-9a-f]{64}$/.test(tokenHash)) return null;
    const r = this.sql(`SELECT s.operator, s.created_at, s.expires_at, o.role, o.status FROM sessions s
      JOIN operators o ON o.name = s.operator WHERE s.token_hash = ?`).get(tokenHash) as
      { operator: string; created_at: number; expires_at: number; role: Role; status: OperatorStatus } | undefined;
    return r ? { operator: r.operator, role: r.role, status: r.status, createdAt: r.created_at, expiresAt: r.expires_at } : null;
  }

  /** Ends a session (logout, expiry). True if there was one. */
  deleteSession(tokenHash: string): boolean {
    if (typeof tokenHash !== 'string' || !/^[0-9a-f]{64}$/.test(tokenHash)) return false;
    return this.sql('DELETE FROM sessions WHERE token_hash = ?').run(tokenHash).changes > 0;
  }

  // ── audit log ──────────────────────────────────────────────────────────────────────────────────────

  /** Appends one audit entry. Throws if the detail looks like it carries a secret. */
  audit(e: AuditInput): number {
    return this.insertAudit(e, this.clock());
  }

  private insertAudit(e: AuditInput, at: number): number {
    if (typeof e.actor !== 'string' || e.actor === '' || typeof e.action !== 'string' || e.action === '') {
      throw inputError('an audit entry needs an actor and an action');
    }
    if (e.device != null) checkDeviceId(e.device);
    const detail = e.detail ?? {};
    checkAuditDetail(detail);
    const text = JSON.stringify(detail);
    // One transaction (a savepoint inside a caller's): read the head, append, hash, sign when unlocked.
    return this.tx(() => {
      const last = this.sql('SELECT hash FROM audit ORDER BY seq DESC LIMIT 1').get() as { hash: string | null } | undefined;
      const prev = last?.hash ?? GENESIS;
      const r = this.sql('INSERT INTO audit(at, actor, action, device_id, detail, prev) VALUES (?, ?, ?, ?, ?, ?)')
        .run(at, e.actor, e.action, e.device ?? null, text, prev);
      const seq = Number(r.lastInsertRowid);
      const hash = entryHash({ seq, at, actor: e.actor, action: e.action, device: e.device ?? null, detail: text, prev });
      // Locked (e.g. `devices revoke`): chained now, signed by signPendingAudit at the next unlock.
      const sig = this.auditSecret ? signEntry(this.auditSecret, hash) : null;
      this.sql('UPDATE audit SET hash = ?, sig = ? WHERE seq = ?').run(hash, sig, seq);
      return seq;
    });
  }

  /** The audit public key (hex), or null before the registry was first unlocked. */
  auditPublicKey(): string | null {
    return this.meta('audit_pubkey');
  }

  /**
   * Checks the chain and the signatures of the whole log (no passphrase needed). `publicKey` pins the key
   * (hex) instead of trusting the one stored in the registry.
   */
  verifyAudit(opts: { publicKey?: string; strict?: boolean } = {}): AuditVerifyResult & { publicKey: string | null } {
    const pk = opts.publicKey ?? this.auditPublicKey();
    if (pk !== null && !/^[0-9a-f]{64}$/i.test(pk)) throw inputError('an audit public key is 64 hex digits');
    const rows = (this.sql('SELECT * FROM audit ORDER BY seq').all() as RawAuditRow[]).map((r): AuditRow => ({
      seq: r.seq, at: r.at, actor: r.actor, action: r.action, device: r.device_id, detail: r.detail, prev: r.prev, hash: r.hash, sig: r.sig,
    }));
    const res = verifyChain(rows, pk ? new Uint8Array(Buffer.from(pk, 'hex')) : null, opts.strict);
    return { ...res, publicKey: pk ? pk.toLowerCase() : null };
  }

  // ── static broker passwords (Mosquitto: docs/BROKER.md) ────────────────────────────────────────────

  /**
   * The static MQTT password of a principal ('device:<id>' or 'operator:<name>') for a broker that cannot
   * check a TOTP: created on first use (24 bytes from the CSPRNG, base64url), sealed under the registry
   * key with the principal bound inside the box. Unlocked only. Audited when created.
   */
  /**
   * A device's Espruino console password(s) (docs/FIELD.md), newest first: normally one; two while a
   * provisioning that wrote a new one has not finished (the board may hold either). Sealed under the
   * registry key in meta, the device id bound inside the box. Empty when the device was never locked.
   */
  consolePasswords(id: string): string[] {
    const key = this.requireKey();
    checkDeviceId(id);
    const raw = this.meta('console_password:' + id);
    if (!raw) return [];
    const v = JSON.parse(raw) as { nonce: string; box: string };
    const pt = openBox(key, { nonce: u8(Buffer.from(v.nonce, 'hex')), box: u8(Buffer.from(v.box, 'hex')) });
    const text = pt ? utf8Decode(pt) : null;
    if (pt) wipe(pt);
    const tag = CONSOLE_PW_TEXT + id + '\0';
    if (text == null || !text.startsWith(tag)) throw new SealmqError('internal', `the console password of ${id} does not open: the registry was altered`);
    return JSON.parse(text.slice(tag.length)) as string[];
  }

  /** Puts `password` first in the device's console passwords; keep: how many older ones stay (0: only this). */
  setConsolePassword(id: string, password: string, keep: number): void {
    const key = this.requireKey();
    checkDeviceId(id);
    const list = [password, ...this.consolePasswords(id).filter((p) => p !== password).slice(0, keep)];
    const sealed = sealBox(key, utf8Encode(CONSOLE_PW_TEXT + id + '\0' + JSON.stringify(list)));
    this.sql('INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)')
      .run('console_password:' + id, JSON.stringify({ nonce: toHex(sealed.nonce), box: toHex(sealed.box) }));
  }

  brokerPassword(principal: string, actor: string): { password: string; created: boolean } {
    const key = this.requireKey();
    if (!/^(device|operator):[a-z0-9][a-z0-9._-]{0,31}$/.test(principal)) throw inputError(`bad principal ${JSON.stringify(principal)}`);
    return this.tx(() => {
      const row = this.sql('SELECT nonce, box FROM broker_passwords WHERE principal = ?').get(principal) as { nonce: Buffer; box: Buffer } | undefined;
      const tag = BROKER_PW_TEXT + principal + '\0';
      if (row) {
        const pt = openBox(key, { nonce: u8(row.nonce), box: u8(row.box) });
        const text = pt ? Buffer.from(pt).toString('utf8') : null;
        wipe(pt);
        if (text === null || !text.startsWith(tag)) throw new SealmqError('internal', `the broker password of ${principal} does not open: the registry was altered`);
        return { password: text.slice(tag.length), created: false };
      }
      const password = randomBytes(24).toString('base64url');
      const sealed = sealBox(key, utf8Encode(tag + password));
      const now = this.clock();
      this.sql('INSERT INTO broker_passwords(principal, nonce, box, created_at) VALUES (?, ?, ?, ?)')
        .run(principal, Buffer.from(sealed.nonce), Buffer.from(sealed.box), now);
      const [kind, name] = principal.split(':');
      this.insertAudit({ actor, action: 'broker.password.create', device: kind === 'device' ? name : null, detail: { principal } }, now);
      return { password, created: true };
    });
  }

  auditLog(q: AuditQuery = {}): AuditEntry[] {
    const where: string[] = [];
    const args: (string | number)[] = [];
    if (q.device !== undefined) { where.push('device_id = ?'); args.push(checkDeviceId(q.device)); }
    if (q.action !== undefined) { where.push('action = ?'); args.push(q.action); }
    if (q.afterSeq !== undefined) { where.push('seq > ?'); args.push(q.afterSeq); }
    const limit = Math.max(1, Math.min(q.limit ?? 1000, 100000));
    const sql = `SELECT * FROM (SELECT * FROM audit ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY seq DESC LIMIT ${limit}) ORDER BY seq`;
    // Built per query (filters and limit vary): not kept in the statement cache.
    return (this.db.prepare(sql).all(...args) as RawAuditRow[])
      .map((r) => ({ seq: r.seq, at: r.at, actor: r.actor, action: r.action, device: r.device_id, detail: JSON.parse(r.detail), hash: r.hash, signed: r.sig !== null }));
  }
}

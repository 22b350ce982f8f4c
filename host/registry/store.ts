// The registry's one database handle (docs/REGISTRY.md): the SQLite connection, its prepared statements,
// transactions, the clock, and the registry key once unlocked with the secrets decrypted under it. The
// modules beside it (devices, secrets, receive, operators, sessions, audit, passwords) are functions
// over a RegistryStore; registry.ts is the façade callers use.
import Database from 'better-sqlite3';
import { closeSync, existsSync, FSWatcher, openSync, realpathSync, watch } from 'node:fs';
import { basename, dirname } from 'node:path';
import type { KeyObject } from 'node:crypto';
import { toHex, utf8Decode, utf8Encode } from '../../core/bytes.js';
import { inputError, SealmqError } from '../errors.js';
import { checkScryptParams, KEY_LEN, openBox, randomSalt, ScryptParams, scrypt, sealBox, wipe } from './crypto.js';
import { migrate } from './schema.js';
import { Clock, DeviceRecord, DeviceSecrets, MIN_PASSPHRASE_LENGTH, u8 } from './types.js';

const VERIFIER_TEXT = 'sealmq registry key verifier v1';
/**
 * With a watcher, SQLite is still asked at every this-many-th check: inotify drops events when its queue
 * overflows (16,384 by default, and libuv does not report it), which a stalled process could in theory hit.
 */
const UNWATCHED_CHECKS_MAX = 256;

export class RegistryStore {
  readonly path: string;
  readonly db: Database.Database;
  readonly clock: Clock;
  private readonly newKdf: ScryptParams;
  private key: Uint8Array | null = null;
  /** The audit signing key (Ed25519), loaded at unlock (audit.ts). */
  auditSecret: KeyObject | null = null;
  /** Decrypted secrets by "id:epoch" (secrets.ts); wiped at lock. */
  readonly cache = new Map<string, DeviceSecrets>();
  readonly seedCache = new Map<string, Uint8Array>();
  /**
   * The verifier's device records (secrets.ts cachedDeviceRecord), valid while no other connection has
   * committed (SQLite's data_version) and no write of this one touched a device (forgetDevices()).
   */
  readonly deviceRecords = new Map<string, DeviceRecord | null>();
  /** Each cached record's stamp (secrets.ts deviceStamps: what the record is made of), read before the record. */
  readonly deviceStamps = new Map<string, string>();
  private dataVersion = -1;
  /** watchWrites(): the watcher, and whether it saw a file of this database change since the last check. */
  private watcher: FSWatcher | null = null;
  private changed = true;
  private unwatchedChecks = 0;
  /** Times checkOtherWriters() asked SQLite (tests). */
  otherWriterChecks = 0;
  /** Prepared statements by their (constant) SQL text: the verifier reads and writes per frame. */
  private readonly statements = new Map<string, Database.Statement>();
  private runTx: Database.Transaction<(f: () => unknown) => unknown> | null = null;

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
  async unlockKey(passphrase: string): Promise<void> {
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
  }

  /**
   * When another process committed anything since the last call (PRAGMA data_version: it changes only for
   * commits by other connections), drops every device record whose stamp changed, so a revoke or a rotation
   * made by another sealmq process is seen at the next frame, while the commits that change no record (the
   * broker's logins, last-seen times, audit rows) leave the others in place. `stamps` reads every device's
   * stamp (secrets.ts deviceStamps). afterIo: the caller runs after the I/O phase that read the frames at
   * hand (watchWrites() says why), so while the watcher saw no change the SQLite call is skipped.
   */
  checkOtherWriters(stamps: (store: RegistryStore) => Map<string, string>, afterIo = false): void {
    if (afterIo && this.watcher !== null && !this.changed && ++this.unwatchedChecks < UNWATCHED_CHECKS_MAX) return;
    this.changed = false;
    this.unwatchedChecks = 0;
    this.otherWriterChecks++;
    const v = this.sql('PRAGMA data_version').pluck().get() as number;
    if (v === this.dataVersion) return;
    this.dataVersion = v;
    if (this.deviceRecords.size === 0) return;
    const now = stamps(this);
    for (const [id, d] of this.deviceRecords) {
      if (now.get(id) === this.deviceStamps.get(id)) continue;
      if (d) wipe(d.root);
      this.deviceRecords.delete(id);
      this.deviceStamps.delete(id);
    }
  }

  /**
   * Watches the database's directory (inotify) so that checkOtherWriters(afterIo) can skip its SQLite call
   * (a system call: ~40 µs on a core back from idle) while no file of the database has changed. Why that
   * never misses a commit that a frame at hand depends on (docs/PROTOCOL.md, "Revocation across processes"):
   * another process's commit writes its -wal (or the database) before it returns, so the kernel queues
   * the event before anything that follows the commit (a board sending its next frame) can reach this
   * process; the poll that reports that frame's bytes therefore reports the event too, in the same batch or
   * an earlier one, and its callback runs in that I/O phase. A caller that handles the frames after the I/O
   * phase that read them (setImmediate) sees `changed` set. WAL mode needs every connection on this host
   * (shared memory), where inotify sees every write. Returns false (every check asks SQLite) when no
   * watcher could be started.
   */
  watchWrites(): boolean {
    if (this.watcher !== null) return true;
    try {
      // SQLite puts -wal and -shm beside the file a symlink names.
      const real = realpathSync(this.path);
      const name = basename(real);
      const w = watch(dirname(real), { persistent: false }, (_event, file) => {
        if (file === null || String(file).startsWith(name)) this.changed = true;
      });
      w.on('error', () => {
        this.changed = true;
        this.watcher = null;
        w.close();
      });
      this.watcher = w;
      this.changed = true;
      return true;
    } catch {
      return false;
    }
  }

  /** Drops the cached device records (a write of this connection changed a device, an epoch or a secret). */
  forgetDevices(): void {
    for (const d of this.deviceRecords.values()) if (d) wipe(d.root);
    this.deviceRecords.clear();
    this.deviceStamps.clear();
  }

  /** Forgets the key and every decrypted secret. */
  lock(): void {
    this.forgetDevices();
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
  sql(text: string): Database.Statement {
    let st = this.statements.get(text);
    if (!st) {
      st = this.db.prepare(text);
      this.statements.set(text, st);
    }
    return st;
  }

  close(): void {
    this.watcher?.close();
    this.watcher = null;
    this.lock();
    this.statements.clear();
    if (this.db.open) this.db.close();
  }

  /**
   * Runs fn in one BEGIN IMMEDIATE transaction (a savepoint when nested): all of it or none of it.
   * SQLite failures come out as SealmqError so the CLI prints one line.
   */
  tx<T>(fn: () => T): T {
    try {
      // One transaction function for all (better-sqlite3 builds four wrappers per db.transaction() call; the
      // registry makes one per reservation): it runs whatever it is given, with the same BEGIN/SAVEPOINT rules.
      this.runTx ??= this.db.transaction((f: () => unknown) => f());
      return this.runTx.immediate(fn) as T;
    } catch (e) {
      if (e instanceof SealmqError) throw e;
      throw new SealmqError('internal', `registry write failed, nothing was written: ${(e as Error).message}`, { cause: e });
    }
  }

  meta(key: string): string | null {
    const r = this.sql('SELECT value FROM meta WHERE key = ?').get(key) as { value: string } | undefined;
    return r ? r.value : null;
  }

  requireKey(): Uint8Array {
    if (!this.key) throw new SealmqError('auth', 'the registry is locked', { hint: 'unlock it with the passphrase first' });
    return this.key;
  }
}

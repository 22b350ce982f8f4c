// Operators (docs/OPERATORS.md; the policy around these lives in host/operators/): accounts, roles, scrypt
// password hashes, sealed TOTP seeds and the back-off and lock-out of failed attempts.
import { inputError, SealmqError } from '../errors.js';
import { insertAudit } from './audit.js';
import { ctEqual, openBox, PASSWORD_KDF, randomSalt, ScryptParams, scrypt, sealBox, wipe } from './crypto.js';
import type { RegistryStore } from './store.js';
import {
  checkAuditDetail, checkBytes, checkOperatorName, MAX_PASSWORD_LENGTH, OPERATOR_NAME_PATTERN, OPERATOR_SEED_LEN, OperatorAttempt,
  OperatorInfo, OperatorStatus, passwordProblem, Role, ROLES, u8,
} from './types.js';

const OPERATOR_SEED_TEXT = 'sealmq operator totp v1\0';

export interface OperatorRow {
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

export function operatorRow(store: RegistryStore, name: string): OperatorRow | undefined {
  if (typeof name !== 'string' || !OPERATOR_NAME_PATTERN.test(name)) return undefined;
  return store.sql('SELECT * FROM operators WHERE name = ?').get(name) as OperatorRow | undefined;
}

export function requireOperator(store: RegistryStore, name: string): OperatorRow {
  const r = operatorRow(store, name);
  if (!r) throw inputError(`no operator ${name} in the registry`, 'see `sealmq users list`');
  return r;
}

/**
 * Adds an operator. With otpSeed (the CLI always gives one) the operator is 'pending' until
 * activateOperator() sees a first valid code; the seed is sealed under the registry key (unlocked only).
 * Without one the operator is active with no authenticator: it can log in to the broker with its
 * password (the demo's throw-away registries) but never open a session (`sealmq login`).
 */
export async function addOperator(store: RegistryStore, p: { name: string; role: Role; password: string; actor: string; otpSeed?: Uint8Array; detail?: Record<string, unknown> }): Promise<OperatorInfo> {
  const name = checkOperatorName(p.name);
  if (!ROLES.includes(p.role)) throw inputError(`role must be one of ${ROLES.join(', ')}, got ${JSON.stringify(p.role)}`);
  const problem = passwordProblem(name, p.password);
  if (problem) throw inputError(problem);
  checkAuditDetail(p.detail ?? {});
  let sealed: { nonce: Uint8Array; box: Uint8Array } | null = null;
  if (p.otpSeed !== undefined) {
    checkBytes('operator TOTP seed', p.otpSeed, OPERATOR_SEED_LEN);
    sealed = sealBox(store.requireKey(), operatorSeedRecord(name, p.otpSeed));
  }
  const salt = randomSalt();
  const hash = await scrypt(p.password, salt, PASSWORD_KDF);
  const now = store.clock();
  const status: OperatorStatus = sealed ? 'pending' : 'active';
  store.tx(() => {
    if (store.sql('SELECT 1 FROM devices WHERE id = ?').get(name)) throw inputError(`${name} is already a device id`, 'operator names and device ids must differ');
    if (store.sql('SELECT 1 FROM operators WHERE name = ?').get(name)) throw inputError(`operator ${name} already exists`);
    store.sql(`INSERT INTO operators(name, role, status, pw_hash, pw_salt, pw_kdf, totp_nonce, totp_box, created_at, updated_at)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
      .run(name, p.role, status, Buffer.from(hash), Buffer.from(salt), JSON.stringify({ alg: 'scrypt', ...PASSWORD_KDF }),
        sealed ? Buffer.from(sealed.nonce) : null, sealed ? Buffer.from(sealed.box) : null, now, now);
    insertAudit(store, { actor: p.actor, action: 'operator.add', detail: { name, role: p.role, status, ...(p.detail ?? {}) } }, now);
  });
  return operatorFromRow(requireOperator(store, name));
}

export function listOperators(store: RegistryStore): OperatorInfo[] {
  return (store.sql('SELECT * FROM operators ORDER BY name').all() as OperatorRow[]).map(operatorFromRow);
}

export function getOperator(store: RegistryStore, name: string): OperatorInfo | null {
  const r = operatorRow(store, name);
  return r ? operatorFromRow(r) : null;
}

/**
 * The operator if the password is right and the account is active, else null (the broker's password
 * login). Unknown names cost the same scrypt as known ones; hashes are compared in constant time.
 */
export async function verifyOperator(store: RegistryStore, name: string, password: string): Promise<OperatorInfo | null> {
  const r = operatorRow(store, name);
  const ok = await passwordMatches(store, r, password);
  return r && ok && r.status === 'active' ? operatorFromRow(r) : null;
}

/** Whether the password is the operator's, whatever the account status (login and reset check status themselves). */
export async function checkOperatorPassword(store: RegistryStore, name: string, password: string): Promise<boolean> {
  const r = operatorRow(store, name);
  return (await passwordMatches(store, r, password)) && r !== undefined;
}

async function passwordMatches(store: RegistryStore, r: OperatorRow | undefined, password: string): Promise<boolean> {
  const pw = typeof password === 'string' ? password.slice(0, MAX_PASSWORD_LENGTH * 4) : '';
  const params = r ? JSON.parse(r.pw_kdf) as ScryptParams : PASSWORD_KDF;
  const salt = r ? u8(r.pw_salt) : new Uint8Array(16);
  const got = await scrypt(pw, salt, { N: params.N, r: params.r, p: params.p });
  const want = r ? u8(r.pw_hash) : new Uint8Array(got.length);
  return ctEqual(got, want) && r !== undefined;
}

/** The operator's TOTP seed (unlocked registry), or null when it has no authenticator. A copy: wipe it after use. */
export function operatorTotpSeed(store: RegistryStore, name: string): Uint8Array | null {
  const key = store.requireKey();
  const r = requireOperator(store, name);
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
export function resetOperatorTotp(store: RegistryStore, name: string, seed: Uint8Array, actor: string, action: string, detail: Record<string, unknown> = {}): void {
  checkBytes('operator TOTP seed', seed, OPERATOR_SEED_LEN);
  checkAuditDetail(detail);
  const sealed = sealBox(store.requireKey(), operatorSeedRecord(name, seed));
  const now = store.clock();
  store.tx(() => {
    requireOperator(store, name);
    store.sql(`UPDATE operators SET status = 'pending', totp_nonce = ?, totp_box = ?, totp_last_step = NULL, failures = 0,
      next_try_at = 0, updated_at = ? WHERE name = ?`).run(Buffer.from(sealed.nonce), Buffer.from(sealed.box), now, name);
    store.sql('DELETE FROM sessions WHERE operator = ?').run(name);
    insertAudit(store, { actor, action, detail: { name, ...detail } }, now);
  });
}

/** A pending operator's first valid code (its step) makes the account active; the step counts as used. Audited. */
export function activateOperator(store: RegistryStore, name: string, step: number, actor: string): OperatorInfo {
  if (!Number.isSafeInteger(step) || step < 0) throw inputError('TOTP step must be a non-negative integer');
  const now = store.clock();
  return store.tx((): OperatorInfo => {
    const r = requireOperator(store, name);
    if (r.status !== 'pending') throw inputError(`operator ${name} is ${r.status}, not waiting for a first code`);
    store.sql(`UPDATE operators SET status = 'active', totp_last_step = ?, failures = 0, next_try_at = 0, updated_at = ? WHERE name = ?`)
      .run(step, now, name);
    insertAudit(store, { actor, action: 'operator.enrol', detail: { name, role: r.role } }, now);
    return operatorFromRow(requireOperator(store, name));
  });
}

/**
 * Starts an authentication attempt (login, password reset) under the account's back-off: refused
 * unchecked while the account is locked or inside its back-off delay; otherwise the attempt is counted
 * as a failure at once (so a crash or a concurrent attempt cannot skip the delay) and the next delay
 * set; operatorAttemptSucceeded() clears it. backoffMs(n): the delay after the n-th consecutive failure.
 */
export function beginOperatorAttempt(store: RegistryStore, name: string, backoffMs: (failures: number) => number): OperatorAttempt {
  const now = store.clock();
  return store.tx((): OperatorAttempt => {
    const r = operatorRow(store, name);
    if (!r) return { kind: 'unknown' };
    if (r.status === 'locked') return { kind: 'locked', failures: r.failures };
    if (r.status === 'pending') return { kind: 'pending' };
    if (now < r.next_try_at) return { kind: 'wait', waitMs: r.next_try_at - now, failures: r.failures };
    const failures = r.failures + 1;
    const next = now + Math.max(0, Math.floor(backoffMs(failures)));
    store.sql('UPDATE operators SET failures = ?, next_try_at = ? WHERE name = ?').run(failures, next, name);
    return { kind: 'go', failures };
  });
}

/**
 * The attempt failed (it was already counted): audits it, and locks the account once `maxFailures`
 * consecutive failures are reached (audited as operator.lock).
 */
export function operatorAttemptFailed(store: RegistryStore, name: string, o: { maxFailures: number; actor: string; action: string; detail?: Record<string, unknown> }): { failures: number; locked: boolean; retryAt: number } {
  checkAuditDetail(o.detail ?? {});
  const now = store.clock();
  return store.tx(() => {
    const r = requireOperator(store, name);
    insertAudit(store, { actor: o.actor, action: o.action, detail: { name, failures: r.failures, ...(o.detail ?? {}) } }, now);
    let locked = r.status === 'locked';
    if (!locked && r.failures >= o.maxFailures) {
      store.sql(`UPDATE operators SET status = 'locked', updated_at = ? WHERE name = ?`).run(now, name);
      store.sql('DELETE FROM sessions WHERE operator = ?').run(name);
      insertAudit(store, { actor: 'registry', action: 'operator.lock', detail: { name, failures: r.failures } }, now);
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
export function operatorAttemptSucceeded(store: RegistryStore, name: string, step: number): boolean {
  if (!Number.isSafeInteger(step) || step < 0) throw inputError('TOTP step must be a non-negative integer');
  const now = store.clock();
  return store.tx((): boolean => {
    const r = requireOperator(store, name);
    if (r.status !== 'active') return false;
    if (r.totp_last_step !== null && step <= r.totp_last_step) return false;
    store.sql('UPDATE operators SET totp_last_step = ?, failures = 0, next_try_at = 0, updated_at = ? WHERE name = ?').run(step, now, name);
    return true;
  });
}

/** Unlocks a locked account (or clears a back-off): failures and delay cleared. Audited. */
export function unlockOperator(store: RegistryStore, name: string, actor: string): OperatorInfo {
  const now = store.clock();
  return store.tx((): OperatorInfo => {
    const r = requireOperator(store, name);
    const status: OperatorStatus = r.status === 'locked' ? 'active' : r.status;
    store.sql('UPDATE operators SET status = ?, failures = 0, next_try_at = 0, updated_at = ? WHERE name = ?').run(status, now, name);
    insertAudit(store, { actor, action: 'operator.unlock', detail: { name, was: r.status, failures: r.failures } }, now);
    return operatorFromRow(requireOperator(store, name));
  });
}

/** A new password (scrypt, fresh salt); every session of the operator ends. Audited (never the password). */
export async function setOperatorPassword(store: RegistryStore, name: string, password: string, actor: string, action: string, detail: Record<string, unknown> = {}): Promise<void> {
  requireOperator(store, name);
  const problem = passwordProblem(name, password);
  if (problem) throw inputError(problem);
  checkAuditDetail(detail);
  const salt = randomSalt();
  const hash = await scrypt(password, salt, PASSWORD_KDF);
  const now = store.clock();
  store.tx(() => {
    requireOperator(store, name);
    store.sql('UPDATE operators SET pw_hash = ?, pw_salt = ?, pw_kdf = ?, updated_at = ? WHERE name = ?')
      .run(Buffer.from(hash), Buffer.from(salt), JSON.stringify({ alg: 'scrypt', ...PASSWORD_KDF }), now, name);
    store.sql('DELETE FROM sessions WHERE operator = ?').run(name);
    insertAudit(store, { actor, action, detail: { name, ...detail } }, now);
  });
}

/** Removes an operator, its sessions and its static broker password. Audited. */
export function removeOperator(store: RegistryStore, name: string, actor: string): void {
  const now = store.clock();
  store.tx(() => {
    const r = requireOperator(store, name);
    store.sql('DELETE FROM sessions WHERE operator = ?').run(name);
    store.sql('DELETE FROM broker_passwords WHERE principal = ?').run('operator:' + name);
    store.sql('DELETE FROM operators WHERE name = ?').run(name);
    insertAudit(store, { actor, action: 'operator.remove', detail: { name, role: r.role } }, now);
  });
}

// The host registry (docs/REGISTRY.md): devices, their secrets (encrypted at rest), key epochs, replay
// state, operators, used TOTP steps and the audit log, in one SQLite database under $SEALMQ_HOME.
// A library: it never prints and never prompts; the clock is injected; errors are SealmqError.
//
// This file is the façade: one RegistryStore (store.ts: the database handle, transactions, the key) and a
// method per call the host makes, each delegating to the module that keeps that data — devices.ts,
// secrets.ts, receive.ts (replay windows, send counters, device TOTP steps), posture.ts, operators.ts,
// sessions.ts, audit.ts, passwords.ts. The contracts are documented there.
import { join } from 'node:path';
import type { ReceiveState } from '../../core/frame.js';
import type { AuditVerifyResult } from './audit-chain.js';
import * as audit from './audit.js';
import { REGISTRY_KDF, ScryptParams } from './crypto.js';
import * as devices from './devices.js';
import { DB_FILE, ensureHome, registryHome } from './home.js';
import * as operators from './operators.js';
import * as passwords from './passwords.js';
import * as posture from './posture.js';
import type { PostureRecord } from './posture.js';
import * as receive from './receive.js';
import * as secrets from './secrets.js';
import * as sessions from './sessions.js';
import { RegistryStore } from './store.js';
import type {
  AuditEntry, AuditInput, AuditQuery, Clock, DeviceInfo, DeviceRecord, DeviceSecrets, EpochInfo, OperatorAttempt, OperatorInfo,
  ProvisionRecord, Role, SessionInfo,
} from './types.js';

export * from './types.js';
export type { PostureRecord } from './posture.js';

export interface RegistryOptions {
  /** Directory of the registry; default $SEALMQ_HOME or ~/.sealmq. */
  home?: string;
  env?: NodeJS.ProcessEnv;
  clock?: Clock;
  /** scrypt parameters for a NEW registry's key (never below N = 2^15, r = 8, p = 1). */
  kdf?: ScryptParams;
}

/** Opens (creating if needed) the registry. Secrets need unlock(passphrase) first; the rest works locked. */
export function openRegistry(opts: RegistryOptions = {}): Registry {
  const home = opts.home ?? registryHome(opts.env);
  ensureHome(home);
  return new Registry(join(home, DB_FILE), opts.clock ?? Date.now, opts.kdf ?? REGISTRY_KDF);
}

export class Registry {
  private readonly s: RegistryStore;

  constructor(path: string, clock: Clock, kdf: ScryptParams) {
    this.s = new RegistryStore(path, clock, kdf);
    try {
      audit.chainLegacyAudit(this.s);
    } catch (e) {
      this.s.close();
      throw e;
    }
  }

  get path(): string {
    return this.s.path;
  }

  get unlocked(): boolean {
    return this.s.unlocked;
  }

  /** The registry key from the passphrase (store.ts unlockKey), then the audit key, and entries written while locked get signed. */
  async unlock(passphrase: string): Promise<void> {
    await this.s.unlockKey(passphrase);
    try {
      audit.loadAuditKey(this.s);
      audit.signPendingAudit(this.s);
    } catch (e) {
      this.lock();
      throw e;
    }
  }

  /** Forgets the key and every decrypted secret. */
  lock(): void {
    this.s.lock();
  }

  close(): void {
    this.s.close();
  }

  /** Runs fn in one transaction (a savepoint inside another): the verifier's group commit (verifier/group.ts). */
  transaction<T>(fn: () => T): T {
    return this.s.tx(fn);
  }

  /** The registry's clock (ms): host/operators computes TOTP steps and session expiry on the same one. */
  now(): number {
    return this.s.clock();
  }

  // ── devices (devices.ts) ──
  listDevices(): DeviceInfo[] { return devices.listDevices(this.s); }
  getDevice(id: string): DeviceInfo | null { return devices.getDevice(this.s, id); }
  epochs(id: string): EpochInfo[] { return devices.epochs(this.s, id); }
  recordProvisioned(p: ProvisionRecord): DeviceInfo { return devices.recordProvisioned(this.s, p); }
  revokeDevice(id: string, actor: string, reason?: string): DeviceInfo { return devices.revokeDevice(this.s, id, actor, reason); }
  requestRotation(id: string, actor: string): { from: number; to: number } { return devices.requestRotation(this.s, id, actor); }
  touchDevice(id: string, at?: number): void { return devices.touchDevice(this.s, id, at); }
  // ── posture (posture.ts) ──
  recordPosture(id: string, report: Record<string, unknown>, actor: string): PostureRecord { return posture.recordPosture(this.s, id, report, actor); }
  getPosture(id: string): PostureRecord | null { return posture.getPosture(this.s, id); }
  listPostures(): Map<string, PostureRecord> { return posture.listPostures(this.s); }
  // ── secrets (secrets.ts) ──
  secrets(id: string, epoch?: number): DeviceSecrets | null { return secrets.secrets(this.s, id, epoch); }
  otpSeed(id: string): { epoch: number; seed: Uint8Array } | null { return secrets.otpSeed(this.s, id); }
  deviceRecord(id: string): DeviceRecord | null { return secrets.deviceRecord(this.s, id); }
  cachedDeviceRecord(id: string, checkOthers = true): DeviceRecord | null { return secrets.cachedDeviceRecord(this.s, id, checkOthers); }
  /** Drops the cached device records another process changed since the last check (store.ts, secrets.ts). */
  checkOtherWriters(afterIo = false): void { secrets.checkOtherWriters(this.s, afterIo); }
  /** Lets checkOtherWriters(true) skip SQLite while no file of the database changed (store.ts watchWrites). */
  watchWrites(): boolean { return this.s.watchWrites(); }
  exportSecrets(id: string, actor: string): { id: string; epoch: number; root: string; otpSeed: string; brokerUrl: string | null; interval: number | null } { return secrets.exportSecrets(this.s, id, actor); }
  // ── receive (receive.ts) ──
  getReceiveState(id: string, direction: string): ReceiveState | null { return receive.getReceiveState(this.s, id, direction); }
  putReceiveState(id: string, direction: string, st: ReceiveState): void { return receive.putReceiveState(this.s, id, direction, st); }
  reserveReceiveState(id: string, direction: string, st: ReceiveState, expected: ReceiveState | null): ReceiveState | null { return receive.reserveReceiveState(this.s, id, direction, st, expected); }
  withReceiveState<R extends { state?: ReceiveState }>(id: string, direction: string, fn: (st: ReceiveState) => R): R { return receive.withReceiveState<R>(this.s, id, direction, fn); }
  nextSendCounter(id: string, direction: string, epoch: number): number { return receive.nextSendCounter(this.s, id, direction, epoch); }
  consumeTotpStep(id: string, step: number): boolean { return receive.consumeTotpStep(this.s, id, step); }
  lastTotpStep(id: string): number | null { return receive.lastTotpStep(this.s, id); }
  // ── operators (operators.ts) ──
  addOperator(p: { name: string; role: Role; password: string; actor: string; otpSeed?: Uint8Array; detail?: Record<string, unknown> }): Promise<OperatorInfo> { return operators.addOperator(this.s, p); }
  listOperators(): OperatorInfo[] { return operators.listOperators(this.s); }
  getOperator(name: string): OperatorInfo | null { return operators.getOperator(this.s, name); }
  verifyOperator(name: string, password: string): Promise<OperatorInfo | null> { return operators.verifyOperator(this.s, name, password); }
  checkOperatorPassword(name: string, password: string): Promise<boolean> { return operators.checkOperatorPassword(this.s, name, password); }
  operatorTotpSeed(name: string): Uint8Array | null { return operators.operatorTotpSeed(this.s, name); }
  resetOperatorTotp(name: string, seed: Uint8Array, actor: string, action: string, detail: Record<string, unknown> = {}): void { return operators.resetOperatorTotp(this.s, name, seed, actor, action, detail); }
  activateOperator(name: string, step: number, actor: string): OperatorInfo { return operators.activateOperator(this.s, name, step, actor); }
  beginOperatorAttempt(name: string, backoffMs: (failures: number) => number): OperatorAttempt { return operators.beginOperatorAttempt(this.s, name, backoffMs); }
  operatorAttemptFailed(name: string, o: { maxFailures: number; actor: string; action: string; detail?: Record<string, unknown> }): { failures: number; locked: boolean; retryAt: number } { return operators.operatorAttemptFailed(this.s, name, o); }
  operatorAttemptSucceeded(name: string, step: number): boolean { return operators.operatorAttemptSucceeded(this.s, name, step); }
  unlockOperator(name: string, actor: string): OperatorInfo { return operators.unlockOperator(this.s, name, actor); }
  setOperatorPassword(name: string, password: string, actor: string, action: string, detail: Record<string, unknown> = {}): Promise<void> { return operators.setOperatorPassword(this.s, name, password, actor, action, detail); }
  removeOperator(name: string, actor: string): void { return operators.removeOperator(this.s, name, actor); }
  // ── sessions (sessions.ts) ──
  createSession(name: string, tokenHash: string, expiresAt: number, detail: Record<string, unknown> = {}): void { return sessions.createSession(this.s, name, tokenHash, expiresAt, detail); }
  getSession(tokenHash: string): SessionInfo | null { return sessions.getSession(this.s, tokenHash); }
  deleteSession(tokenHash: string): boolean { return sessions.deleteSession(this.s, tokenHash); }
  // ── audit (audit.ts) ──
  audit(e: AuditInput): number { return audit.audit(this.s, e); }
  auditPublicKey(): string | null { return audit.auditPublicKey(this.s); }
  verifyAudit(opts: { publicKey?: string; strict?: boolean } = {}): AuditVerifyResult & { publicKey: string | null } { return audit.verifyAudit(this.s, opts); }
  auditLog(q: AuditQuery = {}): AuditEntry[] { return audit.auditLog(this.s, q); }
  // ── passwords (passwords.ts) ──
  consolePasswords(id: string): string[] { return passwords.consolePasswords(this.s, id); }
  setConsolePassword(id: string, password: string, keep: number): void { return passwords.setConsolePassword(this.s, id, password, keep); }
  brokerPassword(principal: string, actor: string): { password: string; created: boolean } { return passwords.brokerPassword(this.s, principal, actor); }
}

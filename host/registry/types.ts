// The registry's vocabulary (docs/REGISTRY.md): the types its callers see, the limits, and the checks every
// module applies at its boundary. No database here.
import { userInfo } from 'node:os';
import { isDeviceId } from '../../core/ids.js';
import { inputError } from '../errors.js';
import type { ScryptParams } from './crypto.js';

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

export function checkDirection(d: string): Direction {
  if (d !== 'up' && d !== 'down') throw inputError(`direction must be "up" or "down", got ${JSON.stringify(d)}`);
  return d;
}

export function checkBytes(name: string, b: unknown, len: number): Uint8Array {
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

/** A Buffer from SQLite seen as a Uint8Array (no copy). */
export const u8 = (b: Buffer): Uint8Array => new Uint8Array(b.buffer, b.byteOffset, b.length);

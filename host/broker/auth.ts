// Who may log in to the embedded broker (DESIGN.md §5): a device with user = its id and password = its
// current TOTP (RFC 6238, SHA-1, 30 s, 8 digits; steps t-1, t, t+1; each step accepted once, and never
// one older than the last accepted, persisted so a restart does not reopen it); an operator with name
// and password (scrypt, constant-time). Everything else is refused with a reason for the audit log.
import { timingSafeEqual } from 'node:crypto';
import { isDeviceId } from '../../core/ids.js';
import { DEVICE_TOTP_DIGITS, DEVICE_TOTP_STEP, totp, totpStep } from '../../core/otp.js';
import { sha1 } from '../protocol/node-primitives.js';
import type { Clock, Registry } from '../registry/registry.js';
import type { Principal } from './policy.js';

/** MQTT 3.1.1 CONNACK return codes (§3.2.2.3). */
export const CONNACK = { IDENTIFIER_REJECTED: 2, BAD_USERNAME_OR_PASSWORD: 4, NOT_AUTHORIZED: 5 } as const;

export interface LoginAttempt {
  username: string | undefined;
  password: Uint8Array | undefined;
  clientId: string;
  /** The CONNECT carried a will message. */
  hasWill: boolean;
  /** A client id currently connected, and who holds it (null: nobody). */
  clientIdHolder: Principal | null;
  /** The network address the attempt came from (no port): failures are counted per user name AND address. */
  source?: string;
}

export type LoginResult =
  | { ok: true; principal: Principal; step?: number }
  | { ok: false; reason: string; returnCode: number; device: string | null };

export interface AuthOptions {
  registry: Registry;
  clock: Clock;
  /** TOTP steps accepted either side of now (default 1: t-1, t, t+1). */
  skew?: number;
  /**
   * Failed logins per (user name, source address) in `failureWindowMs` before further attempts from that
   * address are refused unchecked. Per address, so that a stranger who knows a device id (topics show them)
   * cannot keep the device itself from logging in by failing on purpose.
   */
  maxFailures?: number;
  failureWindowMs?: number;
}

const TOTP_PATTERN = new RegExp('^[0-9]{' + DEVICE_TOTP_DIGITS + '}$');

function samePrincipal(a: Principal, b: Principal): boolean {
  if (a.kind === 'device') return b.kind === 'device' && b.id === a.id;
  return b.kind === 'operator' && b.name === a.name;
}

/** Failure counters are keyed by at most 64 characters of the user name (it comes from the network) and the source address. */
const keyOf = (user: string, source: string | undefined): string => user.slice(0, 64) + '\u0000' + (source ?? '').slice(0, 64);

export class Authenticator {
  private readonly registry: Registry;
  private readonly clock: Clock;
  private readonly skew: number;
  private readonly maxFailures: number;
  private readonly windowMs: number;
  private readonly failures = new Map<string, { since: number; count: number; reported: boolean }>();

  constructor(o: AuthOptions) {
    this.registry = o.registry;
    this.clock = o.clock;
    this.skew = o.skew ?? 1;
    this.maxFailures = o.maxFailures ?? 10;
    this.windowMs = o.failureWindowMs ?? 60_000;
  }

  async login(a: LoginAttempt): Promise<LoginResult> {
    const user = a.username;
    const refuse = (reason: string, returnCode: number = CONNACK.BAD_USERNAME_OR_PASSWORD, device: string | null = null): LoginResult => {
      if (user !== undefined) this.noteFailure(user, a.source);
      return { ok: false, reason, returnCode, device };
    };
    if (user === undefined || user === '' || a.password === undefined) return refuse('no-credentials');
    if (this.isThrottled(user, a.source)) return { ok: false, reason: 'rate-limited', returnCode: CONNACK.NOT_AUTHORIZED, device: null };
    // No role has a use for a will: it is an unsealed message published on someone's behalf later.
    if (a.hasWill) return refuse('will-not-allowed', CONNACK.NOT_AUTHORIZED, isDeviceId(user) ? this.knownDevice(user) : null);

    const device = isDeviceId(user) ? this.registry.getDevice(user) : null;
    let r: LoginResult;
    if (device) r = this.deviceLogin(device.id, device.status, a);
    else r = await this.operatorLogin(user, a);
    if (!r.ok) this.noteFailure(user, a.source);
    else this.failures.delete(keyOf(user, a.source));
    return r;
  }

  private knownDevice(id: string): string | null {
    return this.registry.getDevice(id) ? id : null;
  }

  private deviceLogin(id: string, status: string, a: LoginAttempt): LoginResult {
    const no = (reason: string, code: number = CONNACK.BAD_USERNAME_OR_PASSWORD): LoginResult => ({ ok: false, reason, returnCode: code, device: id });
    // Same answer on the wire as a wrong code: the refusal does not tell a scanner the device exists.
    if (status !== 'active') return no('revoked');
    const pw = a.password!;
    const code = Buffer.from(pw.buffer, pw.byteOffset, pw.length).toString('latin1');
    if (!TOTP_PATTERN.test(code)) return no('bad-totp');
    const s = this.registry.otpSeed(id);
    if (!s) return no('no-secrets');
    const now = totpStep(this.clock() / 1000, DEVICE_TOTP_STEP);
    // Compare against every step in the window without stopping early; keep the latest that matched.
    let matched = -1;
    for (let step = now - this.skew; step <= now + this.skew; step++) {
      const want = totp(sha1, 64, s.seed, step * DEVICE_TOTP_STEP, DEVICE_TOTP_STEP, DEVICE_TOTP_DIGITS);
      if (timingSafeEqual(Buffer.from(want, 'latin1'), Buffer.from(code, 'latin1'))) matched = step;
    }
    s.seed.fill(0);
    if (matched < 0) return no('bad-totp');
    // Checked after the code, so a client id mistake never tells a stranger which ids exist.
    if (a.clientId !== id) return no('client-id-mismatch', CONNACK.IDENTIFIER_REJECTED);
    if (!this.registry.consumeTotpStep(id, matched)) return no('totp-reused');
    return { ok: true, principal: { kind: 'device', id }, step: matched };
  }

  private async operatorLogin(user: string, a: LoginAttempt): Promise<LoginResult> {
    const pw = a.password!;
    const op = await this.registry.verifyOperator(user, Buffer.from(pw.buffer, pw.byteOffset, pw.length).toString('utf8'));
    if (!op) {
      const known = this.registry.getOperator(user) !== null;
      return { ok: false, reason: known ? 'bad-password' : 'unknown-user', returnCode: CONNACK.BAD_USERNAME_OR_PASSWORD, device: null };
    }
    const principal: Principal = { kind: 'operator', name: op.name, role: op.role };
    // A device's client id is the device's alone; another operator's live session is theirs alone
    // (MQTT-3.1.4-2 would otherwise let a newcomer with the same id close it).
    if (isDeviceId(a.clientId) && this.registry.getDevice(a.clientId)) {
      return { ok: false, reason: 'client-id-reserved', returnCode: CONNACK.IDENTIFIER_REJECTED, device: null };
    }
    if (a.clientIdHolder && !samePrincipal(a.clientIdHolder, principal)) {
      return { ok: false, reason: 'client-id-taken', returnCode: CONNACK.IDENTIFIER_REJECTED, device: null };
    }
    return { ok: true, principal };
  }

  private isThrottled(user: string, source: string | undefined): boolean {
    const f = this.failures.get(keyOf(user, source));
    if (!f) return false;
    if (this.clock() - f.since > this.windowMs) {
      this.failures.delete(keyOf(user, source));
      return false;
    }
    return f.count >= this.maxFailures;
  }

  /** True the first time a (user name, source) crosses the limit in a window (so the audit log records it once). */
  firstThrottle(user: string, source?: string): boolean {
    const f = this.failures.get(keyOf(user, source));
    if (!f || f.reported) return false;
    f.reported = true;
    return true;
  }

  private noteFailure(user: string, source: string | undefined): void {
    const key = keyOf(user, source);
    const now = this.clock();
    const f = this.failures.get(key);
    if (!f || now - f.since > this.windowMs) this.failures.set(key, { since: now, count: 1, reported: false });
    else f.count++;
    if (this.failures.size > 10000) this.failures.delete(this.failures.keys().next().value as string);
  }
}

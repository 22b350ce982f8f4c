// Operator authentication (docs/OPERATORS.md), a library over the registry: login (password + TOTP →
// a session), first-code enrolment, password reset by TOTP, and the one session check every privileged
// command goes through. It never prints or prompts; time is the registry's clock. Every outcome is audited
// under the operator's name, never with a secret.
import { createHash, randomBytes } from 'node:crypto';
import { SealmqError, inputError } from '../errors.js';
import { localActor, OperatorAttempt, OperatorInfo, passwordProblem, Registry, Role } from '../registry/registry.js';
import { wipe } from '../registry/crypto.js';
import { Action, allowed, PERMISSIONS } from './roles.js';
import { matchStep } from './totp.js';

/** Back-off after the n-th consecutive failure: 1 s, 2 s, 4 s … doubling, capped at 5 min. */
export const BACKOFF_BASE_MS = 1000;
export const BACKOFF_CAP_MS = 5 * 60_000;
/** The account locks at this many consecutive failures (the last delays before it: 128 s, 256 s). */
export const LOCK_AFTER = 10;
export const DEFAULT_TTL_MS = 8 * 3600_000;
export const MIN_TTL_MS = 60_000;
export const MAX_TTL_MS = 24 * 3600_000;

export function backoffMs(failures: number): number {
  if (failures < 1) return 0;
  return Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** Math.min(failures - 1, 30));
}

/** The audit actor of an operator: 'operator:<name>' (never confused with 'registry' or 'cli:<user>'). */
export function operatorActor(name: string): string {
  return 'operator:' + name;
}

/** SHA-256 (hex) of a session token: all the registry keeps. The token has 256 random bits, so no KDF is needed. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

export interface Session {
  operator: string;
  role: Role;
  /** 'operator:<name>', for the audit entries of what the command does. */
  actor: string;
  expiresAt: number;
}

const SHOW_NAME = /^[a-z][a-z0-9._-]{0,31}$/;
const seconds = (ms: number) => Math.ceil(ms / 1000);

/** Why an attempt may not even be checked, as an 'auth' error (audited), or null to go on. */
function refuseAttempt(reg: Registry, name: string, a: OperatorAttempt, what: string, from: string): SealmqError | null {
  const actor = operatorActor(name);
  switch (a.kind) {
    case 'go':
      return null;
    case 'unknown':
      return null; // checked like a known name (same scrypt), refused after
    case 'pending':
      reg.audit({ actor, action: `operator.${what}.refused`, detail: { name, reason: 'not-enrolled', from } });
      return new SealmqError('auth', `operator ${name} has not confirmed an authenticator yet`, {
        hint: `confirm it with a first code: sealmq users confirm ${name}`,
      });
    case 'locked':
      reg.audit({ actor, action: `operator.${what}.refused`, detail: { name, reason: 'locked', from } });
      return new SealmqError('auth', `operator ${name} is locked after ${a.failures} failed attempts`, {
        hint: `an admin runs \`sealmq users unlock ${name}\`; if no admin can log in: \`sealmq users recover ${name}\` with the registry passphrase`,
      });
    case 'wait':
      reg.audit({ actor, action: `operator.${what}.refused`, detail: { name, reason: 'backoff', waitS: seconds(a.waitMs), from } });
      return new SealmqError('auth', `too many failed attempts for ${name}: try again in ${seconds(a.waitMs)} s`, {
        hint: `the delay doubles with each failure (1 s, 2 s, 4 s …); the account locks at ${LOCK_AFTER}`,
      });
  }
}

/**
 * Checks password (optional: null skips it, for a reset) and TOTP code under the account's back-off, and
 * consumes the code's step. Throws an 'auth' error (audited) on any failure.
 */
async function authenticate(reg: Registry, name: string, password: string | null, code: string, what: 'login' | 'passwd', from: string): Promise<OperatorInfo> {
  const known = reg.getOperator(name);
  if (known && known.status === 'active' && !known.hasTotp) {
    reg.audit({ actor: operatorActor(name), action: `operator.${what}.refused`, detail: { name, reason: 'no-authenticator', from } });
    throw new SealmqError('auth', `operator ${name} has no TOTP authenticator enrolled (added before sealmq had logins)`, {
      hint: `enrol one: sealmq users recover ${name} (needs the registry passphrase)`,
    });
  }
  const attempt = reg.beginOperatorAttempt(name, backoffMs);
  const refused = refuseAttempt(reg, name, attempt, what, from);
  if (refused) throw refused;
  const generic = () => new SealmqError('auth', what === 'login' ? 'wrong operator name, password or code' : 'wrong code', {
    hint: 'codes come from the authenticator app and are accepted once each; after a failure the next attempt waits 1 s, 2 s, 4 s …',
  });
  if (attempt.kind === 'unknown') {
    // Same work as for a real account, then refused; the audit keeps the name only if it could be one.
    await reg.checkOperatorPassword(name, password ?? '');
    reg.audit({ actor: from, action: `operator.${what}.failure`, detail: { name: SHOW_NAME.test(name) ? name : '(not a valid name)', reason: 'unknown-operator' } });
    throw generic();
  }
  const pwOk = password === null ? true : await reg.checkOperatorPassword(name, password);
  const seed = reg.operatorTotpSeed(name);
  const step = pwOk && seed ? matchStep(seed, code, reg.now()) : null;
  wipe(seed);
  let reason: string | null = !pwOk ? 'bad-password' : step === null ? 'bad-code' : null;
  if (reason === null && !reg.operatorAttemptSucceeded(name, step!)) reason = 'code-reused';
  if (reason !== null) {
    const r = reg.operatorAttemptFailed(name, { maxFailures: LOCK_AFTER, actor: operatorActor(name), action: `operator.${what}.failure`, detail: { reason, from } });
    if (r.locked) {
      throw new SealmqError('auth', `${generic().message}; operator ${name} is now locked after ${r.failures} failed attempts`, {
        hint: `an admin runs \`sealmq users unlock ${name}\`; if no admin can log in: \`sealmq users recover ${name}\` with the registry passphrase`,
      });
    }
    const e = generic();
    throw new SealmqError('auth', `${e.message} (failure ${r.failures} of ${LOCK_AFTER}; next attempt in ${seconds(backoffMs(r.failures))} s)`, { hint: e.hint });
  }
  return reg.getOperator(name)!;
}

export interface LoginResult {
  /** The session token: give it back in $SEALMQ_SESSION or the session file. Never stored by the registry. */
  token: string;
  operator: OperatorInfo;
  expiresAt: number;
}

/** Password + TOTP code → a session of ttlMs. The registry must be unlocked (the TOTP seed is sealed). */
export async function login(reg: Registry, p: { name: string; password: string; code: string; ttlMs?: number; from?: string }): Promise<LoginResult> {
  const ttl = p.ttlMs ?? DEFAULT_TTL_MS;
  if (!(Number.isFinite(ttl) && ttl >= MIN_TTL_MS && ttl <= MAX_TTL_MS)) throw inputError('a session lasts 1 min to 24 h');
  const from = p.from ?? localActor();
  const op = await authenticate(reg, p.name, p.password, p.code, 'login', from);
  const token = randomBytes(32).toString('base64url');
  const expiresAt = reg.now() + Math.floor(ttl);
  reg.createSession(op.name, hashToken(token), expiresAt, { ttlS: Math.floor(ttl / 1000), from });
  return { token, operator: op, expiresAt };
}

/** A pending operator's first code: proves the authenticator holds the seed; the account becomes active. */
export function confirmEnrolment(reg: Registry, name: string, code: string, actor: string): OperatorInfo {
  const op = reg.getOperator(name);
  if (!op) throw inputError(`no operator ${name} in the registry`, 'see `sealmq users list`');
  if (op.status !== 'pending') throw inputError(`operator ${name} is ${op.status}: there is no enrolment to confirm`);
  const seed = reg.operatorTotpSeed(name);
  const step = seed ? matchStep(seed, code, reg.now()) : null;
  wipe(seed);
  if (step === null) {
    reg.audit({ actor, action: 'operator.enrol.failure', detail: { name, reason: 'bad-code' } });
    throw new SealmqError('auth', `that code does not match ${name}'s new authenticator`, {
      hint: `scan the QR code again, check the phone's clock, and run \`sealmq users confirm ${name}\``,
    });
  }
  return reg.activateOperator(name, step, actor);
}

/** Password reset: the operator's current TOTP code (not the old password), under the same back-off. */
export async function resetPassword(reg: Registry, p: { name: string; code: string; newPassword: string; from?: string }): Promise<void> {
  const problem = passwordProblem(p.name, p.newPassword);
  if (problem) throw inputError(problem);
  const from = p.from ?? localActor();
  await authenticate(reg, p.name, null, p.code, 'passwd', from);
  await reg.setOperatorPassword(p.name, p.newPassword, operatorActor(p.name), 'operator.passwd', { from });
}

/** The session of a token as it stands (no audit): null when unknown; `expired` says whether it still counts. */
export function sessionOf(reg: Registry, token: string | null): (Session & { expired: boolean; status: string }) | null {
  if (!token) return null;
  const s = reg.getSession(hashToken(token));
  if (!s) return null;
  return { operator: s.operator, role: s.role, actor: operatorActor(s.operator), expiresAt: s.expiresAt, expired: reg.now() >= s.expiresAt, status: s.status };
}

const loginHint = (action: Action) => `log in as an operator whose role may ${action} (${PERMISSIONS[action].join(' or ')}): sealmq login --user NAME`;

/**
 * THE check before a privileged action: a live session of an active operator whose role the table in
 * roles.ts allows. Refusals are 'auth' errors (exit 5) naming `sealmq login`, and audited; an allowed
 * action is audited too (operator.allowed), so every privileged command leaves the operator's name.
 */
export function checkSession(reg: Registry, token: string | null, action: Action, from: string = localActor()): Session {
  const deny = (actor: string, detail: Record<string, unknown>, message: string, hint = loginHint(action)): never => {
    reg.audit({ actor, action: 'operator.denied', detail: { action, from, ...detail } });
    throw new SealmqError('auth', message, { hint });
  };
  if (!token) return deny(from, { reason: 'no-session' }, `${action} needs an operator session, and there is none`);
  const s = sessionOf(reg, token);
  if (!s) return deny(from, { reason: 'unknown-session' }, `${action} needs an operator session; the one given is not known (ended, or from another registry)`);
  if (s.expired) {
    reg.deleteSession(hashToken(token));
    reg.audit({ actor: s.actor, action: 'session.expired', detail: { action, expired: new Date(s.expiresAt).toISOString(), from } });
    throw new SealmqError('auth', `the session of ${s.operator} expired at ${new Date(s.expiresAt).toISOString()}`, { hint: loginHint(action) });
  }
  if (s.status !== 'active') return deny(s.actor, { reason: 'account-' + s.status }, `operator ${s.operator} is ${s.status}`);
  if (!allowed(s.role, action)) {
    return deny(s.actor, { reason: 'role', role: s.role }, `${s.operator} (${s.role}) may not ${action}: it needs ${PERMISSIONS[action].join(' or ')}`);
  }
  reg.audit({ actor: s.actor, action: 'operator.allowed', detail: { action, role: s.role, from } });
  return { operator: s.operator, role: s.role, actor: s.actor, expiresAt: s.expiresAt };
}

/** Ends the session of a token. Audited when there was one. */
export function logout(reg: Registry, token: string): string | null {
  const s = sessionOf(reg, token);
  if (!reg.deleteSession(hashToken(token)) || !s) return null;
  reg.audit({ actor: s.actor, action: 'operator.logout', detail: { name: s.operator } });
  return s.operator;
}

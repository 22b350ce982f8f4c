// Operator sessions (`sealmq login`): only the SHA-256 of each token is kept.
import { inputError, SealmqError } from '../errors.js';
import { insertAudit } from './audit.js';
import { requireOperator } from './operators.js';
import type { RegistryStore } from './store.js';
import { checkAuditDetail, OperatorStatus, Role, SessionInfo } from './types.js';

/** Records a session for an active operator until expiresAt, audited as operator.login; expired rows are purged. */
export function createSession(store: RegistryStore, name: string, tokenHash: string, expiresAt: number, detail: Record<string, unknown> = {}): void {
  if (!/^[0-9a-f]{64}$/.test(tokenHash)) throw inputError('a session token hash is 64 hex digits');
  checkAuditDetail(detail);
  const now = store.clock();
  if (!(Number.isSafeInteger(expiresAt) && expiresAt > now)) throw inputError('a session must expire in the future');
  store.tx(() => {
    const r = requireOperator(store, name);
    if (r.status !== 'active') throw new SealmqError('auth', `operator ${name} is ${r.status}`);
    store.sql('DELETE FROM sessions WHERE expires_at <= ?').run(now);
    store.sql('INSERT INTO sessions(token_hash, operator, created_at, expires_at) VALUES (?, ?, ?, ?)').run(tokenHash, name, now, expiresAt);
    insertAudit(store, { actor: 'operator:' + name, action: 'operator.login', detail: { name, role: r.role, expires: new Date(expiresAt).toISOString(), ...detail } }, now);
  });
}

/** The session with this token hash (expired or not: the caller decides and says so), with the operator as it is now. */
export function getSession(store: RegistryStore, tokenHash: string): SessionInfo | null {
  if (typeof tokenHash !== 'string' || !/^[0-9a-f]{64}$/.test(tokenHash)) return null;
  const r = store.sql(`SELECT s.operator, s.created_at, s.expires_at, o.role, o.status FROM sessions s
    JOIN operators o ON o.name = s.operator WHERE s.token_hash = ?`).get(tokenHash) as
    { operator: string; created_at: number; expires_at: number; role: Role; status: OperatorStatus } | undefined;
  return r ? { operator: r.operator, role: r.role, status: r.status, createdAt: r.created_at, expiresAt: r.expires_at } : null;
}

/** Ends a session (logout, expiry). True if there was one. */
export function deleteSession(store: RegistryStore, tokenHash: string): boolean {
  if (typeof tokenHash !== 'string' || !/^[0-9a-f]{64}$/.test(tokenHash)) return false;
  return store.sql('DELETE FROM sessions WHERE token_hash = ?').run(tokenHash).changes > 0;
}

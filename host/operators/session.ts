// The CLI side of sessions: where the token lives ($SEALMQ_SESSION, else a 0600 file in $SEALMQ_HOME)
// and requireSession(action), which every privileged command calls before it touches a board or a secret.
import { chmodSync, existsSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SealmqError } from '../errors.js';
import { openRegistry } from '../registry/registry.js';
import { ensureHome, registryHome } from '../registry/home.js';
import { checkSession, Session } from './auth.js';
import type { Action } from './roles.js';

export const SESSION_ENV = 'SEALMQ_SESSION';
export const SESSION_FILE = 'session';

export function sessionFile(home: string = registryHome()): string {
  return join(home, SESSION_FILE);
}

/** The token of this shell: $SEALMQ_SESSION, else the session file (refused if others can read it), else null. */
export function readToken(home: string = registryHome()): string | null {
  const env = process.env[SESSION_ENV];
  if (env !== undefined && env !== '') return env.trim();
  const f = sessionFile(home);
  if (!existsSync(f)) return null;
  if (process.platform !== 'win32' && (statSync(f).mode & 0o077) !== 0) {
    throw new SealmqError('auth', `the session file ${f} is readable by other users`, { hint: 'delete it and run `sealmq login` again' });
  }
  const t = readFileSync(f, 'utf8').trim();
  return t === '' ? null : t;
}

/** Writes the token file 0600 (created under a temporary name first, so it is never readable by others). */
export function saveToken(token: string, home: string = registryHome()): string {
  ensureHome(home);
  const f = sessionFile(home);
  const tmp = f + '.' + process.pid + '.tmp';
  writeFileSync(tmp, token + '\n', { mode: 0o600, flag: 'wx' });
  chmodSync(tmp, 0o600);
  renameSync(tmp, f);
  return f;
}

export function removeToken(home: string = registryHome()): void {
  rmSync(sessionFile(home), { force: true });
}

/**
 * The one check before a privileged command (roles.ts says who may): exit 5 with a hint naming
 * `sealmq login` when there is no live session of an allowed role. Needs no passphrase.
 */
export function requireSession(action: Action): Session {
  const token = readToken();
  const reg = openRegistry();
  try {
    return checkSession(reg, token, action);
  } finally {
    reg.close();
  }
}

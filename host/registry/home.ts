// Where the registry lives: $SEALMQ_HOME, default ~/.sealmq, a directory only its owner can enter
// (like ~/.ssh): the database holds encrypted secrets, password hashes and the audit log.
import { chmodSync, mkdirSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { inputError } from '../errors.js';

export const DB_FILE = 'registry.db';

/** The registry directory named by the environment (not created). */
export function registryHome(env: NodeJS.ProcessEnv = process.env): string {
  const h = env.SEALMQ_HOME;
  if (h !== undefined && h !== '') return resolve(h);
  return join(homedir(), '.sealmq');
}

/**
 * Creates the directory 0700 if missing. An existing directory that group or others can read or enter is
 * refused (not silently chmod-ed: someone may have had a reason, and they should know).
 */
export function ensureHome(dir: string): void {
  let st;
  try {
    st = statSync(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw inputError(`cannot use ${dir}: ${(e as Error).message}`);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    chmodSync(dir, 0o700);
    return;
  }
  if (!st.isDirectory()) throw inputError(`${dir} is not a directory`, 'set SEALMQ_HOME to a directory for the registry');
  if (process.platform !== 'win32' && (st.mode & 0o077) !== 0) {
    throw inputError(`${dir} is accessible to other users (mode ${(st.mode & 0o777).toString(8)})`, `chmod 700 ${dir}`);
  }
}

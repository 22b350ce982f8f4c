// How a host command gets an operator's secrets, never from argv: the broker login (name from --user,
// SEALMQ_USER or the session; password from the variable named by --password-env, default SEALMQ_PASSWORD,
// or a no-echo prompt), a new password (prompt twice, or a variable), a TOTP code (a variable, default
// SEALMQ_CODE; a no-echo prompt on a terminal; else one line of stdin).
import type { Command } from 'commander';
import { DEFAULT_PREFIX } from '../../core/ids.js';
import { inputError, SealmqError } from '../errors.js';
import { passwordProblem } from '../registry/registry.js';
import { promptHidden } from './passphrase.js';

export interface OperatorCreds { username: string; password: string }

export const PASSWORD_ENV = 'SEALMQ_PASSWORD';
export const CODE_ENV = 'SEALMQ_CODE';

function checkVarName(option: string, v: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(v)) throw inputError(`${option}: ${JSON.stringify(v)} is not a variable name`);
  return v;
}

/**
 * The broker login of a command that talks to the broker as an operator. With a session (`sealmq login`),
 * the name defaults to the session's operator, and another name is refused: what the command does is
 * recorded under one operator, in the audit log and at the broker alike.
 */
export async function operatorCredentials(user: string | undefined, passwordEnv: string | undefined, sessionUser?: string): Promise<OperatorCreds> {
  const username = user ?? process.env.SEALMQ_USER ?? sessionUser;
  if (!username) throw new SealmqError('usage', 'an operator name is needed to log in to the broker', { hint: 'give --user NAME or set SEALMQ_USER' });
  if (sessionUser !== undefined && username !== sessionUser) {
    throw new SealmqError('auth', `the session is ${sessionUser}'s but the broker login is ${username}`, { hint: `log in to the broker as ${sessionUser}, or \`sealmq login --user ${username}\`` });
  }
  const envName = passwordEnv ?? PASSWORD_ENV;
  const fromEnv = process.env[envName];
  if (fromEnv) return { username, password: fromEnv };
  if (process.stdin.isTTY) return { username, password: await promptHidden(`password for ${username}: `) };
  throw new SealmqError('auth', `no password for operator ${username}`, { hint: `set ${envName} in the environment (never on the command line)` });
}

/** An existing password: the variable (default SEALMQ_PASSWORD), else a no-echo prompt. */
export async function readPassword(name: string, envVar: string | undefined): Promise<string> {
  const envName = checkVarName('--password-env', envVar ?? PASSWORD_ENV);
  const v = process.env[envName];
  if (v !== undefined && v !== '') return v;
  if (process.stdin.isTTY) return promptHidden(`password for ${name}: `);
  throw new SealmqError('auth', `no password for ${name} and no terminal to ask on`, { hint: `set ${envName} in the environment (never on the command line)` });
}

/** A new password: the variable named by --password-env, else asked twice without echo; the policy checked. */
export async function readNewPassword(name: string, envVar: string | undefined): Promise<string> {
  let pw: string;
  if (envVar !== undefined) {
    const v = process.env[checkVarName('--password-env', envVar)];
    if (v === undefined || v === '') throw inputError(`--password-env: environment variable ${envVar} is not set`);
    pw = v;
  } else {
    if (!process.stdin.isTTY) {
      throw new SealmqError('usage', 'no terminal to ask for the password on', { hint: 'use --password-env VAR with the password in that variable' });
    }
    pw = await promptHidden(`new password for ${name}: `);
    const problem = passwordProblem(name, pw);
    if (problem) throw inputError(problem);
    if (pw !== await promptHidden('again: ')) throw inputError('the passwords differ');
  }
  const problem = passwordProblem(name, pw);
  if (problem) throw inputError(problem);
  return pw;
}

/** One line of stdin (a pipe), '' at once if stdin is closed. */
function stdinLine(): Promise<string> {
  return new Promise((resolve) => {
    let buf = '';
    const stdin = process.stdin;
    const done = () => { stdin.removeListener('data', onData); stdin.removeListener('end', done); stdin.pause(); resolve(buf.split(/\r?\n/)[0].trim()); };
    const onData = (c: Buffer | string) => { buf += c.toString(); if (buf.includes('\n') || buf.length > 64) done(); };
    stdin.on('data', onData);
    stdin.once('end', done);
    stdin.resume();
  });
}

/** A TOTP code: the variable (default SEALMQ_CODE), a no-echo prompt on a terminal, else one line of stdin. */
export async function readCode(name: string, envVar: string | undefined): Promise<string> {
  const envName = checkVarName('--code-env', envVar ?? CODE_ENV);
  const v = process.env[envName];
  let code: string;
  if (v !== undefined && v !== '') code = v.trim();
  else if (process.stdin.isTTY) code = (await promptHidden(`authenticator code for ${name}: `)).trim();
  else code = await stdinLine();
  if (code === '') throw new SealmqError('auth', `no authenticator code for ${name}`, { hint: `type it on a terminal, set ${envName}, or pipe it on stdin` });
  return code.replace(/\s+/g, '');
}

/** The options of a command that sends to a device as an admin and waits for its sealed reply (send, devices rotate). */
export function adminSendOptions(c: Command): Command {
  return c
    .option('--broker <url>', 'broker URL', 'mqtt://127.0.0.1:1883')
    .option('--user <name>', 'admin operator for the broker login (default: $SEALMQ_USER, else the session\'s operator)')
    .option('--password-env <var>', 'environment variable holding the operator password', PASSWORD_ENV)
    .option('--prefix <prefix>', 'topic prefix', DEFAULT_PREFIX)
    .option('--timeout <s>', 'seconds to wait for the reply', Number, 10);
}

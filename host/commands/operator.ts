// How a host command logs in to a broker as an operator: name from --user or SEALMQ_USER, password from
// the environment variable named by --password-env (default SEALMQ_PASSWORD) or a no-echo prompt.
import type { Command } from 'commander';
import { DEFAULT_PREFIX } from '../../core/ids.js';
import { SealmqError } from '../errors.js';
import { promptHidden } from './passphrase.js';

export interface OperatorCreds { username: string; password: string }

export async function operatorCredentials(user: string | undefined, passwordEnv: string | undefined): Promise<OperatorCreds> {
  const username = user ?? process.env.SEALMQ_USER;
  if (!username) throw new SealmqError('usage', 'an operator name is needed to log in to the broker', { hint: 'give --user NAME or set SEALMQ_USER' });
  const envName = passwordEnv ?? 'SEALMQ_PASSWORD';
  const fromEnv = process.env[envName];
  if (fromEnv) return { username, password: fromEnv };
  if (process.stdin.isTTY) return { username, password: await promptHidden(`password for ${username}: `) };
  throw new SealmqError('auth', `no password for operator ${username}`, { hint: `set ${envName} in the environment (never on the command line)` });
}

/** The options of a command that sends to a device as an admin and waits for its sealed reply (send, devices rotate). */
export function adminSendOptions(c: Command): Command {
  return c
    .option('--broker <url>', 'broker URL', 'mqtt://127.0.0.1:1883')
    .option('--user <name>', 'admin operator (default $SEALMQ_USER)')
    .option('--password-env <var>', 'environment variable holding the operator password', 'SEALMQ_PASSWORD')
    .option('--prefix <prefix>', 'topic prefix', DEFAULT_PREFIX)
    .option('--timeout <s>', 'seconds to wait for the reply', Number, 10);
}

// `sealmq login|logout|whoami` (docs/OPERATORS.md): a session from password + TOTP code, kept as a
// random token (only its SHA-256 is in the registry) in $SEALMQ_HOME/session (0600) or $SEALMQ_SESSION.
import { Command } from 'commander';
import { SealmqError, inputError } from '../errors.js';
import { openRegistry } from '../registry/registry.js';
import { login, logout, MAX_TTL_MS, MIN_TTL_MS, sessionOf } from '../operators/auth.js';
import { actionsOf } from '../operators/roles.js';
import { readToken, removeToken, saveToken, SESSION_ENV } from '../operators/session.js';
import { isoTime, withRegistry } from './passphrase.js';
import { CODE_ENV, PASSWORD_ENV, readCode, readPassword } from './operator.js';

/** '8h', '30m', '90s', '1d' or a number of seconds → milliseconds. */
export function parseTtl(v: string): number {
  const m = /^(\d+(?:\.\d+)?)([smhd]?)$/.exec(v.trim());
  if (!m) throw inputError(`--ttl: ${JSON.stringify(v)} is not a duration (e.g. 8h, 30m, 3600)`);
  const ms = Number(m[1]) * ({ '': 1000, s: 1000, m: 60_000, h: 3600_000, d: 86400_000 } as Record<string, number>)[m[2]];
  if (!(ms >= MIN_TTL_MS && ms <= MAX_TTL_MS)) throw inputError('--ttl: a session lasts from 1 min to 24 h');
  return ms;
}

export function register(program: Command): void {
  program.command('login')
    .description('open an operator session: password and TOTP code; provision, flash, send, rotate, revoke and export need one')
    .option('--user <name>', 'operator name (default $SEALMQ_USER)')
    .option('--ttl <duration>', 'how long the session lasts: 30m, 8h … at most 24h', '8h')
    .option('--password-env <var>', 'environment variable holding the password (else asked without echo)', PASSWORD_ENV)
    .option('--code-env <var>', 'environment variable holding the code (else asked without echo, or one line of stdin)', CODE_ENV)
    .option('--print-token', `print the session token instead of saving it (for ${SESSION_ENV}); nothing is written`)
    .option('--json', 'print {operator, role, expires, file} as JSON')
    .addHelpText('after', `
Needs the registry passphrase ($SEALMQ_PASSPHRASE or a prompt): the TOTP seeds are encrypted with it.
A failed attempt makes the next one wait 1 s, 2 s, 4 s … (doubling, at most 5 min); 10 in a row lock
the account until an admin runs \`sealmq users unlock NAME\`.`)
    .action(async (o: { user?: string; ttl: string; passwordEnv: string; codeEnv: string; printToken?: boolean; json?: boolean }) => {
      const ttl = parseTtl(o.ttl);
      const name = o.user ?? process.env.SEALMQ_USER;
      if (!name) throw new SealmqError('usage', 'which operator?', { hint: 'give --user NAME or set SEALMQ_USER' });
      const password = await readPassword(name, o.passwordEnv);
      const code = await readCode(name, o.codeEnv);
      const r = await withRegistry(true, (reg) => login(reg, { name, password, code, ttlMs: ttl }));
      if (o.printToken) {
        process.stdout.write(r.token + '\n');
        return;
      }
      const file = saveToken(r.token);
      if (o.json) process.stdout.write(JSON.stringify({ operator: r.operator.name, role: r.operator.role, expires: isoTime(r.expiresAt), file }) + '\n');
      else process.stdout.write(`logged in as ${r.operator.name} (${r.operator.role}) until ${isoTime(r.expiresAt)}\n`);
    });

  program.command('logout')
    .description('end the current session (the registry forgets it; the session file is removed)')
    .action(async () => {
      const token = readToken();
      const who = token ? await withRegistry(false, (reg) => logout(reg, token)) : null;
      if (!process.env[SESSION_ENV]) removeToken();
      process.stdout.write(who ? `logged out ${who}\n` : 'no session\n');
    });

  program.command('whoami')
    .description('show the current session: operator, role, expiry, what the role may do')
    .option('--json', 'one JSON object')
    .action(async (o: { json?: boolean }) => {
      const token = readToken();
      const reg = openRegistry();
      let s;
      try {
        s = sessionOf(reg, token);
      } finally {
        reg.close();
      }
      if (!s || s.expired || s.status !== 'active') {
        const why = !token ? 'no session' : !s ? 'the session is not known (ended or from another registry)' : s.expired ? `the session of ${s.operator} expired at ${isoTime(s.expiresAt)}` : `${s.operator} is ${s.status}`;
        if (o.json) process.stdout.write(JSON.stringify({ session: false, reason: why }) + '\n');
        throw new SealmqError('auth', `not logged in: ${why}`, { hint: 'sealmq login --user NAME' });
      }
      const may = actionsOf(s.role);
      if (o.json) process.stdout.write(JSON.stringify({ session: true, operator: s.operator, role: s.role, expires: isoTime(s.expiresAt), may }) + '\n');
      else process.stdout.write(`${s.operator} (${s.role}), session until ${isoTime(s.expiresAt)}\nmay: ${may.join(', ') || 'read-only commands'}\n`);
    });
}

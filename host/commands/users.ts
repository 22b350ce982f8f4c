// `sealmq users add|list`: operators of the embedded broker (admin: reads telemetry, sends commands;
// viewer: reads telemetry). Passwords come from a no-echo prompt or an environment variable named by
// --password-env, never from argv.
import { Command, Option } from 'commander';
import { checkOperatorName, localActor, passwordProblem, Role } from '../registry/registry.js';
import { inputError, SealmqError } from '../errors.js';
import { isoTime, promptHidden, table, withRegistry } from './passphrase.js';

async function readPassword(name: string, envVar: string | undefined): Promise<string> {
  if (envVar !== undefined) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(envVar)) throw inputError(`--password-env: ${JSON.stringify(envVar)} is not a variable name`);
    const v = process.env[envVar];
    if (v === undefined || v === '') throw inputError(`--password-env: environment variable ${envVar} is not set`);
    return v;
  }
  if (!process.stdin.isTTY) {
    throw new SealmqError('usage', 'no terminal to ask for the password on', { hint: 'use --password-env VAR with the password in that variable' });
  }
  const a = await promptHidden(`password for ${name}: `);
  const problem = passwordProblem(name, a);
  if (problem) throw inputError(problem);
  const b = await promptHidden('again: ');
  if (a !== b) throw inputError('the passwords differ');
  return a;
}

export function register(program: Command): void {
  const users = program.command('users').description('operators of the broker (admin or viewer)');

  users.command('add')
    .description('add an operator (needs the registry passphrase; audited)')
    .argument('<name>', 'operator name, also the MQTT user name', (v: string) => checkOperatorName(v))
    .addOption(new Option('--role <role>', 'admin: read telemetry and send commands; viewer: read telemetry').choices(['admin', 'viewer']).makeOptionMandatory())
    .option('--password-env <var>', 'read the password from this environment variable (default: ask on the terminal)')
    .action(async (name: string, o: { role: Role; passwordEnv?: string }) => {
      const password = await readPassword(name, o.passwordEnv);
      const problem = passwordProblem(name, password);
      if (problem) throw inputError(problem);
      const op = await withRegistry(true, (reg) => reg.addOperator({ name, role: o.role, password, actor: localActor() }));
      process.stdout.write(`added ${op.role} ${op.name}\n`);
    });

  users.command('list')
    .description('list operators and their roles')
    .option('--json', 'one JSON array instead of a table')
    .action(async (o: { json?: boolean }) => {
      const list = await withRegistry(false, (reg) => reg.listOperators());
      if (o.json) {
        process.stdout.write(JSON.stringify(list.map((u) => ({ name: u.name, role: u.role, created: isoTime(u.createdAt) })), null, 2) + '\n');
        return;
      }
      if (list.length === 0) {
        process.stdout.write('no operators yet (add one with `sealmq users add NAME --role admin`)\n');
        return;
      }
      process.stdout.write(table(['NAME', 'ROLE', 'CREATED'], list.map((u) => [u.name, u.role, isoTime(u.createdAt)])));
    });
}

// `sealmq users add|confirm|list|remove|unlock|recover|passwd` (docs/OPERATORS.md): operators, their
// roles (host/operators/roles.ts), their TOTP authenticators and the recovery path. Secrets never come
// from argv: passwords from a no-echo prompt or the variable named by --password-env, codes from a prompt,
// a variable (--code-env, default SEALMQ_CODE) or stdin.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { DB_FILE, registryHome } from '../registry/home.js';
import { Command, Option } from 'commander';
import QRCode from 'qrcode';
import { checkOperatorName, localActor, OperatorInfo, openRegistry, Registry, Role, ROLES, OPERATOR_SEED_LEN } from '../registry/registry.js';
import { wipe } from '../registry/crypto.js';
import { inputError, SealmqError } from '../errors.js';
import { confirmEnrolment, operatorActor, resetPassword } from '../operators/auth.js';
import { requireSession } from '../operators/session.js';
import { otpauthUri } from '../operators/totp.js';
import { isoTime, openUnlockedRegistry, table, withRegistry } from './passphrase.js';
import { readCode, readNewPassword } from './operator.js';

const ROLE_HELP = 'admin: everything; technician: flash and provision new boards; viewer: read only (docs/OPERATORS.md)';

/** The actor of a change made with the registry passphrase alone (bootstrap, recovery). */
const passphraseActor = () => 'passphrase:' + localActor();

/** Who may add an operator now: anyone with the passphrase while no operator exists yet (the first admin), else an admin session. */
function addAuthority(role: Role): { actor: string; bootstrap: boolean } {
  const bootstrap = (): { actor: string; bootstrap: boolean } => {
    if (role !== 'admin') throw inputError('the first operator must be an admin', 'sealmq users add NAME --role admin');
    return { actor: passphraseActor(), bootstrap: true };
  };
  // No registry yet: nothing to open (and nothing created before the passphrase is checked).
  if (!existsSync(join(registryHome(), DB_FILE))) return bootstrap();
  const reg = openRegistry();
  let established: number;
  try {
    established = reg.listOperators().filter((o) => o.status !== 'pending').length;
  } finally {
    reg.close();
  }
  if (established === 0) return bootstrap();
  return { actor: requireSession('users.manage').actor, bootstrap: false };
}

/** Prints the otpauth URI and its QR code (the seed is in both: shown this once), then confirms a first code on a terminal. */
async function enrol(reg: Registry, name: string, seed: Uint8Array, o: { json?: boolean; codeEnv?: string }, extra: Record<string, unknown>): Promise<OperatorInfo> {
  const uri = otpauthUri(name, seed);
  if (o.json) {
    process.stdout.write(JSON.stringify({ ...extra, name, status: 'pending', otpauth: uri, confirm: `sealmq users confirm ${name}` }) + '\n');
    return reg.getOperator(name)!;
  }
  const qr = await QRCode.toString(uri, { type: 'terminal', small: true, errorCorrectionLevel: 'M' });
  process.stdout.write(`Scan this with an authenticator app (TOTP, SHA-1, 6 digits, 30 s), or enter the URI by hand:\n\n${qr}\n${uri}\n\n`);
  const codeGiven = process.env[o.codeEnv ?? 'SEALMQ_CODE'];
  if (!process.stdin.isTTY && !codeGiven) {
    process.stdout.write(`${name} is pending: confirm a first code with \`sealmq users confirm ${name}\` before it can log in.\n`);
    return reg.getOperator(name)!;
  }
  const code = await readCode(name, o.codeEnv);
  const op = confirmEnrolment(reg, name, code, operatorActor(name));
  process.stdout.write(`${op.name} (${op.role}) confirmed its authenticator and is active; log in with \`sealmq login --user ${op.name}\`.\n`);
  return op;
}

const nameArg = (v: string) => checkOperatorName(v);

export function register(program: Command): void {
  const users = program.command('users').description('operators: roles, TOTP authenticators, lockout and recovery (docs/OPERATORS.md)');

  users.command('add')
    .description('add an operator and enrol its TOTP authenticator (the first admin needs only the registry passphrase; later, an admin session)')
    .argument('<name>', 'operator name, also the MQTT user name', nameArg)
    .addOption(new Option('--role <role>', ROLE_HELP).choices([...ROLES]).makeOptionMandatory())
    .option('--password-env <var>', 'read the password from this environment variable (default: ask twice on the terminal)')
    .option('--code-env <var>', 'the first authenticator code is in this variable (default SEALMQ_CODE; else asked on the terminal)')
    .option('--json', 'print {name, role, status, otpauth} and leave the operator pending (confirm with `sealmq users confirm`)')
    .addHelpText('after', `
The operator stays "pending" (cannot log in) until a first code from its authenticator is confirmed: at
once on a terminal, or later with \`sealmq users confirm NAME\`. The otpauth URI and QR code carry the TOTP
seed: show them only to the operator. The seed is kept encrypted in the registry.`)
    .action(async (name: string, o: { role: Role; passwordEnv?: string; codeEnv?: string; json?: boolean }) => {
      // A password from a variable is checked first (nothing opened for a bad one); a prompt comes after the authority check.
      const early = o.passwordEnv !== undefined || !process.stdin.isTTY;
      const earlyPw = early ? await readNewPassword(name, o.passwordEnv) : null;
      const auth = addAuthority(o.role);
      const password = earlyPw ?? await readNewPassword(name, o.passwordEnv);
      const registry = await openUnlockedRegistry();
      const seed = new Uint8Array(randomBytes(OPERATOR_SEED_LEN));
      try {
        // Checked again inside the unlocked registry: another bootstrap may have won meanwhile.
        if (auth.bootstrap && registry.listOperators().some((op) => op.status !== 'pending')) {
          throw new SealmqError('auth', 'an operator was added meanwhile: adding another needs an admin session', { hint: 'sealmq login' });
        }
        const op = await registry.addOperator({ name, role: o.role, password, actor: auth.actor, otpSeed: seed, detail: auth.bootstrap ? { bootstrap: true } : {} });
        if (!o.json) process.stdout.write(`added ${op.role} ${op.name}${auth.bootstrap ? ' (the first operator: authorised by the registry passphrase)' : ''}\n`);
        await enrol(registry, name, seed, o, { role: op.role });
      } finally {
        wipe(seed);
        registry.close();
      }
    });

  users.command('confirm')
    .description("activate a pending operator with a first code from its authenticator (needs the registry passphrase)")
    .argument('<name>', 'operator name', nameArg)
    .option('--code-env <var>', 'the code is in this variable (default SEALMQ_CODE; else asked on the terminal, or one line of stdin)')
    .action(async (name: string, o: { codeEnv?: string }) => {
      const code = await readCode(name, o.codeEnv);
      const op = await withRegistry(true, (reg) => confirmEnrolment(reg, name, code, operatorActor(name)));
      process.stdout.write(`${op.name} (${op.role}) is active; log in with \`sealmq login --user ${op.name}\`\n`);
    });

  users.command('list')
    .description('list operators: role, status (pending, active, locked), authenticator, consecutive failures')
    .option('--json', 'one JSON array instead of a table')
    .action(async (o: { json?: boolean }) => {
      const list = await withRegistry(false, (reg) => reg.listOperators());
      if (o.json) {
        process.stdout.write(JSON.stringify(list.map((u) => ({ name: u.name, role: u.role, status: u.status, totp: u.hasTotp, failures: u.failures, created: isoTime(u.createdAt) })), null, 2) + '\n');
        return;
      }
      if (list.length === 0) {
        process.stdout.write('no operators yet (add the first with `sealmq users add NAME --role admin`)\n');
        return;
      }
      process.stdout.write(table(['NAME', 'ROLE', 'STATUS', 'TOTP', 'FAILURES', 'CREATED'],
        list.map((u) => [u.name, u.role, u.status, u.hasTotp ? 'yes' : 'no', String(u.failures), isoTime(u.createdAt)])));
    });

  users.command('remove')
    .description('remove an operator, its sessions and its broker password (admin session; audited)')
    .argument('<name>', 'operator name', nameArg)
    .action(async (name: string) => {
      const s = requireSession('users.manage');
      await withRegistry(false, (reg) => {
        const op = reg.getOperator(name);
        if (!op) throw inputError(`no operator ${name} in the registry`, 'see `sealmq users list`');
        const admins = reg.listOperators().filter((u) => u.role === 'admin' && u.status === 'active');
        if (op.role === 'admin' && op.status === 'active' && admins.length <= 1) {
          throw inputError(`${name} is the last active admin`, 'add another admin first');
        }
        reg.removeOperator(name, s.actor);
      });
      process.stdout.write(`removed ${name}\n`);
    });

  users.command('unlock')
    .description('unlock an operator locked by failed attempts, and clear its back-off (admin session; audited)')
    .argument('<name>', 'operator name', nameArg)
    .action(async (name: string) => {
      const s = requireSession('users.manage');
      const op = await withRegistry(false, (reg) => reg.unlockOperator(name, s.actor));
      process.stdout.write(`${op.name} is ${op.status}\n`);
    });

  users.command('recover')
    .description('when no admin can log in: with the registry passphrase, unlock an operator and enrol a NEW authenticator (and, with --new-password, a new password); audited')
    .argument('<name>', 'operator name', nameArg)
    .option('--new-password', 'also set a new password (asked twice, or from --password-env)')
    .option('--password-env <var>', 'the new password is in this variable')
    .option('--code-env <var>', 'the first code of the new authenticator is in this variable (default SEALMQ_CODE)')
    .option('--json', 'print {name, status, otpauth} and leave the operator pending')
    .addHelpText('after', `
The registry passphrase opens every secret, so it also stands in for an admin here. The old authenticator
stops working at once, every session of the operator ends, and it stays pending until a first code of the
new one is confirmed.`)
    .action(async (name: string, o: { newPassword?: boolean; passwordEnv?: string; codeEnv?: string; json?: boolean }) => {
      const newPw = o.newPassword || o.passwordEnv !== undefined ? await readNewPassword(name, o.passwordEnv) : null;
      const registry = await openUnlockedRegistry();
      const seed = new Uint8Array(randomBytes(OPERATOR_SEED_LEN));
      try {
        const before = registry.getOperator(name);
        if (!before) throw inputError(`no operator ${name} in the registry`, 'see `sealmq users list`');
        const actor = passphraseActor();
        if (newPw !== null) await registry.setOperatorPassword(name, newPw, actor, 'operator.recover.password');
        registry.resetOperatorTotp(name, seed, actor, 'operator.recover', { was: before.status, failures: before.failures, renewed: newPw !== null ? ['authenticator', 'password'] : ['authenticator'] });
        if (!o.json) process.stdout.write(`${name}: new authenticator${newPw !== null ? ' and new password' : ''}; the old one no longer works\n`);
        await enrol(registry, name, seed, o, { role: before.role });
      } finally {
        wipe(seed);
        registry.close();
      }
    });

  users.command('passwd')
    .description("reset an operator's password with a valid code from its authenticator (needs the registry passphrase; audited)")
    .argument('<name>', 'operator name', nameArg)
    .option('--password-env <var>', 'the new password is in this variable (default: ask twice on the terminal)')
    .option('--code-env <var>', 'the authenticator code is in this variable (default SEALMQ_CODE; else asked, or one line of stdin)')
    .action(async (name: string, o: { passwordEnv?: string; codeEnv?: string }) => {
      const newPw = await readNewPassword(name, o.passwordEnv);
      const code = await readCode(name, o.codeEnv);
      await withRegistry(true, (reg) => resetPassword(reg, { name, code, newPassword: newPw }));
      process.stdout.write(`${name}: new password set; its sessions were ended\n`);
    });
}

// sealmq's command line: a thin layer over the library. Each command lives in host/commands/<name>.ts
// and exports register(program). Errors become one line on stderr and a meaningful exit code (host/errors.ts).
import { Command, CommanderError } from 'commander';
import { EXIT, SealmqError } from './errors.js';
import { readFileSync } from 'node:fs';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));

type Registrar = (program: Command) => void;

/**
 * Each top-level command and the modules that register it, in --help order. Only the modules of the
 * command being run are loaded (a board emulator or `sealmq --version` need not load the dashboard's
 * web server or the plotting library: start-up is a large part of a short command's time); --help, a bare
 * `sealmq` and an unknown name load them all.
 */
const COMMANDS: [string, () => Promise<Registrar[]>][] = [
  ['build', async () => [(await import('./commands/build.js')).register]],
  ['frame', async () => [(await import('./commands/frame.js')).register]],
  ['emulate', async () => [(await import('./commands/emulate.js')).register]],
  ['devices', async () => [(await import('./commands/devices.js')).register]],
  ['users', async () => [(await import('./commands/users.js')).register]],
  ['login', async () => [(await import('./commands/login.js')).register]],
  ['logout', async () => [(await import('./commands/login.js')).register]],
  ['whoami', async () => [(await import('./commands/login.js')).register]],
  ['broker', async () => [(await import('./commands/broker.js')).register]],
  ['gateway', async () => [(await import('./commands/gateway.js')).register]],
  ['verify', async () => [(await import('./commands/verify.js')).register]],
  ['provision', async () => [(await import('./commands/provision.js')).register]],
  ['send', async () => [(await import('./commands/send.js')).register]],
  ['flash', async () => [(await import('./commands/flash.js')).register]],
  ['demo', async () => [(await import('./commands/demo.js')).register]],
  ['dashboard', async () => [(await import('./commands/dashboard.js')).register]],
  ['audit', async () => [(await import('./commands/audit.js')).register]],
  ['fuzz', async () => [(await import('./commands/fuzz.js')).register]],
  ['attack', async () => [(await import('./commands/attack.js')).register]],
  ['bench', async () => [(await import('./commands/bench.js')).register, (await import('./commands/bench-crypto.js')).registerBenchCrypto]],
  ['ports', async () => [(await import('./commands/ports.js')).register]],
  ['doctor', async () => [(await import('./commands/doctor.js')).register]],
  ['report', async () => [(await import('./commands/report.js')).register]],
];

/** The first word of argv that is not an option: the command's name, if any. */
function commandName(argv: string[]): string | undefined {
  return argv.slice(2).find((a) => !a.startsWith('-'));
}

export async function makeProgram(argv: string[] = process.argv): Promise<Command> {
  const program = new Command();
  program
    .name('sealmq')
    .description('Sealed sensor telemetry for Espruino boards: build, flash, provision, verify, attack and measure.')
    .version(pkg.version, '-V, --version')
    .showHelpAfterError('(run with --help for usage)')
    // Options after a command's name are that command's: `attack timing --json` is timing's --json, not attack's.
    .enablePositionalOptions()
    .exitOverride();
  const name = commandName(argv);
  const wanted = COMMANDS.filter(([n]) => n === name);
  const versionOnly = name === undefined && argv.some((a) => a === '-V' || a === '--version');
  const loaders = wanted.length ? wanted : versionOnly ? [] : COMMANDS;
  const done = new Set<Registrar>();
  for (const [, load] of loaders) {
    for (const r of await load()) {
      if (!done.has(r)) r(program);
      done.add(r);
    }
  }
  return program;
}

/** Runs a command action, turning thrown errors into one clear line and an exit code. */
export function reportError(e: unknown): number {
  if (e instanceof SealmqError) {
    process.stderr.write(`sealmq: ${e.message}${e.hint ? `\n  → ${e.hint}` : ''}\n`);
    return e.exitCode;
  }
  if (e instanceof CommanderError) return e.exitCode === 0 ? EXIT.OK : EXIT.USAGE;
  const err = e as Error;
  process.stderr.write(`sealmq: internal error: ${err && err.stack ? err.stack : String(e)}\n`);
  return EXIT.INTERNAL;
}

// `sealmq … | head` closes the pipe early: that is the reader's choice, not an error.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(EXIT.OK);
  throw e;
});

async function main(argv: string[]): Promise<void> {
  try {
    await (await makeProgram(argv)).parseAsync(argv);
  } catch (e) {
    process.exitCode = reportError(e);
  }
}

await main(process.argv);

// sealmq's command line: a thin layer over the library. Each command lives in host/commands/<name>.ts
// and exports register(program). Errors become one line on stderr and a meaningful exit code (host/errors.ts).
import { Command, CommanderError } from 'commander';
import { EXIT, SealmqError } from './errors.js';
import { register as registerFrame } from './commands/frame.js';
import { register as registerBuild } from './commands/build.js';
import { register as registerEmulate } from './commands/emulate.js';
import { register as registerDevices } from './commands/devices.js';
import { register as registerUsers } from './commands/users.js';
import { register as registerLogin } from './commands/login.js';
import { register as registerBroker } from './commands/broker.js';
import { register as registerGateway } from './commands/gateway.js';
import { register as registerVerify } from './commands/verify.js';
import { register as registerProvision } from './commands/provision.js';
import { register as registerSend } from './commands/send.js';
import { register as registerFlash } from './commands/flash.js';
import { register as registerDemo } from './commands/demo.js';
import { register as registerAudit } from './commands/audit.js';
import { register as registerFuzz } from './commands/fuzz.js';
import { register as registerAttack } from './commands/attack.js';
import { register as registerBench } from './commands/bench.js';
import { register as registerPorts } from './commands/ports.js';
import { register as registerDoctor } from './commands/doctor.js';
import { registerBenchCrypto } from './commands/bench-crypto.js';
import { register as registerReport } from './commands/report.js';
import { register as registerDashboard } from './commands/dashboard.js';
import { readFileSync } from 'node:fs';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));

export function makeProgram(): Command {
  const program = new Command();
  program
    .name('sealmq')
    .description('Sealed sensor telemetry for Espruino boards: build, flash, provision, verify, attack and measure.')
    .version(pkg.version, '-V, --version')
    .showHelpAfterError('(run with --help for usage)')
    // Options after a command's name are that command's: `attack timing --json` is timing's --json, not attack's.
    .enablePositionalOptions()
    .exitOverride();
  registerBuild(program);
  registerFrame(program);
  registerEmulate(program);
  registerDevices(program);
  registerUsers(program);
  registerLogin(program);
  registerBroker(program);
  registerGateway(program);
  registerVerify(program);
  registerProvision(program);
  registerSend(program);
  registerFlash(program);
  registerDemo(program);
  registerDashboard(program);
  registerAudit(program);
  registerFuzz(program);
  registerAttack(program);
  registerBench(program);
  registerPorts(program);
  registerDoctor(program);
  registerBenchCrypto(program);
  registerReport(program);
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
    await makeProgram().parseAsync(argv);
  } catch (e) {
    process.exitCode = reportError(e);
  }
}

await main(process.argv);

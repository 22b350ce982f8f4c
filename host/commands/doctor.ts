// `sealmq doctor --port URL`: what a board runs and how exposed it is.
import { Command } from 'commander';
import { doctorBoard } from '../board/doctor.js';
import { checkPortExists } from './flash.js';

export function register(program: Command): void {
  program.command('doctor')
    .description("print a board's posture: firmware, crypto path, console lock, clock offset, free variables and Storage, counter block, key epoch, extra consoles")
    .requiredOption('--port <url>', 'console link: /dev/ttyUSB0, tcp://HOST:PORT or emulated:NAME')
    .option('--baud <n>', 'serial baud rate', (v) => Number.parseInt(v, 10), 115200)
    .option('--json', 'one JSON object')
    .action(async (o) => {
      checkPortExists(o.port);
      const r = await doctorBoard({ port: o.port, link: { baud: o.baud } });
      if (o.json) {
        process.stdout.write(JSON.stringify(r) + '\n');
        return;
      }
      const v = (x: unknown) => (x === null || x === undefined ? '-' : String(x));
      process.stdout.write([
        `port            ${r.port}`,
        `firmware        sealmq ${v(r.firmware)} on Espruino ${v(r.espruino)} (${v(r.board)})`,
        `crypto          ${v(r.crypto)}`,
        `state           ${v(r.state)}${r.device ? `, device ${r.device}` : ''}`,
        `key epoch       ${v(r.epoch)}`,
        `counter         ${v(r.counter)} (block end ${v(r.blockEnd)})`,
        `console         ${r.consoleLocked ? 'locked' : 'unlocked'}`,
        `extra consoles  ${r.extraConsoles.join(', ') || 'none'}`,
        `clock offset    ${r.clockOffsetS === null ? '-' : `${r.clockOffsetS >= 0 ? '+' : ''}${r.clockOffsetS.toFixed(3)} s (±${(r.roundTripMs / 2000).toFixed(3)})`}`,
        `variables       ${v(r.freeVars)} free of ${v(r.totalVars)}`,
        `storage         ${v(r.storageFree)} bytes free`,
        ...r.warnings.map((w) => `warning         ${w}`),
      ].join('\n') + '\n');
    });
}

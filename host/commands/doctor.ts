// `sealmq doctor --port URL`: what a board runs and how exposed it is.
import { Command } from 'commander';
import { doctorBoard } from '../board/doctor.js';
import { checkPortExists } from './flash.js';
import { checkDeviceId } from '../registry/registry.js';
import { withRegistry } from './passphrase.js';

export function register(program: Command): void {
  program.command('doctor')
    .description("print a board's posture: firmware, crypto path, console lock, clock offset, free variables and Storage, counter block, key epoch, extra consoles")
    .requiredOption('--port <url>', 'console link: /dev/ttyUSB0, tcp://HOST:PORT or emulated:NAME')
    .option('--baud <n>', 'serial baud rate', (v) => Number.parseInt(v, 10), 115200)
    .option('--device <id>', 'the device on this port: unlocks its locked console with the password in the registry (needs the registry passphrase)')
    .option('--json', 'one JSON object')
    .addHelpText('after', `
A provisioned board's console is locked (Espruino's console password). Without --device doctor reports
only that; with --device ID it unlocks the console with that device's password from the registry, reads
the rest and locks the console again. A wrong device (password refused) exits 5.`)
    .action(async (o) => {
      checkPortExists(o.port);
      let passwords: string[] | undefined;
      if (o.device !== undefined) {
        checkDeviceId(o.device);
        passwords = await withRegistry(true, (reg) => reg.consolePasswords(o.device));
      }
      const r = await doctorBoard({ port: o.port, link: { baud: o.baud }, device: o.device, passwords });
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
        `console lock    ${r.consoleLocked ? 'locked' : 'unlocked'}${r.lockedAtBoot === null ? '' : r.lockedAtBoot ? ', at every boot' : ', not at boot'}`,
        `telnet          ${v(r.telnet)}`,
        `bluetooth       ${v(r.bluetooth)}`,
        `clock offset    ${r.clockOffsetS === null ? '-' : `${r.clockOffsetS >= 0 ? '+' : ''}${r.clockOffsetS.toFixed(3)} s (±${(r.roundTripMs / 2000).toFixed(3)})`}`,
        `variables       ${v(r.freeVars)} free of ${v(r.totalVars)}`,
        `storage         ${v(r.storageFree)} bytes free`,
        ...r.warnings.map((w) => `warning         ${w}`),
      ].join('\n') + '\n');
    });
}

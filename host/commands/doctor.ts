// `sealmq doctor --port URL`: what a board runs and how exposed it is; with --device, kept in the registry
// as that device's posture (the dashboard's fleet view shows the last one).
import { Command } from 'commander';
import { doctorBoard, DoctorReport, recordDoctor } from '../board/doctor.js';
import { sessionOf } from '../operators/auth.js';
import { readToken } from '../operators/session.js';
import { checkDeviceId } from '../registry/registry.js';
import { checkPortExists } from './flash.js';
import { isoTime, withRegistry } from './passphrase.js';

export function register(program: Command): void {
  program.command('doctor')
    .description("print a board's posture: firmware, crypto path, console lock, clock offset, free variables and Storage, counter block, key epoch, extra consoles")
    .requiredOption('--port <url>', 'console link: /dev/ttyUSB0, tcp://HOST:PORT or emulated:NAME')
    .option('--baud <n>', 'serial baud rate', (v) => Number.parseInt(v, 10), 115200)
    .option('--device <id>', 'the device on this port: unlocks its locked console with the password in the registry (needs the registry passphrase)')
    .option('--no-record', 'with --device: do not keep the report as the device\'s posture in the registry')
    .option('--json', 'one JSON object')
    .addHelpText('after', `
A provisioned board's console is locked (Espruino's console password). Without --device doctor reports
only that; with --device ID it unlocks the console with that device's password from the registry, reads
the rest and locks the console again. A wrong device (password refused) exits 5.
With --device the report is kept as the device's posture in the registry (one per device, the last run
wins; audited as device.doctor, by the logged-in operator if any), unless --no-record; the dashboard's
fleet view shows it with its time. It is filed only if the board says it is that device.`)
    .action(async (o) => {
      checkPortExists(o.port);
      let r: DoctorReport;
      let posture: { at: number } | null = null;
      let notRecorded: string | undefined;
      if (o.device !== undefined) {
        checkDeviceId(o.device);
        [r, posture, notRecorded] = await withRegistry(true, async (reg) => {
          const report = await doctorBoard({ port: o.port, link: { baud: o.baud }, device: o.device, passwords: reg.consolePasswords(o.device) });
          if (!o.record) return [report, null, 'not asked to (--no-record)'] as const;
          const s = sessionOf(reg, readToken());
          const actor = s && !s.expired && s.status === 'active' ? s.actor : 'cli:doctor';
          const k = recordDoctor(reg, o.device, report, actor);
          return [report, k.recorded, k.why] as const;
        });
      } else {
        r = await doctorBoard({ port: o.port, link: { baud: o.baud } });
      }
      if (o.json) {
        process.stdout.write(JSON.stringify({ ...r, ...(o.device !== undefined ? { recorded: posture ? { at: posture.at } : null } : {}) }) + '\n');
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
        ...(o.device !== undefined ? [`posture         ${posture ? `recorded in the registry for ${o.device} at ${isoTime(posture.at)}` : `not recorded: ${notRecorded}`}`] : []),
      ].join('\n') + '\n');
    });
}

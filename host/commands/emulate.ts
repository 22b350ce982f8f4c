// `sealmq emulate`: one board behind a console on a TCP port (and optionally a pseudo-terminal), the
// same options whatever runs it. --target emulated (default): our emulated Espruino board in this process;
// power is the process: SIGKILL is a power cut; SIGUSR2 arms a torn write (the next Storage write lands
// partially and the process exits at once with EXIT_TORN_WRITE). --target espruino: Espruino's own Linux
// interpreter (host/espruino/serve.ts). --target qemu: Espruino's own firmware on QEMU's STM32F405
// (host/qemu/serve.ts). SIGTERM/SIGINT shut down cleanly.
import { Command, Option } from 'commander';
import { EmulatedBoard } from '../emulator/board.js';
import { checkPtyPath, ConsoleServer } from '../emulator/console-server.js';
import { loadProfile } from '../emulator/profile.js';
import { repoRoot } from '../protocol/vectors.js';
import { isDeviceId } from '../../core/ids.js';
import { inputError, usageError } from '../errors.js';
import { positiveWholeOption } from './int-option.js';
import { runPowerCutCampaign } from '../emulator/power-cuts.js';
import { serveEspruino } from '../espruino/serve.js';
import { serveQemu } from '../qemu/serve.js';
import { BOARD_TARGETS } from '../emulator/process.js';

/** Options only our emulated board has (the others run real firmware that decides these itself). */
const EMULATED_ONLY = ['cuts', 'board', 'baud', 'nativeCrypto', 'firmwareVersion', 'quietBanner'] as const;

/** Exit code of an emulator process whose power was cut in the middle of a Storage write (SIGUSR2). */
export const EXIT_TORN_WRITE = 86;

function parseTcpUrl(flag: string, v: string): { host: string; port: number } {
  const m = /^tcp:\/\/([^:/]+):(\d+)\/?$/.exec(v);
  if (!m || Number(m[2]) > 65535) throw usageError(`${flag}: expected tcp://HOST:PORT (port 0 for any free port), got ${JSON.stringify(v)}`);
  return { host: m[1], port: Number(m[2]) };
}
const parseConsoleUrl = (v: string) => parseTcpUrl('--console', v);

/** Options only the QEMU board has. */
const QEMU_ONLY = ['icount'] as const;

/** `--cuts N`: the power-cut campaign (host/emulator/power-cuts.ts); exit 1 if any counter was reused. */
async function campaign(o: { cuts: number; seed?: number; k?: number; json?: boolean; nativeCrypto?: boolean }): Promise<void> {
  const tty = !o.json && process.stderr.isTTY;
  const r = await runPowerCutCampaign({
    cuts: o.cuts, seed: o.seed, k: o.k, nativeCrypto: o.nativeCrypto === false ? false : undefined,
    onProgress: (d, n) => tty && process.stderr.write(`\rcut ${d}/${n}`),
  });
  if (tty) process.stderr.write('\n');
  if (o.json) process.stdout.write(JSON.stringify(r) + '\n');
  else {
    process.stdout.write([
      `power-cut campaign, seed ${r.seed}, K = ${r.k}`,
      `  cuts                 ${r.cuts} (${r.tornCuts} during a Storage write)`,
      `  frames received      ${r.frames} (${r.badFrames} failed to open)`,
      `  reused counters      ${r.reusedCounters}${r.reusedCounters ? '   <-- COUNTER REUSE' : ''}`,
      `  skipped counters     ${r.skippedCounters} (at most K per cut, by design)`,
      `  Storage writes       ${r.storageWrites} (${r.storageWritesPerFrame} per frame)`,
      '',
    ].join('\n'));
  }
  process.exitCode = r.reusedCounters || r.badFrames ? 1 : 0;
}

export function register(program: Command): void {
  program
    .command('emulate')
    .description('run a board behind a console: our emulated Espruino board (the firmware bundle in a sandbox with Espruino\'s globals), or Espruino\'s own Linux interpreter; Storage in a file, a REPL on a TCP console')
    .addOption(new Option('--target <target>', 'what runs the board: emulated (ours, in this process), espruino (Espruino\'s Linux build: ESPRUINO_BIN, or the recipe\'s cached build) or qemu (Espruino\'s STM32 firmware on qemu-system-arm: SEALMQ_QEMU_FIRMWARE, or the recipe\'s cached build)').choices([...BOARD_TARGETS]).default('emulated'))
    .option('--name <id>', 'board name (also names the default flash file: <id>.flash, <id>.espruino.flash or <id>.qemu.flash); required unless --cuts')
    .option('--cuts <n>', 'instead of serving a console: run a power-cut campaign of n random cuts on the firmware and report counter reuse', positiveWholeOption('cuts'))
    .option('--seed <n>', 'with --cuts: PRNG seed, to replay a campaign exactly', positiveWholeOption('seed'))
    .option('--k <n>', 'with --cuts: counter block size K given to the board', positiveWholeOption('k'))
    .option('--json', 'with --cuts: print the result as one JSON object')
    .option('--console <url>', 'where the board listens for its console cable: tcp://127.0.0.1:PORT (0 = any free port)', 'tcp://127.0.0.1:0')
    .option('--pty <path>', 'also expose the console as a pseudo-terminal at this path (needs socat)')
    .option('--flash <file>', 'flash file, kept across restarts (emulated: a journal of Storage writes; espruino: Espruino\'s own espruino.flash image; qemu: the 64 KB Storage image); default <name>.flash / <name>.espruino.flash / <name>.qemu.flash in the working directory')
    .option('--icount', 'qemu: the board\'s clock counts instructions (-icount shift=0), so on-device timings repeat exactly')
    .option('--board <name>', 'board profile: boards/<name>.json, or a path to a .json file (default: ESP32-like)')
    .addOption(new Option('--no-native-crypto', 'behave like a build without require("crypto")'))
    .option('--baud <n>', 'throttle console traffic both ways to this baud rate (10 bits per byte)', positiveWholeOption('baud'))
    .option('--uart <url>', 'serve the board\'s UART for MQTT (`sealmq gateway --uart`) as a TCP server at tcp://HOST:PORT (0 = any free port; printed as "uart URL"): qemu, its Serial2 (USART2); emulated, a "uart" network profile\'s UART (e.g. --board emulated-uart) at the profile\'s baud rate')
    .option('--quiet-banner', 'do not print the start-up banner on the console')
    .option('--firmware-version <v>', 'the Espruino version it reports, e.g. 2v24 (before 2v25: no packet protocol)')
    .addHelpText('after', `
Prints "console tcp://127.0.0.1:NNNN" (and "pty PATH", "uart tcp://127.0.0.1:NNNN") on stdout once the board is up.
Signals: SIGTERM/SIGINT stop cleanly; SIGKILL is a power cut (the flash file survives, as written so far);
SIGUSR2 (emulated only) arms a torn write (prints "torn-write armed"): the next Storage write lands only
partially and the process exits with code ${EXIT_TORN_WRITE}.

Targets: emulated is fast, needs nothing, and can cut power mid-write (--cuts); espruino runs Espruino's
own C interpreter (build it once with \`npm run espruino -- linux\`; ESPRUINO_BIN overrides), for
conformance and for measuring the real interpreter; qemu runs Espruino's STM32 firmware on
qemu-system-arm's netduinoplus2 (build it once with \`npm run espruino -- qemu\`; SEALMQ_QEMU_FIRMWARE
overrides), Storage saved to --flash every second when it changed and on a clean stop (docs/QEMU.md).
--board, --baud, --cuts, --no-native-crypto, --firmware-version and --quiet-banner are the emulated
board's own; --icount the qemu board's; --uart is for emulated and qemu boards.

Examples:
  sealmq emulate --name node-01 --console tcp://127.0.0.1:2323
  sealmq emulate --name node-01 --console tcp://127.0.0.1:0 --pty /tmp/ttyEMU0 --baud 115200
  sealmq emulate --target espruino --name node-02 --pty /tmp/ttyESP0
  sealmq emulate --name node-03 --board emulated-uart --uart tcp://127.0.0.1:0   # then: sealmq gateway --uart <printed url> --broker …
  sealmq emulate --target qemu --name node-04 --pty /tmp/ttyQEMU0 --uart tcp://127.0.0.1:0 --icount`)
    .action(async (o) => {
      if (o.target !== 'qemu') {
        const own = QEMU_ONLY.filter((k) => o[k] !== undefined);
        if (own.length) throw usageError(`${own.map((k) => '--' + k).join(', ')}: only with --target qemu`);
      }
      if (o.target === 'espruino' && o.uart !== undefined) throw usageError('--uart: only with --target emulated or qemu (the Linux build has sockets)');
      if (o.target !== 'emulated') {
        const own = EMULATED_ONLY.filter((k) => k === 'nativeCrypto' ? o.nativeCrypto === false : o[k] !== undefined);
        if (own.length) {
          const flag = (k: string) => k === 'nativeCrypto' ? '--no-native-crypto' : '--' + k.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase());
          throw usageError(`${own.map(flag).join(', ')}: only with --target emulated (Espruino's own interpreter decides these itself)`);
        }
      }
      if (o.cuts !== undefined) return campaign(o);
      if (o.name === undefined) throw usageError('--name is required (or --cuts N for a power-cut campaign)');
      if (!isDeviceId(o.name)) throw inputError(`--name: ${JSON.stringify(o.name)} is not a device id`, 'names match [a-z0-9][a-z0-9-]{0,31}');
      const { host, port } = parseConsoleUrl(o.console);
      const uartAt = o.uart === undefined ? undefined : parseTcpUrl('--uart', o.uart);
      // Before any board starts: a PTY path that cannot be made, or that holds a file of the user's, is refused.
      if (o.pty !== undefined) {
        try {
          checkPtyPath(o.pty);
        } catch (e) {
          throw inputError((e as Error).message);
        }
      }
      if (o.target === 'espruino') return serveEspruino({ name: o.name, host, port, pty: o.pty, flash: o.flash });
      if (o.target === 'qemu') return serveQemu({ name: o.name, host, port, pty: o.pty, flash: o.flash, icount: !!o.icount, uart: uartAt });
      let root = process.cwd();
      try {
        root = repoRoot();
      } catch {
        // Installed without the repository: board profiles are then given as paths.
      }
      const profile = loadProfile(o.board, root);
      const board = new EmulatedBoard({
        name: o.name,
        flashFile: o.flash,
        profile,
        nativeCrypto: o.nativeCrypto === false ? false : undefined,
        banner: !o.quietBanner,
        firmwareVersion: o.firmwareVersion,
      });
      const server = new ConsoleServer(board, { baud: o.baud, ptyPath: o.pty });
      let url: string;
      try {
        url = await server.listen(port, host);
      } catch (e) {
        await server.close();
        throw inputError(`cannot open the console on ${o.console}: ${(e as Error).message}`);
      }
      // The second UART: a TCP server like QEMU's -serial tcp:…,server, one cable at a time, at the UART's pace.
      let uartServer: ConsoleServer | undefined;
      let uartUrl = '';
      if (uartAt) {
        const dev = board.uartDevice();
        if (!dev || !profile.uart) {
          await server.close();
          throw usageError(`--uart: the board profile ${o.board ? JSON.stringify(o.board) : '(default)'} has no UART for MQTT`, 'use a "uart" network profile, e.g. --board emulated-uart');
        }
        uartServer = new ConsoleServer(dev, { baud: profile.uart.baud });
        try {
          uartUrl = await uartServer.listen(uartAt.port, uartAt.host);
        } catch (e) {
          await server.close();
          await uartServer.close();
          throw inputError(`cannot open the UART on ${o.uart}: ${(e as Error).message}`);
        }
      }
      board.powerOn();
      process.stdout.write(`console ${url}\n` + (o.pty ? `pty ${o.pty}\n` : '') + (uartServer ? `uart ${uartUrl}\n` : ''));

      let stopping = false;
      const stop = async () => {
        if (stopping) return;
        stopping = true;
        board.close();
        await server.close();
        await uartServer?.close();
        process.exit(0);
      };
      process.on('SIGTERM', stop);
      process.on('SIGINT', stop);
      process.on('SIGUSR2', () => {
        // Exits inside the torn write itself, before any other code can run: that is the power cut.
        board.on('power', (state) => {
          if (state === 'off' && !stopping) process.exit(EXIT_TORN_WRITE);
        });
        void board.powerCut({ torn: true });
        process.stdout.write('torn-write armed\n');
      });
      await new Promise(() => undefined);
    });
}

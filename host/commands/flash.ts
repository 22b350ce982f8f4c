// `sealmq flash`: the firmware onto a board through its console, verified by hash, rebooted, answering.
import { Command } from 'commander';
import { existsSync, readFileSync } from 'node:fs';
import { flashBoard } from '../board/flash.js';
import { firmwareBundle } from '../board/firmware-bundle.js';
import { deviceError, inputError, usageError } from '../errors.js';
import { progress } from './progress.js';
import { withRegistry } from './passphrase.js';
import { checkDeviceId } from '../registry/registry.js';
import { requireSession } from '../operators/session.js';

const TRANSFERS = ['auto', 'packet', 'repl'] as const;

/** A serial device path that does not exist is the commonest mistake: say so before anything else. */
export function checkPortExists(port: string): void {
  const path = port.startsWith('serial:') ? port.slice(7).split('?')[0] : port.startsWith('/') ? port : null;
  if (path && !existsSync(path)) throw deviceError(`no such port: ${path}`, 'list serial ports with `ls /dev/ttyUSB* /dev/ttyACM*`; is the board plugged in?');
}

export function register(program: Command): void {
  program.command('flash')
    .description('upload the firmware to a board so that it runs at boot; verified by SHA-256 read back from the board, then rebooted')
    .requiredOption('--port <url>', 'console link: /dev/ttyUSB0, tcp://HOST:PORT or emulated:NAME')
    .option('--board <name>', 'board profile to build for (boards/<name>.json)', 'esp32')
    .option('--bundle <file>', 'flash this prebuilt bundle instead of building one now')
    .option('--baud <n>', 'serial baud rate', (v) => Number.parseInt(v, 10), 115200)
    .option('--device <id>', 'a provisioned board: unlock its console with its password from the registry (docs/FIELD.md)')
    .option('--transfer <how>', 'auto (packets on firmware 2v25+, else REPL writes), packet (fail rather than fall back), or repl (e.g. a console that mangles binary)', 'auto')
    .option('--json', 'print the result as one JSON object')
    .action(async (o) => {
      if (!TRANSFERS.includes(o.transfer)) throw usageError(`--transfer must be one of ${TRANSFERS.join(', ')} (got ${JSON.stringify(o.transfer)})`);
      checkPortExists(o.port);
      requireSession('flash');
      let bundle: Uint8Array;
      let version: string | null;
      if (o.bundle) {
        if (!existsSync(o.bundle)) throw inputError(`--bundle: no such file: ${o.bundle}`);
        bundle = new Uint8Array(readFileSync(o.bundle));
        version = null;
      } else {
        const fw = await firmwareBundle(o.board);
        bundle = fw.bundle;
        version = fw.version;
      }
      const consolePasswords = o.device === undefined ? undefined : await withRegistry(true, (reg) => reg.consolePasswords(checkDeviceId(o.device)));
      const bar = progress(!o.json, 'flash');
      try {
        const r = await flashBoard({ port: o.port, bundle, version, link: { baud: o.baud }, consolePasswords, device: o.device, transfer: o.transfer, onProgress: (phase, d, t) => bar.update(phase, d, t) });
        bar.stop();
        if (o.json) process.stdout.write(JSON.stringify({ ok: true, port: o.port, ...r }) + '\n');
        else process.stdout.write(`flashed ${r.bytes} bytes to ${o.port} in ${r.seconds.toFixed(1)} s (${r.transfer === 'packet' ? 'by packets' : 'by REPL writes' + (r.transferFallback ? ': ' + r.transferFallback : '')}); sha256 ${r.sha256.slice(0, 16)}… verified (${r.hashMethod}); sealmq ${r.version} answers\n`);
      } finally {
        bar.stop();
      }
    });
}

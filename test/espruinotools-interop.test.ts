// Interop with the Espruino ecosystem (issue 4 item 4): the `espruino` command-line tool (EspruinoTools, npm
// package `espruino`, a devDependency) talks to an emulated board through the board's console cable served
// over TCP (`-p tcp://HOST:PORT`, its Node socket transport: how it reaches ser2net, QEMU or Espruino
// --telnet): it evaluates an expression there and uploads dist/firmware.js into Storage (.bootcde) and starts
// it. Our own link then finds the sealmq firmware running and the stored bytes equal to the bundle, and our
// flash path works on the same board, through its console opened as a serial port (a pseudo-terminal).
// Done on a 2v29 board (packets) and a 2v24 one (REPL writes); with ESPRUINO_BIN, on Espruino's Linux build.
//
// How the CLI is driven, and why:
// - It opens a serial path only if its port list (serialport's list(): USB and platform ttys) has it, so a
//   pseudo-terminal is refused ("Port … not found"); a TCP address needs no listing.
// - `-e` code goes to the board as echo-off lines (DLE), so Espruino prints no "=result": the expression
//   prints its answer itself, and the CLI shows it as "--] <line>".
// - espruino 0.1.67 (npm) calls its write callback only for writes longer than one write block, so a short
//   `-e` never finishes (core/serial.js, writeSerialWorker; fixed in EspruinoTools' git since). Forcing
//   throttled sends (SERIAL_THROTTLE_SEND=1, 19-byte blocks) and an expression longer than that avoids it.
// - It looks up board and module files on espruino.com; pointed at a closed local port it fails at once
//   and goes on (tests never reach the network).
// - `--storage .bootcde:-` stores the uploaded code as the Storage file .bootcde and then load()s it: what
//   sealmq flash does too. The published 0.1.67 CLI uploads by REPL writes even to 2v25+ firmware
//   (its PACKET_UPLOAD option is not wired into its code writer yet).
import test from 'ava';
import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { firmwareBundle } from '../host/board/firmware-bundle.js';
import { flashBoard } from '../host/board/flash.js';
import { firmwareVersion } from '../host/board/smq.js';
import { spawnEmulator } from '../host/emulator/process.js';
import { espruinoBin, ESPRUINO_SKIP, startEspruinoBoard } from '../host/espruino/process.js';
import { connectRepl } from '../host/link/repl.js';
import { TcpLink } from '../host/link/tcp-link.js';
import { readBackHash, sha256Hex } from '../host/link/storage-files.js';

const require = createRequire(import.meta.url);
const CLI = (() => {
  try {
    return require.resolve('espruino/bin/espruino-cli.js');
  } catch {
    return null;
  }
})();
const BIN = espruinoBin();
const SKIP_BIN = ESPRUINO_SKIP;
const SKIP_CLI = 'skipped: the espruino package is not installed (npm install)';

function espruinoCli(port: string, args: string[], timeoutMs = 90_000): Promise<{ code: number | null; out: string }> {
  const base = ['--no-ble', '-p', port, '--config', 'SERIAL_THROTTLE_SEND=1', '--config', 'BOARD_JSON_URL=http://127.0.0.1:9', '--config', 'MODULE_URL=http://127.0.0.1:9'];
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI!, ...base, ...args], { timeout: timeoutMs, maxBuffer: 4 << 20 }, (e, stdout, stderr) =>
      resolve({ code: e ? ((e as { code?: number }).code ?? null) : 0, out: stdout + stderr }));
  });
}

/** The board's own lines as the CLI shows them ("--] " prefix). */
const boardLines = (out: string) => out.split('\n').filter((l) => l.startsWith('--] ')).map((l) => l.slice(4).replace(/\r$/, '').replace(/^>+/, ''));

async function interop(t: import('ava').ExecutionContext, tcp: string, pty: string, fw: { bundle: Uint8Array; version: string; file: string }, want: { version: string; transfer: 'packet' | 'repl' }, settled: () => Promise<void> = async () => {}) {
  const e = await espruinoCli(tcp, ['-e', 'print(JSON.stringify({sum:1+2,v:process.env.VERSION}))']);
  t.is(e.code, 0, e.out);
  t.true(boardLines(e.out).includes(JSON.stringify({ sum: 3, v: want.version })), e.out);

  const up = await espruinoCli(tcp, ['--storage', '.bootcde:-', fw.file]);
  t.is(up.code, 0, up.out);
  t.regex(up.out, /Upload Complete/);
  // The CLI load()s the file it stored; whether the firmware's first lines arrive before the CLI exits
  // depends on the board's speed, so that it runs is checked over our own link below.
  await settled();

  // Our link on the same console: the firmware EspruinoTools stored is ours, byte for byte, and it runs.
  const link = new TcpLink(tcp);
  await link.open();
  try {
    const repl = await connectRepl(link, { timeoutMs: 10_000 });
    t.is(await firmwareVersion(repl), fw.version);
    const h = await readBackHash(repl, '.bootcde');
    t.is(h?.sha256, sha256Hex(fw.bundle), 'EspruinoTools stored exactly dist/firmware.js');
    repl.detach();
  } finally {
    await link.close();
  }

  // And our flash path works where EspruinoTools works.
  const f = await flashBoard({ port: pty, bundle: fw.bundle, version: fw.version });
  t.is(f.version, fw.version);
  t.is(f.transfer, want.transfer);
  t.log(`${want.version}: espruino -e and espruino --storage .bootcde:- ${fw.file.split('/').slice(-2).join('/')} OK; then sealmq flash by ${f.transfer} in ${f.seconds.toFixed(1)} s`);
}

for (const version of ['2v29-emu', '2v24']) {
  (CLI ? test.serial : test.skip)(`EspruinoTools (espruino CLI) evaluates and uploads dist/firmware.js on an emulated ${version} board over TCP; sealmq flash works there too (over a PTY)${CLI ? '' : ` — ${SKIP_CLI}`}`, async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'sealmq-et-'));
    const fw = await firmwareBundle('emulated', join(dir, 'dist'));
    const b = await spawnEmulator({ name: 'et-board', flashFile: join(dir, 'et.flash'), board: 'emulated', pty: join(dir, 'ttyET0'), firmwareVersion: version === '2v29-emu' ? undefined : version });
    t.teardown(async () => {
      await b.stop();
      rmSync(dir, { recursive: true, force: true });
    });
    await interop(t, b.console, b.pty!, fw, { version, transfer: version === '2v24' ? 'repl' : 'packet' });
  });
}

(CLI && BIN ? test.serial : test.skip)(`EspruinoTools with Espruino's Linux build (2v29): evaluate and upload dist/firmware.js over TCP, sealmq flash over a PTY${!CLI ? ` — ${SKIP_CLI}` : BIN ? '' : ` — ${SKIP_BIN}`}`, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sealmq-et-'));
  const fw = await firmwareBundle('linux', join(dir, 'dist'));
  const esp = await startEspruinoBoard(BIN!, dir, join(dir, 'ttyESP0'));
  t.teardown(async () => {
    await esp.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  t.true(existsSync(esp.pty!));
  // The Linux build's console is paced (host/espruino/process.ts): the CLI is done writing before Espruino
  // has read everything, so wait until it has (and load() has run) before our link takes the cable.
  const settled = async () => {
    while (esp.process.pendingInput > 0) await new Promise((r) => setTimeout(r, 100));
    await new Promise((r) => setTimeout(r, 1500));
  };
  await interop(t, esp.console, esp.pty!, fw, { version: '2v29', transfer: 'packet' }, settled);
});

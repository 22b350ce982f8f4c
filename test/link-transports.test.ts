// One console-link suite over each transport against an emulated board: TCP to `sealmq emulate`, and a
// real pseudo-terminal made by socat (--pty) opened with the serialport package. Plus the failures a
// technician meets: a port that does not exist, and a board that accepts the connection and says nothing.
import test from 'ava';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { join, dirname } from 'node:path';
import { existsSync, readdirSync } from 'node:fs';
import { startEmulator, tmpFlash, type EmulatorProcess } from './emulator-helpers.js';
import { linkFor, openLink } from '../host/link/open-link.js';
import { connectRepl } from '../host/link/repl.js';
import { uploadFile, readBackHash, sha256Hex } from '../host/link/storage-files.js';
import { SealmqError } from '../host/errors.js';
import type { ConsoleLink } from '../host/link/console-link.js';
import { hasCommand } from './cli-helpers.js';

const hasSocat = hasCommand('socat');

async function exercise(t: any, link: ConsoleLink): Promise<void> {
  const r = await connectRepl(link);
  t.deepEqual(await r.run('print("\\xff\\x80 bytes")'), ['\xff\x80 bytes']);
  const data = new Uint8Array(1500).map((_, i) => (i * 13) & 255);
  await uploadFile(r, 'x.bin', data, { chunkSize: 400 });
  t.is((await readBackHash(r, 'x.bin'))?.sha256, sha256Hex(data));
  r.detach();
  await link.close();
}

let emu: EmulatorProcess;
let ptyPath: string;
test.before(async () => {
  const flash = tmpFlash('transports');
  ptyPath = join(dirname(flash), 'ttyEMU');
  emu = await startEmulator(['--name', 'transports', '--flash', flash, ...(hasSocat ? ['--pty', ptyPath] : [])]);
});
test.after.always(async () => {
  emu?.child.kill('SIGTERM');
  await emu?.exited;
});

test.serial('over tcp:// to `sealmq emulate`', async (t) => {
  await exercise(t, await openLink(emu.url));
});

(hasSocat ? test.serial : test.serial.skip)('over a real pseudo-terminal (socat --pty) with the serialport package', async (t) => {
  await exercise(t, await openLink(ptyPath));
  // The cable can be plugged in again, and TCP and PTY take turns.
  await exercise(t, await openLink(emu.url));
  await exercise(t, await openLink(ptyPath));
});

(hasSocat ? test.serial : test.serial.skip)('the PTY stays at its path between tools: opened and closed 20 times back to back, it is there before every open, and no spare shows beside it', async (t) => {
  for (let i = 0; i < 20; i++) {
    t.true(existsSync(ptyPath), `open ${i}: ${ptyPath} missing`);
    const l = linkFor(ptyPath);
    await l.open();
    await l.write('\n');
    await l.close();
  }
  // The next terminal waits ready at a hidden link beside PATH, so a listing shows PATH alone.
  t.deepEqual(readdirSync(dirname(ptyPath)).filter((f) => f.includes('ttyEMU') && !f.startsWith('.')), ['ttyEMU']);
  await exercise(t, await openLink(ptyPath));
});

test('a serial port that does not exist: one device error naming it', async (t) => {
  const e = await t.throwsAsync(openLink('/dev/ttyDOESNOTEXIST9'), { instanceOf: SealmqError });
  t.is(e!.kind, 'device');
  t.regex(e!.message, /\/dev\/ttyDOESNOTEXIST9/);
});

test('a tcp port nobody listens on: one device error naming it', async (t) => {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const url = `tcp://127.0.0.1:${(srv.address() as AddressInfo).port}`;
  await new Promise<void>((r) => srv.close(() => r()));
  const e = await t.throwsAsync(openLink(url), { instanceOf: SealmqError });
  t.is(e!.kind, 'device');
  t.true(e!.message.includes(url));
});

async function fakeBoard(onConn: (s: Socket) => void): Promise<{ url: string; close: () => void }> {
  const conns: Socket[] = [];
  const srv = createServer((s) => {
    conns.push(s);
    onConn(s);
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  return { url: `tcp://127.0.0.1:${(srv.address() as AddressInfo).port}`, close: () => { conns.forEach((c) => c.destroy()); srv.close(); } };
}

test('a board that accepts and stays silent: one device error naming the port', async (t) => {
  const fake = await fakeBoard(() => undefined);
  const link = linkFor(fake.url);
  const e = await t.throwsAsync(connectRepl(link, { syncTimeoutMs: 150 }), { instanceOf: SealmqError });
  t.is(e!.kind, 'device');
  t.is(e!.message, `no answer from the board on ${fake.url} within 150 ms`);
  await link.close();
  fake.close();
});

test('a board that answers garbage: one device error saying so', async (t) => {
  const fake = await fakeBoard((s) => s.on('data', () => s.write('\x00\xfe garbage at the wrong baud \xfe\r\n')));
  const link = linkFor(fake.url);
  const e = await t.throwsAsync(connectRepl(link, { syncTimeoutMs: 150 }), { instanceOf: SealmqError });
  t.regex(e!.message, new RegExp(`the board on ${fake.url} answered, but not like an Espruino REPL`));
  await link.close();
  fake.close();
});

test('a board that disappears mid-command: one device error naming the port', async (t) => {
  const fake = await fakeBoard((s) => s.on('data', (d) => {
    // Answer the sync probe like Espruino would, then hang up on the next command.
    const m = /print\("<<sq"\+"B:([^>]+)>>"\)/.exec(d.toString('latin1'));
    if (!m) return;
    if (!/x=1/.test(d.toString('latin1'))) s.write(`<<sqB:${m[1]}>>\r\n<<sqE:${m[1]}>>\r\n`);
    else s.destroy();
  }));
  const link = linkFor(fake.url);
  const r = await connectRepl(link, { timeoutMs: 2000 });
  await t.throwsAsync(r.run('var x=1'), { instanceOf: SealmqError, message: new RegExp(`the board on ${fake.url} went away`) });
  fake.close();
});

test('emulated:NAME makes an in-process board behind the same interface', async (t) => {
  const flashFile = tmpFlash('inproc');
  await exercise(t, await openLink('emulated:inproc', { emulated: { flashFile } }));
});

test('a console throttled to a baud rate (--baud) still carries every byte', async (t) => {
  const e = await startEmulator(['--name', 'slow', '--flash', tmpFlash('slow'), '--baud', '230400']);
  try {
    await exercise(t, await openLink(e.url));
  } finally {
    e.child.kill('SIGTERM');
    await e.exited;
  }
});

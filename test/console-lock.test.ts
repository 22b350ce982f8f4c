// Hardening at provisioning (issue 4 item 5, docs/FIELD.md): after provisioning, an emulated ESP32 (with
// Telnet and Bluetooth) over a real PTY answers nothing useful on its console without the password,
// Storage included; the host tools (doctor, flash, re-provisioning) still work through it because they
// unlock it with the password sealed in the registry; doctor reports the lock, Telnet and Bluetooth off.
// Also: the emulated console's locked prompt, byte for byte as Espruino 2v29 prints it.
import test from 'ava';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { firmwareBundle } from '../host/board/firmware-bundle.js';
import { flashBoard } from '../host/board/flash.js';
import { doctorBoard } from '../host/board/doctor.js';
import { HARDEN_FILE, provisionBoard } from '../host/board/provision.js';
import { EmulatedBoard } from '../host/emulator/board.js';
import { spawnEmulator, type EmulatorProcess } from '../host/emulator/process.js';
import { consoleState, unlockConsole, CONSOLE_PASSWORD_LENGTH } from '../host/link/console-lock.js';
import { linkFor } from '../host/link/open-link.js';
import type { ConsoleLink } from '../host/link/console-link.js';
import { SealmqError } from '../host/errors.js';
import { benchCrypto } from '../host/bench/crypto.js';
import { openRegistry } from '../host/registry/registry.js';
import { sealmq, tmpHome } from './cli-helpers.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** socat re-creates the PTY after each client closes it (console-server.ts): let it, between two tools. */
let stepNo = 0;
const settle = () => { stepNo++; return sleep(400); };
/** The same race, when a tool opens PATH just as the old socat goes: the PTY's EIO / "not open" / gone. */
const PTY_RACE = /EIO|is not open|no such device|no such port/;
async function overPty<T>(f: () => Promise<T>): Promise<T> {
  for (let i = 0; ; i++) {
    try {
      return await f();
    } catch (e) {
      if (i >= 3 || !PTY_RACE.test(String((e as Error).message))) throw e;
      await sleep(500 * (i + 1)); // a socat slow to start on a loaded machine: up to ~10 s in all
    }
  }
}
async function cliOverPty(args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  for (let i = 0; ; i++) {
    const r = await sealmq(args, env);
    if (i >= 6 || r.code !== 4 || !PTY_RACE.test(r.stderr)) return r;
    await sleep(500);
  }
}

/** Types lines on a raw console (as a person with a terminal would) and returns everything it printed. */
async function typeRaw(link: ConsoleLink, lines: string[]): Promise<string> {
  let out = '';
  const off = link.onData((d) => (out += Buffer.from(d).toString('latin1')));
  for (const l of lines) {
    await link.write(l);
    await sleep(300);
  }
  off();
  return out;
}

test('emulated console: E.setPassword + E.lockConsole print what Espruino 2v29 prints, and the lock comes back at boot from .boot0', async (t) => {
  const home = tmpHome();
  const board = new EmulatedBoard({ name: 'lk', flashFile: join(home, 'lk.flash'), banner: false });
  let out = '';
  board.on('output', (b: Buffer) => (out += b.toString('latin1')));
  board.powerOn();
  t.teardown(() => board.close());
  const type = async (s: string) => {
    out = '';
    board.write(s);
    await sleep(20);
    return out;
  };
  t.is(await type('E.setPassword("abc");E.lockConsole()\n'), 'E.setPassword("abc");E.lockConsole()\r\n=undefined\r\npassword>');
  t.is(await type('1+1\n'), '\r\n  Invalid password\r\npassword>', 'nothing typed is echoed or run');
  t.is(await type('a\x03abc\n'), '\r\n  Invalid password\r\npassword>', 'Ctrl-C is just another password character');
  t.is(await type('\x10require("Storage").list()\n'), '\r\n  Invalid password\r\npassword>', 'an echo-off line is no way round it');
  t.is(await type('abc\r\n'), '\r\n  Logged in.\r\n>\r\n>', 'CR logs in; the LF after it is an empty line');
  t.is(await type('1+2\n'), '1+2\r\n=3\r\n>');
  // Like Espruino, the password lives in RAM: a reboot forgets it unless boot code sets it again.
  board.reboot();
  await sleep(20);
  t.is(await type('1+3\n'), '1+3\r\n=4\r\n>');
  await type(`require("Storage").write("${HARDEN_FILE}","E.setPassword(\\"abc\\");E.lockConsole();")\n`);
  out = '';
  board.reboot();
  await sleep(20);
  t.regex(out, /password>$/, 'locked again at boot');
  t.is(await type('1+4\n'), '\r\n  Invalid password\r\npassword>');
  t.is(await type('abc\n'), '\r\n  Logged in.\r\n>');
});

test('provisioned board over a PTY: the console says nothing useful without the password; doctor, flash and re-provisioning unlock it', async (t) => {
  t.timeout(180_000);
  t.teardown(() => t.log(`reached step ${stepNo}`));
  const PASS = 'console lock passphrase';
  const home = tmpHome();
  const reg = openRegistry({ home });
  await reg.unlock(PASS);
  t.teardown(() => reg.close());
  // An ESP32 as boards/esp32.json has it: a Telnet console and Bluetooth (on, as a fresh one has it).
  const profile = join(home, 'esp32-consoles.json');
  writeFileSync(profile, JSON.stringify({ ...JSON.parse(readFileSync('boards/emulated.json', 'utf8')), consoles: { telnet: true, bluetooth: true } }));
  let board: EmulatorProcess = await spawnEmulator({ name: 'lock-1', flashFile: join(home, 'lock-1.flash'), board: profile, pty: join(home, 'ttyLOCK') });
  t.teardown(() => board.stop());
  const port = board.pty!;
  const fw = await firmwareBundle('emulated', join(home, 'dist'));
  await overPty(() => flashBoard({ port, bundle: fw.bundle, version: fw.version }));

  const steps: string[] = [];
  const r = await overPty(() => provisionBoard({ port, deviceId: 'field-01', broker: 'mqtt://127.0.0.1:1', registry: reg, actor: 'test', onStep: (s) => steps.push(s) }));
  t.is(r.epoch, 0);
  t.true(steps.includes('harden'));
  const [pw] = reg.consolePasswords('field-01');
  t.is(reg.consolePasswords('field-01').length, 1, 'one password once provisioning is complete');
  t.is(pw.length, CONSOLE_PASSWORD_LENGTH);
  t.true(readFileSync(join(home, 'lock-1.flash.nvs.json'), 'utf8').includes('"ble":false'), 'Bluetooth off in NVS');
  const audit = reg.auditLog({ device: 'field-01' }).find((a) => a.action.startsWith('device.provision'));
  t.like(audit?.detail, { consoleLocked: true, telnet: 'off', bluetooth: 'off' });
  t.false(JSON.stringify(reg.auditLog({})).includes(pw), 'the password is not in the audit log');

  // A person with a terminal and no password.
  await settle();
  const said = await overPty(async () => {
    const raw = linkFor(port);
    await raw.open();
    try {
      return await typeRaw(raw, [
        '\x03', 'require("Storage").read(".bootcde")\n', `print(require("Storage").read("${HARDEN_FILE}"))\n`,
        '\x10print(JSON.stringify(require("Storage").list()))\n', 'SEALMQ.status()\n', 'E.setPassword()\n', 'reset()\n', 'x'.repeat(40) + '\r\n',
      ]);
    } finally {
      await raw.close();
    }
  });
  t.log(`raw console without the password said: ${JSON.stringify(said.slice(0, 120))}…`);
  // The firmware's own log lines (its MQTT client retrying) still reach the console, as on Espruino.
  const rest = said.replace(/\x1B\[[0-9;]*[A-Za-z]/g, '').replace(/\r\n {2}Invalid password\r\npassword>/g, '').replace(/(^|[\r\n])mqtt: [^\r\n]*/g, '').replace(/password>/g, '');
  t.is(rest.replace(/\s/g, ''), '', 'only "Invalid password", the password prompt and the firmware\'s log lines');
  t.false(/^=|Uncaught|SMQ/m.test(said), 'nothing was evaluated');
  t.false(said.includes(pw));
  t.false(said.includes('SEALMQ') || said.includes('field-01'));

  // doctor without the password: the lock and nothing else; with --device: everything, and locked again after.
  const env = { SEALMQ_HOME: home, SEALMQ_PASSPHRASE: PASS };
  await settle();
  const d0 = await cliOverPty(['doctor', '--port', port, '--json'], env);
  t.is(d0.code, 0, d0.stderr);
  t.like(JSON.parse(d0.stdout), { consoleLocked: true, firmware: null, device: null });
  const d1 = await cliOverPty(['doctor', '--port', port, '--device', 'field-01', '--json'], env);
  t.is(d1.code, 0, d1.stderr);
  const rep = JSON.parse(d1.stdout);
  t.like(rep, { consoleLocked: true, lockedAtBoot: true, telnet: 'off', bluetooth: 'off', firmware: fw.version, device: 'field-01', epoch: 0, state: 'ok', crypto: 'native' });
  t.deepEqual(rep.extraConsoles, []);
  t.true(typeof rep.clockOffsetS === 'number' && Math.abs(rep.clockOffsetS) < 5, `clock offset ${rep.clockOffsetS}`);
  t.true(rep.freeVars > 0 && rep.storageFree > 0 && typeof rep.counter === 'number');
  t.false(d1.stdout.includes(pw));
  const text = await cliOverPty(['doctor', '--port', port, '--device', 'field-01'], env);
  t.is(text.code, 0, text.stderr);
  t.regex(text.stdout, /console lock\s+locked, at every boot/);
  t.regex(text.stdout, /telnet\s+off/);
  t.regex(text.stdout, /bluetooth\s+off/);
  await settle();
  const again = linkFor(port);
  t.is(await overPty(async () => { await again.open(); return consoleState(again); }), 'locked', 'doctor locked the console again');

  // Wrong or missing password: an auth error (exit 5), never a hang.
  const wrong = await t.throwsAsync(unlockConsole(again, ['Wrong0000000000000000'.slice(0, 20)], { device: 'field-01' }));
  t.true(wrong instanceof SealmqError && wrong.kind === 'auth', String(wrong));
  const none = await t.throwsAsync(unlockConsole(again, undefined));
  t.true(none instanceof SealmqError && none.kind === 'auth', String(none));
  await again.close();
  const d2 = await cliOverPty(['doctor', '--port', port, '--device', 'field-99', '--json'], env);
  t.is(d2.code, 5, d2.stdout + d2.stderr);
  t.regex(d2.stderr, /locked/);

  // flash through the lock: the upload, the hash check and the reboot (which locks it again).
  await settle();
  const f = await overPty(() => flashBoard({ port, bundle: fw.bundle, version: fw.version, consolePasswords: reg.consolePasswords('field-01'), device: 'field-01' }));
  t.is(f.version, fw.version);
  await settle();
  const d3 = await overPty(() => doctorBoard({ port, device: 'field-01', passwords: reg.consolePasswords('field-01') }));
  t.like(d3, { consoleLocked: true, lockedAtBoot: true, device: 'field-01', state: 'ok' });
  await settle();
  const noPw = await t.throwsAsync(flashBoard({ port, bundle: fw.bundle, version: fw.version }));
  t.true(noPw instanceof SealmqError && noPw.kind === 'auth', String(noPw));

  // Power cycle: still locked; re-provisioning (rekey) unlocks with the old password and locks with a new one.
  await board.stop();
  board = await spawnEmulator({ name: 'lock-1', flashFile: join(home, 'lock-1.flash'), board: profile, pty: join(home, 'ttyLOCK') });
  const d4 = await overPty(() => doctorBoard({ port: board.pty! }));
  t.true(d4.consoleLocked, 'locked after a power cycle');
  await settle();
  const r2 = await overPty(() => provisionBoard({ port: board.pty!, deviceId: 'field-01', broker: 'mqtt://127.0.0.1:1', registry: reg, actor: 'test', rekey: true }));
  t.is(r2.epoch, 1);
  const [pw2] = reg.consolePasswords('field-01');
  t.not(pw2, pw, 'a fresh password at every provisioning');
  await settle();
  const d5 = await overPty(() => doctorBoard({ port: board.pty!, device: 'field-01', passwords: [pw2] }));
  t.like(d5, { consoleLocked: true, epoch: 1 });
  await settle();
  const old = await t.throwsAsync(doctorBoard({ port: board.pty!, device: 'field-01', passwords: [pw] }));
  t.true(old instanceof SealmqError && old.kind === 'auth', 'the old password no longer opens it');
});

for (const cutAt of ['harden', 'record'] as const) {
  test(`power gone at the "${cutAt}" step: the re-run unlocks the board with the password sealed before it was written, and finishes`, async (t) => {
    t.timeout(120_000);
    const home = tmpHome();
    const reg = openRegistry({ home });
    await reg.unlock('interrupted hardening');
    const flashFile = join(home, 'h.flash');
    let board = await spawnEmulator({ name: 'h', flashFile, board: 'emulated' });
    t.teardown(async () => { await board.stop(); reg.close(); });
    const fw = await firmwareBundle('emulated', join(home, 'dist'));
    await flashBoard({ port: board.console, bundle: fw.bundle, version: fw.version });
    let step = '';
    let cutting: Promise<void> | undefined;
    await provisionBoard({
      port: board.console, deviceId: 'field-02', broker: 'mqtt://127.0.0.1:1', registry: reg, actor: 'test',
      // Cut as the boot file is being written (harden: the new password is sealed first) or as the registry records.
      onStep: (s) => { step = s; if (s === cutAt) cutting = board.cut(); },
    }).catch((e) => t.log(`first run: ${(e as Error).message}`));
    await cutting; // the old board is gone before the new one boots from the same flash
    t.true(step === cutAt || (cutAt === 'harden' && step === 'record'), step);
    t.log(`after the cut: recorded ${reg.getDevice('field-02') !== null}, ${reg.consolePasswords('field-02').length} password(s) sealed`);
    board = await spawnEmulator({ name: 'h', flashFile, board: 'emulated' });
    const r = await provisionBoard({ port: board.console, deviceId: 'field-02', broker: 'mqtt://127.0.0.1:1', registry: reg, actor: 'test', rekey: reg.getDevice('field-02') !== null, onStep: (s) => t.log(`re-run: ${s}`) });
    t.true(r.epoch >= 0);
    t.is(reg.consolePasswords('field-02').length, 1);
    await settle();
    const d = await doctorBoard({ port: board.console, device: 'field-02', passwords: reg.consolePasswords('field-02') });
    t.like(d, { consoleLocked: true, lockedAtBoot: true, device: 'field-02', state: 'ok', epoch: r.epoch });
  });
}

test('bench crypto on a provisioned board: unlocked after each reset() with the registry password, locked again at the end; without it, auth', async (t) => {
  t.timeout(180_000);
  const home = tmpHome();
  const reg = openRegistry({ home });
  await reg.unlock('bench through the lock');
  const board = await spawnEmulator({ name: 'bl', flashFile: join(home, 'bl.flash'), board: 'emulated' });
  t.teardown(async () => { await board.stop(); reg.close(); });
  const fw = await firmwareBundle('emulated', join(home, 'dist'));
  await flashBoard({ port: board.console, bundle: fw.bundle, version: fw.version });
  await provisionBoard({ port: board.console, deviceId: 'bench-01', broker: 'mqtt://127.0.0.1:1', registry: reg, actor: 'test' });
  const r = await benchCrypto({ port: board.console, sizes: [16], reps: 1, seals: 20, board: 'emulated', consolePasswords: reg.consolePasswords('bench-01'), device: 'bench-01' });
  t.true(r.results.some((x) => x.op === 'seal' && !x.error), JSON.stringify(r.results.map((x) => x.op)));
  const l = linkFor(board.console);
  await l.open();
  t.is(await consoleState(l), 'locked');
  await l.close();
  const e = await t.throwsAsync(benchCrypto({ port: board.console, sizes: [16], reps: 1, seals: 20, board: 'emulated' }));
  t.true(e instanceof SealmqError && e.kind === 'auth', String(e));
});

test('provision --replace OLD --device NEW on OLD\'s own (locked) board: unlocked with OLD\'s password; without --replace, auth', async (t) => {
  t.timeout(120_000);
  const home = tmpHome();
  const reg = openRegistry({ home });
  await reg.unlock('replace on the same board');
  const board = await spawnEmulator({ name: 'rp', flashFile: join(home, 'rp.flash'), board: 'emulated' });
  t.teardown(async () => { await board.stop(); reg.close(); });
  const fw = await firmwareBundle('emulated', join(home, 'dist'));
  await flashBoard({ port: board.console, bundle: fw.bundle, version: fw.version });
  await provisionBoard({ port: board.console, deviceId: 'old-01', broker: 'mqtt://127.0.0.1:1', registry: reg, actor: 'test' });
  const e = await t.throwsAsync(provisionBoard({ port: board.console, deviceId: 'new-01', broker: 'mqtt://127.0.0.1:1', registry: reg, actor: 'test' }));
  t.true(e instanceof SealmqError && e.kind === 'auth', String(e));
  t.is(reg.getDevice('new-01'), null);
  const r = await provisionBoard({ port: board.console, deviceId: 'new-01', broker: 'mqtt://127.0.0.1:1', registry: reg, actor: 'test', replacing: 'old-01' });
  t.is(r.deviceId, 'new-01');
  const d = await doctorBoard({ port: board.console, device: 'new-01', passwords: reg.consolePasswords('new-01') });
  t.like(d, { consoleLocked: true, device: 'new-01', state: 'ok' });
});

// Espruino's own Linux interpreter as a user meets it (issue 11): `sealmq emulate --target espruino --pty`
// brings it up behind a pseudo-terminal, and the CLI drives it through the same serialport path as a USB
// cable: flash, provision, doctor --device (bench crypto the same way: test/bench-crypto.test.ts); its
// Storage survives a restart. Then reliability
// on the recipe's patched build: 20 consecutive 16 KB flashes and 10 doctor --device runs with no failure
// and no retry, and a busy loop broken off by Ctrl-C. Without a build: skipped, reason in the title.
import test from 'ava';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { espruinoBin, ESPRUINO_SKIP, hasConsolePatches } from '../host/espruino/bin.js';
import { linkFor } from '../host/link/open-link.js';
import { connectRepl } from '../host/link/repl.js';
import { operatorHome, sealmq } from './cli-helpers.js';
import { startEmulator, type EmulatorProcess } from './emulator-helpers.js';

const BIN = espruinoBin();
const maybe = BIN ? test.serial : test.skip;
const why = BIN ? '' : ` — ${ESPRUINO_SKIP}`;
const PASS = 'espruino target passphrase';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function setup(prefix: string) {
  const { home, env } = await operatorHome(prefix, PASS);
  return { home, env, pty: join(home, 'ttyESP'), flash: join(home, 'board.espruino.flash') };
}

async function board(name: string, pty: string, flash: string): Promise<EmulatorProcess> {
  return startEmulator(['--target', 'espruino', '--name', name, '--pty', pty, '--flash', flash]);
}

async function stop(e: EmulatorProcess): Promise<void> {
  if (e.child.exitCode === null && e.child.signalCode === null) e.child.kill('SIGTERM');
  await e.exited;
}

maybe(`sealmq emulate --target espruino --pty: flash, provision, doctor --device as a user types them; Storage survives a restart${why}`, async (t) => {
  t.timeout(300_000);
  const { env, pty, flash } = await setup('sealmq-esp-target-');
  let emu = await board('esp-user', pty, flash);
  t.teardown(() => stop(emu));

  const f = await sealmq(['flash', '--port', pty, '--board', 'linux', '--json'], env);
  t.is(f.code, 0, f.stderr);
  t.is(JSON.parse(f.stdout).hashMethod, 'board-crypto');
  const p = await sealmq(['provision', '--port', pty, '--device', 'esp-user', '--broker', 'mqtt://127.0.0.1:1', '--json'], env);
  t.is(p.code, 0, p.stderr);
  const d = await sealmq(['doctor', '--port', pty, '--device', 'esp-user', '--json'], env);
  t.is(d.code, 0, d.stderr);
  const posture = JSON.parse(d.stdout);
  t.log(`doctor: ${d.stdout.trim().slice(0, 300)}`);
  t.is(posture.device, 'esp-user');
  // A restart of the board: the same --flash file, the same Storage.
  await stop(emu);
  t.true(statSync(flash).size > 0);
  emu = await board('esp-user', pty, flash);
  const again = await sealmq(['doctor', '--port', pty, '--device', 'esp-user', '--json'], env);
  t.is(again.code, 0, again.stderr);
  t.is(JSON.parse(again.stdout).device, 'esp-user', 'provisioned before the restart, still provisioned after');
});

// 20 flashes (16 KB of console input each, the burst the unpatched build's race needs) and 10 doctor runs:
// at the lowest failure rate measured on an unpatched build (3 of 16 flashes, docs/FIELD.md), 20 flashes all
// pass by chance 1.5 % of the time. docs/FIELD.md has the 30 + 30 measured when the patch came in.
const FLASHES = 20;
const DOCTORS = 10;

maybe(`Espruino Linux build (recipe's console patch): ${FLASHES} consecutive 16 KB flashes and ${DOCTORS} doctor --device runs over a PTY, 0 failures${why}`, async (t) => {
  t.timeout(900_000);
  t.true(hasConsolePatches(BIN!), `${BIN} is the recipe's build (scripts/espruino/build.sh linux), not an unpatched one`);
  const { env, pty, flash } = await setup('sealmq-esp-rel-');
  const emu = await board('esp-rel', pty, flash);
  t.teardown(() => stop(emu));
  const failures: string[] = [];
  let bytes = 0;
  const t0 = Date.now();
  for (let i = 0; i < FLASHES; i++) {
    const r = await sealmq(['flash', '--port', pty, '--board', 'linux', '--json'], env);
    if (r.code !== 0) failures.push(`flash ${i + 1}: exit ${r.code}: ${r.stderr.trim().slice(-300)}`);
    else bytes = JSON.parse(r.stdout).bytes ?? bytes;
  }
  const flashS = (Date.now() - t0) / 1000;
  const p = await sealmq(['provision', '--port', pty, '--device', 'esp-rel', '--broker', 'mqtt://127.0.0.1:1', '--json'], env);
  t.is(p.code, 0, p.stderr);
  const t1 = Date.now();
  for (let i = 0; i < DOCTORS; i++) {
    const r = await sealmq(['doctor', '--port', pty, '--device', 'esp-rel', '--json'], env);
    if (r.code !== 0 || JSON.parse(r.stdout).device !== 'esp-rel') failures.push(`doctor ${i + 1}: exit ${r.code}: ${r.stderr.trim().slice(-300)}`);
  }
  t.log(`${FLASHES} flashes of ${bytes} bytes in ${flashS.toFixed(1)} s, ${DOCTORS} doctor --device in ${((Date.now() - t1) / 1000).toFixed(1)} s (figures, not asserted)`);
  t.true(bytes >= 15 * 1024, `the firmware bundle is about 16 KB (${bytes} bytes)`);
  t.deepEqual(failures, []);
});

maybe(`Espruino Linux build over a PTY: Ctrl-C breaks off a busy while(1){} and the REPL answers again${why}`, async (t) => {
  t.timeout(120_000);
  const { pty, flash } = await setup('sealmq-esp-ctrlc-');
  const emu = await board('esp-ctrlc', pty, flash);
  t.teardown(() => stop(emu));
  const link = linkFor(pty);
  await link.open();
  let said = '';
  link.onData((d) => (said += Buffer.from(d).toString('latin1')));
  const until = async (re: RegExp, ms: number) => {
    const end = Date.now() + ms;
    while (!re.test(said) && Date.now() < end) await sleep(20);
    return re.test(said);
  };
  await link.write('\x03');
  await link.write('1+1\n');
  t.true(await until(/=2/, 5000), said);
  said = '';
  // The loop says when it starts: a Ctrl-C sent before the line runs (a loaded machine) would only clear it.
  await link.write('print("BU"+"SY");while(1){}\n');
  t.true(await until(/BUSY/, 10_000), said);
  await sleep(200);
  t.false(/>\s*$/.test(said), 'busy: no prompt');
  await link.write('\x03');
  // With the debugger built in (as on boards that have it), Espruino stops in it: "debug>"; a second
  // Ctrl-C there breaks execution off (which, unpatched, would also have ended the process: patch 0002).
  t.true(await until(/debug>/, 5000), said);
  await link.write('\x03');
  t.true(await until(/Execution Interrupted/, 5000), said);
  said = '';
  await link.write('2+3\n');
  t.true(await until(/=5/, 5000), said);
  await link.close();
  t.is(emu.child.exitCode, null, 'the board is still up');
});

maybe(`a host tool that connects while the firmware runs JavaScript: its Ctrl-C lands in Espruino's debugger, the tool lets the code go on ("c") and gets its REPL${why}`, async (t) => {
  t.timeout(60_000);
  const { pty, flash } = await setup('sealmq-esp-debug-');
  const emu = await board('esp-debug', pty, flash);
  t.teardown(() => stop(emu));
  const link = linkFor(pty);
  t.teardown(() => link.close());
  const first = await connectRepl(link);
  // Busy for 3 s from a timer, as the firmware is while it seals and publishes; done=1 only if it ran to its end.
  await first.run('var done=0;setTimeout(function(){var t=getTime();while(getTime()-t<3){}done=1;},200);');
  first.detach();
  await sleep(1000);
  let said = '';
  const off = link.onData((d) => (said += Buffer.from(d).toString('latin1')));
  const repl = await connectRepl(link);
  off();
  t.regex(said, /debug>/, 'the Ctrl-C broke into the debugger');
  t.is(await repl.eval<number>('done'), 1, 'the interrupted code was continued, not broken off');
  t.notRegex(said, /Execution Interrupted/);
  repl.detach();
});

maybe(`sealmq demo --target espruino: the whole sealed pipeline on Espruino's own interpreter, every frame verified, a command round trip${why}`, async (t) => {
  t.timeout(180_000);
  const r = await sealmq(['demo', '--target', 'espruino', '--boards', '2', '--seconds', '8', '--json'], {}, 170_000);
  t.is(r.code, 0, r.stderr.slice(-2000));
  const s = JSON.parse(r.stdout.trim().split('\n').pop()!);
  t.log(`demo on the Linux build: ${JSON.stringify(s)}`);
  t.is(s.boards, 2);
  t.true(s.sealed > 0);
  t.is(s.verified, s.sealed);
  t.is(s.rejected, 0);
  t.true(s.commandRoundTrip);
  t.regex(r.stderr, /Espruino's own Linux interpreter/);
});

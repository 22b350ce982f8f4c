// Espruino's own STM32 firmware on QEMU's netduinoplus2 as a user meets it (issue 12):
// `sealmq emulate --target qemu --pty` brings it up behind a pseudo-terminal and the CLI drives it through
// the same serialport path as a USB cable: flash, provision, doctor --device, and dist/selftest.js run on
// it; its Storage survives a QEMU restart; Serial2 is a TCP server; under --icount a timed computation
// gives the same figure in two boots, and so does every op of `sealmq bench crypto --icount`. Without qemu-system-arm or the firmware: skipped, reason in the
// title (SEALMQ_REQUIRE_QEMU=1, as in CI, makes that a failure instead).
import test from 'ava';
import { connect, createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { statSync, writeFileSync } from 'node:fs';
import { buildFirmware } from '../host/build/bundle.js';
import { qemuTools } from '../host/qemu/bin.js';
import { QemuProcess, qemuArgs } from '../host/qemu/process.js';
import { linkFor } from '../host/link/open-link.js';
import { connectRepl, type Repl } from '../host/link/repl.js';
import { uploadFile } from '../host/link/storage-files.js';
import { operatorHome, sealmq, tmpHome } from './cli-helpers.js';
import { startEmulator, type EmulatorProcess } from './emulator-helpers.js';

const { tools, why: reason } = qemuTools();
const maybe = tools ? test.serial : test.skip;
const why = tools ? '' : ` — skipped: ${reason}`;
const PASS = 'qemu target passphrase';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function setup(prefix: string) {
  const { home, env } = await operatorHome(prefix, PASS);
  return { home, env, pty: join(home, 'ttyQEMU'), flash: join(home, 'board.qemu.flash') };
}

function board(name: string, flash: string, extra: string[] = []): Promise<EmulatorProcess> {
  return startEmulator(['--target', 'qemu', '--name', name, '--flash', flash, ...extra]);
}

async function stop(e: EmulatorProcess): Promise<void> {
  if (e.child.exitCode === null && e.child.signalCode === null) e.child.kill('SIGTERM');
  await e.exited;
}

/** Opens the board's console, runs `f` on its REPL, closes the console. */
async function onRepl<T>(url: string, f: (r: Repl) => Promise<T>, timeoutMs = 30_000): Promise<T> {
  const link = linkFor(url);
  await link.open();
  try {
    return await f(await connectRepl(link, { timeoutMs }));
  } finally {
    await link.close();
  }
}
/** The lines one command printed. */
const ask = (url: string, code: string) => onRepl(url, async (r) => (await r.run(code)).join('\n'));
/** An expression's value. */
const value = (url: string, expr: string) => onRepl(url, (r) => r.eval(expr));

test('the QEMU command line: netduinoplus2, console on stdio, Serial2 as a TCP server, QMP, Storage and serial loaded, icount', (t) => {
  const a = qemuArgs({ qemu: 'q', firmware: 'fw.elf', flash: 'st.flash', name: 'n', icount: true, uart: { host: '127.0.0.1', port: 0 } }, '/d').join(' ');
  t.regex(a, /^-M netduinoplus2 -nodefaults -display none -kernel fw\.elf -chardev stdio,id=con,signal=off -serial chardev:con /);
  t.regex(a, /-chardev socket,id=uart2,host=127\.0\.0\.1,port=0,server=on,wait=off,nodelay=on -serial chardev:uart2/);
  t.regex(a, /-qmp unix:\/d\/qmp\.sock,server=on,wait=off/);
  t.regex(a, /-device loader,file=st\.flash,addr=0x20020000,force-raw=on/);
  t.regex(a, /-device loader,file=\/d\/serial\.bin,addr=0x80ffff0,force-raw=on/);
  t.regex(a, /-icount shift=0$/);
  t.notRegex(qemuArgs({ qemu: 'q', firmware: 'f', flash: 's', name: 'n' }, '/d').join(' '), /uart2|icount/);
});

test('a --flash file that is not a 64 KB Storage image is refused, with a hint', (t) => {
  const dir = tmpHome('sealmq-qemu-args-');
  const flash = join(dir, 'wrong.flash');
  writeFileSync(flash, Buffer.alloc(1000));
  writeFileSync(join(dir, 'fw.elf'), '');
  const e = t.throws(() => new QemuProcess({ qemu: 'q', firmware: join(dir, 'fw.elf'), flash, name: 'n' }));
  t.regex(e!.message, /1000 bytes, but a QEMU board's Storage image is 65536/);
});

maybe(`sealmq emulate --target qemu --pty: flash, provision, doctor --device and dist/selftest.js as a user types them; Storage survives a QEMU restart${why}`, async (t) => {
  t.timeout(240_000);
  const { home, env, pty, flash } = await setup('sealmq-qemu-target-');
  const t0 = Date.now();
  let emu = await board('qemu-user', flash, ['--pty', pty]);
  t.teardown(() => stop(emu));
  t.log(`QEMU board up in ${Date.now() - t0} ms`);

  const t1 = Date.now();
  const f = await sealmq(['flash', '--port', pty, '--board', 'qemu-stm32f4', '--json'], env);
  t.is(f.code, 0, f.stderr);
  t.log(`flash: ${f.stdout.trim().slice(0, 200)} (${Date.now() - t1} ms)`);
  // dist/selftest.js (as `sealmq build --board qemu-stm32f4` makes it) through the console, before
  // provisioning locks it: every known answer passes.
  const built = await buildFirmware({ board: 'qemu-stm32f4', outDir: join(home, 'dist') });
  const link = linkFor(emu.url);
  await link.open();
  const logs: string[] = [];
  const repl = await connectRepl(link, { timeoutMs: 60_000, onLog: (l) => logs.push(l) });
  await uploadFile(repl, 'selftest.js', built.selftest!.code);
  const lines = await repl.run('eval(require("Storage").read("selftest.js"))', { timeoutMs: 60_000 });
  const text = () => lines.concat(logs).join('\n');
  const deadline = Date.now() + 90_000;
  while (!/\d+ passed, \d+ failed/.test(text()) && Date.now() < deadline) await sleep(100);
  const m = /(\d+) passed, (\d+) failed/.exec(text());
  t.truthy(m, text().slice(-400));
  t.log(`selftest on QEMU: ${m![0]}`);
  t.is(Number(m![2]), 0, text().split('\n').filter((l) => /FAIL/.test(l)).join('\n'));
  t.true(Number(m![1]) >= 50);
  await repl.run('require("Storage").erase("selftest.js")');
  await link.close();

  const p = await sealmq(['provision', '--port', pty, '--device', 'qemu-user', '--broker', 'mqtt://127.0.0.1:1', '--json'], env);
  t.is(p.code, 0, p.stderr);
  const d = await sealmq(['doctor', '--port', pty, '--device', 'qemu-user', '--json'], env);
  t.is(d.code, 0, d.stderr);
  t.log(`doctor: ${d.stdout.trim().slice(0, 300)}`);
  t.is(JSON.parse(d.stdout).device, 'qemu-user');

  // A restart of QEMU: the same --flash file, the same Storage.
  await stop(emu);
  t.is(statSync(flash).size, 65536);
  emu = await board('qemu-user', flash, ['--pty', pty]);
  const again = await sealmq(['doctor', '--port', pty, '--device', 'qemu-user', '--json'], env);
  t.is(again.code, 0, again.stderr);
  t.is(JSON.parse(again.stdout).device, 'qemu-user', 'provisioned before the restart, still provisioned after');
});

/** A port free right now (for --uart, whose URL the test must know before the board prints it). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

maybe(`QEMU board: Storage written, QEMU stopped and started again from the same --flash file, read back; Serial2 is the --uart TCP server${why}`, async (t) => {
  t.timeout(60_000);
  const { flash } = await setup('sealmq-qemu-storage-');
  const port = await freePort();
  let emu = await board('qemu-st', flash, ['--uart', `tcp://127.0.0.1:${port}`]);
  t.teardown(() => stop(emu));
  const written = `kept ${Date.now()}`;
  t.true(await value(emu.url, `require("Storage").write("keep", ${JSON.stringify(written)})`));

  // Serial2 <-> the TCP server QEMU listens on: bytes both ways.
  const sock = connect(port, '127.0.0.1');
  await new Promise((r) => sock.once('connect', r));
  let fromBoard = '';
  sock.setEncoding('latin1').on('data', (d: string) => (fromBoard += d));
  await ask(emu.url, 'Serial2.setup(115200); global.got = ""; Serial2.on("data", function (d) { global.got += d; }); Serial2.write("hello gateway")');
  sock.write('hello board');
  const end = Date.now() + 5000;
  while (fromBoard !== 'hello gateway' && Date.now() < end) await sleep(20);
  t.is(fromBoard, 'hello gateway');
  await sleep(200);
  t.is(await value(emu.url, 'global.got'), 'hello board');
  // With no 'data' listener Espruino keeps what arrives for available() and read(): the emulated board's
  // Serial2 does the same (test/emulator-uart.test.ts).
  await ask(emu.url, 'Serial2.removeAllListeners("data")');
  sock.write('kept bytes');
  await sleep(200);
  t.is(await value(emu.url, 'Serial2.available()+","+Serial2.read(4)+","+Serial2.available()+","+global.got'), '10,kept,6,hello board');
  sock.destroy();

  await stop(emu);
  emu = await board('qemu-st', flash);
  t.is(await value(emu.url, 'require("Storage").read("keep")'), written);
});

/** One clock tick of the board (SysTick at 168 MHz): getTime()'s resolution. */
const TICK_S = 1 / 168e6;

/** Types `line` on a raw TCP console and resolves with the first match of `re` in what the board prints. */
function typeRaw(url: string, line: string, re: RegExp, timeoutMs = 20_000): Promise<RegExpExecArray> {
  const m = /^tcp:\/\/([^:]+):(\d+)$/.exec(url)!;
  return new Promise((resolve, reject) => {
    const sock = connect(Number(m[2]), m[1]);
    let said = '';
    let quiet: NodeJS.Timeout | undefined;
    const timer = setTimeout(() => { clearTimeout(quiet); sock.destroy(); reject(new Error(`no ${re} within ${timeoutMs} ms: ${JSON.stringify(said.slice(-300))}`)); }, timeoutMs);
    sock.setEncoding('latin1').on('data', (d: string) => {
      said += d;
      const r = re.exec(said);
      if (r) { clearTimeout(timer); sock.destroy(); resolve(r); }
    });
    // Typed once the board has said nothing for a second: input during the boot banner is dropped.
    const typeWhenQuiet = () => {
      clearTimeout(quiet);
      quiet = setTimeout(() => { sock.off('data', typeWhenQuiet); sock.write(line); }, 1000);
    };
    sock.on('data', typeWhenQuiet);
    sock.on('connect', typeWhenQuiet);
    sock.on('error', () => undefined);
  });
}

maybe(`QEMU board --icount: 100× SHA256 timed by the board's getTime() gives the same figure in two boots (to one 168 MHz tick)${why}`, async (t) => {
  t.timeout(90_000);
  const { flash } = await setup('sealmq-qemu-icount-');
  // Exactly the same bytes in each boot, the first thing the board runs (the heap's state moves the
  // figure), and a garbage collection (process.memory()) just before the timing starts.
  const line = 'var c = require("crypto"), d = new Uint8Array(64); process.memory(); var t0 = getTime(); for (var i = 0; i < 100; i++) c.SHA256(d); print("T=" + (getTime() - t0))\n';
  const figures: number[] = [];
  const texts: string[] = [];
  for (let boot = 0; boot < 2; boot++) {
    const emu = await board('qemu-ic', flash, ['--icount']);
    try {
      const m = await typeRaw(emu.url, line, /T=([\d.e-]+)\r?\n/);
      texts.push(m[1]);
      figures.push(Number(m[1]));
    } finally {
      await stop(emu);
    }
  }
  t.log(`100× SHA256 of 64 bytes under -icount shift=0: ${texts.join(' s, ')} s (${texts[0] === texts[1] ? 'identical' : `${Math.round(Math.abs(figures[0] - figures[1]) / TICK_S)} tick apart`})`);
  t.true(figures[0] > 0);
  t.true(Math.abs(figures[0] - figures[1]) <= TICK_S * 1.01, `${texts[0]} vs ${texts[1]}`);
});

/** One tick of the board's clock in guest instructions under -icount shift=0 (1 ns each): 1e9 / 168e6 ≈ 5.95. */
const TICK_INSTR = 1e9 / 168e6;
/** SysTick's period (Espruino's STM32 port reloads it every 2^24 ticks), in guest instructions: ~99.9 M. */
const SYSTICK_PERIOD_INSTR = 2 ** 24 * TICK_INSTR;
/** How far apart the SysTick handler's two paths are, in instructions (measured: 24–30, two boots of open js 16 B). */
const SYSTICK_HANDLER_PATHS = 40;

maybe(`sealmq bench crypto --icount on a QEMU board in two boots: every op's instruction median per call the same to one tick of the board's clock, the firmware footprint there${why}`, async (t) => {
  // Both boots and benches: 87 s at load 9 on 2 cores, 5.3 min at load 12 with three other QEMU benches
  // running (QEMU's speed is the host's; the instruction counts are not).
  t.timeout(480_000);
  const { home, env } = await setup('sealmq-qemu-bench-');
  const t0 = Date.now();
  const runs: any[] = [];
  for (let boot = 0; boot < 2; boot++) {
    // A fresh Storage image each boot, so both runs start from the same state (the heap's history moves a
    // figure: the same commands in the same order after boot give the same one).
    const emu = await board('qemu-bench', join(home, `boot${boot}.flash`), ['--icount']);
    try {
      const r = await sealmq(['bench', 'crypto', '--port', emu.url, '--board', 'qemu-stm32f4', '--icount', '--no-nacl', '--sizes', '16', '--reps', '3', '--seals', '50', '--json', '--out', join(home, `out${boot}`)], env, 200_000);
      t.is(r.code, 0, r.stderr);
      runs.push(JSON.parse(r.stdout));
    } finally {
      await stop(emu);
    }
  }
  const [a, b] = runs;
  for (const j of runs) {
    t.regex(j.target, /^QEMU Cortex-M4/);
    t.is(j.icountShift, 0);
  }
  // Per call = one batch's board time / `inner` calls. The bench starts each batch clear of the SysTick
  // interrupt (firmware/bench/systick.ts), so what is left between boots is the reading: each end of a batch
  // is read to one tick of the board's clock (5.95 instructions), whose phase follows the host, and each
  // figure is rounded to a whole instruction (±0.5 each, 1 between two). The heap's layout moved figures
  // too (Espruino searches for contiguous free variables, and which variables the console left in use
  // follows how the host's bytes arrived: open native 16 B read 792 instructions a call apart in two boots),
  // until the bench defragmented the heap before each op's timed batches (E.defrag: identical since). So the test holds issue 12's
  // bound on the per-call figure, one tick of the board's clock (or two ticks a batch for an op of one or
  // two calls a batch, where a reading is most of it), plus 1 for the rounding. docs/BENCHMARKS.md.
  const key = (r: any) => `${r.op} ${r.impl} ${r.size ?? '-'}`;
  const rows: string[] = [];
  let timed = 0;
  for (const x of a.results) {
    if (x.impl === 'tweetnacl') continue;
    const y = b.results.find((r: any) => key(r) === key(x));
    t.truthy(y, `${key(x)} in both runs`);
    t.is(x.error, undefined, `${key(x)}: ${x.error}`);
    t.is(y.error, undefined, `${key(x)} (run 2): ${y.error}`);
    if (!x.instr || !y.instr) continue;
    timed++;
    // A batch longer than SysTick's period (2^24 ticks) holds its reload's handler, whose path depends on the
    // RTC time it reads (Espruino's jshDoSysTick smooths the tick length only when the board has not slept
    // since the last tick, a branch of ~30 instructions): one such difference a reload, shared by the batch.
    const reloads = Math.floor((Math.max(x.instr.median, y.instr.median) * Math.min(x.inner, y.inner)) / SYSTICK_PERIOD_INSTR);
    const tol = Math.max(TICK_INSTR, (2 * TICK_INSTR) / Math.min(x.inner, y.inner)) + 1 + (reloads * SYSTICK_HANDLER_PATHS) / Math.min(x.inner, y.inner);
    const d = Math.abs(x.instr.median - y.instr.median);
    rows.push(`${key(x).padEnd(28)} ${String(x.instr.median).padStart(11)} ${String(y.instr.median).padStart(11)}  ${d === 0 ? 'identical' : `Δ ${d} (≤ ${tol.toFixed(1)})`}  inner ${x.inner === y.inner ? x.inner : `${x.inner}/${y.inner}`}`);
    t.true(d <= tol, `${key(x)}: ${x.instr.median} vs ${y.instr.median} instructions (more than one clock tick a call apart, batches of ${x.inner} and ${y.inner}: ±${tol.toFixed(2)})`);
  }
  t.true(timed >= 15, `${timed} ops with an instruction figure`);
  const fp = (f: any) => `idle ${f.idleVars} vars, ${f.varsPerSeal} per seal, growth ${f.growthVars} over ${f.seals}, seal ${Math.round(f.sealMs * 1e6)} instructions, peak ${f.peakVarsPerSeal ?? f.peakNote}`;
  for (const f of [a.footprint, b.footprint]) {
    for (const k of ['idleVars', 'varsPerSeal', 'growthVars', 'sealMs']) t.is(typeof f[k], 'number', `footprint.${k} (${f.note ?? ''})`);
    t.true(f.idleVars > 500, `the firmware loaded (idle ${f.idleVars} variables)`);
    if (f.peakVarsPerSeal === null) t.is(typeof f.peakNote, 'string');
    else t.true(f.peakVarsPerSeal > f.varsPerSeal, 'the transient peak is above what a seal leaves allocated');
  }
  t.log(`op                             boot 1      boot 2   (instructions per call, median)\n${rows.join('\n')}`);
  t.log(`footprint boot 1: ${fp(a.footprint)}\nfootprint boot 2: ${fp(b.footprint)}`);
  t.log(`two boots and two benches in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
});

// Conformance on Espruino's own interpreter: dist/selftest.js and dist/firmware.js on the Espruino Linux
// build (ESPRUINO_BIN), talking MQTT to an aedes broker that checks the
// TOTP login, with frames opened by the host's core. Skipped when no Espruino binary is around.
import test, { type ExecutionContext } from 'ava';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Aedes } from 'aedes';
import { fromHex, utf8Decode, utf8Encode } from '../core/bytes.js';
import { deriveKeys, initialReceiveState, receive, ReceiveState, seal } from '../core/frame.js';
import { totp } from '../core/otp.js';
import { nodePrimitives as P, sha1 } from '../host/protocol/node-primitives.js';
import { buildFirmware } from '../host/build/bundle.js';
import { espruinoBin, ESPRUINO_SKIP } from '../host/espruino/bin.js';
import { EspruinoStdio } from './espruino-stdio.js';

const BIN = espruinoBin() ?? undefined;
const maybe = (title: string, fn: (t: ExecutionContext) => Promise<void>) =>
  BIN ? test.serial(title, fn) : test.serial.skip(`${title} — ${ESPRUINO_SKIP}`, fn);
const ROOT = '000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f';
const OTP = '3132333435363738393031323334353637383930';
const ID = 'node-01';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let dist = '';
test.before(async () => {
  dist = mkdtempSync(join(tmpdir(), 'sealmq-espruino-'));
  await buildFirmware({ board: 'linux', outDir: dist });
});
test.after.always(() => rmSync(dist, { recursive: true, force: true }));

/** Espruino's Linux build in interactive mode: a REPL on stdin/stdout, Storage in <cwd>/espruino.flash. */

maybe('dist/selftest.js passes every known answer on Espruino, native and pure-JS crypto', async (t) => {
  const cwd = mkdtempSync(join(tmpdir(), 'sealmq-selftest-'));
  try {
    const p = spawn(BIN!, [join(dist, 'selftest.js')], { cwd, stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    await new Promise((r) => p.on('exit', r));
    const m = out.match(/(\d+) passed, (\d+) failed/);
    t.truthy(m, out.slice(-500));
    t.is(m![2], '0', out.split('\n').filter((l) => l.startsWith('FAIL')).join('\n'));
    t.true(Number(m![1]) >= 56);
    t.regex(out, /PASS frame v1 .* \[native\]/);
    t.regex(out, /PASS frame v1 .* \[js\]/);
  } finally {
    rmSync(cwd, { recursive: true, force: true });
  }
});

maybe('dist/firmware.js on Espruino: TOTP login, sealed readings, a command, a power cut, no counter reused', async (t) => {
  const cwd = mkdtempSync(join(tmpdir(), 'sealmq-fw-'));
  const aedes = await Aedes.createBroker();
  const logins: boolean[] = [];
  aedes.authenticate = (_c, user, pass, cb) => {
    const now = Date.now() / 1000;
    const ok = user === ID && [-30, 0, 30].some((d) => totp(sha1, 64, fromHex(OTP), now + d, 30, 8) === pass?.toString());
    logins.push(ok);
    cb(null, ok);
  };
  const server = createServer(aedes.handle);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  let st: ReceiveState = initialReceiveState(0);
  const counters: number[] = [];
  const msgs: any[] = [];
  let rejectedByHost = 0;
  aedes.on('publish', (pkt, client) => {
    if (!client || pkt.topic !== `sealmq/${ID}/up`) return;
    const r = receive(P, (e) => deriveKeys(P, fromHex(ROOT), ID, 'up', e), ID, 'up', 'up', st, new Uint8Array(pkt.payload as Buffer));
    if (!r.ok) return void rejectedByHost++;
    st = r.state!;
    counters.push(r.counter!);
    msgs.push(JSON.parse(utf8Decode(r.plaintext!)!));
  });
  const down = (msg: unknown, counter: number) => {
    const f = seal(P, deriveKeys(P, fromHex(ROOT), ID, 'down', 0), ID, 'down', 'down', 0, counter, utf8Encode(JSON.stringify(msg)));
    aedes.publish({ cmd: 'publish', topic: `sealmq/${ID}/down`, payload: Buffer.from(f), qos: 0, retain: false, dup: false }, () => {});
  };
  let board = new EspruinoStdio(BIN!, cwd);
  try {
    await board.line(`require("Storage").write(".bootcde", ${JSON.stringify(await import('node:fs').then((fs) => fs.readFileSync(join(dist, 'firmware.js'), 'utf8')))})`);
    await board.line('load()');
    await board.wait(/sealmq: not provisioned/);
    await board.line(`SEALMQ.provision({id:"${ID}",root:"${ROOT}",otp:"${OTP}",broker:{host:"127.0.0.1",port:${port}},interval:0.1,k:4})`);
    t.regex((await board.wait(/SMQ (\{"ok".*\})/))[1], /"ok":true/);
    for (let i = 0; i < 100 && counters.length < 6; i++) await sleep(100);
    t.true(counters.length >= 6, `${counters.length} readings`);
    t.deepEqual(counters.slice(0, 6), [1, 2, 3, 4, 5, 6]);
    t.like(msgs[0], { d: { free: msgs[0].d.free } });
    t.true(logins[0]);
    down({ t: null, c: 'ping', a: {} }, 1);
    for (let i = 0; i < 50 && !msgs.some((m) => m.r === 'ping'); i++) await sleep(100);
    t.like(msgs.find((m) => m.r === 'ping'), { r: 'ping', i: 1, ok: true, a: {} });

    const before = Math.max(...counters);
    board.kill();
    await sleep(200);
    board = new EspruinoStdio(BIN!, cwd);
    await board.wait(/sealmq 0\.1\.0|sealmq \d/);
    for (let i = 0; i < 100 && Math.max(...counters) < before + 6; i++) await sleep(100);
    const after = counters.slice(counters.indexOf(before) + 1);
    t.true(after.length > 0, 'it sends again after the power cut');
    t.true(after[0] > before, `resumed at ${after[0]} after ${before}`);
    t.true(after[0] <= before + 8, 'at most K (4) counters skipped past the last one used (a few may have been in flight)');
    t.is(new Set(counters).size, counters.length, 'no counter sent twice');
    down({ t: null, c: 'ping', a: {} }, 1);
    await sleep(500);
    await board.line('SEALMQ.status()');
    const status = JSON.parse((await board.wait(/SMQ (\{"v".*\})/))[1]);
    t.like(status, { id: ID, provisioned: true, state: 'ok', crypto: 'native', epoch: 0, connected: true, board: 'linux' });
    t.is(status.rejected, 1, 'the old command, replayed after the reboot, is refused: the window was persisted');
    t.is(rejectedByHost, 0);
  } finally {
    board.kill();
    server.close();
    await new Promise<void>((r) => aedes.close(() => r()));
    rmSync(cwd, { recursive: true, force: true });
  }
});

maybe('timers on Espruino: an interval keeps its phase when its calls come late (what the emulated board imitates)', async (t) => {
  const cwd = mkdtempSync(join(tmpdir(), 'sealmq-timers-'));
  const e = new EspruinoStdio(BIN!, cwd);
  try {
    // The emulated board's test of the same name (test/emulator-sandbox.test.ts) runs the same code.
    await e.line('var ts = []; var id = setInterval(function(){ ts.push(getTime()); if (ts.length == 12) { clearInterval(id); clearInterval(busy); print("TS " + JSON.stringify(ts)); } }, 50);' +
      ' var busy = setInterval(function(){ var e = getTime() + 0.03; while (getTime() < e); }, 37);');
    const ts = JSON.parse((await e.wait(/TS (\[[^\]]*\])/))[1]) as number[];
    const late = ts.map((x, k) => (x - ts[0] - k * 0.05) * 1000);
    t.true(Math.max(...late) < 100, `calls late by ${late.map((x) => x.toFixed(0)).join(', ')} ms`);
  } finally {
    e.kill();
    rmSync(cwd, { recursive: true, force: true });
  }
});

/** CPU time (user + system, seconds) the process has used, from /proc (Linux). */
function cpuSeconds(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const v = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return (Number(v[11]) + Number(v[12])) / 100; // utime, stime: fields 14 and 15, in clock ticks (USER_HZ 100)
}

maybe('Espruino\'s Linux build sleeps while its socket is idle (recipe patch linux/0003), and still reads what arrives on it', async (t) => {
  const cwd = mkdtempSync(join(tmpdir(), 'sealmq-idle-'));
  const got: Buffer[] = [];
  let peer: Socket | undefined;
  const server = createServer((s) => {
    peer = s;
    s.on('data', (d) => got.push(d));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  const e = new EspruinoStdio(BIN!, cwd);
  try {
    await e.line(`var s = require("net").connect({host: "127.0.0.1", port: ${port}}, function() { print("CONNECTED"); }); s.on("data", function(d) { print("GOT " + d); });`);
    await e.wait(/CONNECTED/);
    // Unpatched, the interpreter spun while the socket was open (~85 % of a core); asleep, a few %.
    const c0 = cpuSeconds(e.p.pid!);
    const w0 = performance.now();
    await sleep(2000);
    const share = (cpuSeconds(e.p.pid!) - c0) / ((performance.now() - w0) / 1000);
    t.log(`CPU while idle with a socket open: ${(share * 100).toFixed(1)} % of a core`);
    t.true(share < 0.4, `${(share * 100).toFixed(0)} % of a core while idle`);
    // Asleep, it still reads the socket and writes to it.
    peer!.write('ping');
    await e.wait(/GOT ping/, 5000);
    await e.line('s.write("pong")');
    const end = Date.now() + 5000;
    while (!Buffer.concat(got).toString().includes('pong') && Date.now() < end) await sleep(20);
    t.regex(Buffer.concat(got).toString(), /pong/);
  } finally {
    e.kill();
    peer?.destroy();
    server.close();
    rmSync(cwd, { recursive: true, force: true });
  }
});

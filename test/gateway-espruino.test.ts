// The uart firmware on Espruino's own interpreter (the Linux build, where a Serial port is a device path):
// Serial2 opens one end of a PTY pair made by socat, sealmq gateway opens the other end through the
// serialport package and relays to a broker. Checked on the real interpreter: the TOTP login over the UART,
// sealed readings, a sealed command and its reply, and — the broker dropping the board's connection — the
// gateway's 0x00 making the firmware drop its session and redial, with no counter reused.
import test, { type ExecutionContext } from 'ava';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Aedes } from 'aedes';
import { fromHex, utf8Decode, utf8Encode } from '../core/bytes.js';
import { deriveKeys, initialReceiveState, receive, ReceiveState, seal } from '../core/frame.js';
import { totp } from '../core/otp.js';
import { nodePrimitives as P, sha1 } from '../host/protocol/node-primitives.js';
import { buildFirmware } from '../host/build/bundle.js';
import { espruinoBin, ESPRUINO_SKIP } from '../host/espruino/bin.js';
import { startGateway, type GatewayEvent } from '../host/gateway/gateway.js';
import { hasCommand } from './cli-helpers.js';
import { EspruinoStdio } from './espruino-stdio.js';

const BIN = espruinoBin() ?? undefined;
const hasSocat = hasCommand('socat');
const maybe = (title: string, fn: (t: ExecutionContext) => Promise<void>) =>
  BIN && hasSocat ? test.serial(title, fn) : test.serial.skip(`${title} — ${BIN ? 'socat is not installed' : ESPRUINO_SKIP}`, fn);
const ROOT = '000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f';
const OTP = '3132333435363738393031323334353637383930';
const ID = 'uart-01';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Espruino's Linux build in interactive mode (as test/firmware-espruino.test.ts drives it). */

maybe('uart firmware on Espruino\'s interpreter: MQTT over Serial2 (a PTY) through sealmq gateway; the broker drops it, 0x00, it redials', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sealmq-uart-esp-'));
  const procs: ChildProcess[] = [];
  const cleanups: (() => Promise<void> | void)[] = [];
  t.teardown(async () => {
    for (const c of cleanups.reverse()) await c();
    for (const p of procs) p.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  // The Linux build's board, without a network: MQTT over Serial2.
  const profile = join(dir, 'linux-uart.json');
  writeFileSync(profile, JSON.stringify({
    name: 'linux-uart', board: 'LINUX', consoleBaud: 115200, network: 'uart', uart: { port: 'Serial2', baud: 115200 },
    crypto: { native: true }, totalVars: 16383, counterBlock: 4, sensors: [{ name: 'free', kind: 'free' }],
  }));
  const built = await buildFirmware({ board: profile, outDir: join(dir, 'dist'), selftest: false });
  t.regex(built.firmware.code, /Serial2\.setup\(115200\)/);

  // A null-modem cable: two PTYs joined by socat.
  const boardEnd = join(dir, 'ttyBOARD');
  const gatewayEnd = join(dir, 'ttyGW');
  procs.push(spawn('socat', [`PTY,link=${boardEnd},raw,echo=0`, `PTY,link=${gatewayEnd},raw,echo=0`], { stdio: 'ignore' }));
  for (let i = 0; i < 100 && !(existsSync(boardEnd) && existsSync(gatewayEnd)); i++) await sleep(50);

  const aedes = await Aedes.createBroker();
  let logins = 0;
  aedes.authenticate = (_c, user, pass, cb) => {
    const now = Date.now() / 1000;
    const ok = user === ID && [-30, 0, 30].some((d) => totp(sha1, 64, fromHex(OTP), now + d, 30, 8) === pass?.toString());
    if (ok) logins++;
    cb(null, ok);
  };
  const server = createServer(aedes.handle);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(() => new Promise<void>((r) => aedes.close(() => server.close(() => r()))));
  const port = (server.address() as AddressInfo).port;
  let st: ReceiveState = initialReceiveState(0);
  const counters: number[] = [];
  const msgs: any[] = [];
  let rejected = 0;
  aedes.on('publish', (pkt, client) => {
    if (!client || pkt.topic !== `sealmq/${ID}/up`) return;
    const r = receive(P, (e) => deriveKeys(P, fromHex(ROOT), ID, 'up', e), ID, 'up', 'up', st, new Uint8Array(pkt.payload as Buffer));
    if (!r.ok) return void rejected++;
    st = r.state!;
    counters.push(r.counter!);
    msgs.push(JSON.parse(utf8Decode(r.plaintext!)!));
  });

  const events: GatewayEvent[] = [];
  const gw = await startGateway({ uart: gatewayEnd, baud: 115200, broker: `mqtt://127.0.0.1:${port}`, onEvent: (e) => events.push(e) });
  cleanups.push(() => gw.stop());

  const board = new EspruinoStdio(BIN!, dir);
  procs.push(board.p);
  // On the Linux build a Serial port is a device path (jswrap_serial_setup keeps options.path); .boot0
  // runs before the firmware at every boot, which then calls Serial2.setup(115200) itself.
  await board.line(`require("Storage").write(".boot0", ${JSON.stringify(`Serial2.setup(115200,{path:${JSON.stringify(boardEnd)}});`)})`);
  await board.line(`require("Storage").write(".bootcde", ${JSON.stringify(readFileSync(built.firmware.file, 'utf8'))})`);
  await board.line('load()');
  await board.wait(/sealmq: not provisioned/);
  // broker in the config: required, unused on a uart board (the gateway chooses the broker).
  await board.line(`SEALMQ.provision({id:"${ID}",root:"${ROOT}",otp:"${OTP}",broker:{host:"unused.invalid",port:1},interval:0.2,k:4})`);
  t.regex((await board.wait(/SMQ (\{"ok".*\})/))[1], /"ok":true/);
  for (let i = 0; i < 150 && counters.length < 5; i++) await sleep(100);
  t.true(counters.length >= 5, `${counters.length} readings; board said:\n${board.out.slice(-600)}`);
  t.deepEqual(counters.slice(0, 5), [1, 2, 3, 4, 5]);
  // (The 0x00 the gateway sent when it opened its end may meet the board's first session: one redial more.)
  t.true(logins >= 1);

  const f = seal(P, deriveKeys(P, fromHex(ROOT), ID, 'down', 0), ID, 'down', 'down', 0, 1, utf8Encode(JSON.stringify({ t: null, c: 'ping', a: {} })));
  aedes.publish({ cmd: 'publish', topic: `sealmq/${ID}/down`, payload: Buffer.from(f), qos: 0, retain: false, dup: false }, () => {});
  for (let i = 0; i < 50 && !msgs.some((m) => m.r === 'ping'); i++) await sleep(100);
  t.like(msgs.find((m) => m.r === 'ping'), { r: 'ping', i: 1, ok: true, a: {} });

  // The broker drops the board: the gateway sends 0x00, the firmware sees "malformed", drops and redials.
  const before = Math.max(...counters);
  const loginsAtDrop = logins;
  (aedes as unknown as { clients: Record<string, { close(): void }> }).clients[ID].close();
  await board.wait(/mqtt: malformed/, 10_000);
  for (let i = 0; i < 150 && (logins <= loginsAtDrop || Math.max(...counters) < before + 3); i++) await sleep(100);
  t.true(logins > loginsAtDrop, 'it logged in again');
  t.regex(board.out.slice(board.out.lastIndexOf('mqtt: malformed')), /mqtt: up/, 'session dropped on the 0x00, then up again');
  t.true(Math.max(...counters) >= before + 3, 'and publishes again');
  t.is(new Set(counters).size, counters.length, 'no counter reused');
  t.is(rejected, 0);
  t.true(events.some((e) => e.type === 'session-closed' && e.reason === 'broker-closed'));
});

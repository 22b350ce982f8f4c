// sealmq gateway (host/gateway): the framing of MQTT over a UART (docs/PROTOCOL.md, "MQTT over a UART") as
// pure functions, then the relay between a fake board UART (a TCP server the gateway connects to, as to
// QEMU's -serial tcp:…,server) and a fake broker: garbage, oversize and split packets, a CONNECT restarting a
// session, the broker's close turned into 0x00 for the board, the board's 0x00 closing the broker side, a
// stalled packet, a lost UART reopened, and random bytes never taking the gateway down.
import test, { type ExecutionContext } from 'ava';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import mqttPacket from 'mqtt-packet';
import { connect, PINGREQ, publish, subscribe } from '../firmware/mqtt.js';
import { BoardStream, BrokerStream, connectClientId, readHeader } from '../host/gateway/framing.js';
import { startGateway, type GatewayEvent } from '../host/gateway/gateway.js';
import { sealmq } from './cli-helpers.js';

const B = (s: string) => Buffer.from(s, 'latin1');
const CONNECT = B(connect('node-07', 'node-07', '12345678', 60));
const PUB = B(publish('sealmq/node-07/up', 'x'.repeat(100)));
const CONNACK = Buffer.from([0x20, 0x02, 0x00, 0x00]);

// ---- framing -----------------------------------------------------------------------------------------

test('readHeader: type, Remaining Length up to 4 bytes, reserved types and the size limit (§2.2)', (t) => {
  t.deepEqual(readHeader(Buffer.from([0x30, 0x05]), 2048), { head: 2, body: 5 });
  t.deepEqual(readHeader(Buffer.from([0x30, 0x80, 0x01]), 2048), { head: 3, body: 128 });
  t.is(readHeader(Buffer.from([0x30, 0x80]), 2048), 'partial');
  t.is(readHeader(Buffer.from([0x30]), 2048), 'partial');
  t.is(readHeader(Buffer.from([0x00, 0x00]), 2048), 'malformed', 'type 0 is reserved');
  t.is(readHeader(Buffer.from([0xf0, 0x00]), 2048), 'malformed', 'type 15 is reserved');
  t.is(readHeader(Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01]), 1e9), 'malformed', 'a fifth length byte');
  t.is(readHeader(Buffer.from([0x30, 0x81, 0x10]), 2048), 'oversize');
});

test('a CONNECT after garbage opens the session; the garbage is skipped and counted', (t) => {
  const s = new BoardStream();
  const a = s.push(Buffer.concat([Buffer.from([0xff, 0x10, 0x02, 0x00, 0x00, 0x30, 0x33]), CONNECT, PUB]));
  t.is(a[0].type, 'skip');
  t.is((a[0] as { bytes: number }).bytes, 5, 'noise is counted; 0x00 end marks are not');
  t.like(a[1], { type: 'connect', clientId: 'node-07' });
  t.deepEqual((a[1] as { packet: Buffer }).packet, CONNECT);
  t.deepEqual(a[2], { type: 'packet', packet: PUB });
  t.true(s.inSession);
  t.is(s.pending, 0);
});

test('a stream split at every byte gives the same packets (CONNECT, SUBSCRIBE, PUBLISH, PINGREQ)', (t) => {
  const all = Buffer.concat([Buffer.from([0x00, 0x42]), CONNECT, B(subscribe(1, 'sealmq/node-07/down')), PUB, B(PINGREQ)]);
  const s = new BoardStream();
  const got: string[] = [];
  for (const byte of all) for (const a of s.push(Buffer.from([byte]))) got.push(a.type === 'skip' ? `skip${a.bytes}` : a.type === 'end' ? a.reason : `${a.type}:${(a as { packet: Buffer }).packet.length}`);
  t.deepEqual(got.filter((g) => !g.startsWith('skip')), [`connect:${CONNECT.length}`, `packet:${subscribe(1, 'sealmq/node-07/down').length}`, `packet:${PUB.length}`, 'packet:2']);
  t.is(got.filter((g) => g.startsWith('skip')).reduce((n, g) => n + Number(g.slice(4)), 0), 1);
});

test('in a session: CONNECT restarts it, 0x00 ends it (board-end), oversize and reserved types end it, then resync', (t) => {
  const s = new BoardStream(256);
  t.like(s.push(CONNECT)[0], { type: 'connect' });
  t.like(s.push(CONNECT)[0], { type: 'connect' }, 'the board redialled');
  t.deepEqual(s.push(Buffer.from([0x00])), [{ type: 'end', reason: 'board-end' }]);
  t.false(s.inSession);
  t.deepEqual(s.push(PUB), [{ type: 'skip', bytes: PUB.filter((x) => x !== 0).length }], 'no session: a PUBLISH is not relayed');
  s.push(CONNECT);
  t.deepEqual(s.push(B(publish('t', 'y'.repeat(300)))).slice(0, 1), [{ type: 'end', reason: 'oversize' }]);
  t.false(s.inSession);
  s.push(CONNECT);
  t.deepEqual(s.push(Buffer.from([0xf0, 0x00])).slice(0, 1), [{ type: 'end', reason: 'malformed' }]);
  s.push(CONNECT);
  // A type-1 packet that is not our CONNECT inside a session is malformed.
  t.deepEqual(s.push(Buffer.from([0x10, 0x02, 0x00, 0x00])).slice(0, 1), [{ type: 'end', reason: 'malformed' }]);
  // After the end, what follows is read as "no session": a CONNECT right behind is found.
  s.push(CONNECT);
  const a = s.push(Buffer.concat([Buffer.from([0x00]), CONNECT]));
  t.deepEqual(a.map((x) => x.type), ['end', 'connect']);
});

test('CONNECT candidates: a near miss (wrong protocol name, level, flags or length) is skipped, never opened', (t) => {
  const bad = [
    Buffer.from(CONNECT).fill(0x4e, 4, 5), // "NQTT"
    Buffer.from(CONNECT).fill(0x03, 8, 9), // level 3
    Buffer.concat([Buffer.from([0x11]), CONNECT.subarray(1)]), // flags on the fixed header
    Buffer.from([0x10, 0x07, 0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x04]), // too short to be a CONNECT
  ];
  for (const b of bad) {
    const s = new BoardStream();
    const a = s.push(Buffer.concat([b, Buffer.alloc(16)]));
    t.false(a.some((x) => x.type === 'connect'), b.toString('hex'));
    t.false(s.inSession);
  }
  t.is(connectClientId(Buffer.from(CONNECT)), 'node-07');
  t.is(connectClientId(B(connect('Not An Id!', 'u', 'p', 60))), null);
});

test('random bytes never throw and never open a session without a real CONNECT signature', (t) => {
  let seed = 12345;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 16) & 255;
  const s = new BoardStream();
  let connects = 0;
  for (let i = 0; i < 2000; i++) {
    const b = Buffer.alloc(1 + (rnd() % 64));
    for (let j = 0; j < b.length; j++) b[j] = rnd();
    for (const a of s.push(b)) if (a.type === 'connect') connects++;
  }
  t.is(connects, 0);
  t.like(s.push(Buffer.concat([Buffer.from([0x00]), CONNECT])).find((a) => a.type === 'connect'), { type: 'connect' });
});

test('broker side: whole packets only; a malformed or oversize packet ends the session once', (t) => {
  const s = new BrokerStream(256);
  t.deepEqual(s.push(CONNACK.subarray(0, 1)), []);
  t.deepEqual(s.push(CONNACK.subarray(1)), [{ type: 'packet', packet: CONNACK }]);
  const big = B(publish('sealmq/node-07/down', 'z'.repeat(300)));
  t.deepEqual(s.push(big), [{ type: 'end', reason: 'oversize' }]);
  t.deepEqual(s.push(CONNACK), [], 'nothing after the end');
  t.deepEqual(new BrokerStream().push(Buffer.from([0x00, 0x00])), [{ type: 'end', reason: 'malformed' }]);
});

// ---- the relay -------------------------------------------------------------------------------------

/** A TCP server standing for one end, with its live connections and everything they received. */
async function endpoint(): Promise<{ url: string; port: number; conns: Socket[]; received: Buffer[][]; accepted: number; server: Server; next(): Promise<Socket>; close(): Promise<void> }> {
  const conns: Socket[] = [];
  const received: Buffer[][] = [];
  const waiting: ((s: Socket) => void)[] = [];
  const e = {
    url: '', port: 0, conns, received, accepted: 0, server: undefined as unknown as Server,
    next: () => new Promise<Socket>((r) => waiting.push(r)),
    close: async () => {
      for (const c of conns) c.destroy();
      await new Promise<void>((r) => e.server.close(() => r()));
    },
  };
  e.server = createServer((c) => {
    e.accepted++;
    const got: Buffer[] = [];
    received.push(got);
    conns.push(c);
    c.on('data', (d) => got.push(d));
    c.on('error', () => undefined);
    const w = waiting.shift();
    if (w) w(c);
  });
  await new Promise<void>((r) => e.server.listen(0, '127.0.0.1', () => r()));
  e.port = (e.server.address() as AddressInfo).port;
  e.url = `tcp://127.0.0.1:${e.port}`;
  return e;
}

const until = async (cond: () => boolean, ms = 5000) => {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 10));
  }
};
const bytes = (bs: Buffer[]) => Buffer.concat(bs);

/** A gateway between a fake UART (the board's side, `b`) and a fake broker, stopped when the test ends. */
async function relayRig(t: ExecutionContext) {
  const uart = await endpoint();
  const broker = await endpoint();
  const events: GatewayEvent[] = [];
  const board = uart.next();
  const gw = await startGateway({ uart: uart.url, broker: `mqtt://127.0.0.1:${broker.port}`, onEvent: (e) => events.push(e) });
  t.teardown(async () => { await gw.stop(); await uart.close(); await broker.close(); });
  return { uart, broker, events, gw, b: await board };
}

test('relay: 0x00 on open, split CONNECT after garbage reaches the broker whole, CONNACK and PUBLISH both ways', async (t) => {
  const { uart, broker, events, gw, b } = await relayRig(t);
  await until(() => bytes(uart.received[0]).length >= 1);
  t.deepEqual(bytes(uart.received[0]), Buffer.from([0x00]), 'a (re)opened UART tells the board any old session is gone');

  const brokerConn = broker.next();
  const wire = Buffer.concat([B('garbage\x00\xff'), CONNECT]);
  for (const byte of wire) b.write(Buffer.from([byte]));
  const bc = await brokerConn;
  await until(() => bytes(broker.received[0]).length >= CONNECT.length);
  t.deepEqual(bytes(broker.received[0]), CONNECT);
  bc.write(CONNACK.subarray(0, 1));
  await new Promise((r) => setTimeout(r, 30));
  t.is(bytes(uart.received[0]).length, 1, 'half a packet is held back');
  bc.write(CONNACK.subarray(1));
  await until(() => bytes(uart.received[0]).length === 5);
  t.deepEqual(bytes(uart.received[0]).subarray(1), CONNACK);
  b.write(PUB);
  await until(() => bytes(broker.received[0]).length === CONNECT.length + PUB.length);
  const parsed: any[] = [];
  const p = mqttPacket.parser({ protocolVersion: 4 });
  p.on('packet', (x: any) => parsed.push(x));
  p.parse(bytes(broker.received[0]));
  t.deepEqual(parsed.map((x) => x.cmd), ['connect', 'publish']);
  t.is(parsed[0].clientId, 'node-07');
  t.like(events.find((e) => e.type === 'session-open'), { session: 1, clientId: 'node-07' });
  t.like(events.find((e) => e.type === 'skipped'), { bytes: 8 });
  t.like(gw.stats(), { sessions: 1, connected: 1, toBroker: { packets: 2 }, toBoard: { packets: 1 } });
});

test('relay: the broker closes → the board gets 0x00; a new CONNECT → a new broker connection; CONNECT in a session replaces it', async (t) => {
  const { uart, broker, events, gw, b } = await relayRig(t);
  let bc = broker.next();
  b.write(CONNECT);
  (await bc).destroy();
  await until(() => bytes(uart.received[0]).length === 2);
  t.deepEqual(bytes(uart.received[0]), Buffer.from([0x00, 0x00]), 'open, then the broker\'s close');
  t.like(events.find((e) => e.type === 'session-closed'), { reason: 'broker-closed', session: 1 });

  bc = broker.next();
  b.write(CONNECT);
  const second = await bc;
  let closed = false;
  second.on('close', () => (closed = true));
  const third = broker.next();
  b.write(CONNECT);
  await third;
  await until(() => closed);
  t.is(broker.accepted, 3);
  t.like(events.filter((e) => e.type === 'session-closed')[1], { reason: 'reconnect', session: 2 });
  t.is(bytes(uart.received[0]).length, 2, 'a board that redials is not sent 0x00');
});

test('relay: the board\'s 0x00 closes the broker side after its last packets; oversize and stalls drop the session with 0x00', async (t) => {
  const uart = await endpoint();
  const broker = await endpoint();
  const events: GatewayEvent[] = [];
  const board = uart.next();
  const gw = await startGateway({ uart: uart.url, broker: `mqtt://127.0.0.1:${broker.port}`, stallMs: 300, maxPacket: 512, onEvent: (e) => events.push(e) });
  t.teardown(async () => { await gw.stop(); await uart.close(); await broker.close(); });
  const b = await board;
  let bc = broker.next();
  b.write(Buffer.concat([CONNECT, PUB, PUB, Buffer.from([0x00])]));
  const first = await bc;
  await new Promise<void>((r) => first.on('end', () => r()));
  t.is(bytes(broker.received[0]).length, CONNECT.length + 2 * PUB.length, 'the frames before the 0x00 arrived');
  t.like(events.filter((e) => e.type === 'session-closed')[0], { reason: 'board-end', toBroker: { packets: 3 } });
  t.is(bytes(uart.received[0]).length, 1, 'no 0x00 back for the board\'s own end');

  bc = broker.next();
  b.write(Buffer.concat([CONNECT, B(publish('t', 'q'.repeat(600)))]));
  await bc;
  await until(() => bytes(uart.received[0]).length === 2);
  t.like(events.filter((e) => e.type === 'session-closed')[1], { reason: 'oversize' });
  await new Promise((r) => setTimeout(r, 50));
  t.true(bytes(broker.received[1]).length <= CONNECT.length, 'the oversize packet never reached the broker');

  bc = broker.next();
  b.write(Buffer.concat([CONNECT, PUB.subarray(0, 20)]));
  await bc;
  await until(() => bytes(uart.received[0]).length === 3, 3000);
  t.like(events.filter((e) => e.type === 'session-closed')[2], { reason: 'stalled' });
});

test('relay: an oversize or malformed packet from the broker never reaches the board: 0x00 instead', async (t) => {
  const uart = await endpoint();
  const broker = await endpoint();
  const board = uart.next();
  const gw = await startGateway({ uart: uart.url, broker: `mqtt://127.0.0.1:${broker.port}` });
  t.teardown(async () => { await gw.stop(); await uart.close(); await broker.close(); });
  const b = await board;
  let bc = broker.next();
  b.write(CONNECT);
  (await bc).write(B(publish('sealmq/node-07/down', 'z'.repeat(3000))));
  await until(() => bytes(uart.received[0]).length === 2);
  bc = broker.next();
  b.write(CONNECT);
  (await bc).write(Buffer.concat([CONNACK, Buffer.from([0xf0, 0x00])]));
  await until(() => bytes(uart.received[0]).length === 2 + CONNACK.length + 1);
  t.deepEqual(bytes(uart.received[0]), Buffer.concat([Buffer.from([0, 0]), CONNACK, Buffer.from([0])]));
});

test('relay: an unreachable broker → 0x00 to the board; a lost UART is reopened; garbage never stops the gateway', async (t) => {
  const uart = await endpoint();
  const events: GatewayEvent[] = [];
  let board = uart.next();
  const dead = await endpoint();
  const deadPort = dead.port;
  await dead.close();
  const gw = await startGateway({ uart: uart.url, broker: `mqtt://127.0.0.1:${deadPort}`, retryMinMs: 50, onEvent: (e) => events.push(e) });
  t.teardown(async () => { await gw.stop(); await uart.close(); });
  let b = await board;
  b.write(CONNECT);
  await until(() => bytes(uart.received[0]).length === 2);
  t.like(events.find((e) => e.type === 'session-closed'), { reason: 'broker-unreachable' });

  board = uart.next();
  b.destroy();
  b = await board;
  await until(() => events.filter((e) => e.type === 'uart-open').length === 2);
  t.true(events.some((e) => e.type === 'uart-closed'));
  await until(() => bytes(uart.received[1]).length === 1);

  let seed = 7;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 16) & 255;
  for (let i = 0; i < 200; i++) {
    const g = Buffer.alloc(64);
    for (let j = 0; j < g.length; j++) g[j] = rnd();
    b.write(g);
  }
  await new Promise((r) => setTimeout(r, 300));
  t.true(gw.stats().skipped > 0);
  t.is(gw.stats().uartOpens, 2, 'still on the same cable');
});

test('CLI: sealmq gateway exits 4 with one clear line when the UART cannot be opened; 2 on a bad URL; --help has examples', async (t) => {
  const dead = await endpoint();
  const port = dead.port;
  await dead.close();
  const r = await sealmq(['gateway', '--uart', `tcp://127.0.0.1:${port}`, '--broker', 'mqtt://127.0.0.1:1883']);
  t.is(r.code, 4);
  t.regex(r.stderr, new RegExp(`cannot open the UART tcp://127\\.0\\.0\\.1:${port}: ECONNREFUSED`));
  const nodev = await sealmq(['gateway', '--uart', '/dev/ttyNOPE0', '--broker', 'mqtt://127.0.0.1:1883']);
  t.is(nodev.code, 4);
  t.regex(nodev.stderr, /cannot open the UART \/dev\/ttyNOPE0: no such device/);
  const bad = await sealmq(['gateway', '--uart', 'tcp://127.0.0.1:1', '--broker', 'http://x']);
  t.is(bad.code, 2);
  const help = await sealmq(['gateway', '--help']);
  t.is(help.code, 0);
  t.regex(help.stdout, /Examples:\n\s+sealmq gateway --uart tcp:\/\//);
});

test('CLI: sealmq gateway --json prints JSON lines per event, and SIGTERM stops it cleanly (exit 0, the board told)', async (t) => {
  const uart = await endpoint();
  const broker = await endpoint();
  t.teardown(async () => { await uart.close(); await broker.close(); });
  const { spawn } = await import('node:child_process');
  const { fileURLToPath } = await import('node:url');
  const bin = fileURLToPath(new URL('../../bin/sealmq.js', import.meta.url));
  const board = uart.next();
  const p = spawn(process.execPath, [bin, 'gateway', '--uart', uart.url, '--broker', `mqtt://127.0.0.1:${broker.port}`, '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  p.stdout!.on('data', (d) => (out += d));
  const b = await board;
  const bc = broker.next();
  b.write(CONNECT);
  await bc;
  await until(() => out.includes('"session-open"'), 10_000);
  const code = await new Promise<number | null>((r) => {
    p.once('exit', (c) => r(c));
    p.kill('SIGTERM');
  });
  t.is(code, 0);
  const events = out.trim().split('\n').map((l) => JSON.parse(l));
  t.deepEqual(events.map((e) => e.type), ['uart-open', 'session-open', 'session-closed', 'stopped']);
  t.like(events[2], { reason: 'stopped', clientId: 'node-07' });
  t.true(events.every((e) => typeof e.at === 'string'));
  await until(() => bytes(uart.received[0]).length === 2);
  t.deepEqual(bytes(uart.received[0]), Buffer.from([0, 0]), 'open, then the stop');
});

// The emulated board's second UART (a "uart" network profile, boards/emulated-uart.json): the global the
// profile names (Serial2) as Espruino's Serial offers it (setup, write, on('data') with binary strings,
// removeAllListeners), withheld on boards without one; and `sealmq emulate --uart` serving it on TCP.
import test from 'ava';
import { connect } from 'node:net';
import { loadProfile } from '../host/emulator/profile.js';
import { spawnEmulator } from '../host/emulator/process.js';
import { repoRoot } from '../host/protocol/vectors.js';
import { consoleBoard, tmpFlash } from './emulator-helpers.js';

const uartProfile = () => loadProfile('emulated-uart', repoRoot());

test('Serial2 on a uart board: setup, write bytes out, data events as binary strings, removeAllListeners; nothing before setup', (t) => {
  const c = consoleBoard({ profile: uartProfile() });
  const out: Buffer[] = [];
  c.board.on('uart', (b: Buffer) => out.push(b));
  t.regex(c.type('typeof Serial2.setup+" "+typeof Serial1\r'), /="function undefined"/);
  c.type('Serial2.write("early")\r');
  c.board.uartWrite(Buffer.from('lost'));
  t.is(out.length, 0, 'a UART that is not set up sends and receives nothing');
  c.type('Serial2.setup(115200);var got=[];Serial2.on("data",function(d){got.push(d)});Serial2.write("\\x10\\x00\\xff",[1,2],65)\r');
  t.deepEqual([...Buffer.concat(out)], [0x10, 0x00, 0xff, 1, 2, 65]);
  c.board.uartWrite(Buffer.from([0x20, 0x02, 0x00, 0xff]));
  t.regex(c.type('got.length+" "+typeof got[0]\r'), /="1 string"/);
  t.regex(c.type('got[0].length+","+got[0].charCodeAt(3)\r'), /="4,255"/);
  c.type('Serial2.removeAllListeners("data")\r');
  c.board.uartWrite(Buffer.from('more'));
  t.regex(c.type('got.length\r'), /=1/);
  c.board.close();
});

test('Serial2 with no data listener keeps what arrives, up to 512 bytes, for available() and read() (jswrap_stream.c); a listener attached later gets only what comes after', (t) => {
  const c = consoleBoard({ profile: uartProfile() });
  c.type('Serial2.setup(9600)\r');
  c.board.uartWrite(Buffer.from('more'));
  c.board.uartWrite(Buffer.from([0x00, 0xff]));
  t.regex(c.type('Serial2.available()\r'), /=6/);
  t.regex(c.type('JSON.stringify(Serial2.read(2))\r'), /="\\"mo\\""/);
  t.regex(c.type('var r=Serial2.read();r.length+","+r.charCodeAt(2)+","+r.charCodeAt(3)+","+Serial2.available()\r'), /="4,0,255,0"/);
  t.regex(c.type('JSON.stringify(Serial2.read())\r'), /="\\"\\""/, 'nothing kept: an empty string');
  c.board.uartWrite(Buffer.alloc(600, 0x41));
  t.regex(c.type('Serial2.available()\r'), /=512/, 'Espruino keeps at most STREAM_MAX_BUFFER_SIZE');
  c.type('var got=[];Serial2.on("data",function(d){got.push(d)})\r');
  c.board.uartWrite(Buffer.from('new'));
  t.regex(c.type('got.join("")+" "+Serial2.available()\r'), /="new 512"/);
  c.board.close();
});

test('no UART global on a board whose profile has none', (t) => {
  const c = consoleBoard({ profile: loadProfile('emulated', repoRoot()) });
  t.regex(c.type('typeof Serial2\r'), /="undefined"/);
  c.board.close();
});

test('sealmq emulate --uart serves the UART on TCP and prints its URL; refused on a board without one', async (t) => {
  const emu = await spawnEmulator({ name: 'uart-serve', flashFile: tmpFlash('uart-serve'), board: 'emulated-uart', uart: 'tcp://127.0.0.1:0' });
  t.teardown(() => emu.stop());
  t.regex(emu.uart!, /^tcp:\/\/127\.0\.0\.1:\d+$/);
  const port = Number(/:(\d+)$/.exec(emu.uart!)![1]);
  const s = connect(port, '127.0.0.1');
  await new Promise<void>((r) => s.once('connect', () => r()));
  s.destroy();
  await t.throwsAsync(spawnEmulator({ name: 'no-uart', flashFile: tmpFlash('no-uart'), board: 'emulated', uart: 'tcp://127.0.0.1:0' }), { message: /has no UART for MQTT/ });
});

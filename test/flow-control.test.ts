// XON/XOFF flow control (src/jsdevices.c): a board whose input queue passes 6/8 full sends XOFF (0x13) and
// XON (0x11) once it has drained to 3/8. The host links pause writes between the two and strip both from
// what they pass on. Against an emulated board with a small, slowly drained input queue: a link that
// honours XOFF loses nothing; one that does not (xonXoff: false) overruns the queue and bytes are lost.
import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EmulatedBoard } from '../host/emulator/board.js';
import { ConsoleServer } from '../host/emulator/console-server.js';
import { GatedWriter, XonXoffGate } from '../host/link/console-link.js';
import { connectRepl } from '../host/link/repl.js';
import { readBackHash, sha256Hex, uploadFile } from '../host/link/storage-files.js';
import { TcpLink } from '../host/link/tcp-link.js';

test('the gate strips XON/XOFF from received bytes and holds writes from XOFF to XON', async (t) => {
  const gate = new XonXoffGate({ sliceBytes: 4 });
  const wrote: string[] = [];
  const w = new GatedWriter(gate, async (b) => void wrote.push(b.toString('latin1')));
  t.deepEqual([...gate.filter(Uint8Array.from([0x41, 0x13, 0x42]))], [0x41, 0x42]);
  t.true(gate.isPaused);
  const done = w.write(Buffer.from('abcdefgh'));
  await new Promise((r) => setTimeout(r, 20));
  t.deepEqual(wrote, [], 'nothing leaves while the board said XOFF');
  gate.filter(Uint8Array.from([0x11]));
  await done;
  t.deepEqual(wrote, ['abcd', 'efgh'], 'written in slices after XON');
  const off = new XonXoffGate({ xonXoff: false });
  t.deepEqual([...off.filter(Uint8Array.from([0x13, 0x11]))], [0x13, 0x11], 'flow control off: bytes pass untouched');
  t.false(off.isPaused);
});

test('an XOFF never followed by XON stops holding writes after the timeout', async (t) => {
  const gate = new XonXoffGate({ xoffTimeoutMs: 50 });
  gate.filter(Uint8Array.from([0x13]));
  t.true(gate.isPaused);
  await gate.ready();
  t.false(gate.isPaused);
});

async function slowBoard(t: { teardown: (f: () => void | Promise<void>) => void }, name: string) {
  const dir = mkdtempSync(join(tmpdir(), 'sealmq-flow-'));
  const board = new EmulatedBoard({ name, flashFile: join(dir, `${name}.flash`), banner: false });
  // 256 bytes of input queue drained at 9600 baud behind an unthrottled cable: a fast sender overruns it.
  const server = new ConsoleServer(board, { inputQueue: { bytes: 256, drainBaud: 9600 } });
  const url = await server.listen(0);
  board.powerOn();
  t.teardown(async () => {
    await server.close();
    board.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { board, server, url };
}

const blob = new Uint8Array(3000).map((_, i) => (i * 13 + 1) & 255);

test.serial('a link that honours XOFF fills the slow board\'s input queue without losing a byte', async (t) => {
  const { board, server, url } = await slowBoard(t, 'honours');
  const link = new TcpLink(url, 5000, { sliceBytes: 16 });
  await link.open();
  t.teardown(() => link.close());
  const repl = await connectRepl(link, { timeoutMs: 20_000 });
  const r = await uploadFile(repl, 'blob.bin', blob, { transfer: 'repl', chunkSize: 1024 });
  t.is(r.method, 'repl');
  t.is((await readBackHash(repl, 'blob.bin'))?.sha256, sha256Hex(blob));
  t.deepEqual([...board.readFile('blob.bin')!], [...blob]);
  t.is(server.inputQueue!.lost, 0);
  t.true(server.inputQueue!.xoffs > 0, 'the board did say XOFF');
  t.true(link.flow.xoffs > 0, 'and the link heard it');
  // Packets over the same cable: also whole.
  t.is((await uploadFile(repl, 'pk.bin', blob)).method, 'packet');
  t.deepEqual([...board.readFile('pk.bin')!], [...blob]);
  t.is(server.inputQueue!.lost, 0);
});

test.serial('a link that ignores XOFF overruns the same board: bytes are lost and the upload fails', async (t) => {
  const { server, url } = await slowBoard(t, 'ignores');
  const link = new TcpLink(url, 5000, { xonXoff: false });
  await link.open();
  t.teardown(() => link.close());
  const repl = await connectRepl(link, { timeoutMs: 3000 });
  await t.throwsAsync(uploadFile(repl, 'blob.bin', blob, { transfer: 'repl', chunkSize: 1024 }));
  t.true(server.inputQueue!.lost > 0, `lost ${server.inputQueue!.lost} bytes`);
});

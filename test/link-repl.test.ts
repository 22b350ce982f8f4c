// The host's Repl over a console link: markers, interleaved board logs, board errors, uploads in chunks and
// the read-back hash (computed on the board with crypto, or read back when the build has none).
import test from 'ava';
import { EmulatedLink } from '../host/link/emulated-link.js';
import { connectRepl, consoleLines, byteStringLiteral } from '../host/link/repl.js';
import { uploadFile, readBackHash, sha256Hex } from '../host/link/storage-files.js';
import { SealmqError } from '../host/errors.js';
import { tmpFlash } from './emulator-helpers.js';

const emulated = (name: string, nativeCrypto = true) => new EmulatedLink({ name, flashFile: tmpFlash(name), nativeCrypto });

test('runs commands and returns the lines they printed', async (t) => {
  const link = emulated('r1');
  const r = await connectRepl(link);
  t.deepEqual(await r.run('print(1+2); print("two\\nlines")'), ['3', 'two', 'lines']);
  t.deepEqual(await r.run('var kept = 42'), []);
  t.is(await r.eval<number>('kept'), 42);
  t.deepEqual(await r.eval('({a:[1,"x"]})'), { a: [1, 'x'] });
  t.is(await r.eval('undefined'), undefined);
  link.board.close();
});

test('the board\'s own log lines go to onLog, never into a command\'s output', async (t) => {
  const link = emulated('r2');
  const logs: string[] = [];
  const r = await connectRepl(link, { onLog: (l) => logs.push(l) });
  await r.run('setInterval(function(){ print("log: tick"); }, 0)');
  for (let i = 0; i < 30; i++) t.deepEqual(await r.run(`print("a${i}"); print("b${i}")`), [`a${i}`, `b${i}`]);
  t.true(logs.length > 0);
  t.true(logs.every((l) => l === 'log: tick'));
  link.board.close();
});

test('an error thrown on the board rejects with a device error carrying its message', async (t) => {
  const link = emulated('r3');
  const r = await connectRepl(link);
  const e = await t.throwsAsync(r.run('throw new Error("bad thing")'), { instanceOf: SealmqError });
  t.is(e!.kind, 'device');
  t.regex(e!.message, /emulated:r3: Error: bad thing/);
  await t.throwsAsync(r.run('var {x} = {}'), { message: /could not parse the command: Uncaught SyntaxError/ });
  t.deepEqual(await r.run('print("still fine")'), ['still fine']);
  link.board.close();
});

test('a board that loses power mid-session: the next command times out naming the port', async (t) => {
  const link = emulated('r4');
  const r = await connectRepl(link, { timeoutMs: 200 });
  await link.board.powerCut();
  await t.throwsAsync(r.run('print(1)'), { instanceOf: SealmqError, message: /no answer from the board on emulated:r4/ });
});

for (const nativeCrypto of [true, false]) {
  test(`uploadFile in chunks, then readBackHash (${nativeCrypto ? 'board crypto' : 'no crypto: read back'})`, async (t) => {
    const link = emulated('up' + (nativeCrypto ? 'c' : 'n'), nativeCrypto);
    const r = await connectRepl(link);
    const data = new Uint8Array(2500).map((_, i) => (i * 31 + 7) & 255);
    const progress: number[] = [];
    await uploadFile(r, 'blob.bin', data, { chunkSize: 600, onProgress: (s) => progress.push(s) });
    t.deepEqual(progress, [600, 1200, 1800, 2400, 2500]);
    t.deepEqual([...link.board.readFile('blob.bin')!], [...data]);
    const h = await readBackHash(r, 'blob.bin');
    t.deepEqual(h, { sha256: sha256Hex(data), size: 2500, method: nativeCrypto ? 'board-crypto' : 'read-back' });
    t.is(await readBackHash(r, 'absent'), undefined);
    link.board.close();
  });
}

test('an upload interrupted by a power cut can simply be run again', async (t) => {
  const link = emulated('again');
  const r = await connectRepl(link, { timeoutMs: 300 });
  const data = new Uint8Array(2000).map((_, i) => i & 255);
  let cut = false;
  await t.throwsAsync(uploadFile(r, 'fw.js', data, {
    chunkSize: 500,
    onProgress: (s) => {
      if (s === 1000 && !cut) {
        cut = true;
        void link.board.powerCut();
      }
    },
  }));
  link.board.powerOn();
  const h1 = await readBackHash(await connectRepl(link), 'fw.js');
  t.not(h1?.sha256, sha256Hex(data), 'a half-written file does not pass the hash check');
  const r2 = await connectRepl(link);
  await uploadFile(r2, 'fw.js', data, { chunkSize: 500 });
  t.is((await readBackHash(r2, 'fw.js'))?.sha256, sha256Hex(data));
  link.board.close();
});

test('console text to lines: prompts, ANSI erase sequences and CRs are undone', (t) => {
  t.deepEqual(consoleLines('>\r\x1B[Jhello\r\n=3\r\n>'), { lines: ['hello', '=3'], rest: '>' });
  t.is(byteStringLiteral(new Uint8Array([0x41, 0x22, 0x5c, 0x00, 0xff])), '"A\\"\\\\\\x00\\xff"');
});

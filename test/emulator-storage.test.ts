// Storage on the emulated board: Espruino's API and semantics, persisted in a journaling flash file that
// survives power cuts (in-process and SIGKILL of the emulator process) and torn writes.
import test from 'ava';
import { readFileSync, writeFileSync, statSync } from 'node:fs';
import { consoleBoard, startEmulator, tmpFlash } from './emulator-helpers.js';
import { EmulatedBoard } from '../host/emulator/board.js';
import { FlashJournal } from '../host/emulator/flash-journal.js';
import { TcpLink } from '../host/link/tcp-link.js';
import { connectRepl } from '../host/link/repl.js';
import { EXIT_TORN_WRITE } from '../host/commands/emulate.js';

const say = (c: ReturnType<typeof consoleBoard>, code: string) => c.type(`\x10${code}\n`).replace(/\r\n>?$/, '');

test('read/write/readJSON/writeJSON/readArrayBuffer/list/erase/getFree', (t) => {
  const c = consoleBoard();
  const S = 'var S=require("Storage");';
  t.is(say(c, S + 'print(S.write("a","hello"), S.read("a"), S.read("a",1,3), typeof S.read("none"))'), 'true hello ell undefined');
  t.is(say(c, S + 'S.writeJSON("j",{x:1,"y-z":[1,"\\xff"]});print(S.read("j"), JSON.stringify(S.readJSON("j")))'), '{x:1,"y-z":[1,"\\xFF"]} {"x":1,"y-z":[1,"ÿ"]}');
  t.is(say(c, S + 'print(new Uint8Array(S.readArrayBuffer("a"))[0], S.list().join(), S.list(/^j/).join())'), '104 a,j j');
  t.is(say(c, S + 'S.erase("a");print(S.list().join(), typeof S.getFree())'), 'j number');
  t.is(say(c, S + 'S.write("b",new Uint8Array([0,255,128]));print(JSON.stringify(S.read("b")))'), '"\\u0000\xff\x80"');
  t.is(say(c, S + 'print(S.readJSON("b", true))'), 'undefined');
  c.board.close();
});

test('chunked writes: a file created at offset 0 with a size, filled later, never overwritten', (t) => {
  const c = consoleBoard();
  const S = 'var S=require("Storage");';
  t.is(say(c, S + 'S.write("f","Hello",0,14);print(JSON.stringify(S.read("f")))'), '"Hello\\u00ff\\u00ff\\u00ff\\u00ff\\u00ff\\u00ff\\u00ff\\u00ff\\u00ff"'.replace(/\\u00ff/g, 'ÿ'));
  t.is(say(c, S + 'S.write("f"," ",5);S.write("f","World!!!",6);print(S.read("f"))'), 'Hello World!!!');
  t.is(say(c, S + 'S.write("f","x",1)'), 'Uncaught Error: File already written with different data');
  t.is(say(c, S + 'S.write("f","0123456789abcdef",6)'), 'Uncaught Error: Too much data for file size');
  t.is(say(c, S + 'S.write("nofile","x",3)'), 'Uncaught Error: Unable to find or create file');
  t.is(say(c, S + 'S.write("f"," ",0);print(S.read("f"))'), ' ');
  c.board.close();
});

test('an identical rewrite costs no flash', (t) => {
  const c = consoleBoard();
  say(c, 'require("Storage").write("same","abc")');
  const size = statSync(c.board.flashFile).size;
  say(c, 'require("Storage").write("same","abc")');
  t.is(statSync(c.board.flashFile).size, size);
  c.board.close();
});

test('files persist across a power cut and E.reboot()', async (t) => {
  const flashFile = tmpFlash();
  const a = new EmulatedBoard({ name: 'p', flashFile, banner: false });
  a.powerOn();
  a.write('\x10require("Storage").write("k","v1");require("Storage").write("k","v2")\n');
  await a.powerCut();
  t.false(a.isOn);
  a.write('\x10require("Storage").write("k","after cut")\n');
  a.powerOn();
  t.deepEqual(Buffer.from(a.readFile('k')!).toString(), 'v2');
  a.reboot();
  await new Promise((r) => setImmediate(r));
  t.deepEqual(Buffer.from(a.readFile('k')!).toString(), 'v2');
  a.close();
  const b = new EmulatedBoard({ name: 'p2', flashFile, banner: false });
  b.powerOn();
  t.is(Buffer.from(b.readFile('k')!).toString(), 'v2');
  b.close();
});

test('a cut board never acts again: no timers, no output, no writes', async (t) => {
  const c = consoleBoard();
  c.type('\x10setInterval(function(){ print("alive"); require("Storage").write("t", String(Date.now())); }, 1)\n');
  await c.board.powerCut();
  const size = statSync(c.board.flashFile).size;
  c.clear();
  await new Promise((r) => setTimeout(r, 20));
  t.is(c.text(), '');
  t.is(statSync(c.board.flashFile).size, size);
});

test('torn writes: every prefix of a record leaves the previous value (or no file), never a corrupt one', async (t) => {
  const old = 'previous-value';
  const next = 'the-new-value-that-is-longer';
  const probe = new EmulatedBoard({ name: 'probe', flashFile: tmpFlash(), banner: false });
  probe.powerOn();
  const before = statSync(probe.flashFile).size;
  probe.write(`\x10require("Storage").write("x",${JSON.stringify(next)})\n`);
  const recordLength = statSync(probe.flashFile).size - before;
  probe.close();
  for (let n = 1; n < recordLength; n++) {
    for (const existed of [true, false]) {
      const b = new EmulatedBoard({ name: 'torn', flashFile: tmpFlash(), banner: false });
      b.powerOn();
      if (existed) b.write(`\x10require("Storage").write("x",${JSON.stringify(old)})\n`);
      const cut = b.powerCut({ torn: true, tornBytes: n });
      t.true(b.isOn, 'a torn cut waits for the next write');
      b.write(`\x10require("Storage").write("x",${JSON.stringify(next)});print("never")\n`);
      await cut;
      t.false(b.isOn);
      b.powerOn();
      const f = b.readFile('x');
      t.is(f && Buffer.from(f).toString(), existed ? old : undefined, `prefix ${n}/${recordLength}`);
      // The torn tail is gone, so the next write lands and reads back whole.
      b.write('\x10require("Storage").write("y","ok")\n');
      b.powerCut();
      b.powerOn();
      t.is(Buffer.from(b.readFile('y')!).toString(), 'ok');
      b.close();
    }
  }
});

test('a corrupted record (bad checksum) ends the replay there', (t) => {
  const flashFile = tmpFlash();
  const j = new FlashJournal(flashFile);
  j.append({ op: 'create', name: 'a', size: 3, data: new Uint8Array([1, 2, 3]) });
  j.append({ op: 'create', name: 'b', size: 3, data: new Uint8Array([4, 5, 6]) });
  j.close();
  const bytes = readFileSync(flashFile);
  bytes[bytes.length - 1] ^= 1;
  writeFileSync(flashFile, bytes);
  const k = new FlashJournal(flashFile);
  t.deepEqual([...k.files.keys()], ['a']);
  t.true(k.recoveredTail > 0);
  k.close();
});

test('compaction keeps the files and shrinks the journal; a full journal compacts itself', (t) => {
  const c = consoleBoard({ profile: { board: 'SMALL', totalVars: 16383, storageBytes: 4096, nativeCrypto: true, consoleBaud: 115200, baseVars: 100 } });
  for (let i = 0; i < 50; i++) say(c, `require("Storage").write("n", "value ${i} ${'x'.repeat(100)}")`);
  t.regex(Buffer.from(c.board.readFile('n')!).toString(), /^value 49 /);
  t.true(statSync(c.board.flashFile).size <= 4096);
  t.regex(say(c, `require("Storage").write("big", "${'y'.repeat(5000)}")`), /Uncaught Error: Unable to find or create file/);
  c.board.close();
});

test('the flash file survives SIGKILL of the emulator process; SIGUSR2 tears the next write and exits', async (t) => {
  const flashFile = tmpFlash('cli');
  const e = await startEmulator(['--name', 'cli', '--flash', flashFile]);
  const link = new TcpLink(e.url);
  const r = await connectRepl(link);
  await r.run('require("Storage").write("kept","yes")');
  e.child.kill('SIGKILL');
  await e.exited;
  await link.close();
  const e2 = await startEmulator(['--name', 'cli', '--flash', flashFile]);
  const link2 = new TcpLink(e2.url);
  const r2 = await connectRepl(link2);
  t.deepEqual(await r2.run('print(require("Storage").read("kept"))'), ['yes']);
  e2.child.kill('SIGUSR2');
  await e2.stdoutMatches(/^torn-write armed$/m);
  await r2.run('require("Storage").write("kept","overwritten")').catch(() => undefined);
  t.is((await e2.exited).code, EXIT_TORN_WRITE);
  await link2.close();
  const b = new EmulatedBoard({ name: 'after', flashFile, banner: false });
  b.powerOn();
  t.is(Buffer.from(b.readFile('kept')!).toString(), 'yes');
  b.close();
});

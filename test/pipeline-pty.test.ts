// flash + provision + verify as a person runs them, over a REAL pseudo-terminal (socat) into an emulated
// board, through the serialport package, against the embedded broker; then the bad inputs of the host
// pipeline: each is one clear error line, a non-zero exit, and nothing recorded.
import test from 'ava';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBroker } from '../host/broker/broker.js';
import { spawnEmulator } from '../host/emulator/process.js';
import { openRegistry } from '../host/registry/registry.js';
import { loginAs, sealmq, tmpHome } from './cli-helpers.js';

const PASS = 'pipeline test passphrase';
const VIEWER = 'viewer password, long enough';

test('flash, provision and verify over a real PTY (socat) into an emulated board', async (t) => {
  const home = tmpHome();
  const env = { SEALMQ_HOME: home, SEALMQ_PASSPHRASE: PASS };
  const reg = openRegistry({ home });
  await reg.unlock(PASS);
  await reg.addOperator({ name: 'vera', role: 'viewer', password: VIEWER, actor: 'test' });
  await loginAs(home, PASS); // flash and provision need an operator session (docs/OPERATORS.md)
  const broker = await startBroker({ registry: reg, listen: 'mqtt://127.0.0.1:0' });
  const pty = join(home, 'ttyEMU0');
  const board = await spawnEmulator({ name: 'pty-board', flashFile: join(home, 'pty-board.flash'), board: 'emulated', pty });
  t.teardown(async () => { await board.stop(); await broker.close(); reg.close(); });

  const flash = await sealmq(['flash', '--port', pty, '--board', 'emulated', '--json'], env);
  t.is(flash.code, 0, flash.stderr);
  const f = JSON.parse(flash.stdout);
  t.true(f.ok);
  t.is(f.sha256.length, 64);
  t.is(f.transfer, 'packet', 'the emulated 2v29 board takes packets');
  // --transfer repl: REPL writes even where packets would work, same bundle, same hash.
  const byRepl = await sealmq(['flash', '--port', pty, '--board', 'emulated', '--transfer', 'repl', '--json'], env);
  t.is(byRepl.code, 0, byRepl.stderr);
  t.like(JSON.parse(byRepl.stdout), { ok: true, transfer: 'repl', sha256: f.sha256 });
  const bad = await sealmq(['flash', '--port', pty, '--board', 'emulated', '--transfer', 'zmodem'], env);
  t.is(bad.code, 2);
  t.regex(bad.stderr, /--transfer must be one of auto, packet, repl/);

  const prov = await sealmq(['provision', '--port', pty, '--device', 'pty-board', '--broker', broker.url, '--interval', '0.2', '--json'], env);
  t.is(prov.code, 0, prov.stderr);
  t.is(JSON.parse(prov.stdout).epoch, 0);
  t.is(reg.getDevice('pty-board')?.status, 'active');
  t.false(prov.stdout.includes(reg.exportSecrets('pty-board', 'test').root), 'no secret printed');

  const again = await sealmq(['provision', '--port', pty, '--device', 'pty-board', '--broker', broker.url], env);
  t.is(again.code, 3, 'a provisioned device is not silently re-keyed');
  t.regex(again.stderr, /already provisioned.*\n.*--rekey/);

  const v = await sealmq(['verify', '--broker', broker.url, '--user', 'vera', '--count', '5', '--seconds', '30', '--json'], { ...env, SEALMQ_PASSWORD: VIEWER });
  t.is(v.code, 0, v.stderr);
  const lines = v.stdout.trim().split('\n').map((l) => JSON.parse(l));
  t.is(lines.length, 5);
  t.true(lines.every((r) => r.ok && r.device === 'pty-board'));
  const counters = lines.map((r) => r.counter);
  t.deepEqual([...counters].sort((a, b) => a - b), counters, 'strictly increasing');
  t.is(new Set(counters).size, counters.length);
});

test('emulate --pty: a missing directory or a path that holds a file is refused before any board starts, and the file is left as it was', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sealmq-ptypath-'));
  for (const target of ['emulated', 'qemu', 'espruino']) {
    const missing = await sealmq(['emulate', '--target', target, '--name', 'p1', '--pty', join(dir, 'no-such-dir', 'tty0'), '--flash', join(dir, 'f')]);
    t.is(missing.code, 3, missing.stderr);
    t.regex(missing.stderr, /--pty .*no-such-dir\/tty0: the directory .*no-such-dir does not exist/);
    t.notRegex(missing.stderr, /spare|socat/);
  }
  const file = join(dir, 'notes.txt');
  writeFileSync(file, 'keep me');
  const taken = await sealmq(['emulate', '--name', 'p1', '--pty', file, '--flash', join(dir, 'f')]);
  t.is(taken.code, 3, taken.stderr);
  t.regex(taken.stderr, /already there and it is not a pseudo-terminal link/);
  t.is(readFileSync(file, 'utf8'), 'keep me');
});

test('bad input: nonexistent port, silent board, wrong passphrase, malformed ids: one line, non-zero, nothing recorded', async (t) => {
  const home = tmpHome();
  const reg = openRegistry({ home });
  await reg.unlock(PASS);
  reg.close();
  await loginAs(home, PASS);
  const env = { SEALMQ_HOME: home, SEALMQ_PASSPHRASE: PASS };
  const oneLine = (s: string) => s.trim().split('\n').filter((l) => !l.startsWith('  →')).length === 1;

  for (const args of [['flash', '--port', '/dev/ttyNOPE9'], ['provision', '--port', '/dev/ttyNOPE9', '--device', 'n1']]) {
    const r = await sealmq(args, env);
    t.is(r.code, 4, args.join(' '));
    t.regex(r.stderr, /no such port: \/dev\/ttyNOPE9/);
    t.true(oneLine(r.stderr), r.stderr);
  }

  const silent = createServer(() => { /* accepts, never answers */ });
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  const port = `tcp://127.0.0.1:${(silent.address() as any).port}`;
  t.teardown(() => silent.close());
  for (const args of [['flash', '--port', port, '--board', 'emulated'], ['provision', '--port', port, '--device', 'n1']]) {
    const r = await sealmq(args, env);
    t.is(r.code, 4, args.join(' '));
    t.regex(r.stderr, new RegExp(port.replace(/[/.]/g, '\\$&')));
    t.true(oneLine(r.stderr), r.stderr);
  }

  const wrong = await sealmq(['provision', '--port', port, '--device', 'n1'], { SEALMQ_HOME: home, SEALMQ_PASSPHRASE: 'not the passphrase' });
  t.is(wrong.code, 5);
  t.regex(wrong.stderr, /passphrase/);
  t.true(oneLine(wrong.stderr), wrong.stderr);

  for (const id of ['a/b', '#', '+', '', 'x'.repeat(33)]) {
    const r = await sealmq(['provision', '--port', port, '--device', id], env);
    t.is(r.code, 3, JSON.stringify(id));
    t.regex(r.stderr, /device id .* is not valid/);
    t.true(oneLine(r.stderr), r.stderr);
  }
  const after = openRegistry({ home });
  t.deepEqual(after.listDevices(), []);
  after.close();
});

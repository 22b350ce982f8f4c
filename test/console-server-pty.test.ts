// The console server's pseudo-terminal (host/emulator/console-server.ts): PATH names a terminal again after a
// tool has used it, even when the spare socat made for the next tool never comes up (socat slow to start on a
// loaded machine, or failing): a fresh one takes PATH instead of PATH staying gone.
import test from 'ava';
import { EventEmitter } from 'node:events';
import { existsSync, mkdtempSync, openSync, closeSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConsoleServer } from '../host/emulator/console-server.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(cond: () => boolean, ms: number): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end; await sleep(20)) if (cond()) return true;
  return cond();
}

test('a spare socat that never comes up does not leave PATH gone: a fresh one takes it', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sealmq-pty-'));
  const path = join(dir, 'ttyTEST0');
  const board = Object.assign(new EventEmitter(), { write: () => undefined });
  const server = new ConsoleServer(board, { ptyPath: path });
  t.teardown(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });
  await server.listen(0);
  t.true(existsSync(path));
  // The next spare made (the standby for the tool after the next one) fails as a socat that never made its terminal.
  const s = server as unknown as { spawnSpare: () => { ready: Promise<void> }; onPath: unknown };
  const real = s.spawnSpare.bind(server);
  let failing = 1;
  s.spawnSpare = () => {
    const spare = real();
    if (failing-- > 0) spare.ready = spare.ready.then(() => Promise.reject(new Error('socat did not create the pseudo-terminal within 5 s')));
    return spare;
  };
  // A tool holds PATH until socat has noticed it (wait-slave) and the server has moved on.
  const tool = async (moved: () => boolean) => {
    const fd = openSync(path, 'r+');
    const ok = await until(moved, 5000);
    closeSync(fd);
    return ok;
  };
  // Tool 1: the standby made ahead moves onto PATH, and the next standby, made now, is the failing one.
  const first = readlinkSync(path);
  t.true(await tool(() => existsSync(path) && readlinkSync(path) !== first), 'tool 1: the standby took PATH');
  // Tool 2: the spare due next is the failing one.
  const onPath = s.onPath;
  t.true(await tool(() => s.onPath !== onPath), 'tool 2: the server moved on');
  const failed = s.onPath;
  // (Terminal names are reused, so "a new terminal" is the spare on PATH, not a new /dev/pts number.)
  const placed = () => {
    const p = s.onPath as { pty?: string } | undefined;
    return !!p && p !== failed && !!p.pty && existsSync(path) && readlinkSync(path) === p.pty;
  };
  t.true(await until(placed, 8000), 'a fresh spare names PATH');
  const next = s.onPath;
  t.true(await tool(() => s.onPath !== next), 'tool 3 is served through it');
});

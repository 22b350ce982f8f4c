// Durable replay state by reservation ahead (host/verifier/reserve.ts, docs/PROTOCOL.md "Replay state on
// the host"): a verifier killed with SIGKILL at random moments never accepts a frame twice and loses at most
// its reservation; a clean close loses nothing; a revoke made by another process refuses the next frame.
import test from 'ava';
import { fork, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { toHex, utf8Encode } from '../core/bytes.js';
import { deriveKeys, seal } from '../core/frame.js';
import { nodePrimitives as P } from '../host/protocol/node-primitives.js';
import Database from 'better-sqlite3';
import { REGISTRY_KDF } from '../host/registry/crypto.js';
import { openRegistry } from '../host/registry/registry.js';
import { RegistryStore } from '../host/registry/store.js';
import { DEFAULT_RESERVE } from '../host/verifier/reserve.js';
import { registryVerifier } from '../host/verifier/run.js';

const PASS = 'reserve test passphrase';
const CHILD = fileURLToPath(new URL('./reserve-crash-child.js', import.meta.url));
const REGISTRY = fileURLToPath(new URL('../host/registry/registry.js', import.meta.url));
const RUN = fileURLToPath(new URL('../host/verifier/run.js', import.meta.url));

async function setup(ids: string[]) {
  const home = mkdtempSync(join(tmpdir(), 'sealmq-reserve-'));
  const reg = openRegistry({ home });
  await reg.unlock(PASS);
  const roots: Record<string, Uint8Array> = {};
  for (const id of ids) {
    roots[id] = new Uint8Array(randomBytes(32));
    reg.recordProvisioned({ id, root: roots[id], otpSeed: new Uint8Array(randomBytes(20)), actor: 'test' });
  }
  return { home, reg, roots };
}

const frame = (root: Uint8Array, id: string, counter: number, epoch = 0) =>
  seal(P, deriveKeys(P, root, id, 'up', epoch), id, 'up', 'up', epoch, counter, utf8Encode(`{"t":null,"d":{"n":${counter}}}`));

test('a crash loses at most the reservation and accepts no old frame; a clean close loses nothing', async (t) => {
  const { home, reg, roots } = await setup(['res-a']);
  const frames = Array.from({ length: 200 }, (_, i) => frame(roots['res-a'], 'res-a', i + 1));
  const first = registryVerifier(reg, {});
  for (const f of frames.slice(0, 5)) t.true(first.verifier.handle('sealmq/res-a/up', f).ok);
  const bound = reg.getReceiveState('res-a', 'up')!.window.top;
  t.true(bound > 5 && bound - 5 <= DEFAULT_RESERVE, `bound ${bound}`);
  // A crash: the first verifier's memory is gone, only the bound is stored.
  const second = registryVerifier(reg, {});
  for (let c = 1; c <= bound; c++) t.is((second.verifier.handle('sealmq/res-a/up', frames[c - 1]) as { reason?: string }).reason, 'stale-after-restart');
  t.true(second.verifier.handle('sealmq/res-a/up', frames[bound]).ok);
  t.true(second.verifier.handle('sealmq/res-a/up', frames[bound + 1]).ok);
  // A clean close writes the exact window back: the next verifier accepts the very next counter.
  second.replay.flush();
  t.is(reg.getReceiveState('res-a', 'up')!.window.top, bound + 2);
  const third = registryVerifier(reg, {});
  t.is((third.verifier.handle('sealmq/res-a/up', frames[bound + 1]) as { reason?: string }).reason, 'replay');
  t.true(third.verifier.handle('sealmq/res-a/up', frames[bound + 2]).ok);
  reg.close();
  void home;
});

test('a revoke made by another process refuses the device\'s next frame', async (t) => {
  const { home, reg, roots } = await setup(['rev-a', 'rev-b']);
  t.teardown(() => reg.close());
  const { verifier } = registryVerifier(reg, {});
  t.true(verifier.handle('sealmq/rev-a/up', frame(roots['rev-a'], 'rev-a', 1)).ok);
  t.true(verifier.handle('sealmq/rev-a/up', frame(roots['rev-a'], 'rev-a', 2)).ok);
  const script = `import { openRegistry } from ${JSON.stringify(REGISTRY)}; const r = openRegistry({ home: process.argv[1] }); r.revokeDevice('rev-a', 'test:other-process'); r.close();`;
  const other = spawnSync(process.execPath, ['--input-type=module', '-e', script, home], { encoding: 'utf8' });
  t.is(other.status, 0, other.stderr);
  t.is((verifier.handle('sealmq/rev-a/up', frame(roots['rev-a'], 'rev-a', 3)) as { reason?: string }).reason, 'revoked');
  t.true(verifier.handle('sealmq/rev-b/up', frame(roots['rev-b'], 'rev-b', 1)).ok);
});

/** Runs an ESM script in another node process with the registry module; stdin carries what it needs (never argv for secrets). */
const otherProcess = (body: string, home: string, input = '') => spawnSync(process.execPath, ['--input-type=module', '-e',
  `import { readFileSync } from 'node:fs'; import { openRegistry } from ${JSON.stringify(REGISTRY)}; import { registryVerifier } from ${JSON.stringify(RUN)};
   const input = readFileSync(0, 'utf8'); const r = openRegistry({ home: process.argv[1] }); ${body}; r.close();`, home], { encoding: 'utf8', input });

test('a rotation asked for by another process is seen at the next frame; an epoch moved by another process refuses the old epoch at once', async (t) => {
  const { home, reg, roots } = await setup(['rot-a']);
  t.teardown(() => reg.close());
  const root = roots['rot-a'];
  const { verifier } = registryVerifier(reg, {});
  const reason = (f: Uint8Array) => (verifier.handle('sealmq/rot-a/up', f) as { reason?: string }).reason;
  t.true(verifier.handle('sealmq/rot-a/up', frame(root, 'rot-a', 1)).ok);
  t.true(verifier.handle('sealmq/rot-a/up', frame(root, 'rot-a', 2)).ok);
  t.is(reason(frame(root, 'rot-a', 1, 1)), 'unrequested-epoch', 'epoch 1 before anyone asked for it');
  // `sealmq devices rotate`'s registry step, in another process (the registry stays locked there).
  const asked = otherProcess(`r.requestRotation('rot-a', 'test:other-process')`, home);
  t.is(asked.status, 0, asked.stderr);
  const moved = verifier.handle('sealmq/rot-a/up', frame(root, 'rot-a', 1, 1));
  t.like(moved, { ok: true, epoch: 1, epochMoved: 1 }, 'the next frame under the asked-for epoch is accepted');
  t.is(reg.getDevice('rot-a')!.epoch, 1);
  t.is(reason(frame(root, 'rot-a', 3, 0)), 'old-epoch');

  // Another process (a second verifier) moves the device on to epoch 2: this verifier refuses epoch 1 at its next frame.
  const asked2 = otherProcess(`r.requestRotation('rot-a', 'test:other-process')`, home);
  t.is(asked2.status, 0, asked2.stderr);
  const f2 = toHex(frame(root, 'rot-a', 1, 2));
  const other = otherProcess(`const [pass, hex] = input.split('\\n'); await r.unlock(pass); const v = registryVerifier(r, {});
    const res = v.verifier.handle('sealmq/rot-a/up', new Uint8Array(Buffer.from(hex, 'hex'))); v.replay.flush();
    if (!res.ok) throw new Error(res.reason)`, home, `${PASS}\n${f2}`);
  t.is(other.status, 0, other.stderr);
  t.is(reg.getDevice('rot-a')!.epoch, 2);
  t.is(reason(frame(root, 'rot-a', 2, 1)), 'old-epoch', 'epoch 1 refused at the next frame after the other process moved the device');
  t.true(verifier.handle('sealmq/rot-a/up', frame(root, 'rot-a', 2000, 2)).ok, 'epoch 2 above the other process\'s window');
});

test('grouped (as sealmq verify runs): a revoke and a rotation by another process apply from the next I/O turn on', async (t) => {
  const { home, reg, roots } = await setup(['grp-a', 'grp-b']);
  t.teardown(() => reg.close());
  const got: { ok: boolean; reason?: string; device: string | null; counter?: number }[] = [];
  // Every turn as after a pause: frames queued and handled after the I/O phase, behind the file watcher.
  const { take, group } = registryVerifier(reg, { group: true, busyMs: -1, onResult: (r) => got.push(r) });
  const turn = () => new Promise((resolve) => setImmediate(resolve));
  const send = async (id: string, c: number, epoch = 0) => {
    const before = got.length;
    take(`sealmq/${id}/up`, frame(roots[id], id, c, epoch));
    await turn();
    t.is(got.length, before + 1, 'one result per frame, reported by the end of the turn');
    return got[got.length - 1];
  };
  for (let c = 1; c <= 3; c++) t.true((await send('grp-a', c)).ok);
  t.true((await send('grp-b', 1)).ok);
  t.is(otherProcess(`r.requestRotation('grp-a', 'test:other-process')`, home).status, 0);
  t.like(await send('grp-a', 1, 1), { ok: true });
  t.is(otherProcess(`r.revokeDevice('grp-b', 'test:other-process')`, home).status, 0);
  t.like(await send('grp-b', 2), { ok: false, reason: 'revoked' });
  // A burst in one turn, past the reservation: frames beyond it are reported only after the turn's one
  // commit, all in arrival order.
  const before = got.length;
  const commits = group!.commits;
  for (let c = 2; c <= 1201; c++) take('sealmq/grp-a/up', frame(roots['grp-a'], 'grp-a', c, 1));
  take('sealmq/grp-a/up', frame(roots['grp-a'], 'grp-a', 50, 1));
  t.is(got.length, before, 'handled after the I/O phase that took them');
  await turn();
  t.is(got.length, before + 1201);
  t.is(group!.commits, commits + 1, 'one commit for the burst');
  t.deepEqual(got.slice(before, before + 1200).map((r) => r.counter), Array.from({ length: 1200 }, (_, i) => i + 2));
  t.like(got[got.length - 1], { ok: false, reason: 'stale' }, 'left of the window');
  t.true(reg.getReceiveState('grp-a', 'up')!.window.top >= 1201, 'the reservation covering the burst is durable');
  group!.flush();
  t.true(reg.auditLog({ action: 'verify.rejected' }).length >= 2);
});

test('grouped and busy (frames handled as they are read): a revoke by another process refuses the device\'s frames from the next socket read on', async (t) => {
  const { home, reg, roots } = await setup(['busy-a', 'busy-b']);
  t.teardown(() => reg.close());
  const got: { ok: boolean; reason?: string; device: string | null; counter?: number }[] = [];
  // Every turn as under load: frames handled inside take(), one SQLite check per socket read.
  const { take, drain } = registryVerifier(reg, { group: true, busyMs: Infinity, onResult: (r) => got.push(r) });
  const turn = () => new Promise((resolve) => setImmediate(resolve));
  for (let c = 1; c <= 3; c++) take('sealmq/busy-a/up', frame(roots['busy-a'], 'busy-a', c), c === 1);
  take('sealmq/busy-b/up', frame(roots['busy-b'], 'busy-b', 1), true);
  await turn();
  t.deepEqual(got.map((r) => r.ok), [true, true, true, true]);
  t.is(otherProcess(`r.revokeDevice('busy-a', 'test:other-process')`, home).status, 0);
  // The same event-loop turn still running (no await): the next read's first frame is checked.
  take('sealmq/busy-a/up', frame(roots['busy-a'], 'busy-a', 4), true);
  take('sealmq/busy-b/up', frame(roots['busy-b'], 'busy-b', 2), false);
  drain();
  t.like(got[4], { ok: false, device: 'busy-a', reason: 'revoked' });
  t.like(got[5], { ok: true, device: 'busy-b', counter: 2 });
});

test('the registry\'s file watcher: a check after I/O asks SQLite only once a file of the database changed', async (t) => {
  const home = mkdtempSync(join(tmpdir(), 'sealmq-watch-'));
  const path = join(home, 'registry.db');
  const store = new RegistryStore(path, Date.now, REGISTRY_KDF);
  t.teardown(() => store.close());
  t.true(store.watchWrites());
  const stamps = () => new Map<string, string>();
  // inotify events reach the process in its I/O phase: a pause lets those of the store's own set-up arrive.
  const settle = () => new Promise((resolve) => setTimeout(resolve, 100));
  await settle();
  store.checkOtherWriters(stamps, true);
  const asked = store.otherWriterChecks;
  for (let i = 0; i < 20; i++) {
    await settle();
    store.checkOtherWriters(stamps, true);
  }
  t.is(store.otherWriterChecks, asked, 'nothing changed: no SQLite call');
  // Another connection (another process in production) commits.
  const other = new Database(path);
  other.prepare('INSERT INTO meta(key, value) VALUES (?, ?)').run('watch-test', '1');
  other.close();
  await settle();
  store.checkOtherWriters(stamps, true);
  t.is(store.otherWriterChecks, asked + 1, 'a commit by another connection: asked');
  store.checkOtherWriters(stamps);
  t.is(store.otherWriterChecks, asked + 2, 'a check not after I/O always asks');
  // A file beside the database that is not one of its own changes nothing.
  writeFileSync(join(home, 'other.txt'), 'x');
  await settle();
  store.checkOtherWriters(stamps, true);
  t.is(store.otherWriterChecks, asked + 2);
  // And SQLite is asked every 256th check regardless (inotify's queue can overflow unreported).
  for (let i = 0; i < 256; i++) store.checkOtherWriters(stamps, true);
  t.is(store.otherWriterChecks, asked + 3);
});

for (const group of [false, true]) test(`SIGKILL at random moments, 100 times, every frame offered again after each restart: none accepted twice${group ? ' (group commit, as sealmq verify runs)' : ''}`, async (t) => {
  const ids = ['crash-a', 'crash-b', 'crash-c'];
  const { home, reg, roots } = await setup(ids);
  reg.close();
  const PER_RUN = 150; // new frames per device per run
  const RUNS = 100;
  const total = PER_RUN * (RUNS + 1);
  // Frames interleaved across the devices, in counter order per device, with every 7th sent twice.
  const recs: Buffer[] = [];
  let count = 0;
  const offeredAt: number[] = [];
  for (let c = 1; c <= total; c++) {
    for (let d = 0; d < ids.length; d++) {
      const f = Buffer.from(frame(roots[ids[d]], ids[d], c));
      const head = Buffer.from([d, f.length >> 8, f.length & 255]);
      recs.push(head, f);
      count++;
      if (c % 7 === 0) { recs.push(head, f); count++; }
    }
    if (c % PER_RUN === 0) offeredAt.push(count);
  }
  const file = join(home, 'frames.bin');
  writeFileSync(file, Buffer.concat(recs));
  const hexRoots = Object.fromEntries(ids.map((id) => [id, toHex(roots[id])]));
  const accepted = new Set<string>();
  const twice: string[] = [];
  const maxAccepted: Record<string, number> = Object.fromEntries(ids.map((id) => [id, 0]));
  const lostPerCrash: number[] = [];
  let killed = 0;
  const run = (n: number, killAfterMs: number | null) => new Promise<void>((resolve, reject) => {
    const child = fork(CHILD, [], { stdio: ['ignore', 'pipe', 'inherit', 'ipc'] });
    let out = '';
    let armed = false;
    child.stdout!.on('data', (b: Buffer) => {
      out += b.toString('latin1');
      // The child writes R as it starts opening frames: the kill lands somewhere in the run.
      if (!armed && killAfterMs !== null && out.startsWith('R\n')) {
        armed = true;
        setTimeout(() => child.kill('SIGKILL'), killAfterMs);
      }
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (signal === 'SIGKILL') killed++;
      else if (code !== 0) return reject(new Error(`child exited ${code}`));
      for (const line of out.split('\n')) {
        if (!line.startsWith('A ')) continue;
        const [, dev, c] = line.split(' ');
        const key = dev + ':' + c;
        if (accepted.has(key)) twice.push(key);
        accepted.add(key);
        maxAccepted[dev] = Math.max(maxAccepted[dev], Number(c));
      }
      resolve();
    });
    child.send({ home, file, count: n, roots: hexRoots, group });
  });
  const acceptedOf = (id: string) => [...accepted].filter((k) => k.startsWith(id + ':')).length;
  let neverBefore = 0;
  const t0 = Date.now();
  for (let i = 0; i < RUNS; i++) {
    // Run i offers every frame sent so far and PER_RUN new ones per device; killed somewhere within ~25 ms.
    await run(offeredAt[i], Math.floor(Math.random() * 25));
    // Counters at or below a stored bound that were not accepted never will be: lost to this crash, the
    // growth of that number since the crash before.
    const ro = openRegistry({ home });
    let never = 0;
    for (const id of ids) never += Math.min(ro.getReceiveState(id, 'up')!.window.top, total) - acceptedOf(id);
    ro.close();
    lostPerCrash.push(never - neverBefore);
    neverBefore = never;
  }
  // A last run to the end, not killed: everything above the last bound is accepted.
  await run(offeredAt[RUNS], null);
  const seconds = (Date.now() - t0) / 1000;
  const sorted = [...lostPerCrash].sort((a, b) => a - b);
  const lostTotal = ids.length * total - accepted.size;
  t.log(`${RUNS} runs (${killed} killed by SIGKILL mid-run), ${accepted.size} of ${ids.length * total} frames accepted once, `
    + `0 twice (${twice.length}); frames lost per crash (all devices): min ${sorted[0]}, median ${sorted[sorted.length >> 1]}, max ${sorted[sorted.length - 1]}; `
    + `lost in all: ${lostTotal}; ${seconds.toFixed(1)} s`);
  t.deepEqual(twice, []);
  t.true(killed >= RUNS / 2, `only ${killed} runs were killed mid-run`);
  t.true(sorted[sorted.length - 1] <= ids.length * DEFAULT_RESERVE);
  t.is(lostTotal, lostPerCrash.reduce((a, b) => a + b, 0));
  for (const id of ids) t.is(maxAccepted[id], total);
});

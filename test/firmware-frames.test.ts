// The firmware bundle on an emulated board in its own process, configured through its console only:
// it publishes frames that `sealmq frame open` accepts, with strictly increasing counters, on the native
// crypto path and on the pure-JS path of a build without require("crypto").
import test from 'ava';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { toHex } from '../core/bytes.js';
import { smqCall } from '../host/board/smq.js';
import { firmwareBundle } from '../host/board/firmware-bundle.js';
import { flashBoard } from '../host/board/flash.js';
import { startCaptureBroker } from '../host/broker/capture.js';
import { spawnEmulator } from '../host/emulator/process.js';
import { openLink } from '../host/link/open-link.js';
import { connectRepl } from '../host/link/repl.js';
import { sealmq, tmpHome } from './cli-helpers.js';

for (const nativeCrypto of [true, false]) {
  const path = nativeCrypto ? 'native' : 'js';
  test(`configured through its console, the board publishes frames sealmq frame open accepts (${path} crypto)`, async (t) => {
    const dir = tmpHome('sealmq-fw-');
    const broker = await startCaptureBroker();
    const board = await spawnEmulator({ name: 'fw-board', flashFile: join(dir, 'fw.flash'), board: 'emulated', nativeCrypto });
    t.teardown(async () => { await board.stop(); await broker.close(); });
    const fw = await firmwareBundle('emulated', join(dir, 'dist'));
    await flashBoard({ port: board.console, bundle: fw.bundle, version: fw.version });

    const root = toHex(new Uint8Array(randomBytes(32)));
    const link = await openLink(board.console);
    const repl = await connectRepl(link);
    const before = await smqCall<{ provisioned: boolean; crypto: string }>(repl, 'SEALMQ.status()');
    t.false(before.provisioned, 'a fresh board waits to be provisioned');
    t.is(before.crypto, path);
    const cfg = { id: 'fw-board', root, otp: randomBytes(20).toString('hex'), broker: { host: '127.0.0.1', port: broker.port }, interval: 0.1, k: 4, time: Date.now() / 1000 };
    t.deepEqual(await smqCall(repl, `SEALMQ.provision(${JSON.stringify(cfg)})`), { ok: true });
    repl.detach();
    await link.close();

    const deadline = Date.now() + 20_000;
    while (broker.frames.length < 6 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    t.true(broker.frames.length >= 6, `${broker.frames.length} frames`);
    const counters: number[] = [];
    for (const f of broker.frames.slice(0, 6)) {
      t.is(f.topic, 'sealmq/fw-board/up');
      const r = await sealmq(['frame', 'open', '--root-env', 'ROOT', '--device', 'fw-board', '--channel', 'up', toHex(f.payload)], { ROOT: root });
      t.is(r.code, 0, r.stdout + r.stderr);
      const o = JSON.parse(r.stdout);
      t.true(o.ok);
      t.is(o.direction, 'up');
      t.is(o.epoch, 0);
      const body = JSON.parse(o.plaintext);
      t.true(typeof body.d === 'object' || typeof body.c === 'string', o.plaintext);
      counters.push(o.counter);
    }
    t.true(counters.every((c, i) => i === 0 || c > counters[i - 1]), `strictly increasing: ${counters}`);
    const wrong = await sealmq(['frame', 'open', '--root-env', 'ROOT', '--device', 'fw-board', '--channel', 'up', toHex(broker.frames[0].payload)], { ROOT: '00'.repeat(32) });
    t.is(wrong.code, 1);
    t.deepEqual(JSON.parse(wrong.stdout), { ok: false, reason: 'bad-tag' });
  });
}

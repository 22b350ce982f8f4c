// Key lifecycle end to end (issue 4), through the embedded broker and the registry's verifier with an
// emulated board: `devices rotate` (the old epoch is accepted until the board's reply under the new one
// verifies, never after: an old-epoch frame replayed is rejected), `provision --replace` (a new board takes
// the identity with fresh secrets under the next epoch), `devices revoke` (the broker refuses the device's
// login); every step in the audit log. Also `sealmq doctor` against the same board.
import test from 'ava';
import mqtt from 'mqtt';
import { join } from 'node:path';
import { startBroker, BrokerEvent } from '../host/broker/broker.js';
import { firmwareBundle } from '../host/board/firmware-bundle.js';
import { flashBoard } from '../host/board/flash.js';
import { provisionBoard } from '../host/board/provision.js';
import { spawnEmulator } from '../host/emulator/process.js';
import { openRegistry } from '../host/registry/registry.js';
import { registryVerifier } from '../host/verifier/run.js';
import { enrolOperator, openSession, sealmq, tmpHome } from './cli-helpers.js';

const PASS = 'key lifecycle passphrase';
const ADMIN_PW = 'admin password, long enough';

test('rotate, replace, revoke through the broker and the verifier; old-epoch replays rejected; all audited', async (t) => {
  t.timeout(180_000);
  const home = tmpHome();
  const env = { SEALMQ_HOME: home, SEALMQ_PASSPHRASE: PASS };
  const reg = openRegistry({ home });
  await reg.unlock(PASS);
  // adam: an admin with an authenticator, logged in (the session file in home): rotate, replace, revoke need it.
  await openSession(reg, await enrolOperator(reg, 'adam', 'admin', ADMIN_PW), home);
  const events: BrokerEvent[] = [];
  const broker = await startBroker({ registry: reg, listen: 'mqtt://127.0.0.1:0', onEvent: (e) => events.push(e) });
  const fw = await firmwareBundle('emulated', join(home, 'dist'));
  const board = await spawnEmulator({ name: 'kl-1', flashFile: join(home, 'kl-1.flash'), board: 'emulated' });
  let board2: Awaited<ReturnType<typeof spawnEmulator>> | undefined;
  const watcher = await mqtt.connectAsync(broker.url, { username: 'adam', password: ADMIN_PW, reconnectPeriod: 0 });
  t.teardown(async () => { await watcher.endAsync(); await board.stop(); await board2?.stop(); await broker.close(); reg.close(); });
  await flashBoard({ port: board.console, bundle: fw.bundle, version: fw.version });
  await provisionBoard({ port: board.console, deviceId: 'kl-dev', broker: broker.url, interval: 0.2, registry: reg, actor: 'test' });

  // Every uplink frame, as a wire tap would keep it.
  const frames: { topic: string; payload: Uint8Array; epoch: number }[] = [];
  await watcher.subscribeAsync('sealmq/kl-dev/up');
  watcher.on('message', (topic, p) => frames.push({ topic, payload: new Uint8Array(p), epoch: p[2] }));
  const waitFrames = async (epoch: number, n: number, ms = 20_000) => {
    const end = Date.now() + ms;
    while (frames.filter((f) => f.epoch === epoch).length < n) {
      if (Date.now() > end) throw new Error(`fewer than ${n} frames under epoch ${epoch}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    return frames.filter((f) => f.epoch === epoch);
  };
  const { verifier } = registryVerifier(reg, {});
  const old = await waitFrames(0, 3);
  t.true(verifier.handle(old[0].topic, old[0].payload).ok, 'epoch 0 accepted');

  // A rotation asked for but not confirmed changes nothing for the verifier.
  t.deepEqual(reg.requestRotation('kl-dev', 'test'), { from: 0, to: 1 });
  t.true(verifier.handle(old[1].topic, old[1].payload).ok, 'epoch 0 still accepted while the rotation is unconfirmed');
  t.is(reg.getDevice('kl-dev')!.epoch, 0);

  // The CLI rotates to an epoch above every one ever asked for (1 was asked): 2.
  const rot = await sealmq(['devices', 'rotate', 'kl-dev', '--broker', broker.url, '--user', 'adam', '--json'], { ...env, SEALMQ_PASSWORD: ADMIN_PW });
  t.is(rot.code, 0, rot.stderr);
  t.like(JSON.parse(rot.stdout), { ok: true, device: 'kl-dev', from: 0, to: 2 });
  t.is(reg.getDevice('kl-dev')!.epoch, 2, 'the registry moved when the reply under epoch 2 verified');
  t.deepEqual(reg.epochs('kl-dev').map((e) => [e.epoch, e.status]), [[0, 'old'], [2, 'current']]);

  const replayed = verifier.handle(old[2].topic, old[2].payload);
  t.false(replayed.ok);
  t.is((replayed as { reason: string }).reason, 'old-epoch', 'a frame of the old epoch, never seen before, is refused after the rotation');
  const again = verifier.handle(old[0].topic, old[0].payload);
  t.false(again.ok, 'an old frame replayed is refused');
  const fresh = await waitFrames(2, 2);
  const okNew = verifier.handle(fresh[fresh.length - 1].topic, fresh[fresh.length - 1].payload);
  t.true(okNew.ok && okNew.epoch === 2, 'readings under the new epoch verify');

  // doctor on the rotated board
  const doc = await sealmq(['doctor', '--port', board.console, '--device', 'kl-dev', '--json'], env);
  t.is(doc.code, 0, doc.stderr);
  const d = JSON.parse(doc.stdout);
  t.like(d, { firmware: fw.version, device: 'kl-dev', epoch: 2, state: 'ok', consoleLocked: true });
  t.is(typeof d.clockOffsetS, 'number');
  t.true(Math.abs(d.clockOffsetS) < 5, `clock offset ${d.clockOffsetS}`);
  t.true(d.storageFree === null || d.storageFree > 0);
  t.true(d.counter >= 1 && d.blockEnd >= d.counter);
  t.log(`doctor: ${doc.stdout.trim()}`);

  // The board breaks (its broker session ends with it); a new board takes over kl-dev: fresh secrets,
  // next epoch; the old board's frames are refused.
  await board.stop();
  board2 = await spawnEmulator({ name: 'kl-2', flashFile: join(home, 'kl-2.flash'), board: 'emulated' });
  await flashBoard({ port: board2.console, bundle: fw.bundle, version: fw.version });
  const rootBefore = reg.exportSecrets('kl-dev', 'test').root;
  const rep = await sealmq(['provision', '--port', board2.console, '--replace', 'kl-dev', '--broker', broker.url, '--interval', '0.2', '--json'], env);
  t.is(rep.code, 0, rep.stderr);
  t.like(JSON.parse(rep.stdout), { ok: true, deviceId: 'kl-dev', epoch: 3, replaced: 'kl-dev' });
  t.not(reg.exportSecrets('kl-dev', 'test').root, rootBefore, 'fresh secrets');
  const old2 = fresh[0];
  const r2 = verifier.handle(old2.topic, old2.payload);
  t.false(r2.ok, "the broken board's frames are refused after the replacement");
  const third = await waitFrames(3, 1, 60_000);
  t.true(verifier.handle(third[third.length - 1].topic, third[third.length - 1].payload).ok, 'the new board is heard under epoch 3');

  // Revoke: the broker refuses the device's login at once, and its frames are refused.
  const rev = await sealmq(['devices', 'revoke', 'kl-dev', '--reason', 'test'], env);
  t.is(rev.code, 0, rev.stderr);
  const refused = await mqtt.connectAsync(broker.url, { username: 'kl-dev', password: '12345678', clientId: 'kl-dev', reconnectPeriod: 0 }).then((c) => c.endAsync().then(() => 'connected'), (e: Error) => e.message);
  t.regex(refused, /not authori[sz]ed|refused/i);
  t.true(events.some((e) => e.type === 'login-refused' && e.reason === 'revoked' && e.device === 'kl-dev'));
  const late = verifier.handle(third[0].topic, third[0].payload);
  t.false(late.ok);
  t.is((late as { reason: string }).reason, 'revoked');

  const actions = reg.auditLog({ device: 'kl-dev' }).map((a) => a.action);
  for (const a of ['device.rotate.request', 'command.sent', 'command.reply', 'device.rotate.confirmed', 'device.epoch', 'device.replace', 'device.revoke', 'verify.rejected']) {
    t.true(actions.includes(a), `audit has ${a}: ${actions.join(', ')}`);
  }
  t.is(actions.filter((a) => a === 'device.rotate.request').length, 2);
});

// The verifier against the registry and the embedded broker over real MQTT: readings from a device
// client verify; replay, bit flips, moved frames, unknown devices, revoked devices and old epochs are
// rejected with their reason and an audit entry; a restarted verifier still refuses the last frames.
import test from 'ava';
import { randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import mqtt from 'mqtt';
import { utf8Encode } from '../core/bytes.js';
import { deriveKeys, seal } from '../core/frame.js';
import { DEVICE_TOTP_DIGITS, DEVICE_TOTP_STEP, totp } from '../core/otp.js';
import { nodePrimitives as P, sha1 } from '../host/protocol/node-primitives.js';
import { startBroker } from '../host/broker/broker.js';
import { openRegistry, Registry } from '../host/registry/registry.js';
import { registryVerifier, runVerifier } from '../host/verifier/run.js';
import type { VerifyResult } from '../host/verifier/verifier.js';

process.env.SEALMQ_PASSPHRASE = 'verify test passphrase';
const PW = 'viewer password, long enough';

async function setup(t: any) {
  const home = mkdtempSync(join(tmpdir(), 'sealmq-verify-'));
  const reg = openRegistry({ home });
  await reg.unlock(process.env.SEALMQ_PASSPHRASE!);
  const dev: Record<string, { root: Uint8Array; seed: Uint8Array }> = {};
  for (const id of ['node-a', 'node-b', 'node-c']) {
    dev[id] = { root: new Uint8Array(randomBytes(32)), seed: new Uint8Array(randomBytes(20)) };
    reg.recordProvisioned({ id, root: dev[id].root, otpSeed: dev[id].seed, actor: 'test' });
  }
  await reg.addOperator({ name: 'vera', role: 'viewer', password: PW, actor: 'test' });
  const broker = await startBroker({ registry: reg, listen: 'mqtt://127.0.0.1:0' });
  t.teardown(async () => { await broker.close(); reg.close(); });
  return { home, reg, broker, dev };
}

const frame = (root: Uint8Array, id: string, counter: number, epoch = 0) =>
  seal(P, deriveKeys(P, root, id, 'up', epoch), id, 'up', 'up', epoch, counter,
    utf8Encode(JSON.stringify({ t: Date.now() / 1000, d: { temp: 20 + counter / 10 } })));

function collector() {
  const got: VerifyResult[] = [];
  const waiters: Array<() => void> = [];
  return {
    got,
    push(r: VerifyResult) { got.push(r); waiters.splice(0).forEach((w) => w()); },
    async until(n: number) {
      const end = Date.now() + 30_000; // a deadline for a loaded machine, not a speed asserted
      while (got.length < n) {
        if (Date.now() > end) throw new Error(`only ${got.length} of ${n} results`);
        await new Promise<void>((r) => { waiters.push(r); setTimeout(r, 200); });
      }
    },
  };
}

test('readings verify through the broker; replay, bit flip and a moved frame are rejected and audited', async (t) => {
  const { reg, broker, dev } = await setup(t);
  const c = collector();
  const v = await runVerifier({ registry: reg, brokerUrl: broker.url, username: 'vera', password: PW, onResult: (r) => c.push(r) });
  t.teardown(() => v.close());
  const login = (id: string) => mqtt.connectAsync(broker.url, {
    username: id, clientId: id, protocolVersion: 4, reconnectPeriod: 0,
    password: totp(sha1, 64, dev[id].seed, Date.now() / 1000, DEVICE_TOTP_STEP, DEVICE_TOTP_DIGITS),
  });
  const a = await login('node-a');
  const b = await login('node-b');
  t.teardown(() => { a.end(true); b.end(true); });
  const f = [1, 2, 3].map((n) => frame(dev['node-a'].root, 'node-a', n));
  for (const x of f) await a.publishAsync('sealmq/node-a/up', Buffer.from(x));
  await c.until(3);
  t.true(c.got.every((r) => r.ok));
  await a.publishAsync('sealmq/node-a/up', Buffer.from(f[1]));
  const flipped = frame(dev['node-a'].root, 'node-a', 4);
  flipped[9] ^= 0x10;
  await a.publishAsync('sealmq/node-a/up', Buffer.from(flipped));
  await b.publishAsync('sealmq/node-b/up', Buffer.from(frame(dev['node-a'].root, 'node-a', 5)));
  await c.until(6);
  // QoS 0 through the broker's asynchronous authorization: the set of outcomes is the property, not their order.
  t.deepEqual(c.got.slice(3).map((r) => (r.ok ? 'ok' : r.reason)).sort(), ['bad-tag', 'bad-tag', 'replay']);
  const audited = reg.auditLog({ action: 'verify.rejected' }).map((e) => e.detail?.reason).sort();
  t.deepEqual(audited, ['bad-tag', 'bad-tag', 'replay']);
  t.is(v.stats.accepted, 3);
  t.is(v.stats.rejected, 3);
});

test('a revoke made by another process refuses the device\'s next frame through the broker, every time', async (t) => {
  // `sealmq verify` skips its SQLite check of other writers while the registry's files have not changed
  // (store.ts watchWrites): each revoke here is a commit by another process just before the next frame.
  const { home, reg, broker, dev } = await setup(t);
  const ids = Array.from({ length: 6 }, (_, i) => `rv-${i}`);
  for (const id of ids) {
    dev[id] = { root: new Uint8Array(randomBytes(32)), seed: new Uint8Array(randomBytes(20)) };
    reg.recordProvisioned({ id, root: dev[id].root, otpSeed: dev[id].seed, actor: 'test' });
  }
  const c = collector();
  const v = await runVerifier({ registry: reg, brokerUrl: broker.url, username: 'vera', password: PW, onResult: (r) => c.push(r) });
  t.teardown(() => v.close());
  const registryModule = fileURLToPath(new URL('../host/registry/registry.js', import.meta.url));
  const revoke = `import { openRegistry } from ${JSON.stringify(registryModule)};
    const r = openRegistry({ home: process.argv[1] }); r.revokeDevice(process.argv[2], 'test:other-process'); r.close();`;
  for (const id of ids) {
    const m = await mqtt.connectAsync(broker.url, {
      username: id, clientId: id, protocolVersion: 4, reconnectPeriod: 0,
      password: totp(sha1, 64, dev[id].seed, Date.now() / 1000, DEVICE_TOTP_STEP, DEVICE_TOTP_DIGITS),
    });
    // Two frames: the first one's reservation is the verifier's own commit, which the second's turn checks.
    for (const n of [1, 2]) {
      await m.publishAsync(`sealmq/${id}/up`, Buffer.from(frame(dev[id].root, id, n)));
      await c.until(c.got.length + 1);
      t.true(c.got[c.got.length - 1].ok, `${id}: frame ${n} accepted before the revoke`);
    }
    const other = spawnSync(process.execPath, ['--input-type=module', '-e', revoke, home, id], { encoding: 'utf8' });
    t.is(other.status, 0, other.stderr);
    await m.publishAsync(`sealmq/${id}/up`, Buffer.from(frame(dev[id].root, id, 3)));
    await c.until(c.got.length + 1);
    t.like(c.got[c.got.length - 1], { ok: false, device: id, reason: 'revoked' }, `${id}: the next frame after the revoke`);
    m.end(true);
  }
});

test('unknown device, revoked device and old epoch are rejected with their reason and audited', async (t) => {
  const { reg, dev } = await setup(t);
  const { verifier } = registryVerifier(reg, {});
  t.is((verifier.handle('sealmq/node-z/up', frame(dev['node-a'].root, 'node-z', 1)) as any).reason, 'unknown-device');
  reg.revokeDevice('node-b', 'test', 'stolen');
  t.is((verifier.handle('sealmq/node-b/up', frame(dev['node-b'].root, 'node-b', 1)) as any).reason, 'revoked');
  t.true(verifier.handle('sealmq/node-c/up', frame(dev['node-c'].root, 'node-c', 1)).ok);
  const fresh = new Uint8Array(randomBytes(32));
  reg.recordProvisioned({ id: 'node-c', root: fresh, otpSeed: new Uint8Array(randomBytes(20)), actor: 'test', rekey: true });
  t.is((verifier.handle('sealmq/node-c/up', frame(dev['node-c'].root, 'node-c', 2, 0)) as any).reason, 'old-epoch');
  t.true(verifier.handle('sealmq/node-c/up', frame(fresh, 'node-c', 1, 1)).ok);
  const reasons = reg.auditLog({ action: 'verify.rejected' }).map((e) => e.detail?.reason);
  t.deepEqual(reasons, ['unknown-device', 'revoked', 'old-epoch']);
});

test('after a verifier restart (registry closed and reopened) a replay of the last frames is rejected', async (t) => {
  const { home, reg, dev } = await setup(t);
  const frames = Array.from({ length: 5 }, (_, i) => frame(dev['node-a'].root, 'node-a', i + 1));
  const first = registryVerifier(reg, {}).verifier;
  for (const f of frames) t.true(first.handle('sealmq/node-a/up', f).ok);
  const again: Registry = openRegistry({ home });
  await again.unlock(process.env.SEALMQ_PASSPHRASE!);
  t.teardown(() => again.close());
  // The first verifier was not closed (as after a crash): the stored bound covers its reservation, and every
  // counter at or below it is refused (docs/PROTOCOL.md "Replay state on the host").
  const bound = again.getReceiveState('node-a', 'up')!.window.top;
  const second = registryVerifier(again, {}).verifier;
  for (const f of frames) t.is((second.handle('sealmq/node-a/up', f) as any).reason, 'stale-after-restart');
  t.true(second.handle('sealmq/node-a/up', frame(dev['node-a'].root, 'node-a', bound + 1)).ok);
});

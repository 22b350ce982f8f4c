// Which epochs the verifier accepts (issue 4 item 6): the current one, the one the receive state already
// reached, and the one a rotation asked for (`devices rotate`). A validly tagged frame under any other
// higher epoch is refused as 'unrequested-epoch' before its tag is computed — in memory and through the
// registry, where it used to make putReceiveState throw (an internal error) instead of a clean rejection.
import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fromHex, utf8Encode } from '../core/bytes.js';
import { deriveKeys, seal } from '../core/frame.js';
import { nodePrimitives as P } from '../host/protocol/node-primitives.js';
import { openRegistry } from '../host/registry/registry.js';
import { registryVerifier } from '../host/verifier/run.js';
import { DeviceRecord, MemoryReplayStore, Verifier, VerifyResult } from '../host/verifier/verifier.js';

const ROOT = fromHex('5a'.repeat(32));
const OTP = fromHex('a5'.repeat(20));
const frame = (id: string, counter: number, epoch: number, root = ROOT) =>
  seal(P, deriveKeys(P, root, id, 'up', epoch), id, 'up', 'up', epoch, counter, utf8Encode(JSON.stringify({ t: 1767225600, d: { temp: 20 } })));
const reason = (r: VerifyResult) => (r.ok ? 'accepted' : r.reason);

test('in memory: only the current, the reached and the requested epoch are accepted', (t) => {
  const rec: DeviceRecord = { id: 'node-e', status: 'active', epoch: 2, root: ROOT, retiredEpochs: [0, 1] };
  const v = new Verifier({ devices: { device: (id) => (id === 'node-e' ? rec : null) }, replay: new MemoryReplayStore() });
  const topic = 'sealmq/node-e/up';
  t.true(v.handle(topic, frame('node-e', 1, 2)).ok, 'current epoch');
  for (const e of [3, 4, 9, 255]) {
    const r = v.handle(topic, frame('node-e', 2, e));
    t.is(reason(r), 'unrequested-epoch', `epoch ${e}, validly tagged, never asked for`);
    t.is((r as { epoch?: number }).epoch, e);
  }
  t.true(v.handle(topic, frame('node-e', 2, 2)).ok, 'the refusals moved nothing: the current epoch goes on');
  rec.pendingEpoch = 5;
  t.is(reason(v.handle(topic, frame('node-e', 3, 4))), 'unrequested-epoch', 'a rotation to 5 does not open 4');
  const moved = v.handle(topic, frame('node-e', 1, 5));
  t.true(moved.ok && moved.epochMoved === 5, 'the requested epoch is accepted and moves the window');
  // The record has not caught up (no registry here), the replay state has: epoch 5 goes on.
  rec.pendingEpoch = null;
  t.true(v.handle(topic, frame('node-e', 2, 5)).ok);
  t.is(reason(v.handle(topic, frame('node-e', 3, 2))), 'old-epoch');
  t.is(reason(v.handle(topic, frame('node-e', 3, 6))), 'unrequested-epoch');
  // A pending epoch that is also retired stays refused (retirement wins).
  rec.pendingEpoch = 7;
  rec.retiredEpochs = [0, 1, 7];
  t.is(reason(v.handle(topic, frame('node-e', 1, 7))), 'unknown-epoch');
});

test('through the registry: an unrequested epoch is a clean, audited rejection; a requested one is adopted', async (t) => {
  const home = mkdtempSync(join(tmpdir(), 'sealmq-epochs-'));
  t.teardown(() => rmSync(home, { recursive: true, force: true }));
  const reg = openRegistry({ home, kdf: { N: 1 << 15, r: 8, p: 1 } });
  t.teardown(() => reg.close());
  await reg.unlock('epochs test passphrase');
  reg.recordProvisioned({ id: 'node-r', root: ROOT, otpSeed: OTP, actor: 'test' });
  const { verifier, stats } = registryVerifier(reg, {});
  const topic = 'sealmq/node-r/up';
  t.true(verifier.handle(topic, frame('node-r', 1, 0)).ok);

  // Before the fix this threw from putReceiveState ("no usable key epoch 3"), an internal error.
  const r = verifier.handle(topic, frame('node-r', 1, 3));
  t.is(reason(r), 'unrequested-epoch');
  t.is(reg.getDevice('node-r')!.epoch, 0, 'the registry did not move');
  t.deepEqual(reg.getReceiveState('node-r', 'up')!.epoch, 0);
  t.is(stats.byReason['unrequested-epoch'], 1);
  const audited = reg.auditLog({ device: 'node-r', action: 'verify.rejected' });
  t.is(audited.length, 1);
  t.like(audited[0].detail as object, { reason: 'unrequested-epoch', epoch: 3 });

  // `devices rotate` asks for epoch 1: a frame under 2 is still refused, one under 1 is adopted.
  const rot = reg.requestRotation('node-r', 'test');
  t.deepEqual(rot, { from: 0, to: 1 });
  t.is(reg.deviceRecord('node-r')!.pendingEpoch, 1);
  t.is(reason(verifier.handle(topic, frame('node-r', 1, 2))), 'unrequested-epoch');
  t.true(verifier.handle(topic, frame('node-r', 2, 0)).ok, 'the old epoch is accepted until the rotation is confirmed');
  const moved = verifier.handle(topic, frame('node-r', 1, 1));
  t.true(moved.ok && moved.epochMoved === 1);
  t.is(reg.getDevice('node-r')!.epoch, 1);
  t.is(reg.deviceRecord('node-r')!.pendingEpoch, null);
  t.deepEqual(reg.epochs('node-r').map((e) => [e.epoch, e.status]), [[0, 'old'], [1, 'current']]);
  t.is(reason(verifier.handle(topic, frame('node-r', 3, 0))), 'old-epoch');
  t.is(reason(verifier.handle(topic, frame('node-r', 2, 2))), 'unrequested-epoch');
  t.true(verifier.handle(topic, frame('node-r', 2, 1)).ok);
  t.is(stats.accepted, 4);
});

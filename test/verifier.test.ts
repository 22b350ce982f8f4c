// The verifier's rejections, each with its reason, and its use of the replay store across a restart.
import test from 'ava';
import { fromHex, utf8Encode } from '../core/bytes.js';
import { deriveKeys, frameIv, frameTag, macInput, seal } from '../core/frame.js';
import { nodePrimitives as P } from '../host/protocol/node-primitives.js';
import { DeviceRecord, MemoryReplayStore, Verifier } from '../host/verifier/verifier.js';

const ROOT_A = fromHex('11'.repeat(32));
const ROOT_B = fromHex('22'.repeat(32));

function devices(extra: Partial<Record<string, Partial<DeviceRecord>>> = {}) {
  const base: Record<string, DeviceRecord> = {
    'node-a': { id: 'node-a', status: 'active', epoch: 0, root: ROOT_A },
    'node-b': { id: 'node-b', status: 'active', epoch: 0, root: ROOT_B },
  };
  for (const [k, v] of Object.entries(extra)) base[k] = { ...base[k], ...v } as DeviceRecord;
  return { device: (id: string) => base[id] ?? null };
}

const frame = (root: Uint8Array, id: string, counter: number, epoch = 0, body = { t: 1767225600.5, d: { temp: 21.5 } }) =>
  seal(P, deriveKeys(P, root, id, 'up', epoch), id, 'up', 'up', epoch, counter, utf8Encode(JSON.stringify(body)));

test('accepts a reading and reports counter, readings and latency', (t) => {
  const v = new Verifier({ devices: devices(), replay: new MemoryReplayStore(), now: () => 1767225600.5 * 1000 + 12 });
  const r = v.handle('sealmq/node-a/up', frame(ROOT_A, 'node-a', 1));
  if (!r.ok) return t.fail(r.reason);
  t.is(r.counter, 1);
  t.is(r.kind, 'reading');
  t.deepEqual(r.message.d, { temp: 21.5 });
  t.is(r.latencyMs, 12);
});

test('rejects replay, bit flips, a moved frame, an unknown device, a revoked device, an old epoch, bad topics', (t) => {
  const store = new MemoryReplayStore();
  const v = new Verifier({ devices: devices(), replay: store });
  const rotated = new Verifier({ devices: devices({ 'node-b': { epoch: 2 } }), replay: new MemoryReplayStore() });
  const f1 = frame(ROOT_A, 'node-a', 1);
  t.true(v.handle('sealmq/node-a/up', f1).ok);
  t.is((v.handle('sealmq/node-a/up', f1) as any).reason, 'replay');
  for (let i = 0; i < f1.length * 8; i += 7) {
    const g = new Uint8Array(frame(ROOT_A, 'node-a', 2));
    g[i >> 3] ^= 1 << (i & 7);
    const r = v.handle('sealmq/node-a/up', g);
    t.false(r.ok, `bit ${i}`);
  }
  t.is((v.handle('sealmq/node-b/up', frame(ROOT_A, 'node-a', 3)) as any).reason, 'bad-tag', 'moved to another device topic');
  t.is((v.handle('sealmq/node-z/up', frame(ROOT_A, 'node-z', 1)) as any).reason, 'unknown-device');
  t.is((rotated.handle('sealmq/node-b/up', frame(ROOT_B, 'node-b', 1, 1)) as any).reason, 'old-epoch');
  const revoked = new Verifier({ devices: devices({ 'node-a': { status: 'revoked' } }), replay: new MemoryReplayStore() });
  t.is((revoked.handle('sealmq/node-a/up', frame(ROOT_A, 'node-a', 5)) as any).reason, 'revoked');
  for (const topic of ['sealmq/node-a/down', 'other/node-a/up', 'sealmq/a+b/up', 'sealmq/node-a/up/x', 'sealmq/#/up']) {
    t.is((v.handle(topic, frame(ROOT_A, 'node-a', 9)) as any).reason, 'bad-topic', topic);
  }
});

test('a retired epoch is refused even above the current one', (t) => {
  const v = new Verifier({ devices: devices({ 'node-a': { retiredEpochs: [3], pendingEpoch: 4 } }), replay: new MemoryReplayStore() });
  t.is((v.handle('sealmq/node-a/up', frame(ROOT_A, 'node-a', 1, 3)) as any).reason, 'unknown-epoch');
  const moved = v.handle('sealmq/node-a/up', frame(ROOT_A, 'node-a', 1, 4));
  t.true(moved.ok);
  t.is((moved as any).epochMoved, 4);
});

test('a restarted verifier sharing the replay store accepts no old frame', (t) => {
  const store = new MemoryReplayStore();
  const frames = Array.from({ length: 10 }, (_, i) => frame(ROOT_A, 'node-a', i + 1));
  const v1 = new Verifier({ devices: devices(), replay: store });
  for (const f of frames) t.true(v1.handle('sealmq/node-a/up', f).ok);
  const v2 = new Verifier({ devices: devices(), replay: store });
  for (const f of frames) t.is((v2.handle('sealmq/node-a/up', f) as any).reason, 'replay');
});

test('plaintext that is not a JSON object is bad-json, after the window moved', (t) => {
  const v = new Verifier({ devices: devices(), replay: new MemoryReplayStore() });
  const k = deriveKeys(P, ROOT_A, 'node-a', 'up', 0);
  for (const [i, s] of ['not json', '[1,2]', 'null', '"x"'].entries()) {
    const r = v.handle('sealmq/node-a/up', seal(P, k, 'node-a', 'up', 'up', 0, i + 1, utf8Encode(s)));
    t.is((r as any).reason, 'bad-json', s);
  }
  const bin = seal(P, k, 'node-a', 'up', 'up', 0, 50, new Uint8Array([0xff, 0xfe]));
  t.is((v.handle('sealmq/node-a/up', bin) as any).reason, 'bad-json');
});

test('a good tag over bad padding is bad-padding once, then replay: the window moved when the tag passed', (t) => {
  const v = new Verifier({ devices: devices(), replay: new MemoryReplayStore() });
  const k = deriveKeys(P, ROOT_A, 'node-a', 'up', 0);
  const header = new Uint8Array([1, 0, 0, 0, 0, 0, 9]);
  const ct = P.cbcEncrypt(k.enc, frameIv(P, k.iv, header), new Uint8Array(16));
  const f = new Uint8Array([...header, ...ct, ...frameTag(P, k.mac, macInput(header, 'node-a', 'up', ct))]);
  t.is((v.handle('sealmq/node-a/up', f) as any).reason, 'bad-padding');
  t.is((v.handle('sealmq/node-a/up', f) as any).reason, 'replay');
});

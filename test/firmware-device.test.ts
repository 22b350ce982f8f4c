// The board's protocol state (firmware/device.ts) in Node, over node:crypto and a fake Storage: readings
// sealed so the host's core opens them, commands opened with the replay window persisted before they act,
// rotation, and provisioning that never lets a counter be reused. device.ts keeps module state, so serial.
import './firmware-globals.js';
import test from 'ava';
import { ascii, fromHex, utf8Decode, utf8Encode } from '../core/bytes.js';
import { deriveKeys, initialReceiveState, open, receive, ReceiveState, seal } from '../core/frame.js';
import { totp } from '../core/otp.js';
import { nodePrimitives as P, sha1 } from '../host/protocol/node-primitives.js';
import { devChallenge, devLoad, devProvision, devStatus, devTotp, onDown, Platform, sealUp } from '../firmware/device.js';
import { Store } from '../firmware/slots.js';

const ROOT = '000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f';
const ROOT2 = 'ff0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f';
const OTP = '3132333435363738393031323334353637383930';
const cfg = (o: Record<string, unknown> = {}) => ({ id: 'node-01', root: ROOT, otp: OTP, broker: { host: '127.0.0.1', port: 1883 }, k: 4, ...o });

class MemStore implements Store {
  files = new Map<string, string>();
  read(n: string) { return this.files.get(n); }
  write(n: string, t: string) { this.files.set(n, t); return true; }
  erase(n: string) { this.files.delete(n); }
}

let clock = 1767225600;
const logs: string[] = [];
const platform = (store: Store): Platform => ({
  store, suite: P, crypto: 'native', now: () => clock, free: () => 1234, k: 64, version: '9.9.9', log: (s) => logs.push(s), bytes: ascii,
});

/** The host side: opens uplink frames with the core's receive() and its own window. */
function host(root = ROOT, id = 'node-01') {
  let st: ReceiveState = initialReceiveState(0);
  let downCounter = 0;
  return {
    up(f: Uint8Array | string) {
      if (typeof f === 'string') throw new Error('nothing sealed: ' + f);
      const r = receive(P, (e) => deriveKeys(P, fromHex(root), id, 'up', e), id, 'up', 'up', st, f);
      if (!r.ok) throw new Error('host rejected: ' + r.reason);
      st = r.state!;
      return { counter: r.counter!, epoch: r.epoch!, msg: JSON.parse(utf8Decode(r.plaintext!)!) };
    },
    down(msg: unknown, epoch = 0, counter = ++downCounter) {
      return seal(P, deriveKeys(P, fromHex(root), id, 'down', epoch), id, 'down', 'down', epoch, counter, utf8Encode(JSON.stringify(msg)));
    },
  };
}

test.serial('not provisioned: says so, seals nothing', (t) => {
  logs.length = 0;
  devLoad(platform(new MemStore()));
  t.deepEqual(logs, ['sealmq: not provisioned']);
  t.is(sealUp({ t: null, d: {} }), 'not provisioned');
  t.is(devStatus().state, 'not provisioned');
  t.is(devTotp(), '');
});

test.serial('provision validates every field and names the bad one', (t) => {
  devLoad(platform(new MemStore()));
  t.is(devProvision(cfg({ id: 'Node_1' })), 'bad id');
  t.is(devProvision(cfg({ id: 'a'.repeat(33) })), 'bad id');
  t.is(devProvision(cfg({ root: ROOT.slice(2) })), 'bad root');
  t.is(devProvision(cfg({ otp: 'zz' + OTP.slice(2) })), 'bad otp');
  t.is(devProvision(cfg({ broker: { host: 'a b', port: 1 } })), 'bad broker.host');
  t.is(devProvision(cfg({ broker: { host: 'h', port: 70000 } })), 'bad broker.port');
  t.is(devProvision(cfg({ prefix: 'a//b' })), 'bad prefix');
  t.is(devProvision(cfg({ prefix: 'a/+' })), 'bad prefix');
  t.is(devProvision(cfg({ interval: 0.01 })), 'bad interval');
  t.is(devProvision(cfg({ k: 0 })), 'bad k');
  t.is(devProvision(cfg({ epoch: 256 })), 'bad epoch');
  t.is(devProvision(cfg({ wifi: { password: 'x' } })), 'bad wifi');
  t.is(devProvision(null), 'bad config');
  t.is(devProvision(cfg({ prefix: 'plant-3/line_a', interval: 0.05, wifi: { ssid: 'lab' } })), '');
});

test.serial('readings are sealed with counters 1, 2, … that the host opens; TOTP and challenge match the host', (t) => {
  const store = new MemStore();
  devLoad(platform(store));
  t.is(devProvision(cfg()), '');
  const h = host();
  for (let i = 1; i <= 10; i++) {
    const r = h.up(sealUp({ t: 1, d: { temp: i } }));
    t.is(r.counter, i);
    t.deepEqual(r.msg, { t: 1, d: { temp: i } });
  }
  t.is(devTotp(), totp(sha1, 64, fromHex(OTP), clock, 30, 8));
  const ch = devChallenge('00ff');
  t.deepEqual(h.up(ch).msg, { t: clock, c: 'challenge', a: { n: '00ff' } });
  t.is(devChallenge('0g'), 'bad nonce');
  t.is(devChallenge('abc'), 'bad nonce');
  const s = devStatus();
  t.like(s, { v: '9.9.9', id: 'node-01', state: 'ok', crypto: 'native', epoch: 0, counter: 11, end: 12, free: 1234, rejected: 0 });
});

test.serial('commands: answered once, sealed; replays, forgeries and non-commands are counted, never answered', (t) => {
  const store = new MemStore();
  devLoad(platform(store));
  devProvision(cfg());
  const h = host();
  const ping = h.down({ t: null, c: 'ping', a: {} });
  t.like(h.up(onDown(ping)!).msg, { r: 'ping', i: 1, ok: true, a: {} });
  t.is(onDown(ping), null, 'replay');
  const forged = h.down({ t: null, c: 'ping' });
  forged[12] ^= 1;
  t.is(onDown(forged), null, 'bad tag');
  t.is(onDown(h.down({ t: null, c: 'ping' }, 0, 3).subarray(0, 20)), null, 'malformed');
  t.is(onDown(h.down('not an object')), null, 'authentic, but not a command');
  t.is(onDown(h.down({ c: 'Bad Name' })), null);
  t.is(devStatus().rejected, 5);
  t.like(h.up(onDown(h.down({ c: 'nope' }))!).msg, { r: 'nope', ok: false, e: 'unknown-command' });
  t.like(h.up(onDown(h.down({ c: 'interval', a: { s: 0.01 } }))!).msg, { r: 'interval', ok: false, e: 'bad-args' });
  t.like(h.up(onDown(h.down({ c: 'interval', a: { s: 2.5 } }))!).msg, { r: 'interval', ok: true, a: { s: 2.5 } });
  t.like(h.up(onDown(h.down({ c: 'status' }))!).msg, { r: 'status', ok: true, a: { interval: 2.5, epoch: 0 } });
  t.is(store.files.get('smq.iv'), '2.5', 'the interval is persisted');
  devLoad(platform(store));
  t.is(devStatus().interval, 2.5, 'and survives a reboot');
  t.is(onDown(ping), null, 'the window survives a reboot: the old frame is still a replay');
});

test.serial('rotate: new epoch recorded first, reply under it, counters restart at 1, old-epoch commands refused', (t) => {
  const store = new MemStore();
  devLoad(platform(store));
  devProvision(cfg());
  const h = host();
  h.up(sealUp({ d: 1 }));
  const r = h.up(onDown(h.down({ c: 'rotate', a: { e: 3 } }))!);
  t.like(r, { epoch: 3, counter: 1, msg: { r: 'rotate', ok: true, a: { e: 3 } } });
  t.like(h.up(sealUp({ d: 2 })), { epoch: 3, counter: 2 });
  t.is(onDown(h.down({ c: 'ping' }, 0)), null, 'a command under the old epoch');
  t.like(h.up(onDown(h.down({ c: 'rotate', a: { e: 2 } }, 3, 1))!).msg, { ok: false, e: 'old-epoch' });
  devLoad(platform(store));
  t.like(devStatus(), { epoch: 3, state: 'ok' });
  t.like(h.up(sealUp({ d: 3 })), { epoch: 3 });
});

test.serial('re-provisioning: new secrets start over; the same secrets never move a counter back; lost state is refused', (t) => {
  const store = new MemStore();
  devLoad(platform(store));
  devProvision(cfg());
  for (let i = 0; i < 9; i++) sealUp({});
  t.is(devProvision(cfg({ interval: 5 })), '', 'same root again (a cable dropped mid-way and the host re-ran it)');
  t.like(devStatus(), { counter: 12, epoch: 0 }, 'resumes past the recorded block end, never back at 1');
  t.is(devProvision(cfg({ epoch: 2 })), '');
  t.like(devStatus(), { epoch: 2, counter: 0 });
  t.is(devProvision(cfg({ root: ROOT2 })), '');
  t.like(devStatus(), { epoch: 0, counter: 0 }, 'new secrets: a fresh counter space');
  const h2 = host(ROOT2);
  t.is(h2.up(sealUp({})).counter, 1);
  store.files.delete('smq.c0');
  store.files.delete('smq.c1');
  store.files.set('smq.c0', 'torn');
  devLoad(platform(store));
  t.is(devStatus().state, 'counter lost');
  t.is(sealUp({}), 'counter lost', 'fail closed');
  t.is(devProvision(cfg({ root: ROOT2 })), 'state lost', 'the same secrets cannot restart a lost counter');
  t.is(devProvision(cfg({ root: ROOT })), '', 'new secrets can');
});

test.serial('counter lost: a rotate to a higher epoch recovers sending', (t) => {
  const store = new MemStore();
  devLoad(platform(store));
  devProvision(cfg());
  store.files.delete('smq.c0');
  store.files.delete('smq.c1');
  store.files.set('smq.c1', 'x');
  devLoad(platform(store));
  const h = host();
  const reply = onDown(h.down({ c: 'rotate', a: { e: 0 } }));
  t.is(reply, null, 'no reply can be sealed while the counter is lost');
  const ok = onDown(h.down({ c: 'rotate', a: { e: 1 } }));
  t.like(h.up(ok!), { epoch: 1, counter: 1, msg: { r: 'rotate', ok: true } });
  t.is(devStatus().state, 'ok');
});

test.serial('the board speaks ASCII JSON with t in unix seconds to the millisecond, or null before the clock is set', (t) => {
  devLoad(platform(new MemStore()));
  devProvision(cfg());
  clock = 1767225600.75;
  const f = sealUp({ t: 1, d: {} }) as Uint8Array;
  const r = open(P, deriveKeys(P, fromHex(ROOT), 'node-01', 'up', 0), 'node-01', 'up', f);
  t.true(r.ok);
  t.true(r.plaintext!.every((b) => b >= 0x20 && b < 0x7f));
  const h = host();
  clock = 5;
  t.is(h.up(onDown(h.down({ c: 'ping' }))!).msg.t, null);
  clock = 1767225600.75;
  t.is(h.up(onDown(h.down({ c: 'ping' }, 0, 2))!).msg.t, 1767225600.75);
});

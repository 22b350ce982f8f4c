// The protocol core's edges: replay window (RFC 4303 §3.4.3), PKCS#7, UTF-8, the receiver order of
// DESIGN.md §4 with one reason per failing step, and a random seal/open round trip.
import test from 'ava';
import { randomBytes } from 'node:crypto';
import { concat, constantTimeEqual, fromHex, toHex, utf8Decode, utf8Encode } from '../core/bytes.js';
import { deriveKeys, frameIv, frameTag, initialReceiveState, macInput, open, parseFrame, receive, seal } from '../core/frame.js';
import { emptyWindow, replayCheck, replayUpdate, WINDOW_SIZE } from '../core/replay.js';
import { pad16, unpad16 } from '../core/pkcs7.js';
import { isDeviceId } from '../core/ids.js';
import { nodePrimitives as P } from '../host/protocol/node-primitives.js';

const ROOT = fromHex('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f');
const UP0 = deriveKeys(P, ROOT, 'node-01', 'up', 0);
const keysFor = (e: number) => deriveKeys(P, ROOT, 'node-01', 'up', e);
const mk = (counter: number, epoch = 0, text = '{"t":null,"d":{"temp":1}}') =>
  seal(P, epoch === 0 ? UP0 : keysFor(epoch), 'node-01', 'up', 'up', epoch, counter, utf8Encode(text));

test('replay window: first, in-order, duplicates, out of order inside the window (RFC 4303 §3.4.3)', (t) => {
  let w = emptyWindow();
  t.is(replayCheck(w, 1), 'ok');
  w = replayUpdate(w, 1);
  t.is(replayCheck(w, 1), 'replay');
  w = replayUpdate(w, 5);
  t.is(replayCheck(w, 3), 'ok');
  w = replayUpdate(w, 3);
  t.is(replayCheck(w, 3), 'replay');
  t.is(replayCheck(w, 4), 'ok');
  t.is(replayCheck(w, 5), 'replay');
});

test('replay window: 64 wide, left edge is stale, jumps of 32, 63, 64 and more', (t) => {
  for (const jump of [1, 31, 32, 33, 63, 64, 65, 1000]) {
    let w = replayUpdate(emptyWindow(), 100);
    w = replayUpdate(w, 100 + jump);
    t.is(replayCheck(w, 100), jump < WINDOW_SIZE ? 'replay' : 'stale', `jump ${jump}`);
    t.is(replayCheck(w, 100 + jump), 'replay');
  }
  const w = replayUpdate(emptyWindow(), 200);
  t.is(replayCheck(w, 200 - 63), 'ok');
  t.is(replayCheck(w, 200 - 64), 'stale');
});

test('replay window: agrees with a reference set model on random traffic', (t) => {
  let w = emptyWindow();
  const seen = new Set<number>();
  let top = 0;
  for (let i = 0; i < 20000; i++) {
    const c = Math.max(1, top + Math.floor(Math.random() * 80) - 60);
    const expect = c > top ? 'ok' : top - c >= 64 ? 'stale' : seen.has(c) ? 'replay' : 'ok';
    t.is(replayCheck(w, c), expect);
    if (expect === 'ok') { w = replayUpdate(w, c); seen.add(c); top = Math.max(top, c); }
  }
});

test('PKCS#7: pads 1..16 bytes and rejects every bad padding', (t) => {
  for (let n = 0; n < 40; n++) {
    const d = randomBytes(n);
    const p = pad16(d);
    t.is(p.length % 16, 0);
    t.true(p.length > n);
    t.deepEqual(Buffer.from(unpad16(p)!), d);
  }
  t.is(unpad16(new Uint8Array(16)), null);
  const bad = pad16(new Uint8Array(3));
  bad[bad.length - 2] ^= 1;
  t.is(unpad16(bad), null);
  t.is(unpad16(new Uint8Array(15)), null);
  t.is(unpad16(fromHex('0000000000000000000000000000001100'.slice(0, 32))), null);
});

test('UTF-8: round trip including astral characters; invalid sequences refused', (t) => {
  for (const s of ['', 'abc', 'é', '€', '温度', '😀 ok', '\u0000']) {
    t.is(utf8Decode(utf8Encode(s)), s);
    t.deepEqual(Buffer.from(utf8Encode(s)), Buffer.from(s, 'utf8'));
  }
  for (const h of ['c0af', 'e080af', 'ed a0 80'.replace(/ /g, ''), 'f4908080', 'c3', 'ff', '80']) t.is(utf8Decode(fromHex(h)), null, h);
});

test('constant-time equality', (t) => {
  t.true(constantTimeEqual(fromHex('0102'), fromHex('0102')));
  t.false(constantTimeEqual(fromHex('0102'), fromHex('0103')));
  t.false(constantTimeEqual(fromHex('0102'), fromHex('01')));
});

test('device ids: pattern [a-z0-9][a-z0-9-]{0,31}', (t) => {
  for (const ok of ['a', 'node-01', '0', 'a'.repeat(32)]) t.true(isDeviceId(ok), ok);
  for (const bad of ['', 'a/b', '#', '+', 'A', '-a', 'a'.repeat(33), 'a b', 'a\u0000', 'é', 'a.b']) t.false(isDeviceId(bad), JSON.stringify(bad));
});

test('parseFrame: malformed lengths, versions, flags and counter 0', (t) => {
  const f = mk(1);
  t.is(typeof parseFrame(f), 'object');
  t.is(parseFrame(f.subarray(0, f.length - 1)), 'malformed');
  t.is(parseFrame(concat([f, new Uint8Array(1)])), 'malformed');
  t.is(parseFrame(new Uint8Array(0)), 'malformed');
  for (const [i, v] of [[0, 2], [0, 0], [1, 2], [1, 0x80]]) {
    const g = new Uint8Array(f);
    g[i] = v;
    t.is(parseFrame(g), 'malformed', `byte ${i} = ${v}`);
  }
  const z = new Uint8Array(f);
  z.fill(0, 3, 7);
  t.is(parseFrame(z), 'malformed');
});

test('receive: the DESIGN.md §4 order, one reason per step', (t) => {
  let st = initialReceiveState(0);
  const r1 = receive(P, keysFor, 'node-01', 'up', 'up', st, mk(1));
  t.true(r1.ok);
  st = r1.state!;
  t.is(receive(P, keysFor, 'node-01', 'up', 'up', st, mk(1)).reason, 'replay');
  t.is(receive(P, keysFor, 'node-01', 'up', 'down', st, mk(2)).reason, 'wrong-direction');
  t.is(receive(P, keysFor, 'node-02', 'up', 'up', st, mk(2)).reason, 'bad-tag', 'moved to another device');
  t.is(receive(P, keysFor, 'node-01', 'down', 'up', st, mk(2)).reason, 'bad-tag', 'moved to another channel');
  const flipped = mk(2);
  flipped[10] ^= 1;
  t.is(receive(P, keysFor, 'node-01', 'up', 'up', st, flipped).reason, 'bad-tag');
  const r100 = receive(P, keysFor, 'node-01', 'up', 'up', st, mk(100));
  t.true(r100.ok);
  st = r100.state!;
  t.is(receive(P, keysFor, 'node-01', 'up', 'up', st, mk(30)).reason, 'stale');
  t.true(receive(P, keysFor, 'node-01', 'up', 'up', st, mk(50)).ok, 'late but inside the window');
  const moved = receive(P, keysFor, 'node-01', 'up', 'up', st, mk(1, 1));
  t.true(moved.ok, 'a higher epoch whose tag passes moves the device');
  t.is(moved.state!.epoch, 1);
  t.is(receive(P, keysFor, 'node-01', 'up', 'up', moved.state!, mk(101, 0)).reason, 'old-epoch');
  t.is(receive(P, () => null, 'node-01', 'up', 'up', moved.state!, mk(2, 1)).reason, 'unknown-epoch');
});

test('receive: a good tag over bad padding is reported as bad-padding (a key bug, never silent)', (t) => {
  // Build a frame whose plaintext block has invalid padding, then MAC it correctly.
  const header = fromHex('01000000000007');
  const ct = P.cbcEncrypt(UP0.enc, frameIv(P, UP0.iv, header), new Uint8Array(16));
  const tag = frameTag(P, UP0.mac, macInput(header, 'node-01', 'up', ct));
  const r = open(P, UP0, 'node-01', 'up', concat([header, ct, tag]));
  t.is(r.reason, 'bad-padding');
});

test('seal/open: random round trip over sizes, epochs and counters', (t) => {
  for (let i = 0; i < 300; i++) {
    const pt = randomBytes(Math.floor(Math.random() * 100));
    const epoch = Math.floor(Math.random() * 256);
    const counter = 1 + Math.floor(Math.random() * 4294967294);
    const dir = i % 2 ? 'down' : 'up';
    const k = deriveKeys(P, ROOT, 'dev-' + (i % 7), dir, epoch);
    const f = seal(P, k, 'dev-' + (i % 7), dir, dir, epoch, counter, pt);
    const r = open(P, k, 'dev-' + (i % 7), dir, f);
    t.true(r.ok);
    t.is(toHex(r.plaintext!), toHex(pt));
    t.is(r.counter, counter);
    t.is(r.epoch, epoch);
  }
});

test('macInput: header ‖ len(id) ‖ id ‖ len(channel) ‖ channel ‖ ciphertext, whichever id and channel came before (the last pair\'s bytes are kept)', (t) => {
  const header = fromHex('01000200000007');
  const ct = new Uint8Array(randomBytes(32));
  const ref = (id: string, ch: string) => concat([header, new Uint8Array([id.length]), utf8Encode(id), new Uint8Array([ch.length]), utf8Encode(ch), ct]);
  // Same id, other channel; other id, same channel; an id that is a prefix of another; back to the first.
  const calls: [string, string][] = [['node-01', 'up'], ['node-01', 'up'], ['node-01', 'down'], ['node-02', 'down'], ['node-0', 'down'], ['node-01', 'up'], ['a', 'up'], ['node-01', 'up']];
  for (const [id, ch] of calls) t.is(toHex(macInput(header, id, ch, ct)), toHex(ref(id, ch)), `${id}/${ch}`);
  t.throws(() => macInput(header, 'x'.repeat(256), 'up', ct), { message: /too long/ });
  // The refused id is not kept: the next call with the last good pair is still right.
  t.is(toHex(macInput(header, 'node-01', 'up', ct)), toHex(ref('node-01', 'up')));
});

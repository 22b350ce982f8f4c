// The firmware's MQTT 3.1.1 codec (firmware/mqtt.ts) as pure functions over binary strings: packets to
// annotated bytes and back, malformed input, a stream split at every byte, and a cross-check in both
// directions against mqtt-packet (the codec MQTT.js and aedes use). Clause numbers: OASIS MQTT 3.1.1.
import test from 'ava';
import mqttPacket from 'mqtt-packet';
import { connackCode, connect, DISCONNECT, frame, Packet, PINGREQ, publish, readPublish, split, subscribe } from '../firmware/mqtt.js';

const bytes = (s: string) => Buffer.from(s, 'latin1');
const bin = (b: Buffer | number[]) => Buffer.from(b).toString('latin1');
const hex = (s: string) => bytes(s).toString('hex');

/** Parses bytes with mqtt-packet (the reference). */
function reference(b: Buffer): any[] {
  const p = mqttPacket.parser({ protocolVersion: 4 });
  const out: any[] = [];
  p.on('packet', (x: any) => out.push(x));
  p.on('error', (e: Error) => out.push({ error: e.message }));
  p.parse(b);
  return out;
}

test('CONNECT (§3.1): "MQTT" level 4, flags user+password+clean session 0xc2 (MQTT-3.1.2-6), keep alive, id, user, password', (t) => {
  const c = connect('node-01', 'node-01', '12345678', 60);
  t.is(hex(c), [
    '10', '26', // CONNECT, remaining length 38
    '0004', '4d515454', // protocol name "MQTT"
    '04', 'c2', '003c', // level 4, flags, keep alive 60 s
    '0007', hex('node-01'),
    '0007', hex('node-01'),
    '0008', hex('12345678'),
  ].join(''));
  const [p] = reference(bytes(c));
  t.like(p, { cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, keepalive: 60, clientId: 'node-01', username: 'node-01' });
  t.is(p.password.toString(), '12345678');
});

test('SUBSCRIBE (§3.8): fixed header 0x82 (MQTT-3.8.1-1), packet id, one filter at QoS 0', (t) => {
  const s = subscribe(1, 'sealmq/node-01/down');
  t.is(hex(s), '82' + '18' + '0001' + '0013' + hex('sealmq/node-01/down') + '00');
  t.like(reference(bytes(s))[0], { cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'sealmq/node-01/down', qos: 0 }] });
});

test('PUBLISH (§3.3) at QoS 0: topic, no packet id, the payload bytes as they are', (t) => {
  const payload = bin([0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0xff, 0x80, 0x00]);
  const p = publish('sealmq/node-01/up', payload);
  t.is(hex(p), '30' + '1d' + '0011' + hex('sealmq/node-01/up') + '01000000000001ff8000');
  const [r] = reference(bytes(p));
  t.like(r, { cmd: 'publish', topic: 'sealmq/node-01/up', qos: 0, retain: false });
  t.is(bin(r.payload), payload);
});

test('PINGREQ (§3.12) and DISCONNECT (§3.14) are two bytes', (t) => {
  t.is(hex(PINGREQ), 'c000');
  t.is(hex(DISCONNECT), 'e000');
  t.like(reference(bytes(PINGREQ))[0], { cmd: 'pingreq' });
  t.like(reference(bytes(DISCONNECT))[0], { cmd: 'disconnect' });
});

test('Remaining Length (§2.2.3): 7 bits a byte, least significant first, at the boundaries', (t) => {
  const cases: [number, string][] = [[0, '00'], [127, '7f'], [128, '8001'], [16383, 'ff7f'], [16384, '808001'], [2097151, 'ffff7f'], [2097152, '80808001']];
  for (const [n, enc] of cases) {
    const f = frame(0x30, 'x'.repeat(n));
    t.is(hex(f.slice(0, 1 + enc.length / 2)), '30' + enc, `length ${n}`);
    const r = split(f, 1 << 30);
    if (typeof r === 'string') return t.fail(r);
    t.is(r.p.length, 1);
    t.is(r.p[0].b.length, n);
  }
});

test('parses CONNACK (§3.2), SUBACK (§3.9), PINGRESP (§3.13) and PUBLISH made by mqtt-packet', (t) => {
  const stream = Buffer.concat([
    mqttPacket.generate({ cmd: 'connack', returnCode: 0, sessionPresent: false }),
    mqttPacket.generate({ cmd: 'suback', messageId: 1, granted: [0] }),
    mqttPacket.generate({ cmd: 'pingresp' }),
    mqttPacket.generate({ cmd: 'publish', topic: 'sealmq/node-01/down', payload: Buffer.from([1, 1, 0, 0, 0, 0, 9, 0xfe]), qos: 0, retain: false, dup: false }),
    mqttPacket.generate({ cmd: 'publish', topic: 'a/b', payload: Buffer.from('hi'), qos: 1, messageId: 7, retain: false, dup: false }),
    mqttPacket.generate({ cmd: 'connack', returnCode: 5, sessionPresent: false }),
  ]);
  const r = split(bin(stream), 2048);
  if (typeof r === 'string') return t.fail(r);
  t.is(r.r, '');
  t.deepEqual(r.p.map((p) => p.t), [2, 9, 13, 3, 3, 2]);
  t.is(connackCode(r.p[0]), 0);
  t.is(r.p[1].b, '\0\x01\0');
  t.deepEqual(readPublish(r.p[3]), { topic: 'sealmq/node-01/down', payload: bin([1, 1, 0, 0, 0, 0, 9, 0xfe]) });
  t.deepEqual(readPublish(r.p[4]), { topic: 'a/b', payload: 'hi' }, 'a QoS 1 packet id is skipped (§3.3.2.2)');
  t.is(connackCode(r.p[5]), 5, 'refused: not authorized');
});

test('a stream split at every byte boundary yields the same packets, the partial one kept for later', (t) => {
  const whole = bin(Buffer.concat([
    mqttPacket.generate({ cmd: 'connack', returnCode: 0, sessionPresent: false }),
    mqttPacket.generate({ cmd: 'publish', topic: 'sealmq/node-01/down', payload: Buffer.alloc(300, 0xab), qos: 0, retain: false, dup: false }),
    mqttPacket.generate({ cmd: 'pingresp' }),
  ]));
  for (let cut = 0; cut <= whole.length; cut++) {
    const got: Packet[] = [];
    let buf = '';
    for (const seg of [whole.slice(0, cut), whole.slice(cut)]) {
      const r = split(buf + seg, 2048);
      if (typeof r === 'string') return t.fail(`cut ${cut}: ${r}`);
      got.push(...r.p);
      buf = r.r;
    }
    t.is(buf, '');
    t.deepEqual(got.map((p) => p.t), [2, 3, 13], `cut at ${cut}`);
    t.is(readPublish(got[1])!.payload.length, 300);
  }
  let buf = '';
  const got: Packet[] = [];
  for (const ch of whole) {
    const r = split(buf + ch, 2048);
    if (typeof r === 'string') return t.fail(r);
    got.push(...r.p);
    buf = r.r;
  }
  t.is(got.length, 3, 'one byte at a time');
});

test('malformed input: a Remaining Length over 4 bytes (§2.2.3), reserved types 0 and 15, a packet over the board\'s limit', (t) => {
  t.is(split('\x30\xff\xff\xff\xff\x01', 1 << 30), 'malformed');
  t.is(split('\x00\x00', 2048), 'malformed');
  t.is(split('\xf0\x00', 2048), 'malformed');
  t.is(split('\x30\x81\x10', 2048), 'malformed', '2049 bytes announced, 2048 allowed');
  t.deepEqual(split('\x30', 2048), { p: [], r: '\x30' }, 'one byte: wait for more');
  t.deepEqual(split('\x30\x80', 2048), { p: [], r: '\x30\x80' }, 'a length still continuing: wait');
});

test('malformed PUBLISH bodies give null, never an exception', (t) => {
  t.is(readPublish({ t: 3, f: 0, b: '' }), null);
  t.is(readPublish({ t: 3, f: 0, b: '\0' }), null);
  t.is(readPublish({ t: 3, f: 0, b: '\0\x05abc' }), null, 'topic longer than the packet');
  t.is(readPublish({ t: 3, f: 2, b: '\0\x01a' }), null, 'QoS 1 without a packet id');
  t.is(readPublish({ t: 3, f: 6, b: '\0\x01a\0\x01' }), null, 'QoS 3 is malformed (MQTT-3.3.1-4)');
  t.is(connackCode({ t: 2, f: 0, b: '\0' }), -1);
});

test('random round trip: what we generate mqtt-packet parses, what it generates we parse', (t) => {
  for (let i = 0; i < 200; i++) {
    const topic = 'sealmq/' + 'd'.repeat(1 + (i % 30)) + '/up';
    const payload = Buffer.from(Array.from({ length: (i * 37) % 700 }, (_, j) => (i * 7 + j * 13) & 255));
    const [ref] = reference(bytes(publish(topic, bin(payload))));
    t.is(ref.topic, topic);
    t.true(Buffer.compare(ref.payload, payload) === 0);
    const back = split(bin(mqttPacket.generate({ cmd: 'publish', topic, payload, qos: 0, retain: false, dup: false })), 4096);
    if (typeof back === 'string') return t.fail(back);
    t.deepEqual(readPublish(back.p[0]), { topic, payload: bin(payload) });
  }
});

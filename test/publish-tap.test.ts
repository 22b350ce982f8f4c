// The verifier's publish tap (host/mqtt/publish-tap.ts): plain QoS 0 PUBLISH packets handed out as read, in
// order, whatever the chunking; every other byte passed to mqtt.js unchanged and in order.
import test from 'ava';
import { PassThrough } from 'node:stream';
import mqttPacket from 'mqtt-packet';
import { nextPacket, packet, plainPublishTopicEnd, publishPacket } from '../host/mqtt/packets.js';
import { PublishTap } from '../host/mqtt/publish-tap.js';

function pkt(first: number, body: Buffer): Buffer {
  let rem = body.length;
  const len: number[] = [];
  do {
    len.push((rem % 128) | (rem >= 128 ? 128 : 0));
    rem = Math.floor(rem / 128);
  } while (rem > 0);
  return Buffer.concat([Buffer.from([first, ...len]), body]);
}
const pub = (topic: string, payload: Buffer, first = 0x30) => pkt(first, Buffer.concat([Buffer.from([topic.length >> 8, topic.length & 255]), Buffer.from(topic), payload]));

test('plain PUBLISH packets go to onPublish in order, everything else to mqtt.js in order, for any chunking', async (t) => {
  const others = [pkt(0x20, Buffer.from([0, 0])), pkt(0x90, Buffer.from([0, 1, 0])), pkt(0xd0, Buffer.alloc(0))];
  const stream: Buffer[] = [others[0]];
  const want: string[] = [];
  for (let i = 0; i < 200; i++) {
    const payload = Buffer.from(`{"i":${i},"pad":"${'x'.repeat(i % 150)}"}`);
    stream.push(pub(`sealmq/dev-${i % 7}/up`, payload));
    want.push(`sealmq/dev-${i % 7}/up ${payload}`);
    if (i === 50) stream.push(others[1]);
    if (i === 120) stream.push(pub('sealmq/dev-1/up', Buffer.from('retained'), 0x31), others[2]);
  }
  const bytes = Buffer.concat(stream);
  const passedWant = Buffer.concat([others[0], others[1], pub('sealmq/dev-1/up', Buffer.from('retained'), 0x31), others[2]]);
  for (const size of [1, 2, 3, 7, 64, 1000, bytes.length]) {
    const socket = new PassThrough();
    const got: string[] = [];
    const tap = new PublishTap(socket, (topic, payload) => got.push(`${topic} ${payload}`));
    const passed: Buffer[] = [];
    tap.on('data', (b: Buffer) => passed.push(b));
    for (let i = 0; i < bytes.length; i += size) socket.write(bytes.subarray(i, i + size));
    await new Promise((r) => setImmediate(r));
    t.deepEqual(got, want, `chunks of ${size}`);
    t.deepEqual(Buffer.concat(passed), passedWant, `chunks of ${size}: the rest unchanged`);
  }
});

test('framing: incomplete packets wait, a 5-byte Remaining Length is malformed, only 0x30 with a topic inside is a plain publish', (t) => {
  const p = pub('a/b', Buffer.from('xyz'));
  t.is(nextPacket(p, 0), 1);
  t.deepEqual([packet.body, packet.end], [2, p.length]);
  t.is(nextPacket(p.subarray(0, p.length - 1), 0), 0);
  t.is(nextPacket(Buffer.from([0x30]), 0), 0);
  t.is(nextPacket(Buffer.from([0x30, 0x80, 0x80, 0x80, 0x80, 0x01]), 0), -1);
  t.is(plainPublishTopicEnd(p, 0, 2, p.length), 2 + 2 + 3);
  t.is(plainPublishTopicEnd(pub('a/b', Buffer.from('x'), 0x31), 0, 2, p.length - 2), -1, 'retained');
  t.is(plainPublishTopicEnd(pub('a/b', Buffer.from('x'), 0x32), 0, 2, p.length - 2), -1, 'QoS 1');
  t.is(plainPublishTopicEnd(pub('', Buffer.from('x')), 0, 2, 5), -1, 'empty topic');
  const long = Buffer.from([0x30, 4, 0, 9, 0x61, 0x62]);
  t.is(plainPublishTopicEnd(long, 0, 2, long.length), -1, 'topic longer than the packet');
});

test('publishPacket encodes what mqtt-packet (MQTT.js, aedes) encodes for a plain QoS 0 PUBLISH, at every Remaining Length size', (t) => {
  for (const n of [0, 1, 87, 104, 105, 106, 127, 16_360, 16_361, 16_400, 2_097_140, 2_097_200]) {
    const topic = n % 2 ? 'sealmq/dev-01/up' : 'sealmq/ünï/up';
    const payload = Buffer.alloc(n, n & 255);
    const want = mqttPacket.generate({ cmd: 'publish', topic, payload, qos: 0, retain: false, dup: false });
    t.true(publishPacket(topic, payload).equals(want), `payload of ${n} bytes`);
  }
});

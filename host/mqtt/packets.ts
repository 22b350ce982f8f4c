// MQTT 3.1.1 framing (OASIS mqtt-v3.1.1 §2.2): where the packet starting at a given offset of a byte stream
// ends (shared by the broker's packet guard and the verifier's publish tap, which hand complete packets on),
// and a plain PUBLISH encoded (the attack relay's injections, the bench's synthetic publishers).

/** Set by nextPacket(): the offset of the packet's variable header and the offset just past its end. */
export const packet = { body: 0, end: 0 };

/**
 * The packet at data[i]: 1 when it is complete in data (packet.body, packet.end set), 0 when data ends inside
 * it, -1 when its Remaining Length takes more than 4 bytes (§2.2.3: malformed).
 */
export function nextPacket(data: Uint8Array, i: number): 1 | 0 | -1 {
  const n = data.length;
  let j = i + 1;
  let len = 0;
  let mult = 1;
  for (let k = 0; ; k++) {
    if (k === 4) return -1;
    if (j >= n) return 0;
    const b = data[j++];
    len += (b & 127) * mult;
    mult *= 128;
    if ((b & 128) === 0) break;
  }
  if (j + len > n) return 0;
  packet.body = j;
  packet.end = j + len;
  return 1;
}

/**
 * A QoS 0 PUBLISH without DUP or RETAIN (type byte 0x30) whose body (data[body, end)) holds a non-empty topic:
 * the offset just past the topic, or -1 for anything else.
 */
export function plainPublishTopicEnd(data: Uint8Array, start: number, body: number, end: number): number {
  if (data[start] !== 0x30 || end - body < 2) return -1;
  const te = body + 2 + ((data[body] << 8) | data[body + 1]);
  return te > body + 2 && te <= end ? te : -1;
}

/** Remaining Length bytes (§2.2.3). */
export function remainingLength(n: number): Buffer {
  const out: number[] = [];
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 128;
    out.push(b);
  } while (n > 0);
  return Buffer.from(out);
}

const mqttString = (s: string) => {
  const b = Buffer.from(s, 'utf8');
  return Buffer.concat([Buffer.from([b.length >> 8, b.length & 255]), b]);
};

/** A QoS 0 PUBLISH packet (§3.3), not retained. */
export function publishPacket(topic: string, payload: Uint8Array): Buffer {
  const body = Buffer.concat([mqttString(topic), Buffer.from(payload)]);
  return Buffer.concat([Buffer.from([0x30]), remainingLength(body.length), body]);
}

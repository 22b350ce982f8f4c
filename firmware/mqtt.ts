/**
 * The few MQTT 3.1.1 control packets a sensor needs (OASIS mqtt-v3.1.1 §3), as pure functions over
 * binary strings (one char per byte), which is what Espruino's sockets read and write. Topics here are
 * ASCII (device ids and prefixes are restricted), so a topic's chars are its UTF-8 bytes.
 */

const C = String.fromCharCode;

export const CONNECT = 1;
export const CONNACK = 2;
export const PUBLISH = 3;
export const SUBSCRIBE = 8;
export const SUBACK = 9;
export const PINGRESP = 13;
/** §3.12 PINGREQ and §3.14 DISCONNECT: no variable header, no payload. */
export const PINGREQ = '\xc0\x00';
export const DISCONNECT = '\xe0\x00';

/** One received control packet: type (high nibble), flags (low nibble), everything after the length. */
export interface Packet {
  t: number;
  f: number;
  b: string;
}

/** Two bytes, most significant first (§1.5.2); n < 65536. */
export const u16 = (n: number) => C(n >> 8, n & 255);

/** A length-prefixed string (§1.5.3). */
export const str = (s: string) => u16(s.length) + s;

/** Fixed header byte + Remaining Length (§2.2.3: 7 bits a byte, least significant first) + body. */
export const frame = (h: number, body: string) => {
  let n = body.length;
  let l = '';
  do {
    let b = n & 127;
    n >>= 7;
    if (n) b |= 128;
    l += C(b);
  } while (n);
  return C(h) + l + body;
};

/**
 * CONNECT (§3.1): protocol "MQTT" level 4, flags user name + password + clean session (0xc2; MQTT-3.1.2-6),
 * keep alive in seconds, then client id, user name, password.
 */
export const connect = (id: string, user: string, pass: string, keepAlive: number) =>
  frame(0x10, str('MQTT') + C(4, 0xc2) + u16(keepAlive) + str(id) + str(user) + str(pass));

/** SUBSCRIBE (§3.8): fixed header flags 0010 (MQTT-3.8.1-1), packet id, one topic filter at QoS 0. */
export const subscribe = (packetId: number, topic: string) => frame(0x82, u16(packetId) + str(topic) + C(0));

/** PUBLISH (§3.3) at QoS 0, not retained: no packet id. */
export const publish = (topic: string, payload: string) => frame(0x30, str(topic) + payload);

/**
 * Splits a byte stream into control packets (§2.2), keeping a partial packet for the next segment.
 * Returns the packets and the rest, or an error: 'malformed' (a Remaining Length over 4 bytes, §2.2.3;
 * reserved packet type 0 or 15) or 'too-long' (over max bytes: a board cannot hold it).
 */
export const split = (buf: string, max: number): { p: Packet[]; r: string } | string => {
  const p: Packet[] = [];
  let o = 0;
  // A lone first byte is judged at once (a UART gateway's 0x00, docs/PROTOCOL.md, needs no second byte).
  while (o < buf.length) {
    const h = buf.charCodeAt(o);
    let i = o + 1;
    let n = 0;
    let m = 1;
    let b;
    do {
      if (i > o + 4 || h < 16 || h > 239) return 'malformed';
      if (i >= buf.length) return { p: p, r: buf.slice(o) };
      b = buf.charCodeAt(i++);
      n += (b & 127) * m;
      m *= 128;
    } while (b & 128);
    if (n > max) return 'malformed';
    if (i + n > buf.length) break;
    p.push({ t: h >> 4, f: h & 15, b: buf.substr(i, n) });
    o = i + n;
  }
  return { p: p, r: buf.slice(o) };
};

/** A PUBLISH's topic and payload (§3.3.2: topic, then a packet id only at QoS 1 or 2); null if malformed. */
export const readPublish = (k: Packet): { topic: string; payload: string } | null => {
  const q = (k.f >> 1) & 3;
  const b = k.b;
  const n = (b.charCodeAt(0) << 8) | b.charCodeAt(1);
  const o = 2 + n + (q ? 2 : 0);
  return q === 3 || b.length < 2 || o > b.length ? null : { topic: b.substr(2, n), payload: b.slice(o) };
};

/** A CONNACK's return code (§3.2.2.3: 0 accepted, 1..5 refused), or -1 if malformed. */
export const connackCode = (k: Packet) => (k.b.length === 2 ? k.b.charCodeAt(1) : -1);

/** Research plain build only: CONNECT with neither user name nor password (flags 0x02: clean session). */
export const connectAnon = (id: string, keepAlive: number) => frame(0x10, str('MQTT') + C(4, 2) + u16(keepAlive) + str(id));

// MQTT over a UART (docs/PROTOCOL.md, "MQTT over a UART"): the gateway's view of the byte stream. It reads
// MQTT 3.1.1 fixed headers only (type, Remaining Length: OASIS mqtt-v3.1.1 §2.2), never a payload, to find
// where packets and sessions begin and end:
//
// - No session: bytes are skipped until a CONNECT that looks like one (0x10, a valid Remaining Length, the
//   protocol name "MQTT" and level 4), so line noise or the tail of an old session never opens one.
// - In a session: whole packets pass; a CONNECT starts a new session (the board redialled); a 0x00 byte
//   (type 0 is reserved: no packet starts with it) is the board ending the session; any other reserved
//   type (15), a Remaining Length over 4 bytes, or a packet over the size limit ends the session as
//   malformed. The bytes after the end are read again as "no session".
//
// Pure: bytes in, decisions out, no I/O (host/gateway/gateway.ts does the relaying).

/** The CONNECT the firmware sends starts with these bytes after its Remaining Length: "MQTT", level 4. */
const CONNECT_SIGNATURE = Buffer.from([0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x04]);

/** The end-of-session byte, both ways. */
export const END_BYTE = 0x00;

/** The default size limit: the firmware's own (MAX_PACKET in firmware/net-link.ts, a Remaining Length). */
export const DEFAULT_MAX_PACKET = 2048;

export type EndReason = 'board-end' | 'malformed' | 'oversize';

export type FromBoard =
  /** A CONNECT: start a session (closing any previous one) and send it to the broker. */
  | { type: 'connect'; packet: Buffer; clientId: string | null }
  /** A whole packet of the running session, for the broker. */
  | { type: 'packet'; packet: Buffer }
  /** The session ends here (the board's 0x00, or what the gateway refuses). */
  | { type: 'end'; reason: EndReason }
  /** Bytes outside any session that are not a CONNECT (nor a 0x00 end mark), skipped. */
  | { type: 'skip'; bytes: number };

/** Bytes in b[from, to) that are not 0x00: a 0x00 outside a session is a board's end mark, not noise. */
const noise = (b: Buffer, from: number, to: number) => {
  let n = 0;
  for (let i = from; i < to; i++) if (b[i] !== END_BYTE) n++;
  return n;
};

interface Header {
  /** Bytes of fixed header (type byte + Remaining Length). */
  head: number;
  /** Remaining Length. */
  body: number;
}

/**
 * One fixed header at the start of b: the header, 'partial' (more bytes needed), or why it is refused.
 * Type 0 and 15 are reserved (§2.2.1); the Remaining Length takes at most 4 bytes (§2.2.3).
 */
export function readHeader(b: Buffer, max: number): Header | 'partial' | 'malformed' | 'oversize' {
  if (b.length < 1) return 'partial';
  const t = b[0] >> 4;
  if (t === 0 || t === 15) return 'malformed';
  let n = 0;
  let m = 1;
  for (let i = 1; ; i++) {
    if (i > 4) return 'malformed';
    if (i >= b.length) return 'partial';
    const c = b[i];
    n += (c & 127) * m;
    m *= 128;
    if (!(c & 128)) return n > max ? 'oversize' : { head: i + 1, body: n };
  }
}

/** The client id of a CONNECT (for logs: a device id, never a secret), null if it is not a plain one. */
export function connectClientId(p: Buffer): string | null {
  const h = readHeader(p, Infinity);
  if (typeof h === 'string') return null;
  const o = h.head + 10; // protocol name (6), level (1), flags (1), keep alive (2)
  if (p.length < o + 2) return null;
  const n = p.readUInt16BE(o);
  if (p.length < o + 2 + n) return null;
  const id = p.subarray(o + 2, o + 2 + n).toString('latin1');
  return /^[a-z0-9][a-z0-9-]{0,31}$/.test(id) ? id : null;
}

/**
 * Splits what the board sends into sessions and packets. push() takes bytes as they arrive and returns
 * what to do, in order; `pending` is how many bytes wait for the rest of a packet.
 */
export class BoardStream {
  private buf = Buffer.alloc(0);
  private session = false;

  constructor(private readonly max = DEFAULT_MAX_PACKET) {}

  get inSession(): boolean {
    return this.session;
  }

  /** Bytes held back: a packet (or a CONNECT candidate) not complete yet. */
  get pending(): number {
    return this.buf.length;
  }

  /** The session is over from the other side (the broker closed): look for a CONNECT again. */
  endSession(): void {
    this.session = false;
  }

  /** Forgets held bytes (a stalled packet, a new cable). */
  clear(): void {
    this.buf = Buffer.alloc(0);
    this.session = false;
  }

  push(data: Buffer): FromBoard[] {
    const out: FromBoard[] = [];
    let b = this.buf.length ? Buffer.concat([this.buf, data]) : data;
    let skipped = 0;
    const flushSkip = () => {
      if (skipped) out.push({ type: 'skip', bytes: skipped });
      skipped = 0;
    };
    while (b.length) {
      if (!this.session) {
        // Resynchronise: the next CONNECT candidate.
        const i = b.indexOf(0x10);
        if (i < 0) {
          skipped += noise(b, 0, b.length);
          b = b.subarray(b.length);
          break;
        }
        skipped += noise(b, 0, i);
        b = b.subarray(i);
        const c = this.candidate(b);
        if (c === 'partial') break;
        if (c === 'no') {
          skipped += 1;
          b = b.subarray(1);
          continue;
        }
        flushSkip();
        out.push({ type: 'connect', packet: Buffer.from(b.subarray(0, c)), clientId: connectClientId(b.subarray(0, c)) });
        this.session = true;
        b = b.subarray(c);
        continue;
      }
      if (b[0] === END_BYTE) {
        out.push({ type: 'end', reason: 'board-end' });
        this.session = false;
        b = b.subarray(1);
        continue;
      }
      const h = readHeader(b, this.max);
      if (h === 'partial') break;
      if (h === 'malformed' || h === 'oversize') {
        out.push({ type: 'end', reason: h });
        this.session = false;
        // The refused byte cannot start a CONNECT (or it would have parsed): resynchronise after it.
        b = b.subarray(1);
        continue;
      }
      const len = h.head + h.body;
      if (b.length < len) break;
      if (b[0] >> 4 === 1) {
        // A CONNECT inside a session: the board redialled. It must look like one, or the session is malformed.
        const c = this.candidate(b);
        if (c !== len) {
          out.push({ type: 'end', reason: 'malformed' });
          this.session = false;
          b = b.subarray(1);
          continue;
        }
        out.push({ type: 'connect', packet: Buffer.from(b.subarray(0, len)), clientId: connectClientId(b.subarray(0, len)) });
      } else out.push({ type: 'packet', packet: Buffer.from(b.subarray(0, len)) });
      b = b.subarray(len);
    }
    flushSkip();
    this.buf = Buffer.from(b);
    return out;
  }

  /**
   * Whether b starts with a CONNECT of ours: its whole length, 'partial' (cannot tell yet) or 'no'.
   * Only a packet of type 1 with flags 0, a Remaining Length within the limit and the "MQTT" level 4
   * signature counts.
   */
  private candidate(b: Buffer): number | 'partial' | 'no' {
    if (b[0] !== 0x10) return 'no';
    const h = readHeader(b, this.max);
    if (h === 'partial') return 'partial';
    if (typeof h === 'string' || h.body < CONNECT_SIGNATURE.length + 5) return 'no';
    const sig = b.subarray(h.head, h.head + CONNECT_SIGNATURE.length);
    if (!CONNECT_SIGNATURE.subarray(0, sig.length).equals(sig)) return 'no';
    if (sig.length < CONNECT_SIGNATURE.length) return 'partial';
    return b.length < h.head + h.body ? 'partial' : h.head + h.body;
  }
}

export type FromBroker = { type: 'packet'; packet: Buffer } | { type: 'end'; reason: 'malformed' | 'oversize' };

/** Splits what the broker sends into whole packets for the board; a malformed or oversize one ends the session. */
export class BrokerStream {
  private buf = Buffer.alloc(0);
  private dead = false;

  constructor(private readonly max = DEFAULT_MAX_PACKET) {}

  get pending(): number {
    return this.buf.length;
  }

  push(data: Buffer): FromBroker[] {
    if (this.dead) return [];
    const out: FromBroker[] = [];
    let b = this.buf.length ? Buffer.concat([this.buf, data]) : data;
    while (b.length) {
      const h = readHeader(b, this.max);
      if (h === 'partial') break;
      if (typeof h === 'string') {
        out.push({ type: 'end', reason: h });
        this.dead = true;
        b = Buffer.alloc(0);
        break;
      }
      const len = h.head + h.body;
      if (b.length < len) break;
      out.push({ type: 'packet', packet: Buffer.from(b.subarray(0, len)) });
      b = b.subarray(len);
    }
    this.buf = Buffer.from(b);
    return out;
  }
}

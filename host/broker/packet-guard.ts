// A guard in front of aedes on every broker connection: it reads only MQTT fixed headers (OASIS
// mqtt-v3.1.1 §2.2) as bytes arrive and closes the connection, before anything is buffered, when
//   - the first packet is not a CONNECT (MQTT-3.1.0-1), or its type byte is reserved (0 or 15, §2.2.1);
//   - a Remaining Length takes more than 4 bytes (§2.2.3: malformed);
//   - a packet announces more than maxPacket bytes (mqtt-packet would otherwise buffer up to 256 MiB
//     for one packet: a single client could exhaust the broker's memory; Mosquitto's max_packet_size
//     does the same job, and `--emit-mosquitto` sets it to the same 65,536).
// aedes sees a Duplex that passes the bytes through unchanged; the socket stays the truth for addresses.
// With a FastPath (fast-publish.ts), complete QoS 0 PUBLISH packets of a logged-in session, while aedes has
// nothing of this connection left to handle, are offered to it first: what it takes never reaches aedes.
import { Duplex } from 'node:stream';
import type { Socket } from 'node:net';
import { nextPacket, packet } from '../mqtt/packets.js';

/** The default largest MQTT packet (fixed header included) the embedded broker accepts: as Mosquitto's config. */
export const DEFAULT_MAX_PACKET = 65_536;

export type GuardRefusal = 'first-not-connect' | 'reserved-type' | 'malformed-length' | 'too-large';

/** Incremental fixed-header scanner: feed() returns a refusal or null; it keeps O(1) state across chunks. */
export class HeaderScanner {
  private packets = 0;
  /** Bytes of the current packet's body still to skip. */
  private skip = 0;
  /** 0: expecting a type byte; 1..4: reading Remaining Length byte n. */
  private lenByte = 0;
  private len = 0;
  private mult = 1;
  private type = 0;

  constructor(private readonly maxPacket: number) {}

  /** Between two packets (nothing of a header or body pending). */
  get atBoundary(): boolean {
    return this.skip === 0 && this.lenByte === 0;
  }

  feed(b: Uint8Array): GuardRefusal | null {
    let i = 0;
    while (i < b.length) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, b.length - i);
        this.skip -= n;
        i += n;
        continue;
      }
      const x = b[i++];
      if (this.lenByte === 0) {
        this.type = x >> 4;
        if (this.type === 0 || this.type === 15) return 'reserved-type';
        if (this.packets === 0 && this.type !== 1) return 'first-not-connect';
        this.lenByte = 1;
        this.len = 0;
        this.mult = 1;
        continue;
      }
      this.len += (x & 127) * this.mult;
      this.mult *= 128;
      if (x & 128) {
        if (++this.lenByte > 4) return 'malformed-length';
        continue;
      }
      // 1 type byte + the length bytes + the body.
      if (1 + this.lenByte + this.len > this.maxPacket) return 'too-large';
      this.packets++;
      this.skip = this.len;
      this.lenByte = 0;
    }
    return null;
  }
}

/** What GuardedConnection offers complete packets to (fast-publish.ts). */
export interface FastPath {
  /** May this connection's next packets be offered? (Logged in, and aedes has nothing of it left to handle.) */
  ready(conn: GuardedConnection): boolean;
  /**
   * A complete packet, data[start, end), its Remaining Length ending at body: true if it was handled (never to
   * reach aedes). A false ends the offers for the rest of the chunk: every later packet goes to aedes in order.
   */
  offer(conn: GuardedConnection, data: Buffer, start: number, body: number, end: number): boolean;
  /** Once per chunk that had packets taken: e.g. aedes' keepalive timer, which it would have refreshed. */
  taken(conn: GuardedConnection): void;
}

/** What the fast path queues on one connection in one turn before it holds the publishers (sendRaw). */
export const TURN_BYTES = 1 << 20;

/**
 * The connection aedes handles: bytes from the socket go through a HeaderScanner; a refusal destroys
 * the socket (and this stream) at once and is reported to onRefuse.
 */
export class GuardedConnection extends Duplex {
  private readonly scanner: HeaderScanner;
  /** aedes' client, which aedes sets on the stream it handles. */
  client?: unknown;
  /** With a fast path: the start of a packet not yet complete (at most maxPacket bytes). */
  private carry: Buffer | null = null;
  /** Reading held back by the fast path until a subscriber's socket drains. */
  private blocked = 0;

  constructor(readonly socket: Socket, maxPacket: number, onRefuse: (why: GuardRefusal) => void, private readonly fast?: FastPath) {
    super({ allowHalfOpen: false });
    this.scanner = new HeaderScanner(maxPacket);
    socket.on('data', (chunk: Buffer) => {
      const boundary = this.scanner.atBoundary;
      const why = this.scanner.feed(chunk);
      if (why) {
        onRefuse(why);
        socket.destroy();
        this.destroy();
        return;
      }
      if (this.fast && (this.carry !== null || (boundary && this.fast.ready(this)))) this.frame(chunk, this.fast);
      else this.toAedes(chunk);
    });
    socket.on('end', () => {
      if (this.carry !== null) this.push(this.carry);
      this.carry = null;
      this.push(null);
    });
    socket.on('error', (e) => this.destroy(e));
    socket.on('close', () => {
      this.wake();
      this.destroy();
    });
  }

  private toAedes(b: Buffer): void {
    if (!this.push(b)) this.socket.pause();
  }

  /**
   * Splits a chunk into complete packets (the scanner has checked their headers) and offers them in order;
   * from the first one not taken on, the rest of the chunk goes to aedes unchanged. A packet cut by the chunk's
   * end waits for the next chunk, where it is offered whole.
   */
  private frame(chunk: Buffer, fast: FastPath): void {
    let data = chunk;
    if (this.carry !== null) {
      data = Buffer.concat([this.carry, chunk]);
      this.carry = null;
      if (!fast.ready(this)) return this.toAedes(data);
    }
    const n = data.length;
    let i = 0;
    let took = false;
    while (i < n) {
      // The scanner has checked every header: a packet is complete (1) or cut by the chunk's end (0).
      if (nextPacket(data, i) !== 1) {
        // Incomplete: kept for the next chunk (whole packets only are offered).
        this.carry = i === 0 ? data : data.subarray(i);
        break;
      }
      const { body, end } = packet;
      if (!fast.offer(this, data, i, body, end)) {
        this.toAedes(i === 0 ? data : data.subarray(i));
        break;
      }
      took = true;
      i = end;
    }
    if (took) fast.taken(this);
  }

  /** Reading is held until wake(): a subscriber the fast path wrote to is over its high-water mark. */
  hold(): void {
    if (this.blocked++ === 0) this.socket.pause();
  }

  private unhold = (): void => {
    if (this.blocked > 0 && --this.blocked === 0 && !this.socket.destroyed) this.socket.resume();
  };

  get remoteAddress(): string | undefined { return this.socket.remoteAddress; }
  get remotePort(): number | undefined { return this.socket.remotePort; }

  override _read(): void {
    if (this.blocked === 0) this.socket.resume();
  }

  // Writes leave in one socket write per event-loop turn: every packet aedes writes to this connection in
  // one turn (a subscriber gets many: the verifier takes every device's frames) goes in one write() syscall
  // (one send on loopback, not one per packet). The bytes wait for the end of the turn only (setImmediate:
  // microseconds), never for a timer; with TCP_NODELAY they then leave at once. mqtt-packet writes a packet
  // in pieces inside cork()/uncork() (_writev): they join the same write.
  private out: Buffer[] = [];
  private outBytes = 0;
  private flushing = false;
  /** The write callback held back while the socket is over its high-water mark (backpressure to aedes). */
  private held: ((e?: Error | null) => void) | null = null;

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    this.queue(chunk);
    this.release(cb);
  }

  override _writev(chunks: { chunk: Buffer }[], cb: (e?: Error | null) => void): void {
    for (const c of chunks) this.queue(c.chunk);
    this.release(cb);
  }

  private queue(chunk: Buffer): void {
    this.out.push(chunk);
    this.outBytes += chunk.length;
    if (!this.flushing) {
      this.flushing = true;
      setImmediate(this.flushOut);
    }
  }

  /**
   * The fast path's write: a packet's bytes as they are, after whatever aedes wrote before them. false: the
   * subscriber is behind (the caller holds its reader until whenWritable()): what the kernel has not taken
   * (writableLength) is over the socket's high-water mark, as aedes' own wait for 'drain' has it, or this
   * turn's batch is over TURN_BYTES. The batch alone is not held to the high-water mark: aedes' writes reach
   * the kernel as they are made, and the verifier's connection gets a whole turn's frames (1,000 devices a
   * round: ~100 KB), so that held and released ~84 % of the publishers every turn, a pause and a resume of
   * their sockets each, for a subscriber that was keeping up (docs/VERIFIER-PERF.md, "Seventh round").
   */
  sendRaw(b: Buffer): boolean {
    this.queue(b);
    return this.outBytes < TURN_BYTES && this.socket.writableLength < this.socket.writableHighWaterMark;
  }

  private waiters: (() => void)[] = [];
  private drainWait = false;

  /** Calls back once what waits has gone to the kernel (or the connection is gone). */
  whenWritable(reader: GuardedConnection): void {
    reader.hold();
    this.waiters.push(reader.unhold);
  }

  private wake(): void {
    const w = this.waiters;
    if (w.length === 0) return;
    this.waiters = [];
    for (const f of w) f();
  }

  /** Acknowledges a write at once unless what waits (here and in the socket) is over the socket's high-water mark. */
  private release(cb: (e?: Error | null) => void): void {
    if (this.socket.destroyed || this.outBytes + this.socket.writableLength < this.socket.writableHighWaterMark) cb();
    else this.held = cb;
  }

  private readonly flushOut = (): void => {
    this.flushing = false;
    const out = this.out;
    if (out.length === 0) return;
    this.out = [];
    this.outBytes = 0;
    if (!this.socket.destroyed) this.socket.write(out.length === 1 ? out[0] : Buffer.concat(out));
    if (this.waiters.length > 0) {
      if (this.socket.destroyed || !this.socket.writableNeedDrain) this.wake();
      else if (!this.drainWait) {
        this.drainWait = true;
        this.socket.once('drain', () => {
          this.drainWait = false;
          this.wake();
        });
      }
    }
    const cb = this.held;
    if (!cb) return;
    this.held = null;
    if (this.socket.destroyed || !this.socket.writableNeedDrain) cb();
    else this.socket.once('drain', () => cb());
  };

  override _final(cb: (e?: Error | null) => void): void {
    this.flushOut();
    this.socket.end(cb);
  }

  override _destroy(e: Error | null, cb: (e?: Error | null) => void): void {
    // What was written before a destroy leaves first, as it would have unbatched (aedes writes a refusing
    // CONNACK and destroys the connection in the same turn): handed to the kernel, then the socket closes.
    this.flushOut();
    this.socket.destroy();
    cb(e);
  }
}

// A guard in front of aedes on every broker connection: it reads only MQTT fixed headers (OASIS
// mqtt-v3.1.1 §2.2) as bytes arrive and closes the connection, before anything is buffered, when
//   - the first packet is not a CONNECT (MQTT-3.1.0-1), or its type byte is reserved (0 or 15, §2.2.1);
//   - a Remaining Length takes more than 4 bytes (§2.2.3: malformed);
//   - a packet announces more than maxPacket bytes (mqtt-packet would otherwise buffer up to 256 MiB
//     for one packet: a single client could exhaust the broker's memory; Mosquitto's max_packet_size
//     does the same job, and `--emit-mosquitto` sets it to the same 65,536).
// aedes sees a Duplex that passes the bytes through unchanged; the socket stays the truth for addresses.
import { Duplex } from 'node:stream';
import type { Socket } from 'node:net';

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

/**
 * The connection aedes handles: bytes from the socket go through a HeaderScanner; a refusal destroys
 * the socket (and this stream) at once and is reported to onRefuse.
 */
export class GuardedConnection extends Duplex {
  private readonly scanner: HeaderScanner;

  constructor(readonly socket: Socket, maxPacket: number, onRefuse: (why: GuardRefusal) => void) {
    super({ allowHalfOpen: false });
    this.scanner = new HeaderScanner(maxPacket);
    socket.on('data', (chunk: Buffer) => {
      const why = this.scanner.feed(chunk);
      if (why) {
        onRefuse(why);
        socket.destroy();
        this.destroy();
        return;
      }
      if (!this.push(chunk)) socket.pause();
    });
    socket.on('end', () => this.push(null));
    socket.on('error', (e) => this.destroy(e));
    socket.on('close', () => this.destroy());
  }

  get remoteAddress(): string | undefined { return this.socket.remoteAddress; }
  get remotePort(): number | undefined { return this.socket.remotePort; }

  override _read(): void {
    this.socket.resume();
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

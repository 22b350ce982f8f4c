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

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    if (this.socket.destroyed) return cb();
    this.socket.write(chunk, cb);
  }

  // mqtt-packet writes a packet in pieces (header, topic, payload) inside cork()/uncork(): one socket write
  // for all of them, not one syscall and (with TCP_NODELAY) one segment per piece.
  override _writev(chunks: { chunk: Buffer }[], cb: (e?: Error | null) => void): void {
    if (this.socket.destroyed) return cb();
    this.socket.write(chunks.length === 1 ? chunks[0].chunk : Buffer.concat(chunks.map((c) => c.chunk)), cb);
  }

  override _final(cb: (e?: Error | null) => void): void {
    this.socket.end(cb);
  }

  override _destroy(e: Error | null, cb: (e?: Error | null) => void): void {
    this.socket.destroy();
    cb(e);
  }
}

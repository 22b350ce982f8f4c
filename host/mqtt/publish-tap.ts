// The verifier's side of the short path (docs/VERIFIER-PERF.md): a stream between mqtt.js and its socket that
// hands each complete QoS 0 PUBLISH (type byte 0x30) straight to onPublish, in arrival order, and passes
// every other byte to mqtt.js unchanged (CONNACK, SUBACK, PINGRESP, a retained or QoS 1 PUBLISH…). mqtt.js
// keeps the session (login, subscriptions, keepalive, reconnects); what it no longer does is parse each
// message into a packet object and hand it on one per process.nextTick. Topic and payload are what mqtt.js
// would give: the topic decoded as UTF-8, the payload a Buffer over the received bytes.
import { Duplex } from 'node:stream';
import { nextPacket, packet, plainPublishTopicEnd } from './packets.js';

/** newRead: the first message handed over from one socket read (the registry verifier checks other writers per read). */
export type OnPublish = (topic: string, payload: Buffer, newRead: boolean) => void;

export class PublishTap extends Duplex {
  /** The start of a packet not yet complete. */
  private carry: Buffer | null = null;

  constructor(readonly socket: Duplex, private readonly onPublish: OnPublish) {
    super({ allowHalfOpen: false });
    socket.on('data', (chunk: Buffer) => this.data(chunk));
    socket.on('end', () => {
      if (this.carry !== null) this.push(this.carry);
      this.carry = null;
      this.push(null);
    });
    socket.on('error', (e) => this.destroy(e));
    socket.on('close', () => this.destroy());
  }

  /** TCP_NODELAY on the socket underneath (host/mqtt/connect.ts sets it on every connection). */
  setNoDelay(on: boolean): void {
    (this.socket as unknown as { setNoDelay?: (b: boolean) => void }).setNoDelay?.(on);
  }

  private pass(b: Buffer): void {
    if (!this.push(b)) this.socket.pause();
  }

  private data(chunk: Buffer): void {
    const data = this.carry === null ? chunk : Buffer.concat([this.carry, chunk]);
    this.carry = null;
    const n = data.length;
    let i = 0;
    /** Start of bytes for mqtt.js not yet passed on (they go before the next message handed out). */
    let from = -1;
    let first = true;
    while (i < n) {
      const r = nextPacket(data, i);
      if (r === -1) {
        // Malformed: mqtt.js gets it from here on and reports the error.
        if (from < 0) from = i;
        i = n;
        break;
      }
      if (r === 0) {
        this.carry = data.subarray(i);
        break;
      }
      const { body, end } = packet;
      const te = plainPublishTopicEnd(data, i, body, end);
      if (te < 0) {
        if (from < 0) from = i;
      } else {
        if (from >= 0) this.pass(data.subarray(from, i));
        from = -1;
        this.onPublish(data.toString('utf8', body + 2, te), data.subarray(te, end), first);
        first = false;
      }
      i = end;
    }
    if (from >= 0) this.pass(data.subarray(from, i));
  }

  override _read(): void {
    this.socket.resume();
  }

  override _write(chunk: Buffer, enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    this.socket.write(chunk, enc, cb);
  }

  override _writev(chunks: { chunk: Buffer }[], cb: (e?: Error | null) => void): void {
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

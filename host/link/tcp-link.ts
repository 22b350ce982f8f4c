// tcp://host:port: a console served over TCP (QEMU -serial tcp::PORT,server, ser2net, Espruino --telnet,
// `sealmq emulate`). Nagle is off so single keystrokes (Ctrl-C) and short commands are not held back.
// XON/XOFF from the board are honoured (console-link.ts): ser2net and QEMU pass them through like a wire.
import { connect, type Socket } from 'node:net';
import { deviceError } from '../errors.js';
import { GatedWriter, LinkListeners, XonXoffGate, type ConsoleLink, type FlowControlOptions } from './console-link.js';

export class TcpLink implements ConsoleLink {
  private sock: Socket | undefined;
  private readonly l = new LinkListeners();
  readonly host: string;
  readonly port: number;
  /** XON/XOFF state (flow control from the board). */
  readonly flow: XonXoffGate;
  private readonly writer: GatedWriter;

  constructor(
    readonly url: string,
    private readonly connectTimeoutMs = 5000,
    flow: FlowControlOptions = {},
  ) {
    this.flow = new XonXoffGate(flow);
    this.writer = new GatedWriter(this.flow, (b) => this.writeNow(b));
    const m = /^tcp:\/\/(\[[^\]]+\]|[^:/]+):(\d+)\/?$/.exec(url);
    if (!m || Number(m[2]) < 1 || Number(m[2]) > 65535) throw deviceError(`not a console URL: ${url}`, 'use tcp://HOST:PORT');
    this.host = m[1].replace(/^\[|\]$/g, '');
    this.port = Number(m[2]);
  }

  get isOpen(): boolean {
    return !!this.sock && !this.sock.destroyed;
  }

  open(): Promise<void> {
    return new Promise((resolve, reject) => {
      const s = connect({ host: this.host, port: this.port });
      const timer = setTimeout(() => {
        s.destroy();
        reject(deviceError(`cannot connect to the console at ${this.url}: no answer within ${this.connectTimeoutMs} ms`, 'is the board (or emulator) running and listening there?'));
      }, this.connectTimeoutMs);
      s.once('error', (e: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        reject(deviceError(`cannot connect to the console at ${this.url}: ${e.code ?? e.message}`, 'is the board (or emulator) running and listening there?', e));
      });
      s.once('connect', () => {
        clearTimeout(timer);
        s.removeAllListeners('error');
        s.setNoDelay(true);
        this.sock = s;
        s.on('data', (d: Buffer) => {
          const b = this.flow.filter(new Uint8Array(d.buffer, d.byteOffset, d.byteLength));
          if (b.length) this.l.emitData(b);
        });
        s.on('error', () => undefined);
        s.on('close', (hadError) => {
          if (this.sock === s) this.sock = undefined;
          this.flow.release();
          this.l.emitClose(hadError ? new Error('connection reset') : undefined);
        });
        resolve();
      });
    });
  }

  write(data: Uint8Array | string): Promise<void> {
    if (!this.sock || this.sock.destroyed) return Promise.reject(deviceError(`the console at ${this.url} is not open`));
    return this.writer.write(typeof data === 'string' ? Buffer.from(data, 'latin1') : Buffer.from(data));
  }

  private writeNow(b: Buffer): Promise<void> {
    const s = this.sock;
    if (!s || s.destroyed) return Promise.reject(deviceError(`the console at ${this.url} is not open`));
    return new Promise((resolve, reject) => s.write(b, (e) => (e ? reject(deviceError(`cannot write to the console at ${this.url}: ${e.message}`, undefined, e)) : resolve())));
  }

  onData(cb: (d: Uint8Array) => void): () => void {
    return this.l.onData(cb);
  }

  onClose(cb: (e?: Error) => void): () => void {
    return this.l.onClose(cb);
  }

  close(): Promise<void> {
    const s = this.sock;
    this.sock = undefined;
    if (!s || s.destroyed) return Promise.resolve();
    return new Promise((resolve) => {
      s.once('close', () => resolve());
      s.end();
      setTimeout(() => s.destroy(), 200).unref();
    });
  }
}

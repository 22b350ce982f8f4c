// tcp://host:port: a console served over TCP (QEMU -serial tcp::PORT,server, ser2net, Espruino --telnet,
// `sealmq emulate`). Nagle is off so single keystrokes (Ctrl-C) and short commands are not held back.
import { connect, type Socket } from 'node:net';
import { deviceError } from '../errors.js';
import { LinkListeners, type ConsoleLink } from './console-link.js';

export class TcpLink implements ConsoleLink {
  private sock: Socket | undefined;
  private readonly l = new LinkListeners();
  readonly host: string;
  readonly port: number;

  constructor(
    readonly url: string,
    private readonly connectTimeoutMs = 5000,
  ) {
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
        s.on('data', (d: Buffer) => this.l.emitData(new Uint8Array(d.buffer, d.byteOffset, d.byteLength)));
        s.on('error', () => undefined);
        s.on('close', (hadError) => {
          if (this.sock === s) this.sock = undefined;
          this.l.emitClose(hadError ? new Error('connection reset') : undefined);
        });
        resolve();
      });
    });
  }

  write(data: Uint8Array | string): Promise<void> {
    const s = this.sock;
    if (!s || s.destroyed) return Promise.reject(deviceError(`the console at ${this.url} is not open`));
    const b = typeof data === 'string' ? Buffer.from(data, 'latin1') : data;
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

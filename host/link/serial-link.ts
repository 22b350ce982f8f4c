// A serial device (/dev/ttyUSB0, a pseudo-terminal from `sealmq emulate --pty`, COM3) through the
// serialport package (prebuilt native bindings; nothing compiled at install). Espruino's console is
// 115200 8N1 on the ESP32; the baud rate can be changed with serial:PATH?baud=N. XON/XOFF from the board are
// honoured (console-link.ts): Espruino's ESP32 console turns software flow control on at boot.
import { deviceError } from '../errors.js';
import { GatedWriter, LinkListeners, XonXoffGate, type ConsoleLink, type FlowControlOptions } from './console-link.js';

type Port = import('serialport').SerialPort;

export class SerialLink implements ConsoleLink {
  private port: Port | undefined;
  private readonly l = new LinkListeners();
  readonly path: string;
  readonly baudRate: number;
  /** XON/XOFF state (flow control from the board). */
  readonly flow: XonXoffGate;
  private readonly writer: GatedWriter;

  constructor(
    readonly url: string,
    baudRate?: number,
    flow: FlowControlOptions = {},
  ) {
    this.flow = new XonXoffGate(flow);
    this.writer = new GatedWriter(this.flow, (b) => this.writeNow(b));
    const m = /^serial:([^?]+)(?:\?baud=(\d+))?$/.exec(url);
    this.path = m ? m[1] : url;
    this.baudRate = baudRate ?? (m && m[2] ? Number(m[2]) : 115200);
  }

  get isOpen(): boolean {
    return !!this.port?.isOpen;
  }

  async open(): Promise<void> {
    let SerialPort: typeof import('serialport').SerialPort;
    try {
      ({ SerialPort } = await import('serialport'));
    } catch (e) {
      throw deviceError(`cannot open ${this.path}: the serialport package did not load (${(e as Error).message})`, 'run npm install in the sealmq folder', e);
    }
    // A board that just rebooted (USB re-enumerating) or a pseudo-terminal being re-made is briefly
    // absent: retry "no such device" for a moment before giving up.
    const deadline = Date.now() + 2000;
    for (;;) {
      try {
        return await this.openOnce(SerialPort);
      } catch (e) {
        if (!/no such device/.test((e as Error).message) || Date.now() > deadline) throw e;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  private openOnce(SerialPort: typeof import('serialport').SerialPort): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const p = new SerialPort({ path: this.path, baudRate: this.baudRate, autoOpen: false });
      p.open((e) => {
        if (e) {
          const why = /No such file|ENOENT/i.test(e.message) ? 'no such device' : /Permission|EACCES/i.test(e.message) ? 'permission denied' : e.message;
          return reject(deviceError(`cannot open the serial port ${this.path}: ${why}`, why === 'permission denied' ? 'add yourself to the dialout group (or uucp), then log in again' : 'is the board plugged in? list ports with `ls /dev/tty*`', e));
        }
        this.port = p;
        p.on('data', (d: Buffer) => {
          const b = this.flow.filter(new Uint8Array(d.buffer, d.byteOffset, d.byteLength));
          if (b.length) this.l.emitData(b);
        });
        p.on('error', () => undefined);
        p.on('close', (err?: Error) => {
          if (this.port === p) this.port = undefined;
          this.flow.release();
          this.l.emitClose(err ?? undefined);
        });
        resolve();
      });
    });
  }

  write(data: Uint8Array | string): Promise<void> {
    if (!this.port || !this.port.isOpen) return Promise.reject(deviceError(`the serial port ${this.path} is not open`));
    return this.writer.write(typeof data === 'string' ? Buffer.from(data, 'latin1') : Buffer.from(data));
  }

  /** One slice to the OS, resolved once the OS has sent it (drain), so an XOFF stops us within a slice. */
  private writeNow(b: Buffer): Promise<void> {
    const p = this.port;
    if (!p || !p.isOpen) return Promise.reject(deviceError(`the serial port ${this.path} is not open`));
    return new Promise((resolve, reject) =>
      p.write(b, (e) => (e ? reject(deviceError(`cannot write to the serial port ${this.path}: ${e.message}`, undefined, e)) : p.drain(() => resolve()))));
  }

  onData(cb: (d: Uint8Array) => void): () => void {
    return this.l.onData(cb);
  }

  onClose(cb: (e?: Error) => void): () => void {
    return this.l.onClose(cb);
  }

  close(): Promise<void> {
    const p = this.port;
    this.port = undefined;
    if (!p || !p.isOpen) return Promise.resolve();
    return new Promise((resolve) => p.close(() => resolve()));
  }
}

// A QEMU Machine Protocol client on a unix socket (-qmp unix:PATH,server=on,wait=off): one command at a
// time, answers in order, events ignored. The QEMU board saves its Storage with it (pmemsave) and stops.
import { connect, type Socket } from 'node:net';
import { deviceError } from '../errors.js';

interface Pending {
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
}

export class Qmp {
  private buf = '';
  private pending: Pending[] = [];
  private closed = false;

  private constructor(private readonly sock: Socket) {
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => this.onData(d));
    sock.on('error', () => undefined);
    sock.on('close', () => {
      this.closed = true;
      for (const p of this.pending.splice(0)) p.reject(deviceError('QEMU monitor connection closed'));
    });
  }

  /** Connects (retrying while QEMU creates the socket) and negotiates capabilities. */
  static async open(path: string, timeoutMs = 10_000): Promise<Qmp> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      try {
        const sock = await new Promise<Socket>((resolve, reject) => {
          const s = connect(path, () => resolve(s));
          s.once('error', reject);
        });
        const q = new Qmp(sock);
        // The greeting counts as the answer to nothing: wait for it as if it were one.
        await new Promise<unknown>((resolve, reject) => q.pending.push({ resolve, reject }));
        await q.execute('qmp_capabilities');
        return q;
      } catch (e) {
        if (Date.now() > end) throw deviceError(`cannot reach QEMU's monitor at ${path}: ${(e as Error).message}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  }

  private onData(d: string): void {
    this.buf += d;
    let i: number;
    while ((i = this.buf.indexOf('\n')) >= 0) {
      const line = this.buf.slice(0, i).trim();
      this.buf = this.buf.slice(i + 1);
      if (!line) continue;
      let m: any;
      try {
        m = JSON.parse(line);
      } catch {
        continue;
      }
      if (m.event) continue;
      const p = this.pending.shift();
      if (!p) continue;
      if (m.error) p.reject(deviceError(`QEMU monitor: ${m.error.desc ?? JSON.stringify(m.error)}`));
      else p.resolve(m.return ?? m.QMP);
    }
  }

  execute(command: string, args?: Record<string, unknown>): Promise<any> {
    if (this.closed) return Promise.reject(deviceError('QEMU monitor connection closed'));
    return new Promise((resolve, reject) => {
      this.pending.push({ resolve, reject });
      this.sock.write(JSON.stringify(args ? { execute: command, arguments: args } : { execute: command }) + '\n');
    });
  }

  close(): void {
    this.sock.destroy();
  }
}

// The emulated board's console cable. The board LISTENS on TCP like QEMU's `-serial tcp::PORT,server`;
// one client at a time, a new connection replacing the old one (a UART has one cable). Optionally a
// real pseudo-terminal too: `socat PTY,link=PATH,raw,echo=0 TCP:127.0.0.1:<internal port>`, so serial
// tools (the serialport package, screen, espruino-cli) open PATH as if it were /dev/ttyUSB0. socat runs
// with wait-slave, so it plugs its cable in (connects, replacing any TCP client) only once someone opens
// PATH; if a TCP client later takes the cable, socat exits and a fresh one waits on PATH again.
// With a baud rate set, bytes move no faster than a real UART in either direction.
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, unlinkSync } from 'node:fs';

/** What a console cable plugs into: an emulated board, or Espruino's Linux build in a process. */
export interface ConsoleDevice {
  on(event: 'output', fn: (b: Buffer) => void): unknown;
  off(event: 'output', fn: (b: Buffer) => void): unknown;
  write(b: Buffer): void;
}
import { BaudPipe, InputQueue, type InputQueueOptions } from './uart.js';

export interface ConsoleServerOptions {
  /** Throttle console traffic to this baud rate (10 bits per byte); default: unthrottled. */
  baud?: number;
  /** Also expose the console as a pseudo-terminal at this path (needs socat). */
  ptyPath?: string;
  /**
   * A bounded input queue between the cable and the board, drained at its own pace, that loses what
   * overflows and (by default) sends XOFF/XON like Espruino with flow control on (uart.ts InputQueue).
   */
  inputQueue?: InputQueueOptions;
}

export class ConsoleServer {
  private tcp: Server | undefined;
  private ptyServer: Server | undefined;
  private client: Socket | undefined;
  private readonly sockets = new Set<Socket>();
  private socat: ChildProcess | undefined;
  private closing = false;
  private toClient: (b: Buffer) => void;
  private toBoard: (b: Buffer) => void;
  private outPipe: BaudPipe | undefined;
  private inPipe: BaudPipe | undefined;
  /** The board's input queue, when one is emulated (inputQueue option). */
  readonly inputQueue: InputQueue | undefined;
  private readonly onOutput = (b: Buffer) => this.toClient(b);

  constructor(
    private readonly board: ConsoleDevice,
    private readonly opts: ConsoleServerOptions = {},
  ) {
    const send = (b: Buffer) => {
      if (this.client && !this.client.destroyed) this.client.write(b);
    };
    let feed = (b: Buffer) => this.board.write(b);
    if (opts.inputQueue) {
      const q = new InputQueue(opts.inputQueue, feed, send);
      this.inputQueue = q;
      feed = (b) => q.push(b);
    }
    if (opts.baud) {
      this.outPipe = new BaudPipe(opts.baud, send);
      this.inPipe = new BaudPipe(opts.baud, feed);
      this.toClient = (b) => this.outPipe!.push(b);
      this.toBoard = (b) => this.inPipe!.push(b);
    } else {
      this.toClient = send;
      this.toBoard = feed;
    }
    board.on('output', this.onOutput);
  }

  /** Starts listening (port 0: any free port) and returns the console URL, tcp://127.0.0.1:NNNN. */
  async listen(port: number, host = '127.0.0.1'): Promise<string> {
    this.tcp = await listenOn(port, host, (s) => this.attach(s, false));
    const url = `tcp://${host}:${(this.tcp.address() as AddressInfo).port}`;
    if (this.opts.ptyPath) {
      this.ptyServer = await listenOn(0, '127.0.0.1', (s) => this.attach(s, true));
      await this.startSocat();
    }
    return url;
  }

  get url(): string | undefined {
    const a = this.tcp?.address() as AddressInfo | null | undefined;
    return a ? `tcp://127.0.0.1:${a.port}` : undefined;
  }

  async close(): Promise<void> {
    this.closing = true;
    this.board.off('output', this.onOutput);
    this.outPipe?.clear();
    this.inPipe?.clear();
    this.inputQueue?.clear();
    for (const s of this.sockets) s.destroy();
    this.socat?.kill('SIGTERM');
    await Promise.all([this.tcp, this.ptyServer].map((s) => (s ? new Promise<void>((r) => s.close(() => r())) : undefined)));
  }

  private attach(s: Socket, isPty: boolean): void {
    if (this.closing) return void s.destroy();
    if (this.client) this.client.destroy();
    this.outPipe?.clear();
    s.setNoDelay(true);
    this.client = s;
    this.sockets.add(s);
    void isPty;
    s.on('data', (b: Buffer) => {
      if (this.client === s) this.toBoard(b);
    });
    s.on('error', () => undefined);
    s.on('close', () => {
      this.sockets.delete(s);
      if (this.client === s) this.client = undefined;
    });
  }

  private startSocat(): Promise<void> {
    const port = (this.ptyServer!.address() as AddressInfo).port;
    const path = this.opts.ptyPath!;
    const child = spawn('socat', [`PTY,link=${path},raw,echo=0,wait-slave`, `TCP:127.0.0.1:${port}`], { stdio: ['ignore', 'ignore', 'pipe'] });
    this.socat = child;
    let err = '';
    child.stderr!.on('data', (d) => (err += d));
    child.on('exit', () => {
      if (this.socat === child) this.socat = undefined;
      // No stale link to a dead pseudo-terminal in between: an opener sees "no such device" and retries.
      try { unlinkSync(path); } catch { /* socat removed it */ }
      // Its cable was taken by a TCP client (or its PTY failed): wait on PATH again.
      if (!this.closing) setTimeout(() => !this.closing && !this.socat && this.startSocat().catch(() => undefined), 50);
    });
    return new Promise((resolve, reject) => {
      child.on('error', (e) => reject(new Error(`cannot start socat for --pty (${(e as Error).message}); install socat`)));
      const t0 = Date.now();
      const check = () => {
        if (existsSync(path)) return resolve();
        if (child.exitCode !== null) return reject(new Error(`socat exited: ${err.trim() || 'code ' + child.exitCode}`));
        if (Date.now() - t0 > 5000) return reject(new Error('socat did not create the pseudo-terminal within 5 s'));
        setTimeout(check, 10);
      };
      check();
    });
  }
}

function listenOn(port: number, host: string, onConn: (s: Socket) => void): Promise<Server> {
  return new Promise((resolve, reject) => {
    const srv = createServer(onConn);
    srv.once('error', reject);
    srv.listen(port, host, () => resolve(srv));
  });
}

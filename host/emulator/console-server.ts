// The emulated board's console cable. The board LISTENS on TCP like QEMU's `-serial tcp::PORT,server`;
// one client at a time, a new connection replacing the old one (a UART has one cable). Optionally a
// real pseudo-terminal too: `socat PTY,link=PATH,raw,echo=0 TCP:127.0.0.1:<internal port>`, so serial
// tools (the serialport package, screen, espruino-cli) open PATH as if it were /dev/ttyUSB0. socat runs
// with wait-slave, so it plugs its cable in (connects, replacing any TCP client) only once someone opens
// PATH; a spare socat, made ahead, then takes PATH for the next opener (placeNext), so PATH never goes
// missing.
// With a baud rate set, bytes move no faster than a real UART in either direction.
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, lstatSync, readlinkSync, renameSync, statSync, unlinkSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/** What a console cable plugs into: an emulated board, or Espruino's Linux build in a process. */
export interface ConsoleDevice {
  on(event: 'output', fn: (b: Buffer) => void): unknown;
  off(event: 'output', fn: (b: Buffer) => void): unknown;
  write(b: Buffer): void;
}
import { BaudPipe, InputQueue, type InputQueueOptions } from './uart.js';
import { diesWithParent } from './parent-death.js';

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
  /** The socat waiting on PATH for the next opener. */
  private onPath: Spare | undefined;
  /** The next one, made ahead at a temporary link, so it takes PATH the moment onPath is taken. */
  private standby: Spare | undefined;
  /** Every socat still running. */
  private readonly socats = new Set<ChildProcess>();
  private spareCount = 0;
  /** PATH has named a terminal once (the first placement's error is listen()'s); failed placements since. */
  private placed = false;
  private placeFailures = 0;
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
      checkPtyPath(this.opts.ptyPath);
      this.ptyServer = await listenOn(0, '127.0.0.1', (s) => this.attach(s, true));
      await this.placeNext();
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
    for (const c of this.socats) c.kill('SIGTERM');
    // Only a link to a pseudo-terminal is removed: never a file that was there before (checkPtyPath).
    if (this.opts.ptyPath && isPtyLink(this.opts.ptyPath)) try { unlinkSync(this.opts.ptyPath); } catch { /* gone already */ }
    await Promise.all([this.tcp, this.ptyServer].map((s) => (s ? new Promise<void>((r) => s.close(() => r())) : undefined)));
  }

  private attach(s: Socket, isPty: boolean): void {
    if (this.closing) return void s.destroy();
    if (this.client) this.client.destroy();
    this.outPipe?.clear();
    s.setNoDelay(true);
    this.client = s;
    this.sockets.add(s);
    // A socat just took the cable through PATH: the next spare waits on PATH for the next tool.
    if (isPty && this.opts.ptyPath && !this.closing) this.placeNext().catch(() => undefined);
    s.on('data', (b: Buffer) => {
      if (this.client === s) this.toBoard(b);
    });
    s.on('error', () => undefined);
    s.on('close', () => {
      this.sockets.delete(s);
      if (this.client === s) this.client = undefined;
    });
  }

  /**
   * Puts the next spare socat on PATH: the standby made ahead if there is one (ready at once, so PATH names
   * a terminal again before the tool that took the last one can close it, even on a loaded machine), then
   * makes the next standby. The rename is one step, so PATH always names a terminal someone can open, like
   * a USB serial device that stays when a tool closes it (socat ends when its terminal's last opener
   * closes, and a tool run right after would otherwise find no PATH for a moment).
   */
  private async placeNext(): Promise<void> {
    const next = this.standby ?? this.spawnSpare();
    this.standby = undefined;
    this.onPath = next;
    try {
      await next.ready;
      if (this.closing || this.onPath !== next) return;
      try {
        renameSync(next.tmp, this.opts.ptyPath!);
      } catch (e) {
        throw new Error(`cannot put the pseudo-terminal at ${this.opts.ptyPath}: ${(e as Error).message}`);
      }
    } catch (e) {
      // Once PATH has served a tool, a spare that never came up (socat slow to start on a loaded machine, or
      // failing) must not leave PATH gone for good: a fresh one is tried, waiting longer each time (ten times).
      if (this.onPath === next) this.onPath = undefined;
      next.child.kill('SIGTERM');
      if (this.placed && !this.closing && ++this.placeFailures <= 10) {
        setTimeout(() => !this.closing && !this.onPath && this.placeNext().catch(() => undefined), 200 * this.placeFailures);
      }
      throw e;
    }
    this.placed = true;
    this.placeFailures = 0;
    const standby = this.spawnSpare();
    this.standby = standby;
    standby.ready.catch(() => undefined);
  }

  /**
   * Starts a socat whose pseudo-terminal appears at a temporary link; it connects to the board only once
   * its terminal is opened (wait-slave). A socat whose cable was taken by the next one just ends.
   */
  private spawnSpare(): Spare {
    const port = (this.ptyServer!.address() as AddressInfo).port;
    const path = this.opts.ptyPath!;
    // Beside PATH (a rename stays on one file system), hidden: `ls /dev/tty*`-style listings show PATH only.
    const tmp = join(dirname(path), `.${basename(path)}.spare.${process.pid}.${++this.spareCount}`);
    const [cmd, args] = diesWithParent('socat', [`PTY,link=${tmp},raw,echo=0,wait-slave`, `TCP:127.0.0.1:${port}`]);
    const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    this.socats.add(child);
    const spare: Spare = { child, tmp, pty: '', ready: Promise.resolve() };
    let err = '';
    child.stderr!.on('data', (d) => (err += d));
    child.on('exit', () => {
      this.socats.delete(child);
      // PATH still names this one's terminal (it never got a successor): no stale link to a dead terminal.
      try { if (spare.pty && readlinkSync(path) === spare.pty) unlinkSync(path); } catch { /* gone already */ }
      try { unlinkSync(tmp); } catch { /* socat removed it, or it is on PATH */ }
      if (this.standby === spare) this.standby = undefined;
      // The spare on PATH itself ended (its terminal failed): wait on PATH again.
      if (this.onPath === spare) {
        this.onPath = undefined;
        if (!this.closing) setTimeout(() => !this.closing && !this.onPath && this.placeNext().catch(() => undefined), 50);
      }
    });
    spare.ready = new Promise((resolve, reject) => {
      child.on('error', (e) => reject(new Error(`cannot start socat for --pty (${(e as Error).message}); install socat`)));
      const t0 = Date.now();
      const check = () => {
        if (existsSync(tmp)) {
          try {
            spare.pty = readlinkSync(tmp);
          } catch (e) {
            return reject(new Error(`cannot read the pseudo-terminal link ${tmp}: ${(e as Error).message}`));
          }
          return resolve();
        }
        if (child.exitCode !== null) return reject(new Error(`socat exited: ${err.trim() || 'code ' + child.exitCode}`));
        if (Date.now() - t0 > 5000) return reject(new Error('socat did not create the pseudo-terminal within 5 s'));
        setTimeout(check, 10);
      };
      check();
    });
    return spare;
  }
}

interface Spare {
  child: ChildProcess;
  /** Where socat makes its terminal's link, renamed onto PATH when this spare's turn comes. */
  tmp: string;
  /** The terminal (/dev/pts/N), once made. */
  pty: string;
  ready: Promise<void>;
}

function listenOn(port: number, host: string, onConn: (s: Socket) => void): Promise<Server> {
  return new Promise((resolve, reject) => {
    const srv = createServer(onConn);
    srv.once('error', reject);
    srv.listen(port, host, () => resolve(srv));
  });
}

/** Whether path is a symbolic link to a pseudo-terminal (/dev/pts/N): what socat makes, and all --pty replaces. */
export function isPtyLink(path: string): boolean {
  try {
    return /^\/dev\/pts\/\d+$/.test(readlinkSync(path));
  } catch {
    return false;
  }
}

/**
 * Refuses a --pty PATH that cannot be made, or whose making would replace something of the user's: its
 * directory must exist, and what is at PATH already may only be a link to a pseudo-terminal (one left by an
 * earlier run), never a file or a device such as a real /dev/ttyUSB0.
 */
export function checkPtyPath(path: string): void {
  const dir = dirname(path);
  let isDir = false;
  try {
    isDir = statSync(dir).isDirectory();
  } catch {
    throw new Error(`--pty ${path}: the directory ${dir} does not exist (create it, or choose a path in an existing one)`);
  }
  if (!isDir) throw new Error(`--pty ${path}: ${dir} is not a directory`);
  let there = false;
  try {
    lstatSync(path);
    there = true;
  } catch { /* nothing there: fine */ }
  if (there && !isPtyLink(path)) {
    throw new Error(`--pty ${path}: something is already there and it is not a pseudo-terminal link; choose another path (sealmq replaces only such a link)`);
  }
}

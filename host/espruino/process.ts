// Espruino's own Linux build (ESPRUINO_BIN) in a process, behind the same console cable as an emulated
// board (TCP, and a PTY via socat): the conformance tests and `sealmq espruino` flash and provision it
// with the very host code that drives a real board. Espruino's console is its stdin/stdout (pipes are
// enough: it reads bytes and echoes like a UART); it runs in a working folder that holds its
// espruino.flash (its Storage).
import { spawn, ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { existsSync } from 'node:fs';
import { deviceError, inputError } from '../errors.js';
import { ConsoleServer } from '../emulator/console-server.js';

export function espruinoBin(env: NodeJS.ProcessEnv = process.env): string | null {
  const b = env.ESPRUINO_BIN;
  return b && b.length ? b : null;
}

/**
 * One Espruino Linux process. Its quirks that no board has:
 * - a second Ctrl-C at an empty prompt within 5 s exits the program (src/jsinteractive.c), and every host
 *   tool opens with one Ctrl-C. A Ctrl-C arriving within 5 s of the previous one is therefore dropped here,
 *   so two tools in a row do not kill the "board". Inside a packet (DLE SOH …, packet.ts) 0x03 is data, but
 *   this build still counts it once the packet ends (the !EMBEDDED branch of jsiLoop), so it is dropped
 *   there too: the read-back hash then reports the damaged file instead of the board exiting;
 * - a Ctrl-D (0x04) read from stdin exits it at once (targets/linux/jshardware.c), even inside a packet.
 *   So binary data holding 0x03 or 0x04 cannot go to this build by packets; the firmware bundle is text,
 *   and REPL writes escape every control byte;
 * - it never sends XON/XOFF: its console is EV_USBSERIAL, whose flow control jshInitDevices leaves off, its
 *   output goes straight to stdout rather than through the queue that would carry XOFF, and its input
 *   thread simply stops reading stdin at half full. Hence the pacing below.
 */
export class EspruinoProcess extends EventEmitter {
  private child: ChildProcess | undefined;
  private lastCtrlC = 0;
  private queue: Buffer[] = [];
  private pumping = false;

  constructor(readonly bin: string, readonly dir: string) {
    super();
    if (!existsSync(bin)) throw inputError(`ESPRUINO_BIN: no such file: ${bin}`);
  }

  /** Console bytes written but not yet fed to Espruino (the pacing below holds them). */
  get pendingInput(): number {
    return this.queue.reduce((n, b) => n + b.length, 0);
  }

  start(): void {
    const child = spawn(this.bin, [], { cwd: this.dir, stdio: ['pipe', 'pipe', 'pipe'] });
    this.child = child;
    child.stdout!.on('data', (b: Buffer) => this.emit('output', b));
    child.stderr!.on('data', (b: Buffer) => this.emit('stderr', b));
    child.on('exit', (code, sig) => this.emit('exit', code, sig));
    child.stdin!.on('error', () => undefined);
    child.on('error', (e) => this.emit('error', deviceError(`cannot start Espruino (${this.bin}): ${e.message}`, 'check ESPRUINO_BIN')));
  }

  write(b: Buffer): void {
    if (!this.child || this.child.exitCode !== null) return;
    let data = b;
    if (b.includes(3)) {
      const now = Date.now();
      const keep: number[] = [];
      for (const c of b) {
        if (c === 3) {
          if (now - this.lastCtrlC < 5500) continue;
          this.lastCtrlC = now;
        }
        keep.push(c);
      }
      data = Buffer.from(keep);
    }
    this.queue.push(data);
    this.pump();
  }

  /**
   * Console input paced slower than a UART at 115200 baud (16 bytes every 4 ms). Espruino's Linux build
   * reads stdin on a thread of its own into the ring buffer the interpreter drains; when input arrives
   * faster than the interpreter drains it (e.g. while it writes espruino.flash), the buffer is corrupted
   * and it stops at an assertion (src/jsdevices.c, "len <= 64"). A board's UART has flow control for this;
   * this pipe has none, so the pace is kept well below what the interpreter handles.
   */
  private pump(): void {
    if (this.pumping) return;
    const next = () => {
      const c = this.child;
      if (!c || c.exitCode !== null || !this.queue.length) { this.pumping = false; return; }
      const head = this.queue[0];
      const part = head.subarray(0, 16);
      if (part.length === head.length) this.queue.shift();
      else this.queue[0] = head.subarray(16);
      c.stdin!.write(part);
      setTimeout(next, 4);
    };
    this.pumping = true;
    next();
  }

  async stop(): Promise<void> {
    const c = this.child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const done = new Promise<void>((r) => c.once('exit', () => r()));
    // A power cut, as far as Espruino is concerned: its Storage file holds whatever was written.
    c.kill('SIGKILL');
    await done;
  }
}

export interface EspruinoBoard {
  console: string;
  pty?: string;
  process: EspruinoProcess;
  stop(): Promise<void>;
}

/** Starts Espruino in `dir` with a console on tcp://127.0.0.1:PORT (and a PTY at ptyPath if given). */
export async function startEspruinoBoard(bin: string, dir: string, ptyPath?: string): Promise<EspruinoBoard> {
  const p = new EspruinoProcess(bin, dir);
  const server = new ConsoleServer(p, { ptyPath });
  // Espruino gone (an exit, or one of its own assertions): the cable goes dead at once, as on a board that
  // lost power, so the host tool says the board went away instead of waiting for answers that never come.
  p.once('exit', () => void server.close());
  p.start();
  const url = await server.listen(0, '127.0.0.1');
  return {
    console: url, pty: ptyPath, process: p,
    async stop() { await server.close(); await p.stop(); },
  };
}

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
import { hasConsolePatches } from './bin.js';
import { diesWithParent } from '../emulator/parent-death.js';

export { espruinoBin, ESPRUINO_SKIP } from './bin.js';

/**
 * One Espruino Linux process. A build from the recipe (scripts/espruino/build.sh linux) behaves like a
 * board on its console: its patches feed console bytes to the interpreter from its own thread, with the
 * pipe as flow control (0001), and Ctrl-C never exits it (0002). Its quirks that no board has, left:
 * - a Ctrl-D (0x04) read from stdin exits it at once (targets/linux/jshardware.c), even inside a packet,
 *   and so does the end of stdin. So binary data holding 0x04 cannot go to this build by packets; the
 *   firmware bundle is text, and REPL writes escape every control byte;
 * - it never sends XON/XOFF: its console is EV_USBSERIAL, whose flow control jshInitDevices leaves off,
 *   and its output goes straight to stdout rather than through the queue that would carry XOFF.
 * An unpatched build (ESPRUINO_BIN pointing at one built by hand) has two more, worked around here:
 * - a second Ctrl-C at an empty prompt within 5 s exits the program (src/jsinteractive.c), and every host
 *   tool opens with one Ctrl-C. A Ctrl-C arriving within 5 s of the previous one is therefore dropped, so
 *   two tools in a row do not kill the "board" (nor can a second Ctrl-C break off a busy loop stopped in
 *   its debugger, as it does on a board: it would exit). Inside a packet (DLE SOH …,
 *   packet.ts) 0x03 is data, but this build still counts it once the packet ends, so it is dropped there
 *   too: the read-back hash then reports the damaged file instead of the board exiting;
 * - its stdin thread races the interpreter on the IO queue (docs/FIELD.md): its input is paced (pump()).
 */
export class EspruinoProcess extends EventEmitter {
  private child: ChildProcess | undefined;
  private lastCtrlC = 0;
  private queue: Buffer[] = [];
  private pumping = false;

  /** An unpatched build: its input is paced and repeated Ctrl-Cs are filtered (see above). */
  readonly unpatched: boolean;

  constructor(readonly bin: string, readonly dir: string, opts: { unpatched?: boolean } = {}) {
    super();
    if (!existsSync(bin)) throw inputError(`ESPRUINO_BIN: no such file: ${bin}`);
    this.unpatched = opts.unpatched ?? !hasConsolePatches(bin);
  }

  /** Console bytes written but not yet fed to Espruino (the pacing below holds them). */
  get pendingInput(): number {
    return this.queue.reduce((n, b) => n + b.length, 0);
  }

  start(): void {
    // No orphaned "board" holding on to its flash file if this process dies.
    const [cmd, args] = diesWithParent(this.bin, []);
    const child = spawn(cmd, args, { cwd: this.dir, stdio: ['pipe', 'pipe', 'pipe'] });
    this.child = child;
    child.stdout!.on('data', (b: Buffer) => this.emit('output', b));
    child.stderr!.on('data', (b: Buffer) => this.emit('stderr', b));
    child.on('exit', (code, sig) => this.emit('exit', code, sig));
    child.stdin!.on('error', () => undefined);
    child.on('error', (e) => this.emit('error', deviceError(`cannot start Espruino (${this.bin}): ${e.message}`, 'check ESPRUINO_BIN')));
  }

  write(b: Buffer): void {
    if (!this.child || this.child.exitCode !== null) return;
    if (!this.unpatched) {
      this.child.stdin!.write(b);
      return;
    }
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
   * An unpatched build's console input, paced slower than a UART at 115200 baud (16 bytes every 4 ms).
   * Its stdin thread writes the IO event queue while the interpreter pops it; when input arrives faster
   * than the interpreter drains it (e.g. while it writes espruino.flash), the queue is corrupted and it
   * stops at an assertion (src/jsdevices.c, "len <= 64"). Pacing makes that rarer, never impossible
   * (docs/FIELD.md); the recipe's patch 0001 removes the race itself.
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
export async function startEspruinoBoard(bin: string, dir: string, ptyPath?: string, opts: { unpatched?: boolean; port?: number; host?: string } = {}): Promise<EspruinoBoard> {
  const p = new EspruinoProcess(bin, dir, { unpatched: opts.unpatched });
  const server = new ConsoleServer(p, { ptyPath });
  // Espruino gone (an exit, or one of its own assertions): the cable goes dead at once, as on a board that
  // lost power, so the host tool says the board went away instead of waiting for answers that never come.
  p.once('exit', () => void server.close());
  p.start();
  const url = await server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1');
  return {
    console: url, pty: ptyPath, process: p,
    async stop() { await server.close(); await p.stop(); },
  };
}

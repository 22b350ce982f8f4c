// Espruino's own firmware on QEMU's netduinoplus2 (STM32F405, Cortex-M4), built by the recipe
// (scripts/espruino/build.sh qemu), behind the same console cable as the other boards (TCP, and a PTY via
// socat). The console is USART1 on QEMU's stdio; Serial2 (USART2) is QEMU's second serial port, a TCP server
// when asked (--uart). Storage is the top 64 KB of SRAM (0x20020000, patch 0002): loaded from the flash file
// at start (-device loader) and saved to it through QMP (pmemsave) every second when it changed, and on a
// clean stop; a crash or SIGKILL loses at most the last second. docs/QEMU.md says more.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { deviceError, inputError } from '../errors.js';
import { ConsoleServer } from '../emulator/console-server.js';
import { diesWithParent } from '../emulator/parent-death.js';
import { Qmp } from './qmp.js';

/** Where the firmware keeps Storage (the board file's saved_code), and its size: the flash file's size. */
export const STORAGE_ADDR = 0x20020000;
export const STORAGE_BYTES = 0x10000;
/** The last 16 bytes of the flash, where patch 0004 reads the 12-byte serial number. */
export const SERIAL_ADDR = 0x080ffff0;
/** How often Storage is saved while the board runs (only when it changed). */
export const SAVE_EVERY_MS = 1000;
/** Console input pace: a UART's at 115200 baud (8N1), in bytes per 2 ms tick. */
const INPUT_TICK_MS = 2;
const INPUT_BYTES_PER_TICK = 23;
/** An XOFF never followed by an XON stops holding input after this long (as EspruinoTools does). */
const XOFF_LIMIT_MS = 10_000;

export interface QemuOptions {
  qemu: string;
  firmware: string;
  /** The Storage image (64 KB); made, erased (0xFF), when missing. */
  flash: string;
  /** Board name: the serial number is derived from it. */
  name: string;
  /** -icount shift=0: the board's clock counts instructions (1 ns each), so timings repeat exactly. */
  icount?: boolean;
  /** Serial2 as a TCP server on host:port (port 0: any free port; `uart` then says which). */
  uart?: { host: string; port: number };
}

/** The QEMU command line (without the binary) for these options; `dir` holds the monitor socket and serial. */
export function qemuArgs(o: QemuOptions, dir: string): string[] {
  const args = [
    '-M', 'netduinoplus2', '-nodefaults', '-display', 'none',
    '-kernel', o.firmware,
    '-chardev', 'stdio,id=con,signal=off', '-serial', 'chardev:con',
  ];
  if (o.uart) args.push('-chardev', `socket,id=uart2,host=${o.uart.host},port=${o.uart.port},server=on,wait=off,nodelay=on`, '-serial', 'chardev:uart2');
  args.push(
    '-qmp', `unix:${join(dir, 'qmp.sock')},server=on,wait=off`,
    '-device', `loader,file=${o.flash},addr=0x${STORAGE_ADDR.toString(16)},force-raw=on`,
    '-device', `loader,file=${join(dir, 'serial.bin')},addr=0x${SERIAL_ADDR.toString(16)},force-raw=on`,
  );
  // shift=0: one instruction is 1 ns of the board's clock. sleep stays on (the default): an idle board's
  // clock keeps pace with the host's, so timers and logins behave; compute is what repeats exactly.
  if (o.icount) args.push('-icount', 'shift=0');
  return args;
}

/** One QEMU process; implements the console cable's device side (ConsoleServer). */
export class QemuProcess extends EventEmitter {
  private child: ChildProcess | undefined;
  private qmp: Qmp | undefined;
  private readonly dir: string;
  private saver: NodeJS.Timeout | undefined;
  private saving: Promise<void> = Promise.resolve();
  private lastImage: Buffer | undefined;
  private input: Buffer[] = [];
  private pumping = false;
  private xoffAt = 0;
  /** Serial2's TCP address once started with `uart` (the port QEMU actually listens on). */
  uart: string | undefined;

  constructor(readonly o: QemuOptions) {
    super();
    if (!existsSync(o.firmware)) throw inputError(`no such firmware: ${o.firmware}`);
    if (existsSync(o.flash)) {
      const size = statSync(o.flash).size;
      if (size !== STORAGE_BYTES) throw inputError(`--flash ${o.flash}: ${size} bytes, but a QEMU board's Storage image is ${STORAGE_BYTES}`, 'give a file made by `sealmq emulate --target qemu`, or a new path');
    } else {
      try {
        writeFileSync(o.flash, Buffer.alloc(STORAGE_BYTES, 0xff)); // erased flash
      } catch (e) {
        throw inputError(`--flash ${o.flash}: cannot create it (${(e as Error).message})`, 'give a path in a folder you can write');
      }
    }
    this.lastImage = readFileSync(o.flash);
    this.dir = mkdtempSync(join(tmpdir(), 'sealmq-qemu-'));
    const serial = Buffer.alloc(16);
    createHash('sha256').update(`sealmq-qemu:${o.name}`).digest().copy(serial, 0, 0, 12);
    writeFileSync(join(this.dir, 'serial.bin'), serial);
  }

  async start(): Promise<void> {
    const [cmd, args] = diesWithParent(this.o.qemu, qemuArgs(this.o, this.dir));
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child = child;
    child.stdout!.on('data', (b: Buffer) => {
      this.flowControl(b);
      this.emit('output', b);
    });
    child.stderr!.on('data', (b: Buffer) => this.emit('stderr', b));
    child.stdin!.on('error', () => undefined);
    const exited = new Promise<never>((_, reject) => child.once('exit', (code, sig) => {
      this.cleanup();
      this.emit('exit', code, sig);
      reject(deviceError(`QEMU exited at start (${sig ?? `code ${code}`})`, `run it by hand to see why: ${this.o.qemu} ${qemuArgs(this.o, this.dir).join(' ')}`));
    }));
    exited.catch(() => undefined);
    child.on('error', (e) => this.emit('error', deviceError(`cannot start QEMU (${this.o.qemu}): ${e.message}`, 'check SEALMQ_QEMU_BIN or install qemu-system-arm')));
    this.qmp = await Promise.race([Qmp.open(join(this.dir, 'qmp.sock')), exited]);
    if (this.o.uart) {
      const devs: Array<{ label: string; filename: string }> = await this.qmp.execute('query-chardev');
      const m = /:(\d+),server/.exec(devs.find((d) => d.label === 'uart2')?.filename ?? '');
      this.uart = `tcp://${this.o.uart.host}:${m ? m[1] : this.o.uart.port}`;
    }
    this.saver = setInterval(() => void this.save().catch(() => undefined), SAVE_EVERY_MS);
  }

  /**
   * Console input, paced like a UART at 115200 baud and held while the board's last word was XOFF. QEMU
   * hands the guest a byte as soon as it read the previous one, so without a pace a burst (a 16 KB flash)
   * fills Espruino's 1 KB input queue faster than the interpreter empties it, and the XOFF it then sends
   * arrives after the OS pipe already holds kilobytes: bytes were lost. At a UART's pace only a few
   * bytes are in flight when the XOFF comes, as on a real cable.
   */
  write(b: Buffer): void {
    if (!this.child || this.child.exitCode !== null || !b.length) return;
    this.input.push(b);
    if (this.pumping) return;
    this.pumping = true;
    const tick = () => {
      const c = this.child;
      if (!c || c.exitCode !== null || !this.input.length) return void (this.pumping = false);
      if (this.xoffAt && Date.now() - this.xoffAt < XOFF_LIMIT_MS) return void setTimeout(tick, INPUT_TICK_MS);
      this.xoffAt = 0;
      const head = this.input[0];
      const part = head.subarray(0, INPUT_BYTES_PER_TICK);
      if (part.length === head.length) this.input.shift();
      else this.input[0] = head.subarray(part.length);
      c.stdin!.write(part);
      setTimeout(tick, INPUT_TICK_MS);
    };
    tick();
  }

  /** The board's XON/XOFF (it sends XOFF when its input queue is 3/4 full). */
  private flowControl(b: Buffer): void {
    const off = b.lastIndexOf(0x13);
    const on = b.lastIndexOf(0x11);
    if (off > on) this.xoffAt = this.xoffAt || Date.now();
    else if (on > off) this.xoffAt = 0;
  }

  /**
   * Saves Storage to the flash file if it changed: QEMU writes the RAM to a temporary file beside it, which
   * replaces the file in one rename, so the file is always a whole image. Taken while the board runs, the
   * image is what a power cut at that instant would leave, which Storage is built to survive.
   */
  save(): Promise<void> {
    const run = async () => {
      const qmp = this.qmp;
      if (!qmp) return;
      const tmp = join(dirname(this.o.flash), `.${basename(this.o.flash)}.${process.pid}.tmp`);
      await qmp.execute('pmemsave', { val: STORAGE_ADDR, size: STORAGE_BYTES, filename: tmp });
      const img = readFileSync(tmp);
      if (img.length !== STORAGE_BYTES) throw deviceError(`QEMU saved ${img.length} bytes of Storage, not ${STORAGE_BYTES}`);
      if (this.lastImage && img.equals(this.lastImage)) return unlinkSync(tmp);
      renameSync(tmp, this.o.flash);
      this.lastImage = img;
    };
    this.saving = this.saving.then(run, run);
    return this.saving;
  }

  /** Clean stop: the board halted, Storage saved, QEMU ended. */
  async stop(): Promise<void> {
    const c = this.child;
    if (this.saver) clearInterval(this.saver);
    this.saver = undefined;
    if (!c || c.exitCode !== null || c.signalCode !== null) return this.cleanup();
    const done = new Promise<void>((r) => c.once('exit', () => r()));
    try {
      await this.qmp!.execute('stop');
      await this.save();
      await this.qmp!.execute('quit').catch(() => undefined);
    } catch {
      // the monitor is gone: nothing more can be saved
    }
    const t = setTimeout(() => c.kill('SIGKILL'), 3000);
    await done;
    clearTimeout(t);
    this.cleanup();
  }

  /** A power cut: QEMU killed, Storage as last saved. */
  async kill(): Promise<void> {
    const c = this.child;
    if (this.saver) clearInterval(this.saver);
    if (!c || c.exitCode !== null || c.signalCode !== null) return this.cleanup();
    const done = new Promise<void>((r) => c.once('exit', () => r()));
    c.kill('SIGKILL');
    await done;
  }

  private cleanup(): void {
    if (this.saver) clearInterval(this.saver);
    this.qmp?.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export interface QemuBoard {
  console: string;
  pty?: string;
  uart?: string;
  process: QemuProcess;
  stop(): Promise<void>;
}

/** Starts QEMU with a console on tcp://HOST:PORT (and a PTY at ptyPath if given). */
export async function startQemuBoard(o: QemuOptions, opts: { ptyPath?: string; port?: number; host?: string } = {}): Promise<QemuBoard> {
  const p = new QemuProcess(o);
  const server = new ConsoleServer(p, { ptyPath: opts.ptyPath });
  // QEMU gone: the cable goes dead at once, as on a board that lost power.
  p.once('exit', () => void server.close());
  let url: string;
  try {
    url = await server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1');
    await p.start();
  } catch (e) {
    await server.close();
    await p.kill();
    throw e;
  }
  return {
    console: url, pty: opts.ptyPath, uart: p.uart, process: p,
    async stop() { await server.close(); await p.stop(); },
  };
}

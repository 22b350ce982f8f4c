// One emulated Espruino board: flash (a journal file), a sandboxed interpreter, timers, sockets and the
// console REPL, with power that can be cut at any instant. The same class runs in the `sealmq emulate`
// process and in-process in tests, where many boards can share one Node process.
//
// Power: powerOn() boots from flash (runs .bootrst/.bootcde like Espruino, then E.on('init')); powerCut()
// drops everything at once: a cut board's timers, sockets, pending callbacks and console never act again
// (every native checks the boot generation it belongs to). powerCut({torn: true}) instead lets the board
// run until its next Storage write, writes only a prefix of that record and cuts there.
import { EventEmitter } from 'node:events';
import vm from 'node:vm';
import { resolve } from 'node:path';
import type { Socket } from 'node:net';
import { FlashJournal, PowerCutError } from './flash-journal.js';
import { BoardStorage, bootFiles } from './storage.js';
import { BoardUart, type CableEnd } from './uart.js';
import { ConsoleRepl } from './repl.js';
import { PacketReceiver, versionHasPackets } from './packets.js';
import { createSandbox, EMULATOR_VERSION, type Sandbox, type SandboxHost } from './sandbox.js';
import { prepareOrThrow } from './syntax.js';
import { formatValue, REPL_MODE, thrownText, uncaughtLine } from './format.js';
import { FixedSeedRandom, Sensors } from './sensors.js';
import { DEFAULT_PROFILE, type BoardProfile } from './profile.js';
import { BoardTimers } from './timers.js';
import { consoleBytes, nvsBle, setNvs, type BoardOptions, type PowerCutOptions } from './board-options.js';

export type { BoardOptions, PowerCutOptions } from './board-options.js';

/** Unwinds sandbox code after E.reboot()/load()/reset(): the old interpreter is gone. */
class BoardHalt extends Error {}



export class EmulatedBoard extends EventEmitter {
  readonly name: string;
  readonly flashFile: string;
  readonly profile: BoardProfile;
  readonly nativeCrypto: boolean;
  private readonly clock: () => number;
  private readonly watchdogMs: number;
  private readonly banner: boolean;
  readonly firmwareVersion: string;
  private packets: PacketReceiver | undefined;

  /** Boot generation: bumped by every power cut and soft reboot; stale callbacks compare against it. */
  private gen = 0;
  private powered = false;
  private journal: FlashJournal | undefined;
  private storage: BoardStorage | undefined;
  private sandbox: Sandbox | undefined;
  private repl: ConsoleRepl | undefined;
  /** The current interpreter's timers (timers.ts); a new set at every boot. */
  private timers: BoardTimers | undefined;
  private sockets = new Set<Socket>();
  private timeOffset = 0;
  /** E.setPassword's password: in the interpreter's hidden root, so gone at every boot (boot code sets it again). */
  private consolePassword: string | undefined;
  /** The Telnet console's mode (TelnetServer.setOptions): on at every boot, as the ESP32 build has it. */
  telnetOn = false;
  private idlePending = false;
  private cutWaiters: (() => void)[] = [];
  /** The profile's second UART (network "uart"): bytes from its wire to the running firmware's Serial object. */
  private readonly uart = new BoardUart(this);
  private writesBefore = 0;

  constructor(opts: BoardOptions) {
    super();
    this.name = opts.name;
    this.flashFile = resolve(opts.flashFile ?? `${opts.name}.flash`);
    this.profile = opts.profile ?? { ...DEFAULT_PROFILE };
    this.nativeCrypto = opts.nativeCrypto ?? this.profile.nativeCrypto;
    this.clock = opts.clock ?? (() => (performance.timeOrigin + performance.now()) / 1000);
    this.watchdogMs = opts.watchdogMs ?? 10_000;
    this.banner = opts.banner ?? true;
    this.firmwareVersion = opts.firmwareVersion ?? EMULATOR_VERSION;
  }

  /** Storage records written whole since this object was made, across power cycles. */
  get flashWrites(): number {
    return this.writesBefore + (this.journal?.appends ?? 0);
  }

  get isOn(): boolean {
    return this.powered;
  }

  /** Boots from flash. Output (banner, boot code's prints, prompt) is emitted as 'output' events. */
  powerOn(): void {
    if (this.powered) return;
    this.journal = new FlashJournal(this.flashFile);
    this.storage = new BoardStorage(this.journal, this.profile.storageBytes);
    this.powered = true;
    this.timeOffset = 0;
    this.emit('power', 'on');
    this.boot('power');
  }

  /**
   * Cuts the power. Plain: now. Torn: at the board's next Storage write, which lands only partially;
   * the promise resolves once the power is off either way.
   */
  powerCut(opts: PowerCutOptions = {}): Promise<void> {
    if (!this.powered) return Promise.resolve();
    if (!opts.torn) {
      this.cut();
      return Promise.resolve();
    }
    const tb = opts.tornBytes;
    this.journal!.armTornWrite({
      bytes: (len) => (typeof tb === 'function' ? tb(len) : typeof tb === 'number' ? tb : 1 + Math.floor(Math.random() * (len - 1))),
      onCut: () => this.cut(),
    });
    return new Promise((res) => this.cutWaiters.push(res));
  }

  /** Whether a torn-write cut is armed and waiting for the next Storage write. */
  get tornCutArmed(): boolean {
    return this.journal?.tornArmed ?? false;
  }

  /** Console input: bytes (a string's chars are taken as bytes). Dropped while the power is off. */
  write(data: string | Uint8Array): void {
    if (!this.powered || !this.repl) return;
    this.repl.input(typeof data === 'string' ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('latin1'));
    if (this.powered) this.repl.idle();
  }

  /**
   * Bytes arriving on the profile's UART (a second serial port: MQTT to `sealmq gateway`). Lost while the
   * power is off or before the firmware set the UART up, as on a wire. What the firmware sends on it is
   * emitted as 'uart' events (Buffer).
   */
  uartWrite(data: Uint8Array): void {
    if (this.powered) this.uart.write(data);
  }

  /** The UART as a cable end (ConsoleServer serves it on TCP like the console); undefined without one. */
  uartDevice(): CableEnd | undefined {
    return this.profile.uart ? this.uart.device() : undefined;
  }

  /** E.reboot() from outside: a reset with the power kept (flash kept, RAM lost). */
  reboot(): void {
    if (this.powered) this.softBoot('power');
  }

  /** A file's bytes as the board's Storage holds them now (undefined if absent or powered off). */
  readFile(name: string): Uint8Array | undefined {
    const f = this.storage?.get(name);
    return f && new Uint8Array(f);
  }

  /** Cuts the power and releases the flash file. */
  close(): void {
    this.cut();
  }

  /** The power goes: the interpreter, the flash file and the console are dropped; powerCut() waiters resume. */
  private cut(): void {
    if (!this.powered) return;
    this.powered = false;
    this.dropInterpreter();
    this.writesBefore += this.journal?.appends ?? 0;
    this.journal?.close();
    this.journal = undefined;
    this.storage = undefined;
    this.repl = undefined;
    this.emit('power', 'off');
    const w = this.cutWaiters;
    this.cutWaiters = [];
    for (const f of w) f();
  }

  /** Stops everything the current interpreter started. */
  private dropInterpreter(): void {
    this.gen++;
    this.packets?.dispose();
    this.uart.attach(undefined);
    this.timers?.clearAll();
    this.timers = undefined;
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    this.sandbox = undefined;
  }

  /** E.reboot(): a new interpreter on the same flash, started after the caller unwinds. */
  private softBoot(kind: 'power' | 'load' | 'reset', file?: string): void {
    this.dropInterpreter();
    const gen = this.gen;
    setImmediate(() => {
      if (this.powered && this.gen === gen) this.boot(kind, file);
    });
  }

  /**
   * load()/reset(): like Espruino (JSIS_TODO_FLASH_LOAD / JSIS_TODO_RESET), the call returns, the rest
   * of the input line runs, and the interpreter is replaced when the board is next idle.
   */
  private bootWhenIdle(kind: 'load' | 'reset', file?: string): void {
    const gen = this.gen;
    setImmediate(() => {
      if (this.powered && this.gen === gen) this.softBoot(kind, file);
    });
  }

  private boot(kind: 'power' | 'load' | 'reset', file?: string): void {
    const gen = this.gen;
    const alive = () => this.powered && this.gen === gen;
    const random = new FixedSeedRandom();
    const sensors = new Sensors(() => this.time(), this.name.length);
    if (!this.repl) {
      this.repl = new ConsoleRepl({
        write: (s) => this.out(s),
        execute: (code, echo) => this.executeLine(code, echo),
        // Input is only read between runs of sandbox code (one thread), so there is nothing to break here;
        // a line that runs too long is stopped by the watchdog instead.
        interrupt: () => undefined,
        identify: () => this.repl?.print(`Espruino ${this.firmwareVersion} ${this.profile.board}\n`),
        checkPassword: (line) => this.consolePassword !== undefined && line === this.consolePassword,
      });
    }
    this.repl.resetScreen();
    // A new interpreter: no password in its hidden root, the console open until boot code locks it again.
    this.repl.locked = false;
    this.consolePassword = undefined;
    this.telnetOn = !!this.profile.telnet;
    this.packets?.dispose();
    this.packets = versionHasPackets(this.firmwareVersion) ? this.packetReceiver(gen) : undefined;
    this.repl.packets = this.packets;
    const timers = new BoardTimers((f) => this.runCallback(gen, f), (name, message) => this.sandbox!.realm.error(name, message));
    this.timers = timers;
    const host: SandboxHost = {
      profile: this.profile,
      version: this.firmwareVersion,
      nativeCrypto: this.nativeCrypto,
      storage: this.storage!,
      sensors,
      random,
      print: (t) => {
        if (!alive()) return;
        this.repl!.print(t);
        this.scheduleIdle();
      },
      consoleError: (m) => host.print(`ERROR: ${m}\n`),
      guard: (f) => {
        if (!alive()) throw new BoardHalt('board is off');
        return f();
      },
      emit: (target, event, args) => this.runCallback(gen, () => (target as { emit: Function }).emit(event, ...args)),
      trackSocket: (s) => {
        if (!alive()) return void s.destroy();
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
      },
      time: () => this.time(),
      setTime: (t) => {
        this.timeOffset = t - this.clock();
      },
      setTimer: (fn, ms, args, repeat) => timers.set(fn, ms, args, repeat, (code) => this.evaluate(code, 'timer')),
      clearTimer: (kind, args) => timers.clear(kind, args),
      changeInterval: (id, ms) => timers.change(id, ms),
      evaluate: (code, filename) => this.evaluate(code, filename),
      reboot: () => this.haltAnd(),
      load: (file) => this.bootWhenIdle('load', file),
      reset: () => this.bootWhenIdle('reset'),
      setPassword: (pw) => {
        this.consolePassword = pw;
      },
      lockConsole: () => {
        if (this.consolePassword !== undefined) this.repl!.locked = true;
      },
      setTelnet: (on) => {
        this.telnetOn = on;
      },
      ble: this.profile.bluetooth ? () => nvsBle(this.flashFile) : undefined,
      enableBle: (on) => {
        setNvs(this.flashFile, { ble: on });
        // jswrap_ESP32_enableBLE: removes saved code, then esp_restart().
        host.print('Erasing saved code.\nDone!\n');
        for (const f of ['.varimage', '.bootcde', '.bootrst']) this.storage!.erase(f);
        this.haltAnd();
      },
      setEcho: (on) => {
        this.repl!.echoOff = !on;
      },
      rejection: (e) => {
        if (!alive()) return;
        host.print(`Uncaught Error: Unhandled promise rejection: ${thrownText(e)}\n`);
      },
      uart: this.profile.uart && {
        port: this.profile.uart.port,
        transmit: (b) => {
          if (alive()) this.emit('uart', Buffer.from(b.buffer, b.byteOffset, b.byteLength));
        },
        attach: (rx) => {
          this.uart.attach((b) => alive() && rx(b));
        },
      },
    };
    this.sandbox = createSandbox(host);

    const files = bootFiles(this.storage!, kind, file);
    for (const f of files) {
      if (alive()) this.runCallback(gen, () => this.evaluate(Buffer.from(f.code).toString('latin1'), f.name), false);
    }
    const bootFile = files.some((f) => f.name === 'boot code');
    if (alive()) this.runCallback(gen, () => (this.sandbox!.realm.global.E as { emit: Function }).emit('init'), false);
    if (!alive()) return;
    if (this.banner && !bootFile && kind === 'power') {
      this.out(`\r\nEspruino ${this.firmwareVersion} on an emulated ${this.profile.board} (sealmq)\r\n`);
      this.out(`Storage: ${this.flashFile}${this.nativeCrypto ? '' : ', no crypto module'}\r\n`);
    }
    this.out('\r\n');
    this.repl.idle();
  }

  /** Espruino's packet protocol for this boot (packets.ts): Storage, evaluation and E.emit of this interpreter. */
  private packetReceiver(gen: number): PacketReceiver {
    const alive = () => this.powered && this.gen === gen;
    return new PacketReceiver({
      out: (b) => alive() && this.out(b),
      storageWrite: (name, data, offset, size) => this.storage!.write(name, data, offset, size),
      storageRead: (name) => this.storage?.get(name),
      evaluate: (expr) => this.evaluate(expr, 'packet'),
      reportError: (e) => this.reportUncaught(gen, e),
      emitPacket: (obj) => this.runCallback(gen, () => (this.sandbox!.realm.global.E as { emit: Function }).emit('packet', obj)),
    });
  }

  /** E.reboot() from inside sandbox code: a hardware reset never returns, so unwind the old code. */
  private haltAnd(): never {
    this.softBoot('power');
    throw new BoardHalt('rebooting');
  }

  // ---- running code -----------------------------------------------------------------------------

  private time(): number {
    return this.clock() + this.timeOffset;
  }

  private out(s: string): void {
    if (!this.powered || !s) return;
    // One byte per char as Espruino's strings are; chars above 255 (made by code) go out as UTF-8.
    this.emit('output', consoleBytes(s));
  }

  private scheduleIdle(): void {
    if (this.idlePending) return;
    this.idlePending = true;
    setImmediate(() => {
      this.idlePending = false;
      if (this.powered) this.repl?.idle();
    });
  }

  /** Runs code in the sandbox after Espruino's syntax check, with the watchdog. */
  private evaluate(code: string, filename: string): unknown {
    const sb = this.sandbox;
    if (!sb) throw new BoardHalt('no interpreter');
    return vm.runInContext(prepareOrThrow(code, sb.realm), sb.context, { filename, timeout: this.watchdogMs });
  }

  private executeLine(code: string, echo: boolean): void {
    const gen = this.gen;
    let v: unknown;
    try {
      v = this.evaluate(code, 'REPL');
    } catch (e) {
      this.reportUncaught(gen, e);
      return;
    }
    if (echo && this.powered && this.gen === gen) {
      const g = this.sandbox!.realm.global;
      const nameOf = (c: unknown) => Object.getOwnPropertyNames(g).find((k) => g[k] === c);
      this.repl!.print('=' + formatValue(v, { ...REPL_MODE, nameOf }) + '\n');
    }
  }

  /**
   * A board event: runs only if the board is still the one that scheduled it; errors print as Uncaught.
   * True if it ran to its end.
   */
  private runCallback(gen: number, f: () => void, idle = true): boolean {
    if (!this.powered || this.gen !== gen) return false;
    let ok = true;
    try {
      f();
    } catch (e) {
      ok = false;
      this.reportUncaught(gen, e);
    }
    if (idle && this.powered) this.repl?.idle();
    return ok;
  }

  private reportUncaught(gen: number, e: unknown): void {
    if (!this.powered || this.gen !== gen || e instanceof BoardHalt || e instanceof PowerCutError) return;
    this.repl!.print(uncaughtLine(e));
  }
}

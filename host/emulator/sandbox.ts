// The JavaScript world the firmware sees on an emulated board: a fresh node:vm context holding the ES
// built-ins Espruino also has, minus the ones it lacks (DESIGN.md §6), plus Espruino's own globals
// (E, process, getTime, timers, print, require("Storage"|"crypto"|"net"), …). Anything Node-only is out
// of reach: no process.exit, Buffer, TextEncoder, Map, Set, Symbol, Array.from, Number.isInteger…
import vm from 'node:vm';
import type { Socket } from 'node:net';
import { makeRealm, bytesOf, binaryString, type Realm } from './realm.js';
import { formatValue, PRINT_MODE } from './format.js';
import { storageModule, type BoardStorage } from './storage.js';
import { cryptoModule } from './espruino-crypto.js';
import { netModule } from './espruino-net.js';
import { serialObject } from './espruino-serial.js';
import { estimateVars } from './memory.js';
import { pinNumber, type FixedSeedRandom, type Sensors } from './sensors.js';
import { crc32 } from './flash-journal.js';
import type { BoardProfile } from './profile.js';

export const EMULATOR_VERSION = '2v29-emu';

/** What the sandbox's natives ask of the board that owns them. */
export interface SandboxHost {
  profile: BoardProfile;
  /** process.env.VERSION; default EMULATOR_VERSION. */
  version?: string;
  nativeCrypto: boolean;
  storage: BoardStorage;
  sensors: Sensors;
  random: FixedSeedRandom;
  /** Text to the console as print() does it (the REPL takes the input line off the screen first). */
  print(text: string): void;
  /** Espruino's jsError: "ERROR: msg" on the console. */
  consoleError(msg: string): void;
  /** Throws if the board that made this sandbox has lost power: a cut board never acts again. */
  guard<T>(f: () => T): T;
  /** Runs a listener/callback as a board event (errors reported as Uncaught, nothing after a cut). */
  emit(target: object, event: string, args: unknown[]): void;
  trackSocket(s: Socket): void;
  /** Seconds since 1970 as the board's clock says. */
  time(): number;
  setTime(t: number): void;
  setTimer(fn: unknown, ms: number, args: unknown[], repeat: boolean): number;
  clearTimer(kind: 'Timeout' | 'Interval', args: unknown[]): void;
  changeInterval(id: unknown, ms: number): void;
  /** Evaluates code in the sandbox the way the REPL does (Espruino syntax checks included). */
  evaluate(code: string, filename: string): unknown;
  reboot(): void;
  /** Replaces the interpreter once idle, running .bootcde (or the named Storage file). */
  load(file?: string): void;
  reset(): void;
  setEcho(on: boolean): void;
  /** E.setPassword / E.lockConsole (jswrap_espruino.c): the console's password and lock. */
  setPassword(pw: string | undefined): void;
  lockConsole(): void;
  /** require("TelnetServer").setOptions({mode}); only on boards whose profile has a Telnet console. */
  setTelnet(on: boolean): void;
  /** The ESP32 NVS Bluetooth flag (ESP32.getState().BLE); undefined on boards without Bluetooth. */
  ble?: () => boolean;
  /** ESP32.enableBLE(on): saved, code erased, the board restarts (never returns). */
  enableBle(on: boolean): never;
  rejection(reason: unknown): void;
  /**
   * The profile's UART (boards/<name>.json "uart"), as the global it names (Serial2, …): transmit gets what
   * the firmware writes, attach gets the function that delivers bytes from the wire. Absent: no such global.
   */
  uart?: { port: string; transmit(b: Uint8Array): void; attach(receive: (b: Uint8Array) => void): void };
}

/** Built-ins V8 gives a context that Espruino 2v29 does not have. */
const WITHHELD_GLOBALS = [
  'Map', 'Set', 'WeakMap', 'WeakSet', 'WeakRef', 'FinalizationRegistry', 'Symbol', 'Proxy', 'Reflect', 'BigInt',
  'BigInt64Array', 'BigUint64Array', 'SharedArrayBuffer', 'Atomics', 'WebAssembly', 'Intl', 'AggregateError',
  'globalThis', 'console', 'queueMicrotask', 'structuredClone', 'Buffer', 'TextEncoder', 'TextDecoder', 'process',
];

/**
 * Runs first inside the context, while WeakMap still exists: Espruino's event methods on every object
 * (Object.prototype.on/emit/removeListener/removeAllListeners, as jswrap_object.c has them) and a Promise
 * that reports rejections nobody handles on the board's console ("Unhandled promise rejection", as
 * jswrap_promise.c does) instead of letting them reach the Node process hosting the board.
 */
const PRELUDE = `(function (reportRejection) {
  var WM = WeakMap, L = new WM();
  function def(o, k, v) { Object.defineProperty(o, k, { value: v, writable: true, configurable: true, enumerable: false }); }
  function table(o) { var t = L.get(o); if (!t) { t = {}; L.set(o, t); } return t; }
  def(Object.prototype, 'on', function on(ev, fn) { var t = table(this), k = String(ev); (t[k] = t[k] || []).push(fn); return this; });
  def(Object.prototype, 'addListener', Object.prototype.on);
  def(Object.prototype, 'prependListener', function prependListener(ev, fn) { var t = table(this), k = String(ev); (t[k] = t[k] || []).unshift(fn); return this; });
  def(Object.prototype, 'emit', function emit(ev) {
    var t = L.get(this), fns = t && t[String(ev)];
    if (!fns || !fns.length) return false;
    var args = Array.prototype.slice.call(arguments, 1), list = fns.slice();
    for (var i = 0; i < list.length; i++) list[i].apply(this, args);
    return true;
  });
  def(Object.prototype, 'removeListener', function removeListener(ev, fn) {
    var t = L.get(this), fns = t && t[String(ev)];
    if (fns) { var i = fns.indexOf(fn); if (i >= 0) fns.splice(i, 1); }
    return this;
  });
  def(Object.prototype, 'removeAllListeners', function removeAllListeners(ev) {
    var t = L.get(this); if (!t) return this;
    if (ev === undefined) L.delete(this); else delete t[String(ev)];
    return this;
  });
  var P = this.Promise, pthen = P.prototype.then, handled = new WM(), attaching = false;
  var BoardPromise = class Promise extends P {
    constructor(executor) {
      super(executor);
      if (attaching) return;
      var self = this;
      attaching = true;
      try { pthen.call(this, undefined, function (e) { if (!handled.has(self)) reportRejection(e); }); } finally { attaching = false; }
    }
    then(a, b) { handled.set(this, true); return pthen.call(this, a, b); }
  };
  return BoardPromise;
})`;

export interface Sandbox {
  context: vm.Context;
  realm: Realm;
}

export function createSandbox(host: SandboxHost): Sandbox {
  const context = vm.createContext({}, { name: 'espruino', codeGeneration: { strings: true, wasm: false } });
  const realm = makeRealm(context);
  const g = realm.global;
  const BoardPromise = (vm.runInContext(PRELUDE, context) as (r: (e: unknown) => void) => unknown)((e) => host.rejection(e));
  Object.defineProperty(g, 'Promise', { value: BoardPromise, writable: true, configurable: true, enumerable: false });

  for (const k of WITHHELD_GLOBALS) delete g[k];
  delete g.Array.from;
  delete g.Array.of;
  const TypedArray = Object.getPrototypeOf(g.Uint8Array);
  delete TypedArray.from;
  delete TypedArray.of;
  delete g.Number.isInteger;
  delete g.Number.isSafeInteger;
  delete g.Math.imul;

  const { guard } = host;
  const n = realm.native;
  const define = (name: string, value: unknown) =>
    Object.defineProperty(g, name, { value, writable: true, configurable: true, enumerable: false });
  const nameOf = (ctor: unknown) => {
    for (const k of Object.getOwnPropertyNames(g)) if (g[k] === ctor) return k;
    return undefined;
  };
  const printArgs = (args: unknown[]) =>
    args.map((a) => (typeof a === 'string' ? a : formatValue(a, { ...PRINT_MODE, nameOf }))).join(' ') + '\n';
  const print = n((...args: unknown[]) => guard(() => host.print(printArgs(args))));

  define('global', g);
  define('print', print);
  define('console', realm.object({ log: print, debug: print, info: print, warn: print, error: print, trace: print }));
  define('getTime', n(() => guard(() => host.time())));
  define('setTime', n((t: unknown) => guard(() => host.setTime(Number(t)))));
  define('setTimeout', n((fn: unknown, ms?: unknown, ...args: unknown[]) => guard(() => host.setTimer(fn, Number(ms), args, false))));
  define('setInterval', n((fn: unknown, ms?: unknown, ...args: unknown[]) => guard(() => host.setTimer(fn, Number(ms), args, true))));
  define('clearTimeout', n((...args: unknown[]) => guard(() => host.clearTimer('Timeout', args))));
  define('clearInterval', n((...args: unknown[]) => guard(() => host.clearTimer('Interval', args))));
  define('changeInterval', n((id: unknown, ms: unknown) => guard(() => host.changeInterval(id, Number(ms)))));
  define('btoa', n((s: unknown) => guard(() => Buffer.from(String(s), 'latin1').toString('base64'))));
  define('atob', n((s: unknown) => guard(() => Buffer.from(String(s), 'base64').toString('latin1'))));
  define('analogRead', n((pin: unknown) => guard(() => host.sensors.analog(pinNumber(pin)))));
  define('digitalRead', n((pin: unknown) => guard(() => host.sensors.digital(pinNumber(pin)))));
  define('echo', n((on: unknown) => guard(() => host.setEcho(Boolean(on)))));
  define('save', n(() => guard(() =>
    host.consoleError('save() of the RAM image is not emulated: store code with E.setBootCode() or Storage.write(".bootcde", …)'))));
  define('load', n((file?: unknown) => guard(() => host.load(file === undefined ? undefined : String(file)))));
  define('reset', n((clearFlash?: unknown) => guard(() => {
    // reset(true) removes saved code (jsfRemoveCodeFromFlash), not the other Storage files.
    if (clearFlash) {
      host.print('Erasing saved code.\n');
      for (const f of ['.varimg', '.bootcde', '.bootrst']) host.storage.erase(f);
    }
    host.reset();
  })));
  // Espruino's Math.random is a fixed-seed generator on at least the Linux build (DESIGN.md §3).
  g.Math.random = n(() => host.random.float());

  define('E', realm.object({
    toUint8Array: n((...args: unknown[]) => guard(() => realm.uint8Array(bytesOf(args) ?? new Uint8Array(0)))),
    toString: n((...args: unknown[]) => guard(() => {
      const b = bytesOf(args);
      return b === undefined ? undefined : binaryString(b);
    })),
    toArrayBuffer: n((s: unknown) => guard(() => realm.arrayBuffer(bytesOf(String(s)) ?? new Uint8Array(0)))),
    getTemperature: n(() => guard(() => host.sensors.temperature())),
    hwRand: n(() => guard(() => host.random.int32())),
    CRC32: n((data: unknown) => guard(() => crc32(bytesOf(data) ?? new Uint8Array(0)))),
    reboot: n(() => guard(() => host.reboot())),
    getSizeOf: n((v: unknown) => guard(() => estimateVars(v))),
    setBootCode: n((code: unknown, alwaysExec?: unknown) => guard(() => {
      host.storage.erase('.bootrst');
      host.storage.erase('.bootcde');
      const text = code === undefined ? '' : String(code);
      if (text) host.storage.write(alwaysExec ? '.bootrst' : '.bootcde', bytesOf(text)!, 0, 0);
    })),
    setPassword: n((pw?: unknown) => guard(() => host.setPassword(pw === undefined ? undefined : String(pw)))),
    lockConsole: n(() => guard(() => host.lockConsole())),
    getErrorFlags: n(() => realm.array([])),
    getAnalogVRef: n(() => 3.3),
  }));

  const version = host.version ?? EMULATOR_VERSION;
  define('process', realm.object({
    version,
    env: realm.object({
      VERSION: version, BOARD: host.profile.board, EMULATED: true,
      // The modules require() has built in, as Espruino lists them.
      MODULES: ['Storage', 'net', ...(host.nativeCrypto ? ['crypto'] : []), ...(host.profile.telnet ? ['TelnetServer'] : [])].join(','),
    }),
    memory: n(() => guard(() => {
      // The walk starts at the context object, which holds the same own properties as the global the firmware
      // sees (node:vm keeps them there), not at the global: enumerating that goes through node:vm's interceptor,
      // ~18 µs hot and ~70 µs on a core back from idle, on every reading of a board with a "free" sensor.
      const usage = Math.min(host.profile.totalVars, host.profile.baseVars + estimateVars(context, (o) => o === g.Object.prototype || o === g.Function.prototype));
      return realm.object({ free: host.profile.totalVars - usage, usage, total: host.profile.totalVars, history: 0, gc: 0, gctime: 0, blocksize: 16 });
    })),
  }));

  const modules: Record<string, unknown> = {};
  define('require', n((name: unknown) => guard(() => {
    if (typeof name !== 'string') throw realm.error('TypeError', `Expecting module name as a string, got ${typeof name}`);
    if (name in modules) return modules[name];
    let m: unknown;
    if (name === 'Storage') m = storageModule(host.storage, realm, guard);
    else if (name === 'crypto' && host.nativeCrypto) m = cryptoModule({ realm, guard, consoleError: host.consoleError });
    else if (name === 'net') m = netModule({ realm, guard, emit: host.emit, track: host.trackSocket });
    else if (name === 'TelnetServer' && host.profile.telnet) {
      m = realm.object({
        setOptions: n((o: unknown) => guard(() => {
          const mode = (o as { mode?: unknown } | null)?.mode;
          if (typeof o !== 'object' || o === null) throw realm.error('Error', `Expecting Object, got ${typeof o}`);
          if (mode === 'on' || mode === 'off') host.setTelnet(mode === 'on');
          else if (mode !== undefined) throw realm.error('Error', 'Unknown mode value');
        })),
      });
    }
    else {
      // Like Espruino, a module may also be a Storage file of that name (jswrap_modules.c).
      const f = host.storage.get(name);
      if (f === undefined) throw realm.error('Error', `Module "${name}" not found`);
      const wrapper = host.evaluate(`(function(exports, module){${binaryString(f)}\n})`, name) as Function;
      const module = realm.object({ exports: realm.object({}) }) as { exports: unknown };
      wrapper(module.exports, module);
      m = module.exports;
    }
    modules[name] = m;
    return m;
  })));

  // The ESP32 class, on boards with Bluetooth: its NVS flags (getState) and enableBLE (targets/esp32).
  if (host.ble) {
    const ble = host.ble;
    define('ESP32', realm.object({
      getState: n(() => guard(() => realm.object({ BLE: ble(), Wifi: true }))),
      enableBLE: n((on: unknown) => guard(() => host.enableBle(Boolean(on)))),
    }));
  }

  // The profile's UART (and only that one: a board without it has no such global).
  if (host.uart) {
    const u = host.uart;
    const serial = serialObject({ realm, guard, emit: host.emit, transmit: (b) => u.transmit(b) });
    define(u.port, serial.object);
    u.attach(serial.receive);
  }

  // The pins of an ESP32, as globals (D0…D39), so sensor code can name them as on a board.
  for (let i = 0; i < 40; i++) define('D' + i, i);
  return { context, realm };
}

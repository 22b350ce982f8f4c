// What Espruino 2v29 offers the firmware, and nothing else: device code type-checks against this file,
// the ES5 library and Promise (firmware/tsconfig.json), so Node's APIs and the ES2015+ built-ins Espruino
// lacks (Map, Set, Symbol, Array.from, Number.isInteger, Math.imul, …) fail to compile here.
// Sources: src/jswrap_*.c, libs/crypto/jswrap_crypto.c, libs/network/jswrap_net.c,
// libs/network/esp32/jswrap_esp32_network.c in github.com/espruino/Espruino, and DESIGN.md §6.

/** The board profile the bundler injects (boards/<name>.json, trimmed to what the firmware reads). */
declare const __BOARD__: BoardInfo;
/**
 * The board's network kind (boards/<name>.json "network"), a constant injected by the bundler: code
 * under `__NETWORK__ === 'wifi'` exists only in wifi boards' bundles, and so on.
 */
declare const __NETWORK__: 'wifi' | 'native' | 'uart';
/** On "uart" boards: the UART the MQTT stream goes over (e.g. Serial2, the global itself); null elsewhere. */
declare const __UART__: EspruinoSerial;
/** On "uart" boards: its baud rate (0 elsewhere). */
declare const __UART_BAUD__: number;
/** Which sensor kinds the board's profile has, as build constants (`__HAS__.analog` is true or false). */
declare const __HAS__: { temperature: boolean; analog: boolean; digital: boolean; free: boolean; uptime: boolean };
/** sealmq's version (package.json), injected by the bundler. */
declare const __VERSION__: string;
/**
 * true only in the research plain build (dist/firmware-plain.js, docs/PROTOCOL.md "Research plain mode"):
 * readings and commands in clear, anonymous MQTT login. false in every other build, where esbuild drops
 * each plain branch, so the sealed bundle carries none of it.
 */
declare const __PLAIN__: boolean;
/** Ticks per second of the readings' "t" (1000: milliseconds; the latency bench builds with 1e6). */
declare const __TS__: number;

interface BoardSensor {
  /** Reading name in the uplink's "d" object. */
  name: string;
  /** temperature (E.getTemperature), analog (analogRead), digital (digitalRead), free (process.memory), uptime (s). */
  kind: string;
  pin?: string | number;
}

interface BoardInfo {
  name: string;
  /** Default K of "save every K" (RFC 8613 App. B.1.1) when the config gives none. */
  counterBlock: number;
  sensors: BoardSensor[];
}

/** Espruino's event methods exist on every object (jswrap_object.c). */
interface EspruinoEmitter {
  on(event: string, listener: (...args: any[]) => void): void;
  removeAllListeners(event?: string): void;
  emit(event: string, ...args: any[]): void;
}

interface EspruinoE extends EspruinoEmitter {
  /** Bytes of strings, arrays or typed arrays; a binary string's chars are bytes. */
  toUint8Array(...data: any[]): Uint8Array;
  /** A binary string (one char per byte) of the given bytes. */
  toString(...data: any[]): string;
  /** Chip temperature in °C (NaN on the Linux build). */
  getTemperature(): number;
  /** CRC32 of the data. */
  CRC32(data: any): number;
  reboot(): void;
  getSizeOf(v: any, depth?: number): number;
  /** Moves variables down into free space (a garbage collection first); absent on SAVE_ON_FLASH builds. */
  defrag?: () => void;
}

interface EspruinoMemory {
  free: number;
  usage: number;
  total: number;
  history: number;
}

interface EspruinoProcess {
  version: string;
  env: { [k: string]: any };
  memory(gc?: boolean): EspruinoMemory;
}

declare const E: EspruinoE;
declare const process: EspruinoProcess;
/** Espruino's global object (ES2020's globalThis also exists on 2v29). */
declare const global: any;

declare function print(...text: any[]): void;
declare const console: { log(...text: any[]): void };
/** Seconds since 1970 as a float; the board's RTC starts at 0 unless the clock is set. */
declare function getTime(): number;
declare function setTime(seconds: number): void;
/** Reads a 32-bit word of the memory map (src/jswrap_io.c). Only on a real MCU: the Linux build has no such map. */
declare function peek32(address: number): number;
declare function setTimeout(fn: () => void, ms?: number): number;
declare function setInterval(fn: () => void, ms?: number): number;
declare function clearTimeout(id?: number): void;
declare function clearInterval(id?: number): void;
declare function changeInterval(id: number, ms: number): void;
/** 0..1 */
declare function analogRead(pin: string | number): number;
declare function digitalRead(pin: string | number): number;

/** require("Storage") (src/jswrap_storage.c): a journaling store in flash; reads return binary strings. */
interface StorageModule {
  read(name: string, offset?: number, length?: number): string | undefined;
  readJSON(name: string, noExceptions?: boolean): any;
  /** Writes a whole file. Espruino erases an existing file of that name BEFORE it writes the new one. */
  write(name: string, data: string | Uint8Array, offset?: number, size?: number): boolean;
  writeJSON(name: string, data: any): boolean;
  erase(name: string): void;
  list(regex?: RegExp): string[];
  getFree(): number;
}

/** require("crypto") (libs/crypto/jswrap_crypto.c); absent on some ESP32 builds. */
interface CryptoModule {
  SHA1?: (data: any) => ArrayBuffer;
  SHA256?: (data: any) => ArrayBuffer;
  AES?: {
    /** No padding; a length that is not a multiple of 16 prints an error and returns undefined. */
    encrypt(data: any, key: any, options?: { iv?: any; mode?: string }): ArrayBuffer | undefined;
    decrypt(data: any, key: any, options?: { iv?: any; mode?: string }): ArrayBuffer | undefined;
  };
}

/** A socket from require("net").connect (libs/network/jswrap_net.c): data events carry binary strings. */
interface NetSocket extends EspruinoEmitter {
  write(data: string): boolean;
  end(data?: string): void;
}

/**
 * A UART (Serial1, Serial2, … in src/jswrap_serial.c): setup(baud) configures it (8N1), write(data) sends a
 * string's chars as bytes, 'data' events carry what arrived as a string (one char per byte).
 */
interface EspruinoSerial extends EspruinoEmitter {
  setup(baud: number, options?: { rx?: any; tx?: any }): void;
  write(data: string): void;
}

interface NetModule {
  connect(options: { host: string; port: number }, onConnect?: (s: NetSocket) => void): NetSocket;
}

/** require("Wifi") on the ESP32 (libs/network/esp32/jswrap_esp32_network.c). */
interface WifiModule extends EspruinoEmitter {
  connect(ssid: string, options: { password?: string }, callback: (err: string | null) => void): void;
  setSNTP?: (server: string, tzOffset: number) => void;
}

declare function require(module: 'Storage'): StorageModule;
declare function require(module: 'crypto'): CryptoModule;
declare function require(module: 'net'): NetModule;
declare function require(module: 'Wifi'): WifiModule;

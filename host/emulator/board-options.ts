// What an emulated board (board.ts) is made with, and the small pieces of it that need no interpreter:
// its options, the power-cut options, its console's byte encoding and the ESP32's NVS (outside Storage).
import { readFileSync, writeFileSync } from 'node:fs';
import type { BoardProfile } from './profile.js';

export interface BoardOptions {
  /** The board's name (used for the default flash file and in messages). */
  name: string;
  /** Flash file; default `<name>.flash` in the working directory. */
  flashFile?: string;
  /** Board profile (see profile.ts); default an ESP32-like board. */
  profile?: BoardProfile;
  /** false: a build without require("crypto"). Default: the profile's (true for ESP32). */
  nativeCrypto?: boolean;
  /** Host clock in Unix seconds (float); getTime() follows it, plus any setTime() offset. */
  clock?: () => number;
  /** Longest a REPL line or boot code may run before "Execution Interrupted" (ms). Default 10 s. */
  watchdogMs?: number;
  /** Print a start-up banner on power on (like Espruino). Default true. */
  banner?: boolean;
  /**
   * The firmware version it reports (process.env.VERSION, Ctrl-E, banner); default EMULATOR_VERSION.
   * Before 2v25 the board has no packet protocol (DLE SOH is ignored), as such firmware does.
   */
  firmwareVersion?: string;
}

export interface PowerCutOptions {
  /** Cut at the next Storage write, leaving a prefix of its record in flash. */
  torn?: boolean;
  /** Bytes of the record that reach flash (default: a random prefix, at least 1 byte short). */
  tornBytes?: number | ((recordLength: number) => number);
}

/** Console bytes of board text: one byte per char, as Espruino strings are; chars above 255 as UTF-8. */
export function consoleBytes(s: string): Buffer {
  if (!/[^\x00-\xff]/.test(s)) return Buffer.from(s, 'latin1');
  const parts: Buffer[] = [];
  for (const ch of s) parts.push(ch.charCodeAt(0) <= 255 && ch.length === 1 ? Buffer.from([ch.charCodeAt(0)]) : Buffer.from(ch, 'utf8'));
  return Buffer.concat(parts);
}

// ESP32 NVS: outside Storage (it survives Storage.eraseAll, as the ESP32's NVS partition does).
const nvsFile = (flashFile: string): string => flashFile + '.nvs.json';

/** Whether Bluetooth is on in the board's NVS. */
export function nvsBle(flashFile: string): boolean {
  try {
    const v = JSON.parse(readFileSync(nvsFile(flashFile), 'utf8')) as { ble?: boolean };
    return v.ble !== false;
  } catch {
    return true; // a fresh ESP32 has Bluetooth on
  }
}

export function setNvs(flashFile: string, v: { ble: boolean }): void {
  writeFileSync(nvsFile(flashFile), JSON.stringify(v));
}

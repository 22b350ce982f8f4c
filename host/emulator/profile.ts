// The board profile the emulator imitates: boards/<name>.json (data written with the firmware), read
// leniently; anything missing falls back to an ESP32-like board as Espruino 2v29 builds it
// (boards/ESP32.py in Espruino: 16383 variables, 224 flash pages of 4 KB for Storage).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface BoardProfile {
  /** process.env.BOARD, e.g. "ESP32". */
  board: string;
  /** process.memory().total: variables the interpreter has. */
  totalVars: number;
  /** Bytes of flash given to Storage. */
  storageBytes: number;
  /** Whether the build has require("crypto"). */
  nativeCrypto: boolean;
  /** Console baud rate (used only when the CLI is asked to throttle). */
  consoleBaud: number;
  /** Variables in use right after boot with nothing loaded (an estimate). */
  baseVars: number;
  /** The build has a Telnet console (require("TelnetServer"), on at boot on the ESP32). */
  telnet?: boolean;
  /** The build has Bluetooth (ESP32.enableBLE; on until turned off, kept in NVS). */
  bluetooth?: boolean;
  /** A UART for MQTT ("uart" network boards): its global (Serial2, …) and baud rate. */
  uart?: { port: string; baud: number };
}

export const DEFAULT_PROFILE: BoardProfile = {
  board: 'ESP32',
  totalVars: 16383,
  storageBytes: 224 * 4096,
  nativeCrypto: true,
  consoleBaud: 115200,
  baseVars: 120,
};

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : undefined);

/** Builds a profile from a parsed boards/<name>.json, accepting the likely spellings of each field. */
export function profileFrom(json: Record<string, any>, fallbackName?: string): BoardProfile {
  const crypto = json.crypto ?? json.capabilities?.crypto;
  return {
    board: String(json.board ?? json.espruinoBoard ?? json.name ?? fallbackName ?? DEFAULT_PROFILE.board),
    totalVars: num(json.totalVars) ?? num(json.variables) ?? num(json.vars) ?? num(json.varBudget) ?? DEFAULT_PROFILE.totalVars,
    storageBytes: num(json.storageBytes) ?? num(json.flashStorageBytes) ?? DEFAULT_PROFILE.storageBytes,
    nativeCrypto: typeof crypto === 'boolean' ? crypto : typeof crypto === 'object' && crypto ? crypto.native !== false && crypto.aes !== false : typeof json.nativeCrypto === 'boolean' ? json.nativeCrypto : DEFAULT_PROFILE.nativeCrypto,
    consoleBaud: num(json.consoleBaud) ?? num(json.baud) ?? num(json.console?.baud) ?? DEFAULT_PROFILE.consoleBaud,
    baseVars: num(json.baseVars) ?? DEFAULT_PROFILE.baseVars,
    // Present only when the board has them (absent = no Telnet console, no Bluetooth).
    ...(json.consoles?.telnet === true || json.telnet === true ? { telnet: true } : {}),
    ...(json.consoles?.bluetooth === true || json.bluetooth === true ? { bluetooth: true } : {}),
    ...(json.uart && typeof json.uart.port === 'string' && /^Serial[1-6]$/.test(json.uart.port)
      ? { uart: { port: json.uart.port, baud: num(json.uart.baud) ?? 115200 } } : {}),
  };
}

/** Loads boards/<name>.json from the repository (or a path); the defaults if there is none. */
export function loadProfile(nameOrPath: string | undefined, repoRoot: string): BoardProfile {
  if (!nameOrPath) return { ...DEFAULT_PROFILE };
  const file = nameOrPath.endsWith('.json') ? nameOrPath : join(repoRoot, 'boards', nameOrPath + '.json');
  if (!existsSync(file)) return { ...DEFAULT_PROFILE, board: nameOrPath.endsWith('.json') ? DEFAULT_PROFILE.board : nameOrPath.toUpperCase() };
  return profileFrom(JSON.parse(readFileSync(file, 'utf8')), nameOrPath);
}

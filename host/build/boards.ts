// Board profiles: boards/<name>.json, data not code (console baud, network kind, crypto capability,
// variable budget, sensors, counter block). The build injects the part the firmware reads; the emulator
// reads the same files (host/emulator/profile.ts).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { inputError } from '../errors.js';
import { repoRoot } from '../protocol/vectors.js';

export type NetworkKind = 'wifi' | 'native' | 'uart';
export const NETWORK_KINDS: readonly NetworkKind[] = ['wifi', 'native', 'uart'];

/** A board's UART for MQTT: Espruino's global of that name (Serial1…Serial6) at baud, 8N1. */
export interface UartSpec {
  port: string;
  baud: number;
}

export interface SensorSpec {
  /** Key in the reading's "d" object. */
  name: string;
  kind: 'temperature' | 'analog' | 'digital' | 'free' | 'uptime';
  /** Pin for analog/digital, as Espruino names it ("D36") or a number. */
  pin?: string | number;
}

export interface BoardProfile {
  name: string;
  description?: string;
  /** process.env.BOARD on that board. */
  board: string;
  consoleBaud: number;
  /**
   * "wifi": the firmware joins an access point first (ESP32); "native": the OS/host network; "uart": no
   * network, the MQTT byte stream goes over a UART to `sealmq gateway` (docs/PROTOCOL.md, "MQTT over a UART").
   */
  network: NetworkKind;
  /** On "uart" boards (and only there): the UART the MQTT stream uses and its speed. */
  uart?: UartSpec;
  crypto: { native: boolean };
  /** Interpreter variables (process.memory().total). */
  totalVars: number;
  storageBytes?: number;
  /** Default K of "save every K" (RFC 8613 App. B.1.1). */
  counterBlock: number;
  sensors: SensorSpec[];
}

/**
 * What the firmware sees as __BOARD__ (firmware/espruino.d.ts BoardInfo). The network kind and the UART
 * are not in it: they are constants of their own (boardDefines), so esbuild drops the code of the other
 * network kinds from each board's bundle.
 */
export interface FirmwareBoardInfo {
  name: string;
  counterBlock: number;
  sensors: SensorSpec[];
}

const KINDS = ['temperature', 'analog', 'digital', 'free', 'uptime'];

export function boardsDir(): string {
  return join(repoRoot(), 'boards');
}

export function listBoards(): string[] {
  return readdirSync(boardsDir()).filter((f) => f.endsWith('.json')).map((f) => basename(f, '.json')).sort();
}

/** Checks a parsed profile; every problem names the field. */
export function validateBoard(j: any, where: string): BoardProfile {
  const bad = (field: string, want: string) => inputError(`${where}: ${field} ${want}`);
  if (!j || typeof j !== 'object') throw bad('profile', 'must be a JSON object');
  if (typeof j.name !== 'string' || !/^[a-z0-9-]{1,32}$/.test(j.name)) throw bad('name', 'must match [a-z0-9-]{1,32}');
  if (typeof j.board !== 'string' || !j.board) throw bad('board', 'must be the Espruino board name (process.env.BOARD)');
  if (!Number.isInteger(j.consoleBaud) || j.consoleBaud <= 0) throw bad('consoleBaud', 'must be a positive whole number');
  if (!NETWORK_KINDS.includes(j.network)) throw bad('network', 'must be "wifi", "native" or "uart"');
  if (j.network === 'uart') {
    const u = j.uart;
    if (!u || typeof u !== 'object') throw bad('uart', 'is required on a "uart" board: {"port": "Serial2", "baud": 115200}');
    if (typeof u.port !== 'string' || !/^Serial[1-6]$/.test(u.port)) throw bad('uart.port', 'must be Espruino\'s name of a UART, Serial1 … Serial6');
    if (!Number.isInteger(u.baud) || u.baud < 300 || u.baud > 4_000_000) throw bad('uart.baud', 'must be a whole number of baud, 300 … 4000000');
  } else if (j.uart !== undefined) throw bad('uart', 'is only for network "uart"');
  if (!j.crypto || typeof j.crypto.native !== 'boolean') throw bad('crypto.native', 'must be true or false');
  if (!Number.isInteger(j.totalVars) || j.totalVars < 1000) throw bad('totalVars', 'must be a whole number ≥ 1000');
  if (j.storageBytes !== undefined && (!Number.isInteger(j.storageBytes) || j.storageBytes <= 0)) throw bad('storageBytes', 'must be a positive whole number');
  if (!Number.isInteger(j.counterBlock) || j.counterBlock < 1 || j.counterBlock > 65536) throw bad('counterBlock', 'must be 1..65536');
  if (!Array.isArray(j.sensors)) throw bad('sensors', 'must be a list');
  const seen = new Set<string>();
  j.sensors.forEach((s: any, i: number) => {
    if (!s || typeof s.name !== 'string' || !/^[a-z][a-z0-9_]{0,15}$/.test(s.name)) throw bad(`sensors[${i}].name`, 'must match [a-z][a-z0-9_]{0,15}');
    if (seen.has(s.name)) throw bad(`sensors[${i}].name`, `repeats ${JSON.stringify(s.name)}`);
    seen.add(s.name);
    if (!KINDS.includes(s.kind)) throw bad(`sensors[${i}].kind`, `must be one of ${KINDS.join(', ')}`);
    if ((s.kind === 'analog' || s.kind === 'digital') && !(typeof s.pin === 'string' || Number.isInteger(s.pin))) throw bad(`sensors[${i}].pin`, 'is required for analog and digital sensors');
  });
  return j as BoardProfile;
}

/** boards/<name>.json, or a path to a profile file. */
export function loadBoard(nameOrPath: string): BoardProfile {
  const file = nameOrPath.endsWith('.json') ? nameOrPath : join(boardsDir(), `${nameOrPath}.json`);
  if (!existsSync(file)) throw inputError(`no board profile ${JSON.stringify(nameOrPath)}`, `boards: ${listBoards().join(', ')}`);
  let j: unknown;
  try {
    j = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw inputError(`${file}: not JSON (${(e as Error).message})`);
  }
  return validateBoard(j, file);
}

export function firmwareBoardInfo(p: BoardProfile): FirmwareBoardInfo {
  return {
    name: p.name,
    counterBlock: p.counterBlock,
    sensors: p.sensors.map((s) => (s.pin === undefined ? { name: s.name, kind: s.kind } : { name: s.name, kind: s.kind, pin: s.pin })),
  };
}

/**
 * The esbuild defines a board's bundle is built with: __BOARD__ (the profile's part the firmware reads),
 * __NETWORK__ (the network kind, a constant: a comparison against it folds, and esbuild removes the other
 * kinds' code), __UART__ (the UART's global, e.g. Serial2, as an identifier; null elsewhere) and
 * __UART_BAUD__, and __HAS__.<kind> for each sensor kind (whether the profile has one: the sampling code
 * of the kinds it lacks is dropped).
 */
export function boardDefines(p: BoardProfile): Record<string, string> {
  return {
    __BOARD__: JSON.stringify(firmwareBoardInfo(p)),
    __NETWORK__: JSON.stringify(p.network),
    __UART__: p.uart ? p.uart.port : 'null',
    __UART_BAUD__: String(p.uart ? p.uart.baud : 0),
    ...Object.fromEntries(KINDS.map((k) => [`__HAS__.${k}`, String(p.sensors.some((s) => s.kind === k))])),
  };
}

// Board profiles: boards/<name>.json, data not code (console baud, network kind, crypto capability,
// variable budget, sensors, counter block). The build injects the part the firmware reads; the emulator
// reads the same files (host/emulator/profile.ts).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { inputError } from '../errors.js';
import { repoRoot } from '../protocol/vectors.js';

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
   * network, MQTT over a serial port through `sealmq gateway` (the QEMU board).
   */
  network: 'wifi' | 'native' | 'uart';
  crypto: { native: boolean };
  /** Interpreter variables (process.memory().total). */
  totalVars: number;
  storageBytes?: number;
  /** Default K of "save every K" (RFC 8613 App. B.1.1). */
  counterBlock: number;
  sensors: SensorSpec[];
}

/** What the firmware sees as __BOARD__ (firmware/espruino.d.ts BoardInfo). */
export interface FirmwareBoardInfo {
  name: string;
  network: string;
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
  if (!['wifi', 'native', 'uart'].includes(j.network)) throw bad('network', 'must be "wifi", "native" or "uart"');
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
    network: p.network,
    counterBlock: p.counterBlock,
    sensors: p.sensors.map((s) => (s.pin === undefined ? { name: s.name, kind: s.kind } : { name: s.name, kind: s.kind, pin: s.pin })),
  };
}

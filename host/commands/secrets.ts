// Where a command may take a secret from. argv is visible to every user of the machine (ps, shell
// history), so each secret option also has an -env and a -file form; the plain form exists only for
// debugging captures with throw-away keys.
import { readFileSync } from 'node:fs';
import { fromHex } from '../../core/bytes.js';
import { inputError } from '../errors.js';

export interface SecretSources {
  value?: string;
  env?: string;
  file?: string;
}

/** Reads a hex secret of exactly `bytes` bytes from the first source given. */
export function hexSecret(name: string, src: SecretSources, bytes: number): Uint8Array {
  let hex: string | undefined;
  if (src.value !== undefined) hex = src.value;
  else if (src.env !== undefined) {
    hex = process.env[src.env];
    if (hex === undefined) throw inputError(`${name}: environment variable ${src.env} is not set`);
  } else if (src.file !== undefined) {
    try {
      hex = readFileSync(src.file === '-' ? 0 : src.file, 'utf8');
    } catch (e) {
      throw inputError(`${name}: cannot read ${src.file}: ${(e as Error).message}`);
    }
  }
  if (hex === undefined) throw inputError(`${name} is required`, `give --${name} HEX, --${name}-env VAR or --${name}-file PATH`);
  hex = hex.trim();
  let b: Uint8Array;
  try {
    b = fromHex(hex);
  } catch (e) {
    throw inputError(`${name}: not hex (${(e as Error).message})`);
  }
  if (b.length !== bytes) throw inputError(`${name}: must be ${bytes} bytes (${bytes * 2} hex digits), got ${b.length}`);
  return b;
}

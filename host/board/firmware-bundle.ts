// The bundle that flash and demo send: built now for the named board (esbuild is fast), so what goes to a
// board always matches this checkout and its board profile. The firmware announces the package version.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildFirmware } from '../build/bundle.js';
import { repoRoot } from '../protocol/vectors.js';

export interface FirmwareBundle {
  bundle: Uint8Array;
  version: string;
  file: string;
  board: string;
}

export function packageVersion(): string {
  return JSON.parse(readFileSync(join(repoRoot(), 'package.json'), 'utf8')).version;
}

export async function firmwareBundle(board: string, outDir?: string): Promise<FirmwareBundle> {
  const r = await buildFirmware({ board, outDir, selftest: false });
  return { bundle: new Uint8Array(Buffer.from(r.firmware.code, 'utf8')), version: packageVersion(), file: r.firmware.file, board: r.board.name };
}

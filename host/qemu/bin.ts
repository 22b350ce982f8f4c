// What a QEMU board runs: qemu-system-arm (SEALMQ_QEMU_BIN, else on PATH) and the Espruino firmware for
// QEMU's netduinoplus2 (SEALMQ_QEMU_FIRMWARE, else the recipe's cached `scripts/espruino/build.sh qemu`),
// or none, with the reason. With SEALMQ_REQUIRE_QEMU=1 (CI), none is an error rather than a skip.
import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { inputError } from '../errors.js';
import { cachedBuild } from '../espruino/bin.js';

/** What a user types to get the firmware, for skip reasons and errors. */
export const QEMU_FIRMWARE_HOWTO = 'build it with `npm run espruino -- qemu` (needs gcc-arm-none-eabi and libnewlib-arm-none-eabi), or point SEALMQ_QEMU_FIRMWARE at its .elf';
export const QEMU_BIN_HOWTO = 'install QEMU (Debian/Ubuntu: sudo apt-get install qemu-system-arm), or point SEALMQ_QEMU_BIN at qemu-system-arm';

function onPath(cmd: string, env: NodeJS.ProcessEnv): string | null {
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const p = join(dir, cmd);
    if (existsSync(p)) return p;
  }
  return null;
}

/** qemu-system-arm: SEALMQ_QEMU_BIN (which must exist), else the one on PATH, else null. */
export function qemuSystem(env: NodeJS.ProcessEnv = process.env): string | null {
  const b = env.SEALMQ_QEMU_BIN;
  if (b) {
    if (!existsSync(b)) throw inputError(`SEALMQ_QEMU_BIN: no such file: ${b}`, QEMU_BIN_HOWTO);
    return b;
  }
  return onPath('qemu-system-arm', env);
}

/** The firmware .elf: SEALMQ_QEMU_FIRMWARE (which must exist), else the recipe's cached qemu build, else null. */
export function qemuFirmware(env: NodeJS.ProcessEnv = process.env): string | null {
  const f = env.SEALMQ_QEMU_FIRMWARE;
  if (f) {
    if (!existsSync(f)) throw inputError(`SEALMQ_QEMU_FIRMWARE: no such file: ${f}`, QEMU_FIRMWARE_HOWTO);
    return f;
  }
  return cachedBuild('qemu', env);
}

export interface QemuTools {
  qemu: string;
  firmware: string;
}

/** Both, or null with the reason in `why`; with SEALMQ_REQUIRE_QEMU=1 a missing one throws instead. */
export function qemuTools(env: NodeJS.ProcessEnv = process.env): { tools: QemuTools | null; why: string } {
  const qemu = qemuSystem(env);
  const firmware = qemuFirmware(env);
  let why = '';
  if (!qemu) why = `no qemu-system-arm: ${QEMU_BIN_HOWTO}`;
  else if (!firmware) why = `no Espruino firmware for QEMU (SEALMQ_QEMU_FIRMWARE unset and none cached): ${QEMU_FIRMWARE_HOWTO}`;
  if (why && env.SEALMQ_REQUIRE_QEMU === '1') throw inputError(`SEALMQ_REQUIRE_QEMU=1 but ${why.replace(/:.*$/, '')}`, why.replace(/^[^:]*: /, ''));
  return { tools: qemu && firmware ? { qemu, firmware } : null, why };
}

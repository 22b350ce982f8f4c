// Which Espruino Linux binary to run: ESPRUINO_BIN when set, else the build recipe's cached build
// (scripts/espruino/build.sh linux), else none, with the reason. And whether a binary carries the recipe's
// console patches (scripts/espruino/targets/linux/patches/), which decide what the harness must work around.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { inputError } from '../errors.js';
import { repoRoot } from '../protocol/vectors.js';

/** What a user types to get a real interpreter, for skip reasons and errors. */
export const ESPRUINO_HOWTO = 'build it with `npm run espruino -- linux` (or point ESPRUINO_BIN at an Espruino Linux build)';

/** scripts/espruino/build.sh in this checkout, or null when installed without the repository's scripts. */
export function recipeScript(): string | null {
  try {
    const s = join(repoRoot(), 'scripts', 'espruino', 'build.sh');
    return existsSync(s) ? s : null;
  } catch {
    return null;
  }
}

/** The recipe's cached build of `target`, without building it (build.sh --path); null if not built. */
export function cachedBuild(target: string, env: NodeJS.ProcessEnv = process.env): string | null {
  const script = recipeScript();
  if (!script) return null;
  try {
    const out = execFileSync('bash', [script, '--path', target], { env, stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
    const path = out.split('\n').pop() ?? '';
    return path && existsSync(path) ? path : null;
  } catch {
    return null;
  }
}

/**
 * The Espruino Linux binary to use: ESPRUINO_BIN (which must exist), else the recipe's cached linux build,
 * else null. With SEALMQ_REQUIRE_ESPRUINO=1 (CI), none is an error rather than a skip.
 */
export function espruinoBin(env: NodeJS.ProcessEnv = process.env): string | null {
  const b = env.ESPRUINO_BIN;
  if (b && b.length) {
    if (!existsSync(b)) throw inputError(`ESPRUINO_BIN: no such file: ${b}`, ESPRUINO_HOWTO);
    return b;
  }
  const cached = cachedBuild('linux', env);
  if (cached) return cached;
  if (env.SEALMQ_REQUIRE_ESPRUINO === '1') {
    throw inputError('SEALMQ_REQUIRE_ESPRUINO=1 but no Espruino Linux build was found', ESPRUINO_HOWTO);
  }
  return null;
}

/** Why the real-interpreter tests are skipped (in their titles). */
export const ESPRUINO_SKIP = `skipped: no Espruino Linux build (ESPRUINO_BIN unset and none cached): ${ESPRUINO_HOWTO}`;

const PATCH_MARK = Buffer.from('sealmq-patch:console:1');
const patched = new Map<string, boolean>();

/** True if the binary carries the recipe's console patches 0001 and 0002 (their marker string is in the file). */
export function hasConsolePatches(bin: string): boolean {
  let v = patched.get(bin);
  if (v === undefined) {
    try {
      v = readFileSync(bin).includes(PATCH_MARK);
    } catch {
      v = false;
    }
    patched.set(bin, v);
  }
  return v;
}

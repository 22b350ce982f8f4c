// The Mosquitto TOTP auth plugin (mosquitto-plugin/sealmq_totp_auth.c; docs/BROKER.md, "Mosquitto"):
// compiled here with the system C compiler into a cache folder keyed by the source's hash, so that
// `sealmq broker --emit-mosquitto` and the pipelines on Mosquitto can check the boards' one-time passwords.
// If it cannot be built the caller gets an error naming the packages to install: never a config without it
// (that would leave the devices' logins to a static password file, or to nobody).
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SealmqError } from '../errors.js';

export const PLUGIN_SOURCE = fileURLToPath(new URL('../../../mosquitto-plugin/sealmq_totp_auth.c', import.meta.url));
export const PLUGIN_NAME = 'sealmq_totp_auth.so';
export const PLUGIN_PACKAGES = 'apt-get install mosquitto-dev libssl-dev gcc';

/** $SEALMQ_CACHE, else $XDG_CACHE_HOME/sealmq, else ~/.cache/sealmq. */
export function cacheDir(): string {
  if (process.env.SEALMQ_CACHE) return process.env.SEALMQ_CACHE;
  const base = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(base, 'sealmq');
}

function compile(cc: string, args: string[]): Promise<void> {
  return new Promise((res, rej) => {
    execFile(cc, args, { timeout: 120_000 }, (err, _out, stderr) => {
      if (!err) return res();
      const e = err as NodeJS.ErrnoException;
      const what = e.code === 'ENOENT' ? `no C compiler (${cc})` : String(stderr).trim().split('\n').slice(0, 6).join('\n') || e.message;
      rej(new SealmqError('input', `cannot build the Mosquitto TOTP plugin (${PLUGIN_SOURCE}): ${what}`, {
        hint: `install the C compiler and the headers it needs: ${PLUGIN_PACKAGES} (or set CC); without the plugin Mosquitto cannot check a device's one-time password, so nothing is emitted`,
      }));
    });
  });
}

/**
 * The path of the compiled plugin for the current source, building it on first use
 * (`cc -shared -fPIC -O2 … -lcrypto`, written aside and renamed, so concurrent builds are harmless).
 */
export async function buildPlugin(o: { cacheDir?: string; cc?: string } = {}): Promise<string> {
  let source: Buffer;
  try {
    source = readFileSync(PLUGIN_SOURCE);
  } catch {
    throw new SealmqError('internal', `the Mosquitto plugin source is missing: ${PLUGIN_SOURCE}`);
  }
  const key = createHash('sha256').update('sealmq mosquitto plugin v1\0').update(source).digest('hex').slice(0, 16);
  const dir = join(o.cacheDir ?? cacheDir(), 'mosquitto-plugin', key);
  const out = join(dir, PLUGIN_NAME);
  if (existsSync(out)) return out;
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const tmp = `${out}.${process.pid}.${Date.now()}.tmp`;
  const cc = o.cc ?? process.env.CC ?? 'cc';
  try {
    await compile(cc, ['-shared', '-fPIC', '-O2', '-Wall', '-o', tmp, PLUGIN_SOURCE, '-lcrypto']);
    chmodSync(tmp, 0o755);
    renameSync(tmp, out);
  } finally {
    rmSync(tmp, { force: true });
  }
  return out;
}

/** Copies a built plugin to dest (0755, aside then renamed): the emitted folder is complete on its own. */
export function copyPlugin(built: string, dest: string): string {
  const tmp = dest + '.tmp';
  copyFileSync(built, tmp);
  chmodSync(tmp, 0o755);
  renameSync(tmp, dest);
  return dest;
}

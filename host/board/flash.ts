// Flashing: the firmware bundle goes into Storage as .bootcde (what Espruino runs at boot) — by Espruino's
// packet protocol where the firmware has it (2v25+), else by REPL writes — is checked by SHA-256 of what
// the board stored (not assumed, either way), then the board reboots and must answer with the version of
// the bundle we sent. It needs nothing EspruinoTools does not: a console that reaches Espruino's REPL.
import { deviceError, SealmqError } from '../errors.js';
import { connectRepl, Repl } from '../link/repl.js';
import { linkFor, LinkOptions } from '../link/open-link.js';
import { readBackHash, sha256Hex, uploadFile, type TransferMethod } from '../link/storage-files.js';
import { firmwareVersion } from './smq.js';
import { unlockConsole } from '../link/console-lock.js';

export const BOOT_FILE = '.bootcde';

export interface FlashOptions {
  port: string;
  /** The bundle's bytes (dist/firmware.js). */
  bundle: Uint8Array;
  /** The version the bundle announces (SEALMQ.version), checked after the reboot; null: any sealmq version. */
  version: string | null;
  link?: LinkOptions;
  chunkSize?: number;
  onProgress?: (phase: 'upload' | 'verify' | 'reboot', done: number, total: number) => void;
  /** How long the board may take to come back after the reboot (ms). */
  rebootTimeoutMs?: number;
  /** A provisioned board's console password(s) from the registry (it is locked again after the reboot). */
  consolePasswords?: readonly string[];
  device?: string;
  /** 'auto' (default): packets where the firmware has them (2v25+), else REPL writes. */
  transfer?: 'auto' | TransferMethod;
}

export interface FlashResult {
  bytes: number;
  sha256: string;
  hashMethod: string;
  version: string;
  seconds: number;
  /** How the bundle travelled, and why not by packets if 'auto' fell back. */
  transfer: TransferMethod;
  transferFallback?: string;
  /** Seconds the upload itself took (the rest is verify and reboot). */
  uploadSeconds: number;
}

/** Waits until the rebooted board answers a version query (it may print its banner meanwhile). */
async function waitForFirmware(repl: Repl, want: string | null, timeoutMs: number, unlock?: () => Promise<unknown>): Promise<string> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < end) {
    try {
      await unlock?.();
      await repl.sync();
      const v = await firmwareVersion(repl);
      if (v !== null && (want === null || v === want)) return v;
      last = new Error(`it answers ${v === null ? 'without sealmq firmware' : 'with version ' + v}`);
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw deviceError(`the board on ${repl.link.url} did not come back with sealmq ${want ?? 'firmware'} after the reboot (${(last as Error)?.message ?? 'no answer'})`,
    'power-cycle the board and run `sealmq flash` again');
}

export async function flashBoard(o: FlashOptions): Promise<FlashResult> {
  const started = Date.now();
  const link = linkFor(o.port, o.link);
  let repl: Repl | undefined;
  try {
    await link.open();
    const unlock = () => unlockConsole(link, o.consolePasswords, { device: o.device });
    await unlock();
    repl = await connectRepl(link);
    // Quiet the running firmware (if any) so its traffic and timers do not compete with the upload.
    await repl.run('if(typeof SEALMQ==="object"&&SEALMQ&&SEALMQ.stop)SEALMQ.stop(true)');
    const upStarted = Date.now();
    const up = await uploadFile(repl, BOOT_FILE, o.bundle, { chunkSize: o.chunkSize, transfer: o.transfer, onProgress: (n, total) => o.onProgress?.('upload', n, total) });
    const uploadSeconds = (Date.now() - upStarted) / 1000;
    o.onProgress?.('verify', 0, 1);
    const want = sha256Hex(o.bundle);
    const got = await readBackHash(repl, BOOT_FILE);
    if (!got || got.sha256 !== want || got.size !== o.bundle.length) {
      throw deviceError(`the firmware stored on ${o.port} does not match what was sent (sha256 ${got ? got.sha256.slice(0, 16) : 'none'}… vs ${want.slice(0, 16)}…)`,
        'run `sealmq flash` again; if it keeps failing, erase Storage (require("Storage").eraseAll()) and retry');
    }
    o.onProgress?.('verify', 1, 1);
    o.onProgress?.('reboot', 0, 1);
    // load() resets the interpreter and runs .bootcde, as at power-on (E.reboot() would drop USB on some boards).
    await repl.run('setTimeout(load,50)');
    await new Promise((r) => setTimeout(r, 300));
    const version = await waitForFirmware(repl, o.version, o.rebootTimeoutMs ?? 15000, unlock);
    // Unlocked to check it came back: locked again (a no-op where no password is set).
    await repl.run('if(E.lockConsole)E.lockConsole()');
    o.onProgress?.('reboot', 1, 1);
    return { bytes: o.bundle.length, sha256: want, hashMethod: got.method, version, seconds: (Date.now() - started) / 1000, transfer: up.method, transferFallback: up.fallback, uploadSeconds };
  } catch (e) {
    if (e instanceof SealmqError) throw e;
    throw deviceError(`flashing ${o.port} failed: ${(e as Error).message}`, 'check the port and the board, then run `sealmq flash` again', e);
  } finally {
    repl?.detach();
    await link.close().catch(() => {});
  }
}

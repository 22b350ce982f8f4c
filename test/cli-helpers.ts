// Running the real `sealmq` CLI from tests, as a person would: a child process, a clean environment
// (no passphrase unless given), stdin closed, exit code and both streams captured.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const BIN = fileURLToPath(new URL('../../bin/sealmq.js', import.meta.url));

export interface Run { code: number; stdout: string; stderr: string }

export function sealmq(args: string[], env: Record<string, string | undefined> = {}, timeoutMs = 120_000): Promise<Run> {
  const clean = { ...process.env, SEALMQ_PASSPHRASE: undefined, SEALMQ_PASSWORD: undefined, SEALMQ_USER: undefined, ...env };
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [BIN, ...args], { env: clean as NodeJS.ProcessEnv, timeout: timeoutMs, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
    child.stdin?.end();
  });
}

const made: string[] = [];
// Each ava worker is one process per test file: its temporary folders go when it exits.
process.once('exit', () => { for (const d of made) rmSync(d, { recursive: true, force: true }); });

/** A temporary folder (a SEALMQ_HOME, flash files, a dist/), removed when the test file's process exits. */
export function tmpHome(prefix = 'sealmq-test-'): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  made.push(d);
  return d;
}

// Running the real `sealmq` CLI from tests, as a person would: a child process, a clean environment
// (no passphrase unless given), stdin closed, exit code and both streams captured.
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { openRegistry, OPERATOR_SEED_LEN, Registry, Role } from '../host/registry/registry.js';
import { confirmEnrolment, login } from '../host/operators/auth.js';
import { saveToken } from '../host/operators/session.js';
import { operatorCode, OPERATOR_TOTP_STEP, stepAt } from '../host/operators/totp.js';

export const BIN = fileURLToPath(new URL('../../bin/sealmq.js', import.meta.url));

export interface Run { code: number; stdout: string; stderr: string }

export function sealmq(args: string[], env: Record<string, string | undefined> = {}, timeoutMs = 120_000): Promise<Run> {
  const clean = { ...process.env, SEALMQ_PASSPHRASE: undefined, SEALMQ_PASSWORD: undefined, SEALMQ_USER: undefined, SEALMQ_SESSION: undefined, SEALMQ_CODE: undefined, ...env };
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

// ── operators (docs/OPERATORS.md): privileged commands need a session ─────────────────────────────────

export interface TestOperator { name: string; role: Role; password: string; seed: Uint8Array; token?: string }

/** Steps used per seed here, so each code handed out is for a step not used before (each is accepted once). */
const usedSteps = new WeakMap<Uint8Array, number>();

/**
 * A valid, unused code for the seed: the latest step in the accepted window (t-1 … t+1) above every step
 * handed out before. Near the end of a 30 s step it waits for the next one, so the code cannot fall out of
 * the window while a command starts.
 */
export async function nextCode(seed: Uint8Array): Promise<string> {
  for (;;) {
    const now = Date.now();
    const step = stepAt(now);
    const into = now / 1000 - step * OPERATOR_TOTP_STEP;
    const last = usedSteps.get(seed) ?? -1;
    const pick = Math.max(step - 1, last + 1);
    if (pick <= step + 1 && into < OPERATOR_TOTP_STEP - 4) {
      usedSteps.set(seed, pick);
      return operatorCode(seed, pick * OPERATOR_TOTP_STEP * 1000);
    }
    await new Promise((r) => setTimeout(r, Math.max(100, (OPERATOR_TOTP_STEP - into) * 1000 + 50)));
  }
}

/** Adds an operator with a fresh authenticator to an unlocked registry and confirms a first code (the library path of `users add`). */
export async function enrolOperator(reg: Registry, name: string, role: Role, password = `${role} password for the tests`): Promise<TestOperator> {
  const seed = new Uint8Array(randomBytes(OPERATOR_SEED_LEN));
  await reg.addOperator({ name, role, password, actor: 'test', otpSeed: seed });
  confirmEnrolment(reg, name, await nextCode(seed), 'operator:' + name);
  return { name, role, password, seed };
}

/** Logs an enrolled operator in (the library path of `sealmq login`); with `file`, saves the token as the home's session file. */
export async function openSession(reg: Registry, op: TestOperator, home?: string): Promise<string> {
  const r = await login(reg, { name: op.name, password: op.password, code: await nextCode(op.seed), from: 'test' });
  op.token = r.token;
  if (home !== undefined) saveToken(r.token, home);
  return r.token;
}

/**
 * For CLI tests of privileged commands: an operator of this role (default name test-<role>) enrolled in the
 * registry at `home` and logged in. By default its token becomes the home's session file (what `sealmq
 * login` does), so every later sealmq() call with SEALMQ_HOME=home runs in that session; with
 * { file: false } pass { SEALMQ_SESSION: op.token } instead.
 */
export async function loginAs(home: string, passphrase: string, role: Role = 'admin', o: { name?: string; file?: boolean } = {}): Promise<TestOperator> {
  const reg = openRegistry({ home });
  try {
    await reg.unlock(passphrase);
    const op = await enrolOperator(reg, o.name ?? `test-${role}`, role);
    await openSession(reg, op, o.file === false ? undefined : home);
    return op;
  } finally {
    reg.close();
  }
}

/** A registry home for CLI runs: unlocked once with the passphrase, an admin session open (flash and provision need one). */
export async function operatorHome(prefix: string, passphrase: string): Promise<{ home: string; env: Record<string, string> }> {
  const home = tmpHome(prefix);
  const reg = openRegistry({ home });
  await reg.unlock(passphrase);
  reg.close();
  await loginAs(home, passphrase); // docs/OPERATORS.md
  return { home, env: { SEALMQ_HOME: home, SEALMQ_PASSPHRASE: passphrase } };
}

/** True if a command is on PATH (e.g. socat for the PTY tests, whose titles then say why they skip). */
export function hasCommand(cmd: string, versionFlag = '-V'): boolean {
  try {
    execFileSync(cmd, [versionFlag], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

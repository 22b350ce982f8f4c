// Espruino's console lock (E.setPassword + E.lockConsole, src/jsinteractive.c): a locked console prints
// "password>" and feeds every byte but CR/LF into a password line of at most 20 chars; CR/LF checks it
// and answers "\n  Invalid password\npassword>" or "\n  Logged in.\n" followed by the usual ">" prompt.
// Nothing else runs until the password matches: no Storage read, no eval, Ctrl-C ignored.
//
// Provisioning locks every board (docs/FIELD.md) with a per-device random password kept sealed in the
// registry; every host tool that talks to a provisioned board's console calls unlockConsole first, with
// the password(s) the registry holds for that device. It never hangs: a board that says nothing either
// way within the timeout is left to the REPL's own sync to report.
import { randomInt } from 'node:crypto';
import { SealmqError } from '../errors.js';
import type { ConsoleLink } from './console-link.js';
import { continueFromDebugger, DEBUG_PROMPT } from './repl.js';

/** Espruino keeps at most 20 chars of a typed password: a longer one could never be entered. */
export const CONSOLE_PASSWORD_LENGTH = 20;
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz0123456789';

/** A fresh console password: 20 chars from 61 (about 118 bits), none that the console treats specially. */
export function newConsolePassword(): string {
  let s = '';
  for (let i = 0; i < CONSOLE_PASSWORD_LENGTH; i++) s += ALPHABET[randomInt(ALPHABET.length)];
  return s;
}

export function isConsolePassword(s: unknown): s is string {
  return typeof s === 'string' && s.length >= 1 && s.length <= CONSOLE_PASSWORD_LENGTH && /^[\x20-\x7e]+$/.test(s) && !/["\\]/.test(s);
}

export type ConsoleState = 'locked' | 'open' | 'unknown';

/** Collects what the board prints until `done` says stop or the time is up. */
function listen(link: ConsoleLink, timeoutMs: number, done: (text: string) => boolean): { result: Promise<string>; cancel: () => void } {
  let text = '';
  let unsub: () => void = () => undefined;
  let timer: NodeJS.Timeout | undefined;
  let finish: (t: string) => void = () => undefined;
  const result = new Promise<string>((resolve) => {
    finish = (t) => {
      clearTimeout(timer);
      unsub();
      resolve(t);
    };
    timer = setTimeout(() => finish(text), timeoutMs);
    unsub = link.onData((d) => {
      text += Buffer.from(d.buffer, d.byteOffset, d.byteLength).toString('latin1');
      if (done(text)) finish(text);
    });
  });
  return { result, cancel: () => finish(text) };
}

/**
 * One of the firmware's log lines as Espruino prints it: the input line cleared ("\r" ESC[J), the text,
 * then the prompt redrawn, as ">" even on a locked console. A board that logs often (a QEMU board with no
 * network retrying MQTT) prints these between our Ctrl-C and the answer to our empty line: they say
 * nothing about the lock, so they are taken out before looking for a prompt.
 */
const LOG_LINE = /\r\x1B\[J[^\r\n]*\r?\n(password)?>/g;
const plain = (t: string) => t.replace(LOG_LINE, '\n').replace(/\x1B\[[0-9;?]*[A-Za-z]/g, '');
/** A ">" prompt at the start of a line that is not "password>". */
const OPEN_PROMPT = /(^|[\r\n])>/;
/** A locked console's whole answer to CR/LF. */
const LOCKED_ANSWER = /Invalid password\r?\npassword>/;

/**
 * Whether the console asks for a password. Sends Ctrl-C then an empty line: on an open console that
 * clears any half-typed input and prints a fresh ">"; on a locked one it is a wrong password (harmless:
 * Espruino has no lockout) answered with "password>". Runs nothing on the board either way.
 */
export async function consoleState(link: ConsoleLink, o: { timeoutMs?: number } = {}): Promise<ConsoleState> {
  // Locked means the answer to our empty line, "Invalid password": a bare "password>" can also be the
  // prompt redrawn after one of the firmware's log lines, and answering the password then would meet
  // this "Invalid password" arriving late.
  const probe = async (ctrlC: boolean) => {
    // The debugger's prompt may come at any time after the Ctrl-C; the answer to our empty line is only
    // what comes after it (a ">" still on its way from before is no answer).
    let early = '';
    const off = link.onData((d) => { early += Buffer.from(d.buffer, d.byteOffset, d.byteLength).toString('latin1'); });
    if (ctrlC) {
      await link.write('\x03');
      await new Promise((r) => setTimeout(r, 100));
    }
    off();
    if (DEBUG_PROMPT.test(early)) return early;
    const l = listen(link, o.timeoutMs ?? 2000, (t) => LOCKED_ANSWER.test(t) || DEBUG_PROMPT.test(t) || OPEN_PROMPT.test(plain(t).replace(/password>/g, '')));
    await link.write('\n');
    return plain(await l.result);
  };
  let t = await probe(true);
  // Our Ctrl-C stopped running code in the debugger (an open console: a locked one ignores Ctrl-C): let it
  // go on, and ask again without a Ctrl-C.
  if (DEBUG_PROMPT.test(t)) {
    await continueFromDebugger(link);
    t = await probe(false);
  }
  if (LOCKED_ANSWER.test(t)) return 'locked';
  if (/password>/.test(t)) return 'unknown';
  return OPEN_PROMPT.test(t) ? 'open' : 'unknown';
}

export interface UnlockResult {
  /** What the console was before: 'open' (nothing to do), 'locked' (now unlocked) or 'unknown' (no answer). */
  was: ConsoleState;
  /** Which of the candidate passwords matched (0 = the first), when it was locked. */
  matched?: number;
}

/**
 * Unlocks the console if it is locked, trying each candidate password in turn (the registry may hold
 * the current one and one still pending from an interrupted provisioning). A locked console with no
 * candidate, or none that matches, is an auth error (exit 5) naming the port; never a hang.
 */
export async function unlockConsole(link: ConsoleLink, passwords: string | readonly string[] | undefined, o: { timeoutMs?: number; device?: string } = {}): Promise<UnlockResult> {
  const timeoutMs = o.timeoutMs ?? 3000;
  const was = await consoleState(link, { timeoutMs });
  if (was !== 'locked') return { was };
  const list = (typeof passwords === 'string' ? [passwords] : passwords ?? []).filter(isConsolePassword);
  const who = o.device ? `device ${o.device}` : 'this board';
  if (!list.length) {
    throw new SealmqError('auth', `the console on ${link.url} is locked (Espruino console password) and the registry has no password for ${who}`, {
      hint: o.device ? 'was it provisioned from another registry? recover it as docs/FIELD.md says (reflash)' : 'name the board with --device ID: its console password is in the registry',
    });
  }
  for (let i = 0; i < list.length; i++) {
    const l = listen(link, timeoutMs, (t) => /Logged in\./.test(t) || /Invalid password/.test(t));
    await link.write(list[i] + '\n');
    const t = await l.result;
    if (/Logged in\./.test(t)) {
      // Let the fresh ">" arrive before the REPL starts talking.
      await new Promise((r) => setTimeout(r, 50));
      return { was, matched: i };
    }
    if (!/Invalid password/.test(t)) {
      throw new SealmqError('device', `the locked console on ${link.url} did not answer the password within ${timeoutMs} ms`, { hint: 'check the cable and that the board has power' });
    }
  }
  throw new SealmqError('auth', `the console on ${link.url} refused the console password the registry holds for ${who}`, {
    hint: o.device ? `is this board really ${o.device}? if its password is lost, recover it as docs/FIELD.md says (reflash)` : 'name the board with --device ID',
  });
}

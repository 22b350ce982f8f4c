// Runs commands on a board's REPL over any ConsoleLink, the way a program (not a person) should:
// one Ctrl-C to break whatever half-typed line is there, then every command as ONE echo-off line
// (DLE, 0x10, at the start: Espruino neither echoes it nor prints "=result") that prints a begin marker,
// runs the code inside try/catch and prints an end marker. Espruino runs one input line to the end before
// any timer or socket callback, so everything between the two markers is the command's own output, and the
// board's own log lines can only come before or after: they are passed to onLog, never mixed in.
// Markers are unique per command and built by concatenation, so an echoed command never contains one.
import { randomBytes } from 'node:crypto';
import { deviceError, SealmqError } from '../errors.js';
import type { ConsoleLink } from './console-link.js';

export interface ReplOptions {
  /** Per-command timeout (ms); default 5000. */
  timeoutMs?: number;
  /** Timeout for the first answer after connecting (ms); default 3000. */
  syncTimeoutMs?: number;
  /** Lines the board printed on its own (logs), outside any command. */
  onLog?: (line: string) => void;
}

/** Console text as lines: ANSI sequences gone, "\r" taken as "back to column 0" (the prompt redraw). */
export function consoleLines(text: string): { lines: string[]; rest: string } {
  const parts = text.split('\n');
  const rest = parts.pop()!;
  const lines = parts.map((l) => {
    const s = l.replace(/\x1B\[[0-9;?]*[A-Za-z]/g, '').replace(/\r+$/, '');
    const cr = s.lastIndexOf('\r');
    return cr >= 0 ? s.slice(cr + 1) : s;
  });
  return { lines, rest };
}

/** A JS string literal Espruino reads back as exactly these bytes (printable ASCII as is, the rest \xHH). */
export function byteStringLiteral(bytes: Uint8Array | string): string {
  let s = '"';
  const n = bytes.length;
  for (let i = 0; i < n; i++) {
    const c = typeof bytes === 'string' ? bytes.charCodeAt(i) & 255 : bytes[i];
    if (c === 34) s += '\\"';
    else if (c === 92) s += '\\\\';
    else if (c >= 32 && c < 127) s += String.fromCharCode(c);
    else s += '\\x' + (c < 16 ? '0' : '') + c.toString(16);
  }
  return s + '"';
}

interface Pending {
  begin: string;
  end: string;
  error: string;
  started: boolean;
  lines: string[];
  resolve: (lines: string[]) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

export class Repl {
  private buf = '';
  private pending: Pending | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private seq = 0;
  private readonly id = randomBytes(4).toString('hex');
  private readonly timeoutMs: number;
  private readonly syncTimeoutMs: number;
  /** Set when the board answered with Espruino's debugger prompt instead of running a command. */
  private debuggerBreak = false;
  private readonly unsub: (() => void)[] = [];
  private gone: Error | undefined;
  /** Bytes received since the last command started (to tell "garbage" from "silence"). */
  private heard = '';

  constructor(
    readonly link: ConsoleLink,
    private readonly opts: ReplOptions = {},
  ) {
    this.timeoutMs = opts.timeoutMs ?? 5000;
    this.syncTimeoutMs = opts.syncTimeoutMs ?? 3000;
    this.unsub.push(link.onData((d) => this.data(d)));
    this.unsub.push(
      link.onClose((e) => {
        this.gone = deviceError(`the board on ${link.url} went away (the console link closed${e ? ': ' + e.message : ''})`, 'check the cable and that the board has power');
        this.pending?.reject(this.gone);
      }),
    );
  }

  /** Opens nothing: the link must be open. Breaks any half-typed input and checks the board answers. */
  async sync(): Promise<void> {
    this.heard = '';
    await this.link.write('\x03');
    // Espruino clears the line on Ctrl-C in its idle loop, after it has read what is already queued:
    // give it a moment so the probe is not swallowed with the old line. One Ctrl-C only: the Linux build
    // exits on a second Ctrl-C at an empty prompt within 5 s.
    await new Promise((r) => setTimeout(r, 100));
    // A prompt already there (a Ctrl-C of ours or of an earlier tool stopped running code): continue it first.
    if (DEBUG_PROMPT.test(this.heard)) await continueFromDebugger(this.link);
    let lostLine = false;
    for (let breaks = 0; ; ) {
      this.debuggerBreak = false;
      try {
        await this.run('', { timeoutMs: this.syncTimeoutMs });
        return;
      } catch (e) {
        if ((this.debuggerBreak || (e instanceof SealmqError && DEBUG_PROMPT.test(this.heard))) && breaks++ < 3) {
          // The Ctrl-C came while the firmware was running JavaScript (a seal, a publish) and a system tick
          // passed before it finished: Espruino broke into its debugger, which took the probe as a debugger
          // command. "continue" lets the firmware's code go on undisturbed; then probe again.
          this.heard = '';
          await continueFromDebugger(this.link);
        } else if (!lostLine && e instanceof SealmqError && /no answer/.test(e.message)) {
          // The first line after a break can be lost on a real UART; one retry, without another Ctrl-C.
          lostLine = true;
        } else throw e;
      }
    }
  }

  /**
   * Runs code on the board and returns the lines it printed. A thrown error on the board rejects with
   * SealmqError('device', "… error on the board: <message>"). Commands run one at a time, in order.
   * Variables meant to outlive the command must be declared with var (the code runs inside a block).
   */
  run(code: string, o: { timeoutMs?: number } = {}): Promise<string[]> {
    const next = this.queue.then(() => this.runNow(code, o.timeoutMs ?? this.timeoutMs));
    this.queue = next.catch(() => undefined);
    return next;
  }

  /** Evaluates an expression on the board and returns it parsed from JSON (undefined stays undefined). */
  async eval<T = unknown>(expr: string, o: { timeoutMs?: number } = {}): Promise<T> {
    const lines = await this.run(`var __r=(${expr});print(__r===undefined?"undefined":JSON.stringify(__r));delete __r;`, o);
    const last = lines[lines.length - 1];
    if (last === undefined) throw deviceError(`the board on ${this.link.url} printed no value for ${expr}`);
    return (last === 'undefined' ? undefined : JSON.parse(last)) as T;
  }

  /** Stops listening to the link (does not close it). */
  detach(): void {
    for (const u of this.unsub) u();
    this.unsub.length = 0;
  }

  private runNow(code: string, timeoutMs: number): Promise<string[]> {
    if (this.gone) return Promise.reject(this.gone);
    const n = ++this.seq;
    const tag = `${this.id}:${n}`;
    const cat = (s: string) => `"<<sq"+"${s}:${tag}>>"`;
    const p: Pending = {
      begin: `<<sqB:${tag}>>`,
      end: `<<sqE:${tag}>>`,
      error: `<<sqX:${tag}>>`,
      started: false,
      lines: [],
      resolve: () => undefined,
      reject: () => undefined,
      timer: undefined as unknown as NodeJS.Timeout,
    };
    // The newline before "}" ends any // comment at the end of code. One DLE covers the whole input,
    // which Espruino keeps echo-off until it executes.
    const line = `\x10print(${cat('B')});try{${code}\n}catch(e){print(${cat('X')}+e)}print(${cat('E')})\n`;
    this.heard = '';
    return new Promise<string[]>((resolve, reject) => {
      const done = (f: () => void) => {
        clearTimeout(p.timer);
        this.pending = undefined;
        f();
      };
      p.resolve = (lines) => done(() => resolve(lines));
      p.reject = (e) => done(() => reject(e));
      p.timer = setTimeout(() => {
        const heard = this.heard.replace(/\x1B\[[0-9;?]*[A-Za-z]/g, '').replace(/[\r\n>]+/g, ' ').trim();
        p.reject(
          heard && !p.started
            ? deviceError(`the board on ${this.link.url} answered, but not like an Espruino REPL (got ${JSON.stringify(heard.slice(0, 80))})`, 'check the baud rate and that Espruino firmware is on the board')
            : deviceError(`no answer from the board on ${this.link.url} within ${timeoutMs} ms`, p.started ? 'the command started but did not finish: is it stuck in a loop?' : 'is the board powered, running Espruino, and is this its console?'),
        );
      }, timeoutMs);
      this.pending = p;
      this.link.write(line).catch((e) => p.reject(e instanceof SealmqError ? e : deviceError(`cannot write to ${this.link.url}: ${(e as Error).message}`, undefined, e)));
    });
  }

  private data(d: Uint8Array): void {
    const text = Buffer.from(d.buffer, d.byteOffset, d.byteLength).toString('latin1');
    this.heard += text;
    if (this.heard.length > 4096) this.heard = this.heard.slice(-4096);
    const p = this.pending;
    if (p && !p.started && /debug>\s*$/.test(this.heard) && DEBUG_PROMPT.test(this.heard)) {
      this.debuggerBreak = true;
      p.reject(deviceError(`the board on ${this.link.url} is in its debugger (debug>): a Ctrl-C stopped the code it was running`, 'type "c" (continue) on its console, or reset it'));
    }
    const { lines, rest } = consoleLines(this.buf + text);
    this.buf = rest;
    for (const l of lines) this.line(l);
  }

  private line(l: string): void {
    const p = this.pending;
    if (!p) {
      if (l.trim() && l !== '>') this.opts.onLog?.(l.replace(/^>+/, ''));
      return;
    }
    if (!p.started) {
      const at = l.indexOf(p.begin);
      if (at >= 0) p.started = true;
      else if (/^Uncaught SyntaxError/.test(l.replace(/^>+/, ''))) {
        // The whole line failed to parse, so no marker will come: the command itself is at fault.
        p.reject(deviceError(`the board on ${this.link.url} could not parse the command: ${l.replace(/^>+/, '')}`));
      } else if (l.trim() && l !== '>') this.opts.onLog?.(l.replace(/^>+/, ''));
      return;
    }
    if (l.includes(p.end)) {
      const errAt = p.lines.findIndex((x) => x.startsWith(p.error));
      if (errAt >= 0) {
        const msg = p.lines[errAt].slice(p.error.length).trim();
        p.reject(deviceError(`error on the board ${this.link.url}: ${msg}`));
      } else p.resolve(p.lines);
      return;
    }
    p.lines.push(l);
  }
}

/**
 * Espruino's debugger prompt. On a build with the debugger (Espruino's STM32 firmware on QEMU and on real
 * boards, its Linux build), a Ctrl-C that arrives while JavaScript runs (a reporting board is often in its
 * reading timer) stops that code in the debugger instead of clearing the input line.
 */
export const DEBUG_PROMPT = /(^|[\r\n])debug>/;

/**
 * Leaves the debugger our Ctrl-C stopped running code in with "c" (continue): the code goes on as if
 * nothing happened. Never with a second Ctrl-C: in the debugger that breaks the code off, and a timer
 * callback broken off is removed ("Ctrl-C while processing interval - removing it"): a board would stop
 * reporting for good.
 */
export async function continueFromDebugger(link: ConsoleLink): Promise<void> {
  await link.write('c\n');
  await new Promise((r) => setTimeout(r, 100));
}

/** Opens nothing itself: wraps an open link in a Repl and synchronises with the board. */
export async function connectRepl(link: ConsoleLink, opts: ReplOptions = {}): Promise<Repl> {
  if (!link.isOpen) await link.open();
  const r = new Repl(link, opts);
  try {
    await r.sync();
  } catch (e) {
    r.detach();
    throw e;
  }
  return r;
}

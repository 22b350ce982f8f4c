// Shared by the emulator and console-link tests: temporary flash files, an in-process board whose console
// output is collected as text, and the `sealmq emulate` CLI as a child process.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { EmulatedBoard, type BoardOptions } from '../host/emulator/board.js';

export function tmpFlash(name = 'board'): string {
  return join(mkdtempSync(join(tmpdir(), 'sealmq-emu-')), `${name}.flash`);
}

export interface ConsoleBoard {
  board: EmulatedBoard;
  /** Everything the board printed since the last clear(). */
  text(): string;
  clear(): void;
  /** Types bytes on the console and returns what the board printed in answer (synchronously). */
  type(s: string): string;
}

export function consoleBoard(opts: Partial<BoardOptions> = {}): ConsoleBoard {
  const board = new EmulatedBoard({ name: 'test', flashFile: tmpFlash(), banner: false, ...opts });
  let out = '';
  board.on('output', (b: Buffer) => (out += b.toString('latin1')));
  board.powerOn();
  const cb: ConsoleBoard = {
    board,
    text: () => out,
    clear: () => void (out = ''),
    type: (s) => {
      out = '';
      board.write(s);
      return out;
    },
  };
  return cb;
}

/** Resolves once pred holds for the board's output, checking after every output event. */
export function outputUntil(board: EmulatedBoard, pred: (text: string) => boolean, text = ''): Promise<string> {
  return new Promise((resolve) => {
    let t = text;
    if (pred(t)) return resolve(t);
    const on = (b: Buffer) => {
      t += b.toString('latin1');
      if (pred(t)) {
        board.off('output', on);
        resolve(t);
      }
    };
    board.on('output', on);
  });
}

const CLI = fileURLToPath(new URL('../../bin/sealmq.js', import.meta.url));

export interface EmulatorProcess {
  child: ChildProcess;
  url: string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves once the emulator's stdout matches. */
  stdoutMatches: (re: RegExp) => Promise<void>;
}

/** Starts `sealmq emulate` and resolves with its console URL once it printed it. */
export function startEmulator(args: string[]): Promise<EmulatorProcess> {
  const child = spawn(process.execPath, [CLI, 'emulate', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.on('exit', (code, signal) => r({ code, signal })));
  let out = '';
  const stdoutMatches = (re: RegExp) =>
    new Promise<void>((resolve) => {
      const check = () => {
        if (!re.test(out)) return;
        child.stdout!.off('data', check);
        resolve();
      };
      child.stdout!.on('data', check);
      check();
    });
  return new Promise((resolve, reject) => {
    let err = '';
    child.stderr!.on('data', (d) => (err += d));
    child.stdout!.on('data', (d) => {
      out += d;
      const m = /^console (tcp:\/\/\S+)$/m.exec(out);
      const wantPty = args.includes('--pty');
      if (m && (!wantPty || /^pty /m.test(out))) resolve({ child, url: m[1], exited, stdoutMatches });
    });
    void exited.then((x) => reject(new Error(`emulator exited early (${x.code ?? x.signal}): ${err}`)));
  });
}

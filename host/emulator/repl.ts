// The board's side of the console: Espruino's line editor and prompt (src/jsinteractive.c, 2v29), byte
// for byte where a host program could notice: typed characters echoed; Enter executes once brackets,
// comments and template literals are closed (an unfinished string executes at once so it can error);
// continuation lines prompted with ':'; DLE (0x10) at the start of a line turns echo off for that line
// (no echo, no "=result", errors still printed); Ctrl-C (0x03) clears the line; the '>' prompt comes back
// after output; output from timers while a line is being typed erases it ("\r\x1B[J") and redraws it.
// "\r\n" from a terminal executes on "\r" and then runs an empty line on "\n", as Espruino does.

export interface ReplHost {
  /** Raw console bytes out (one char per byte; \n already turned into \r\n). */
  write(text: string): void;
  /** Executes a complete input; prints its result only when echo is on. */
  execute(code: string, echo: boolean): void;
  /** Ctrl-C arrived (interrupts running code where possible). */
  interrupt(): void;
  /** Ctrl-E (ENQ) on an empty line: the board says what it is ("Espruino 2v29 ESP32"). */
  identify(): void;
  /** The console is locked (E.setPassword + E.lockConsole): does this line match the password? */
  checkPassword?(line: string): boolean;
}

/** The packet protocol's receiver (packets.ts), present on firmware 2v25 and later. */
export interface PacketInput {
  readonly active: boolean;
  start(): void;
  input(ch: number): void;
}

const enum Input { None, HadDle, Esc, EscBracket, EscBracketNum, EscO }

export class ConsoleRepl {
  private line = '';
  private state = Input.None;
  /** Echo off for good (echo(false)). */
  echoOff = false;
  /** Echo off for the current line only (DLE at its start). */
  private echoOffForLine = false;
  /** The prompt and input line are not on screen and must be redrawn. */
  private removed = true;
  /** Espruino's packet protocol (DLE SOH …); undefined on firmware before 2v25. */
  packets: PacketInput | undefined;
  /**
   * JSIS_PASSWORD_PROTECTED: every byte but CR/LF goes into a password line (at most 20, no echo, Ctrl-C,
   * DLE and packets included); CR/LF checks it. Nothing else runs until it matches.
   */
  locked = false;

  constructor(private readonly host: ReplHost) {}

  private get echo(): boolean {
    return !this.echoOff && !this.echoOffForLine;
  }

  private get show(): boolean {
    return this.echo && !this.removed;
  }

  private out(s: string): void {
    this.host.write(s.replace(/\n/g, '\r\n'));
  }

  /** Text printed by the board (print, console.log, errors): takes the input line off the screen first. */
  print(text: string): void {
    this.removeInputLine();
    this.out(text);
  }

  /** jsiConsoleRemoveInputLine: cursor to the line's start, erase to the end of the screen. */
  removeInputLine(): void {
    if (this.removed) return;
    this.removed = true;
    if (!this.echo) return;
    const lines = this.line.split('\n');
    const col = lines[lines.length - 1].length;
    let s = '\x1B[D'.repeat(col) + '\x1B[A'.repeat(lines.length - 1);
    s += '\r\x1B[J';
    this.host.write(s);
  }

  /** jsiConsoleReturnInputLine, run every time round the idle loop: the prompt and line come back. */
  idle(): void {
    if (!this.removed) return;
    this.removed = false;
    // Espruino also redraws the half-typed line after "password>"; the emulator does not show a password.
    if (this.echo) this.host.write(this.locked ? 'password>' : '>' + this.line.replace(/\n/g, '\r\n:'));
  }

  /** Marks the screen as needing a fresh prompt (after boot: Espruino prints "\n" then the prompt). */
  resetScreen(): void {
    this.line = '';
    this.state = Input.None;
    this.echoOffForLine = false;
    this.removed = true;
  }

  /** Console bytes in (one char per byte). */
  input(data: string): void {
    for (let i = 0; i < data.length; i++) this.char(data.charCodeAt(i));
  }

  private char(ch: number): void {
    if (this.locked) return this.passwordChar(ch);
    const st = this.state;
    // Inside a packet every byte is data, Ctrl-C included (jsiHandleConsoleChar).
    if (this.packets?.active) {
      this.packets.input(ch);
      // The DLE that opened it turned echo off for the line; a packet on an empty line turns it back on.
      if (this.line === '') this.echoOffForLine = false;
      return;
    }
    if (ch === 3) {
      this.state = Input.None;
      this.host.interrupt();
      this.clearLine();
      return;
    }
    if (ch === 0) return void (this.state = Input.None);
    if (ch === 5) {
      if (this.line === '') this.host.identify();
      return;
    }
    if (ch === 16) {
      if (this.line === '') this.echoOffForLine = true;
      this.state = Input.HadDle;
      return;
    }
    if (ch === 1 && st === Input.HadDle && this.packets) {
      this.state = Input.None;
      return this.packets.start();
    }
    if (ch === 27) return void (this.state = Input.Esc);
    if (st === Input.Esc) {
      this.state = ch === 91 ? Input.EscBracket : ch === 79 ? Input.EscO : Input.None;
      return;
    }
    if (st === Input.EscO) return void (this.state = Input.None);
    if (st === Input.EscBracket || st === Input.EscBracketNum) {
      // Cursor keys and the like: the emulator keeps the cursor at the end of the line and ignores them.
      this.state = ch >= 48 && ch <= 57 ? Input.EscBracketNum : Input.None;
      return;
    }
    this.state = Input.None;
    if (ch === 8 || ch === 127) return this.backspace();
    if (ch === 13 || ch === 10) return this.newLine();
    if (ch >= 32 || ch === 9) {
      const s = ch === 9 ? '    ' : String.fromCharCode(ch);
      this.line += s;
      if (this.show) this.host.write(s);
    }
  }

  /** jsiHandleConsoleChar while password protected (src/jsinteractive.c, 2v29), byte for byte. */
  private passwordChar(ch: number): void {
    if (ch !== 13 && ch !== 10) {
      if (this.line.length < 20) this.line += String.fromCharCode(ch);
      return;
    }
    const ok = this.host.checkPassword?.(this.line) ?? false;
    this.line = '';
    if (ok) this.locked = false;
    if (this.locked) return this.out('\n  Invalid password\npassword>');
    this.out('\n  Logged in.\n');
    this.removed = true;
    this.idle();
  }

  private backspace(): void {
    if (!this.line.length) return;
    const last = this.line[this.line.length - 1];
    this.line = this.line.slice(0, -1);
    if (!this.show) return;
    if (last === '\n') {
      this.removeInputLine();
      this.idle();
    } else this.host.write('\x08 \x08');
  }

  private clearLine(): void {
    if (this.line === '') return;
    this.removeInputLine();
    this.line = '';
  }

  private newLine(): void {
    if (countBrackets(this.line) > 0) {
      if (this.show) this.host.write('\r\n:');
      this.line += '\n';
      return;
    }
    if (this.show) this.host.write('\r\n');
    if (!this.echoOffForLine) this.removed = true;
    const code = this.line.replace(/\s+$/, '');
    this.line = '';
    const echo = this.echo;
    if (code !== '') this.host.execute(code, echo);
    this.echoOffForLine = false;
  }
}

/**
 * jsiCountBracketsInInput: open minus close brackets outside strings, comments, regexes and templates;
 * 0 for an unfinished string (Espruino executes it so the user sees the error), 1000 while a comment
 * or template literal is unfinished.
 */
export function countBrackets(src: string): number {
  let n = 0;
  let i = 0;
  let prev = '';
  const regexCanStart = () => prev === '' || /[(,=:[!&|?{};+\-*%<>~^]$/.test(prev) || /\b(return|typeof|case|do|else|in|of|new|delete|void|throw)$/.test(prev);
  while (i < src.length) {
    const c = src[i];
    if (c === '/' && src[i + 1] === '/') {
      while (i < src.length && src[i] !== '\n') i++;
      continue;
    }
    if (c === '/' && src[i + 1] === '*') {
      const end = src.indexOf('*/', i + 2);
      if (end < 0) return 1000;
      i = end + 2;
      continue;
    }
    if (c === '"' || c === "'") {
      i++;
      while (i < src.length && src[i] !== c && src[i] !== '\n') i += src[i] === '\\' ? 2 : 1;
      if (i >= src.length || src[i] !== c) return 0;
      i++;
      prev = 'x';
      continue;
    }
    if (c === '`') {
      i++;
      let depth = 0;
      while (i < src.length && !(src[i] === '`' && depth === 0)) {
        if (src[i] === '\\') i++;
        else if (src[i] === '$' && src[i + 1] === '{') { depth++; i++; }
        else if (src[i] === '}' && depth > 0) depth--;
        i++;
      }
      if (i >= src.length) return 1000;
      i++;
      prev = 'x';
      continue;
    }
    if (c === '/' && regexCanStart()) {
      let j = i + 1;
      let inClass = false;
      while (j < src.length && src[j] !== '\n' && (inClass || src[j] !== '/')) {
        if (src[j] === '\\') j++;
        else if (src[j] === '[') inClass = true;
        else if (src[j] === ']') inClass = false;
        j++;
      }
      if (j < src.length && src[j] === '/') {
        i = j + 1;
        prev = 'x';
        continue;
      }
    }
    if (c === '{' || c === '[' || c === '(') n++;
    if (c === '}' || c === ']' || c === ')') {
      n--;
      if (n < 0) return n;
    }
    if (!/\s/.test(c)) {
      const m = /^[A-Za-z_$][\w$]*/.exec(src.slice(i));
      if (m) {
        prev = m[0];
        i += m[0].length;
        continue;
      }
      prev = c;
    }
    i++;
  }
  return n;
}

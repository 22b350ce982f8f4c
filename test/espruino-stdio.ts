// Espruino's Linux build on its stdin/stdout, for the tests that drive the firmware by hand (no console
// cable): one line at a time, once the interpreter answers, and waits for what it prints.
import { spawn, type ChildProcess } from 'node:child_process';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class EspruinoStdio {
  readonly p: ChildProcess;
  out = '';
  constructor(bin: string, cwd: string) {
    this.p = spawn(bin, [], { cwd, stdio: ['pipe', 'pipe', 'ignore'] });
    this.p.stdout!.on('data', (d) => (this.out += d.toString('latin1')));
  }
  /** Sends one line once the board answers (input sent while it is busy can be dropped). */
  async line(code: string): Promise<void> {
    await this.idle();
    this.p.stdin!.write(code + '\n');
  }
  async idle(): Promise<void> {
    const mark = 'READY' + Math.random().toString(36).slice(2);
    for (let i = 0; i < 50; i++) {
      this.p.stdin!.write(`print("${mark}")\n`);
      if (await this.wait(new RegExp(mark + '\\r?\\n'), 400).then(() => true, () => false)) return;
    }
    throw new Error('the board never became idle:\n' + this.out.slice(-500));
  }
  async wait(re: RegExp, ms = 15000): Promise<RegExpMatchArray> {
    const end = Date.now() + ms;
    for (;;) {
      const m = this.out.match(re);
      if (m) return m;
      if (Date.now() > end) throw new Error(`no ${re} in:\n${this.out.slice(-800)}`);
      await sleep(50);
    }
  }
  kill(): void {
    this.p.kill('SIGKILL');
  }
}

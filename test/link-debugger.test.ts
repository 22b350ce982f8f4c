// A Ctrl-C that reaches Espruino while JavaScript runs (a reporting board is often inside its reading timer)
// stops that code in the debugger (`debug>`) on builds that have one: Espruino's STM32 firmware (QEMU, real
// boards) and its Linux build. A second Ctrl-C there breaks the code off, and a timer callback broken off is
// removed: the board would stop reporting for good. The host's console handshake (consoleState, then the
// Repl's sync) leaves the debugger with "c" instead, whenever its prompt comes. A scripted board here; the
// same on a QEMU board: test/attack-qemu.test.ts.
import test from 'ava';
import { LinkListeners, type ConsoleLink } from '../host/link/console-link.js';
import { unlockConsole } from '../host/link/console-lock.js';
import { connectRepl } from '../host/link/repl.js';

/** A board busy in its timer when the first Ctrl-C comes; its debugger prompt is printed after `debugDelayMs`. */
class BusyBoard implements ConsoleLink {
  readonly url = 'test:busy';
  isOpen = true;
  debug = false;
  removed = false;
  busy = true;
  written: string[] = [];
  private l = new LinkListeners();
  constructor(private readonly debugDelayMs: number, private stale = '') {}
  async open() {}
  async close() { this.isOpen = false; }
  onData(cb: (d: Uint8Array) => void) { return this.l.onData(cb); }
  onClose(cb: (e?: Error) => void) { return this.l.onClose(cb); }
  private say(s: string, ms = 5) { setTimeout(() => this.l.emitData(new Uint8Array(Buffer.from(s, 'latin1'))), ms); }
  async write(data: Uint8Array | string) {
    const s = typeof data === 'string' ? data : Buffer.from(data).toString('latin1');
    this.written.push(s);
    if (this.stale) { this.say(this.stale, 0); this.stale = ''; }
    if (s === '\x03') {
      if (this.debug) {
        this.removed = true;
        this.debug = false;
        this.say('\r\nERROR: Ctrl-C while processing interval - removing it.\r\nExecution Interrupted during event processing.\r\n>');
      } else if (this.busy) {
        this.busy = false;
        this.debug = true;
        this.say('\r\x1b[J:1:1   n++;\r\n       ^\r\ndebug>', this.debugDelayMs);
      } else this.say('\r\x1b[J>');
      return;
    }
    for (const line of s.split('\n').slice(0, -1)) {
      if (this.debug) {
        if (line === 'c') { this.debug = false; this.say('c\r\n>'); } else this.say("\r\nIn debug mode: Expected a simple ID, type 'help' for more info.\r\ndebug>");
        continue;
      }
      const b = /"<<sq"\+"B:([^"]+)>>"/.exec(line);
      if (b) this.say(`<<sqB:${b[1]}>>\r\n`);
      const e = /"<<sq"\+"E:([^"]+)>>"/.exec(line);
      if (e) this.say(`<<sqE:${e[1]}>>\r\n>`, 10);
      if (!b && !e) this.say('\r\n>');
    }
  }
}

for (const [name, delay, stale] of [['at once', 20, ''], ['late (after the pause)', 400, ''], ['after a stale prompt', 150, '>']] as const) {
  test(`the debugger prompt ${name}: the handshake continues the code ("c"), never a second Ctrl-C`, async (t) => {
    const b = new BusyBoard(delay, stale);
    const st = await unlockConsole(b, undefined);
    const r = await connectRepl(b);
    r.detach();
    t.false(b.removed, `written: ${JSON.stringify(b.written)}`);
    t.false(b.debug);
    t.true(b.written.includes('c\n'));
    t.not(st.was, 'locked');
  });
}

test('connectRepl alone on a busy board: the same', async (t) => {
  for (const delay of [20, 400]) {
    const b = new BusyBoard(delay);
    (await connectRepl(b)).detach();
    t.false(b.removed, `delay ${delay}: written ${JSON.stringify(b.written)}`);
    t.false(b.debug);
  }
});

// An emulated board's timers (board.ts): setTimeout/setInterval of one interpreter on host timers, each
// callback run through the board (which drops it once the board was cut or rebooted), all dropped at once.
import type { ErrorType } from './realm.js';

interface Timer {
  handle: NodeJS.Timeout;
  /** Starts (or restarts, for changeInterval) the host timer with this period. */
  start: (ms: number) => NodeJS.Timeout;
}

export class BoardTimers {
  private timers = new Map<number, Timer>();
  private nextId = 1;

  /** run: runs a callback as a board event; error: an Error of the board's realm. */
  constructor(private readonly run: (f: () => void) => void, private readonly error: (name: ErrorType, message: string) => Error) {}

  set(fn: unknown, ms: number, args: unknown[], repeat: boolean, evaluate: (code: string) => void): number {
    if (typeof fn !== 'function' && typeof fn !== 'string') throw this.error('Error', 'Function or String not supplied!');
    const id = this.nextId++;
    const run = () => {
      if (!repeat) this.timers.delete(id);
      this.run(() => {
        if (typeof fn === 'string') evaluate(fn);
        else (fn as Function).apply(undefined, args);
      });
    };
    const start = (period: number) => {
      const delay = Number.isFinite(period) && period > 0 ? period : 0;
      if (!repeat) return setTimeout(run, delay);
      // As Espruino (jsinteractive.c, jsiIdle): an interval's next time is its last DUE time + the period, not
      // the time its callback ran + the period (Node's setInterval), so boards keep their phase.
      let due = performance.now() + delay;
      const next = () => {
        due += delay;
        const t = this.timers.get(id);
        if (t) t.handle = setTimeout(next, Math.max(0, due - performance.now()));
        run();
      };
      return setTimeout(next, delay);
    };
    this.timers.set(id, { handle: start(ms), start });
    return id;
  }

  clear(kind: 'Timeout' | 'Interval', args: unknown[]): void {
    if (args.length === 0) return this.clearAll();
    if (args[0] === undefined) throw this.error('Error', `clear${kind}(undefined) not allowed. Use clear${kind}() instead`);
    const id = Number(args[0]);
    const t = this.timers.get(id);
    if (t) {
      clearTimeout(t.handle);
      this.timers.delete(id);
    }
  }

  change(id: unknown, ms: number): void {
    const t = this.timers.get(Number(id));
    if (!t) return;
    clearTimeout(t.handle);
    t.handle = t.start(ms);
  }

  clearAll(): void {
    for (const t of this.timers.values()) clearTimeout(t.handle);
    this.timers.clear();
  }
}

// A UART's pace: at N baud with 8N1 framing a byte takes 10 bit times, so bytes leave no faster than
// N/10 per second. Each byte is released when its last bit would have left the wire; nothing is lost.
export class BaudPipe {
  private queue: Buffer[] = [];
  private queued = 0;
  /** When the wire is free again (ms, performance.now() clock). */
  private wireFreeAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly msPerByte: number;

  constructor(
    baud: number,
    private readonly sink: (b: Buffer) => void,
  ) {
    this.msPerByte = 10_000 / baud;
  }

  push(b: Buffer): void {
    if (!b.length) return;
    const now = performance.now();
    if (this.queued === 0 && this.wireFreeAt < now) this.wireFreeAt = now;
    this.queue.push(b);
    this.queued += b.length;
    this.pump();
  }

  /** Bytes waiting to leave. */
  get pending(): number {
    return this.queued;
  }

  /** Drops whatever has not left yet (the cable was pulled). */
  clear(): void {
    this.queue = [];
    this.queued = 0;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private pump(): void {
    if (this.timer) return;
    const now = performance.now();
    // Bytes whose transmission has completed by now: the wire was busy since wireFreeAt.
    const ready = Math.min(this.queued, Math.floor((now - this.wireFreeAt) / this.msPerByte));
    if (ready > 0) {
      this.wireFreeAt += ready * this.msPerByte;
      this.sink(this.take(ready));
    }
    if (this.queued > 0) {
      const wait = Math.max(1, this.wireFreeAt + this.msPerByte - performance.now());
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.pump();
      }, wait);
    }
  }

  private take(n: number): Buffer {
    const parts: Buffer[] = [];
    while (n > 0) {
      const head = this.queue[0];
      if (head.length <= n) {
        parts.push(head);
        this.queue.shift();
        n -= head.length;
        this.queued -= head.length;
      } else {
        parts.push(head.subarray(0, n));
        this.queue[0] = head.subarray(n);
        this.queued -= n;
        n = 0;
      }
    }
    return parts.length === 1 ? parts[0] : Buffer.concat(parts);
  }
}

export interface InputQueueOptions {
  /** Bytes the board's input queue holds; more is lost (Espruino's IOBUFFERMASK, roughly). */
  bytes: number;
  /** How fast the interpreter takes bytes out of it (baud, 10 bits per byte). */
  drainBaud: number;
  /** Send XOFF at 6/8 full and XON at 3/8, as Espruino does when flow control is on (default true). */
  xonXoff?: boolean;
}

/**
 * A board's input queue between the wire and the interpreter: bytes arrive as fast as the wire brings them,
 * leave as fast as the interpreter takes them, and what does not fit is lost, as on a board whose UART
 * outruns it. With flow control on it asks the sender to stop (XOFF, 0x13) past 6/8 full and to go on
 * (XON, 0x11) below 3/8 (src/jsdevices.c: IOBUFFER_XOFF, IOBUFFER_XON); XOFF/XON jump the output queue,
 * as jshGetCharToTransmit sends them before anything else.
 */
export class InputQueue {
  private readonly pipe: BaudPipe;
  private xoffSent = false;
  /** Bytes lost to overflow. */
  lost = 0;
  /** XOFFs sent. */
  xoffs = 0;

  constructor(
    private readonly o: InputQueueOptions,
    sink: (b: Buffer) => void,
    private readonly control: (b: Buffer) => void,
  ) {
    this.pipe = new BaudPipe(o.drainBaud, (b) => {
      sink(b);
      this.check();
    });
  }

  push(b: Buffer): void {
    const room = Math.max(0, this.o.bytes - this.pipe.pending);
    if (b.length > room) {
      this.lost += b.length - room;
      b = b.subarray(0, room);
    }
    this.pipe.push(b);
    this.check();
  }

  clear(): void {
    this.pipe.clear();
    this.xoffSent = false;
  }

  private check(): void {
    if (this.o.xonXoff === false) return;
    const fill = this.pipe.pending;
    if (!this.xoffSent && fill > (this.o.bytes * 6) / 8) {
      this.xoffSent = true;
      this.xoffs++;
      this.control(Buffer.from([0x13]));
    } else if (this.xoffSent && fill < (this.o.bytes * 3) / 8) {
      this.xoffSent = false;
      this.control(Buffer.from([0x11]));
    }
  }
}

/** A cable end: what the console server serves on TCP (the board's console, or its UART). */
export interface CableEnd {
  on(e: 'output', f: (b: Buffer) => void): unknown;
  off(e: 'output', f: (b: Buffer) => void): unknown;
  write(b: Buffer): void;
}

/**
 * The emulated board's second UART (a "uart" network profile: MQTT to `sealmq gateway`). Bytes arriving
 * are lost unless the running firmware set the UART up (attach), as on a wire; what the firmware sends is
 * emitted on the board as 'uart' events (Buffer).
 */
export class BoardUart {
  private rx: ((b: Uint8Array) => void) | undefined;

  constructor(private readonly board: { on(e: 'uart', f: (b: Buffer) => void): unknown; off(e: 'uart', f: (b: Buffer) => void): unknown }) {}

  /** The firmware's receive path for this boot (undefined: nobody listens, e.g. after a power cut). */
  attach(rx: ((b: Uint8Array) => void) | undefined): void {
    this.rx = rx;
  }

  /** Bytes from the wire into the board. */
  write(data: Uint8Array): void {
    this.rx?.(data);
  }

  /** The UART as a cable end. */
  device(): CableEnd {
    return { on: (_e, f) => this.board.on('uart', f), off: (_e, f) => this.board.off('uart', f), write: (b) => this.write(b) };
  }
}

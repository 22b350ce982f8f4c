// A console link is a byte stream to a board's REPL, named by a URL (DESIGN.md §1): a serial device path
// (/dev/ttyUSB0, serial:/dev/ttyUSB0?baud=115200), tcp://host:port (QEMU, ser2net, Espruino --telnet,
// `sealmq emulate`), or emulated:NAME (a board in this process). Every host job that touches a board goes
// through one, so the emulated board, Espruino's Linux build and a real ESP32 run the same host code.
// Failures are SealmqError('device', …) naming the port, so the CLI can say which cable to check.

export interface ConsoleLink {
  /** The URL or path this link was made for; every error names it. */
  readonly url: string;
  readonly isOpen: boolean;
  /** Opens the link; rejects with SealmqError('device') naming the port if it cannot. */
  open(): Promise<void>;
  /** Sends bytes (a string's chars are taken as bytes, 0..255). Resolves once handed to the OS. */
  write(data: Uint8Array | string): Promise<void>;
  /** Bytes from the board; returns a function that unsubscribes. */
  onData(cb: (data: Uint8Array) => void): () => void;
  /** The link went away (cable pulled, board process gone); err says why when known. */
  onClose(cb: (err?: Error) => void): () => void;
  close(): Promise<void>;
}

/** The bytes of a string whose chars are bytes. */
export function latin1Bytes(s: string): Uint8Array {
  return new Uint8Array(Buffer.from(s, 'latin1'));
}

/** Shared listener bookkeeping for link implementations. */
export class LinkListeners {
  private data = new Set<(d: Uint8Array) => void>();
  private closed = new Set<(e?: Error) => void>();
  onData(cb: (d: Uint8Array) => void): () => void {
    this.data.add(cb);
    return () => this.data.delete(cb);
  }
  onClose(cb: (e?: Error) => void): () => void {
    this.closed.add(cb);
    return () => this.closed.delete(cb);
  }
  emitData(d: Uint8Array): void {
    for (const f of [...this.data]) f(d);
  }
  emitClose(e?: Error): void {
    for (const f of [...this.closed]) f(e);
  }
}

export const XON = 0x11;
export const XOFF = 0x13;

export interface FlowControlOptions {
  /** Honour XON/XOFF from the board (default true). */
  xonXoff?: boolean;
  /** Bytes per write to the OS while honouring XOFF: how far past an XOFF we may run (default 128). */
  sliceBytes?: number;
  /** An XOFF never followed by XON stops holding writes after this long (ms; default 10000, as EspruinoTools). */
  xoffTimeoutMs?: number;
}

/**
 * Software flow control as Espruino does it (src/jsdevices.c): when its input queue passes 6/8 full it sends
 * XOFF (0x13), and XON (0x11) once it has drained to 3/8. Real boards do this on their console (ESP32's
 * UART console has it on by default, USB boards too); Espruino's Linux build never sends either. The gate
 * strips both from what the board sends (they are never console text) and holds writes between XOFF and
 * XON, so a link writes in slices of `sliceBytes` and checks the gate before each.
 */
export class XonXoffGate {
  private paused = false;
  private waiters: (() => void)[] = [];
  private timer: NodeJS.Timeout | undefined;
  readonly enabled: boolean;
  readonly sliceBytes: number;
  private readonly xoffTimeoutMs: number;
  /** XOFFs seen (for tests and diagnostics). */
  xoffs = 0;

  constructor(o: FlowControlOptions = {}) {
    this.enabled = o.xonXoff ?? true;
    this.sliceBytes = Math.max(1, o.sliceBytes ?? 128);
    this.xoffTimeoutMs = o.xoffTimeoutMs ?? 10_000;
  }

  get isPaused(): boolean {
    return this.paused;
  }

  /** Received bytes without XON/XOFF; updates the gate. */
  filter(d: Uint8Array): Uint8Array {
    if (!this.enabled || (d.indexOf(XON) < 0 && d.indexOf(XOFF) < 0)) return d;
    const out: number[] = [];
    for (const c of d) {
      if (c === XOFF) this.pause();
      else if (c === XON) this.resume();
      else out.push(c);
    }
    return Uint8Array.from(out);
  }

  /** Resolves when writing may go on: at once unless the board said XOFF and has not said XON yet. */
  ready(): Promise<void> {
    if (!this.paused) return Promise.resolve();
    return new Promise((r) => this.waiters.push(r));
  }

  /** The link closed: nobody waits any more. */
  release(): void {
    this.resume();
  }

  private pause(): void {
    this.xoffs++;
    if (this.paused) return;
    this.paused = true;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.resume(), this.xoffTimeoutMs);
  }

  private resume(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.paused = false;
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
}

/** Writes bytes in slices, each after the gate allows it; one write at a time, in call order. */
export class GatedWriter {
  private chain: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly gate: XonXoffGate,
    private readonly writeSlice: (b: Buffer) => Promise<void>,
  ) {}

  write(b: Buffer): Promise<void> {
    const run = async () => {
      if (!this.gate.enabled) return this.writeSlice(b);
      for (let off = 0; off < b.length; off += this.gate.sliceBytes) {
        // A socket write can complete at once; let received bytes (an XOFF) in between slices.
        if (off > 0) await new Promise((r) => setImmediate(r));
        await this.gate.ready();
        await this.writeSlice(b.subarray(off, Math.min(b.length, off + this.gate.sliceBytes)));
      }
    };
    const next = this.chain.then(run);
    this.chain = next.catch(() => undefined);
    return next;
  }
}

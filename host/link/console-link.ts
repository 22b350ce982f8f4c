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

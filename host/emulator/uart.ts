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

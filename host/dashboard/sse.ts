// One server-sent event stream per open page, with a bound on what the server holds for it. A page that
// reads slower than the readings arrive would otherwise make the server buffer without end (res.write
// always accepts); past the bound the stream is ended with an 'end' event saying so, and the page opens
// a new one (it starts again from the snapshot). The counts feed `sealmq bench dashboard`.
import type { ServerResponse } from 'node:http';

/** What the server may hold unsent for one page (~25 s of 100 devices at 10 readings/s). */
export const STREAM_LIMIT_BYTES = 4 * 1024 * 1024;

export interface StreamStats {
  /** Streams open now, and opened since start. */
  open: number;
  opened: number;
  /** Streams ended because their page fell behind by more than the bound. */
  endedSlow: number;
  events: number;
  bytes: number;
  /** The most bytes ever held unsent for one stream (after a write). */
  maxQueuedBytes: number;
  limitBytes: number;
}

export const newStreamStats = (limitBytes = STREAM_LIMIT_BYTES): StreamStats =>
  ({ open: 0, opened: 0, endedSlow: 0, events: 0, bytes: 0, maxQueuedBytes: 0, limitBytes });

export class EventStream {
  private closed = false;

  constructor(private readonly res: ServerResponse, private readonly stats: StreamStats) {
    stats.open++;
    stats.opened++;
    const gone = () => { if (!this.closed) { this.closed = true; stats.open--; } };
    res.on('close', gone);
    res.on('error', gone);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Sends one event whose data is already JSON; false once the stream is closed (or was just closed as too slow). */
  send(event: string, json: string): boolean {
    if (this.closed) return false;
    if (this.res.writableLength > this.stats.limitBytes) {
      this.stats.endedSlow++;
      this.end({ reason: 'too slow: the page fell behind the readings; reconnecting' });
      return false;
    }
    const frame = `event: ${event}\ndata: ${json}\n\n`;
    this.res.write(frame);
    this.stats.events++;
    this.stats.bytes += frame.length;
    if (this.res.writableLength > this.stats.maxQueuedBytes) this.stats.maxQueuedBytes = this.res.writableLength;
    return true;
  }

  end(why: { reason: string }): void {
    if (this.closed) return;
    this.res.write(`event: end\ndata: ${JSON.stringify(why)}\n\n`);
    this.res.end();
    this.closed = true;
    this.stats.open--;
  }
}

// The dashboard's live state (docs/DASHBOARD.md): what the verifier reported, kept per device for a
// history window, and pushed to every open page in batches (one server-sent event per flush, not one per
// frame), so 100 boards at 10 readings/s cost the page ~5 events a second. The hub does not verify
// anything itself: it is fed the results of the one verifier (host/verifier), in the verifier's order.
import type { VerifyResult } from '../verifier/verifier.js';

/** One accepted reading, as the page gets it. `m` is the reading's d object: data, never markup. */
export interface LiveReading { d: string; c: number; e: number; at: number; t: number | null; lat: number | null; m: unknown }
export interface LiveRejection { d: string | null; reason: string; c: number | null; e: number | null; at: number; topic: string }
export interface LiveReply { d: string; c: number; at: number; m: unknown }

export interface DeviceLive {
  lastCounter: number | null;
  lastEpoch: number | null;
  lastAt: number | null;
  readings: number;
  rejections: number;
  /** Receive times of the last minute's readings (readings per minute). */
  recent: number[];
}

export interface LiveBatch { readings: LiveReading[]; rejections: LiveRejection[]; replies: LiveReply[]; at: number }

export interface LiveOptions {
  /** Flush period in ms (default 200). */
  flushMs?: number;
  /** Readings kept per device for a page that opens later (default 600). */
  historyPerDevice?: number;
  /** Rejections kept (default 500). */
  rejectionsKept?: number;
  now?: () => number;
}

export type BatchListener = (b: LiveBatch) => void;

export class LiveHub {
  readonly devices = new Map<string, DeviceLive>();
  private history = new Map<string, LiveReading[]>();
  private rejectionsLog: LiveRejection[] = [];
  private pending: LiveBatch = { readings: [], rejections: [], replies: [], at: 0 };
  private listeners = new Set<BatchListener>();
  private timer: NodeJS.Timeout;
  private readonly now: () => number;
  readonly historyPerDevice: number;
  private readonly rejectionsKept: number;
  /** Counts since start: frames in, batches out (for the speed figure). */
  readonly counts = { readings: 0, rejections: 0, batches: 0 };

  constructor(o: LiveOptions = {}) {
    this.now = o.now ?? Date.now;
    this.historyPerDevice = o.historyPerDevice ?? 600;
    this.rejectionsKept = o.rejectionsKept ?? 500;
    this.timer = setInterval(() => this.flush(), o.flushMs ?? 200);
    this.timer.unref();
  }

  private device(id: string): DeviceLive {
    let d = this.devices.get(id);
    if (!d) this.devices.set(id, (d = { lastCounter: null, lastEpoch: null, lastAt: null, readings: 0, rejections: 0, recent: [] }));
    return d;
  }

  /** One verifier result (accepted or rejected), in the verifier's order. */
  push(r: VerifyResult): void {
    const at = this.now();
    if (!r.ok) {
      const j: LiveRejection = { d: r.device, reason: r.reason, c: r.counter ?? null, e: r.epoch ?? null, at, topic: r.topic };
      if (r.device !== null && r.reason !== 'unknown-device') this.device(r.device).rejections++;
      this.rejectionsLog.push(j);
      if (this.rejectionsLog.length > this.rejectionsKept) this.rejectionsLog.splice(0, this.rejectionsLog.length - this.rejectionsKept);
      this.pending.rejections.push(j);
      this.counts.rejections++;
      return;
    }
    const dev = this.device(r.device);
    dev.lastCounter = r.counter;
    dev.lastEpoch = r.epoch;
    dev.lastAt = at;
    if (r.kind === 'reply') {
      this.pending.replies.push({ d: r.device, c: r.counter, at, m: r.message });
      return;
    }
    if (r.kind !== 'reading') return;
    dev.readings++;
    dev.recent.push(at);
    const reading: LiveReading = { d: r.device, c: r.counter, e: r.epoch, at, t: r.t, lat: r.latencyMs, m: r.message.d ?? null };
    let h = this.history.get(r.device);
    if (!h) this.history.set(r.device, (h = []));
    h.push(reading);
    if (h.length > this.historyPerDevice * 1.25) h.splice(0, h.length - this.historyPerDevice);
    this.pending.readings.push(reading);
    this.counts.readings++;
  }

  /** Readings per minute of a device (over the last 60 s). */
  perMinute(id: string): number {
    const d = this.devices.get(id);
    if (!d) return 0;
    const since = this.now() - 60_000;
    while (d.recent.length && d.recent[0] < since) d.recent.shift();
    return d.recent.length;
  }

  /** What a page that opens now gets first: each device's recent history and the latest rejections. */
  snapshot(): LiveBatch {
    const readings: LiveReading[] = [];
    for (const h of this.history.values()) readings.push(...h.slice(-this.historyPerDevice));
    readings.sort((a, b) => a.at - b.at);
    return { readings, rejections: this.rejectionsLog.slice(), replies: [], at: this.now() };
  }

  subscribe(l: BatchListener): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  flush(): void {
    const b = this.pending;
    if (!b.readings.length && !b.rejections.length && !b.replies.length) return;
    this.pending = { readings: [], rejections: [], replies: [], at: 0 };
    b.at = this.now();
    this.counts.batches++;
    for (const l of this.listeners) {
      try { l(b); } catch { /* one page's failure is not the others' */ }
    }
  }

  close(): void {
    clearInterval(this.timer);
    this.listeners.clear();
  }
}

/**
 * Anti-replay sliding window of 64 counters (RFC 4303 §3.4.3 style), as a pure value so the host can
 * persist it before delivering a frame and the board can keep one for its downlink.
 *
 * top: highest counter accepted (0 = none yet). Bit i of the 64-bit bitmap (hi:lo) says counter top-i was
 * seen. Two 32-bit words because Espruino has no BigInt.
 */
export interface ReplayWindow {
  top: number;
  hi: number;
  lo: number;
}

export const WINDOW_SIZE = 64;

export function emptyWindow(): ReplayWindow {
  return { top: 0, hi: 0, lo: 0 };
}

/** 'ok' if counter may be accepted, 'stale' if left of the window, 'replay' if already seen. Never mutates. */
export function replayCheck(w: ReplayWindow, counter: number): string {
  if (counter > w.top) return 'ok';
  const d = w.top - counter;
  if (d >= WINDOW_SIZE) return 'stale';
  const bit = d < 32 ? (w.lo >>> d) & 1 : (w.hi >>> (d - 32)) & 1;
  return bit ? 'replay' : 'ok';
}

/** True when a counter is left of the window: cheap to test before the tag (DESIGN.md §4 receiver order). */
export function isStale(w: ReplayWindow, counter: number): boolean {
  return counter <= w.top && w.top - counter >= WINDOW_SIZE;
}

/** The window after accepting counter (call only after replayCheck said 'ok' and the tag passed). */
export function replayUpdate(w: ReplayWindow, counter: number): ReplayWindow {
  if (counter > w.top) {
    const s = counter - w.top;
    let hi = 0;
    let lo = 0;
    if (w.top > 0 && s < WINDOW_SIZE) {
      if (s >= 32) {
        hi = w.lo << (s - 32);
        lo = 0;
      } else {
        hi = (w.hi << s) | (w.lo >>> (32 - s));
        lo = w.lo << s;
      }
    }
    return { top: counter, hi: (hi | 0) >>> 0, lo: ((lo | 1) >>> 0) };
  }
  const d = w.top - counter;
  if (d < 32) return { top: w.top, hi: w.hi, lo: (w.lo | (1 << d)) >>> 0 };
  return { top: w.top, hi: (w.hi | (1 << (d - 32))) >>> 0, lo: w.lo };
}

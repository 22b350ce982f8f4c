/**
 * The uplink frame counter, "save every K" (RFC 8613 App. B.1.1; DESIGN.md §4). Before the board uses a
 * counter of a new block it durably records the block's end n in the record smq.c (files smq.c0/smq.c1,
 * see slots.ts) as {e: epoch, n, s, x}; after any reboot or power cut it resumes at n + 1. So no counter
 * is ever sent twice under one key, at most K are skipped per cut, and Storage is written once per K
 * frames. The valid copy with the highest (e, n) wins; none valid after provisioning = fail closed.
 */
import { MAX_COUNTER } from '../core/frame.js';
import { slotLoad, slotReset, slotSave, Store } from './slots.js';

export const CTR = 'smq.c';

/** e: key epoch; c: next counter to send; n: recorded block end (c ≤ n may be sent); s: record sequence. */
export interface Counter {
  e: number;
  c: number;
  n: number;
  s: number;
}

/** The counter after boot, resuming past the last recorded block end; null if no valid record exists. */
export const ctrLoad = (st: Store): Counter | null => {
  const r = slotLoad(st, CTR, (r) => r.e * 4294967296 + r.n);
  return r && { e: r.e, c: r.n + 1, n: r.n, s: r.s };
};

/** Records block end n (at epoch e) as the successor of x's record, then makes it x's. */
const record = (st: Store, x: Counter, e: number, n: number) => {
  if (!slotSave(st, CTR, { e: e, n: n, s: 0 }, x.s)) return false;
  x.e = e;
  x.n = n;
  x.s++;
  return true;
};

/**
 * The next counter to send, recording a new block end first when the block is used up.
 * 0: exhausted (2^32-1 was the last; a new epoch is needed). -1: the record could not be written, so
 * nothing may be sent (fail closed).
 */
export const ctrNext = (st: Store, x: Counter, k: number) =>
  x.c > MAX_COUNTER ? 0 : x.c <= x.n || record(st, x, x.e, Math.min(x.c + k - 1, MAX_COUNTER)) ? x.c++ : -1;

/**
 * Moves to key epoch e (> x.e), recording its first block before any counter of it is used; the counter
 * restarts at 1. False if the record could not be written (the old epoch stays in force).
 */
export const ctrEpoch = (st: Store, x: Counter, e: number, k: number) => record(st, x, e, Math.min(k, MAX_COUNTER)) && (x.c = 1) > 0;

/** Provisioning with new secrets: epoch e, nothing used yet. */
export const ctrReset = (st: Store, e: number): Counter | null => (slotReset(st, CTR, { e: e, n: 0, s: 0 }) ? { e: e, c: 1, n: 0, s: 0 } : null);

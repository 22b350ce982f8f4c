// Durable replay state off the per-frame path (docs/PROTOCOL.md, "Replay state on the host"): reservation
// ahead, the host's side of the board's "save every K" (RFC 8613 appendix B.1.1; OSCORE's receiver recovery,
// appendix B.1.2). The window lives in memory; what is durable is a bound above every counter accepted:
// before a frame above the bound is accepted, bound = counter + K is committed. After a restart (or a crash)
// the stored bound is loaded as a window with every counter at or below it seen, so nothing accepted before
// is accepted again; frames between the last accepted counter and the bound are lost, at most K per
// (device, direction) per restart, and refused as 'stale-after-restart'.
//
// Deferred (group commit, group.ts): put() only notes the bound it needs; commitPending() writes every noted
// bound in one transaction, and the caller reports those frames only after it returns. Many devices' first
// frames of a burst then share one fsync instead of paying one each.
import type { ReceiveState } from '../../core/frame.js';
import { replayUpdate } from '../../core/replay.js';
import type { ReplayStore } from './verifier.js';

/**
 * The most counters reserved ahead per commit (K): one synchronous commit per K frames of a busy device.
 * Each (device, direction) starts at START_RESERVE, doubles while its reservations last under GROW_MS and
 * halves while they last over SHRINK_MS: a reservation lasts about 10 s to a minute of the device's frames,
 * so a crash costs a board at 1 Hz at most about a minute of readings, and a busy one at most K frames,
 * while the commits stay below one per device every few seconds (docs/PROTOCOL.md says why).
 */
export const DEFAULT_RESERVE = 1024;
const GROW_MS = 10_000;
const SHRINK_MS = 60_000;
const START_RESERVE = 64;
const MAX_COUNTER = 0xffffffff;
const ALL = 0xffffffff;

/** What the reserving store needs of the registry (registry.ts). */
export interface ReceiveStateStore {
  getReceiveState(id: string, direction: string): ReceiveState | null;
  reserveReceiveState(id: string, direction: string, st: ReceiveState, expected: ReceiveState | null): ReceiveState | null;
  /** One transaction around several writes (flush); without it, each write commits on its own. */
  transaction?<T>(fn: () => T): T;
}

interface Entry {
  id: string;
  d: string;
  /** "id\u0000d": how commitPending() names it. */
  key: string;
  /** The window in memory (what this process accepted, over the loaded bound). */
  st: ReceiveState;
  /** The state durably stored: its epoch and bound (window.top). */
  durable: ReceiveState;
  /** Counters at or below this, under durable.epoch, were refused unseen after the load: 'stale-after-restart'. */
  loadedBound: number;
  loadedEpoch: number;
  /** Counters to reserve at the next commit, and when the last reservation was made. */
  k: number;
  reservedAt: number;
  /** Deferred mode: the reservation to commit at commitPending() (covers e.st), or null. */
  pending: ReceiveState | null;
}

/**
 * A reservation is stored as a window at the bound with bit 0 (the top itself) clear, which no real window
 * has (its top is a counter it accepted): a clean close (flush) stores the exact window instead. Loaded, a
 * reservation becomes a window that has seen every counter at or below the bound.
 */
const RESERVED_LO = (ALL ^ 1) >>> 0;
const isBound = (s: ReceiveState): boolean => s.window.top > 0 && s.window.hi === ALL && s.window.lo === RESERVED_LO;
const loaded = (s: ReceiveState): ReceiveState => (isBound(s) ? { epoch: s.epoch, window: { top: s.window.top, hi: ALL, lo: ALL } } : s);

export class ReservingReplayStore implements ReplayStore {
  /** Per direction, by device id: no per-frame key string to build and hash (the id's hash is kept by V8). */
  private readonly m = new Map<string, Map<string, Entry>>();
  /** Synchronous commits made (reservations), for benchmarks and tests. */
  commits = 0;
  /** Deferred mode: the entries with a reservation to commit. */
  private readonly dirty = new Set<Entry>();
  /** Deferred mode: keys beaten by another process at a commit made at once (a new epoch), for commitPending(). */
  private readonly beaten = new Set<string>();

  /**
   * defer: put() notes the reservations a frame needs instead of committing them; the caller must call
   * commitPending() before it reports any frame accepted since the last call (group.ts does).
   */
  constructor(private readonly reg: ReceiveStateStore, private readonly reserve = DEFAULT_RESERVE, private readonly now: () => number = Date.now, private readonly defer = false) {}

  /** Deferred mode: whether a reservation waits for commitPending(). */
  get pending(): boolean {
    return this.dirty.size > 0 || this.beaten.size > 0;
  }

  private entry(id: string, d: string): Entry | null {
    let byId = this.m.get(d);
    if (!byId) this.m.set(d, (byId = new Map()));
    let e = byId.get(id);
    if (!e) {
      const stored = this.reg.getReceiveState(id, d);
      if (!stored) return null;
      e = {
        id, d, key: id + '\u0000' + d,
        st: loaded(stored), durable: stored, loadedBound: isBound(stored) ? stored.window.top : 0, loadedEpoch: stored.epoch, k: Math.min(START_RESERVE, this.reserve), reservedAt: -Infinity, pending: null,
      };
      byId.set(id, e);
    }
    return e;
  }

  get(id: string, d: string): ReceiveState | null {
    return this.entry(id, d)?.st ?? null;
  }

  /**
   * Takes the state a frame with a good tag moved to; false: not accepted (another process reserved the
   * counter first; the window now covers its bound).
   */
  put(id: string, d: string, st: ReceiveState): boolean {
    const e = this.entry(id, d);
    if (!e) return false;
    if (st.epoch === e.durable.epoch && st.window.top <= e.durable.window.top) {
      e.st = st;
      return true;
    }
    const p = e.pending;
    if (p && st.epoch === p.epoch && st.window.top <= p.window.top) {
      e.st = st;
      return true;
    }
    const at = this.now();
    if (e.reservedAt !== -Infinity) {
      const lasted = at - e.reservedAt;
      if (lasted < GROW_MS) e.k = Math.min(this.reserve, e.k * 2);
      else if (lasted > SHRINK_MS) e.k = Math.max(1, e.k >> 1);
    }
    e.reservedAt = at;
    // A new epoch (rare) commits at once, as does everything when not deferred. Its durable epoch also
    // covers any reservation still noted under the old one: a restart refuses that epoch's frames whole.
    if (this.defer && st.epoch === e.durable.epoch) {
      e.pending = { epoch: st.epoch, window: { top: Math.min(MAX_COUNTER, st.window.top + e.k), hi: ALL, lo: RESERVED_LO } };
      e.st = st;
      this.dirty.add(e);
      return true;
    }
    // Frames accepted under a noted reservation are reported only if this commit is not beaten.
    const noted = e.pending !== null;
    e.pending = null;
    this.dirty.delete(e);
    // Twice at most: when another process reserved first, once more above its bound.
    for (let attempt = 0; attempt < 2; attempt++) {
      const bound = Math.min(MAX_COUNTER, st.window.top + e.k);
      const want: ReceiveState = { epoch: st.epoch, window: { top: bound, hi: ALL, lo: RESERVED_LO } };
      const other = this.reg.reserveReceiveState(id, d, want, e.durable);
      this.commits++;
      if (!other) {
        e.durable = want;
        e.st = st;
        return true;
      }
      e.durable = other;
      e.st = loaded(other);
      e.loadedBound = isBound(other) ? other.window.top : 0;
      e.loadedEpoch = other.epoch;
      if (noted) this.beaten.add(e.key);
      // The frame's counter (the new top) is above what the other process holds: claim it over that bound.
      if (other.epoch !== st.epoch || st.window.top <= other.window.top) return false;
      st = { epoch: st.epoch, window: replayUpdate(e.st.window, st.window.top) };
    }
    return false;
  }

  /**
   * Deferred mode: commits every noted reservation (call it inside the caller's transaction to share its
   * commit). Returns the "device\u0000direction" keys whose reservation another process beat: the frames
   * accepted for them since the last call must not be reported (they are refused as 'stale-after-restart';
   * the window now covers the other bound).
   */
  commitPending(): Set<string> {
    const beaten = new Set(this.beaten);
    this.beaten.clear();
    if (this.dirty.size === 0) return beaten;
    for (const e of this.dirty) {
      const want = e.pending!;
      e.pending = null;
      const other = this.reg.reserveReceiveState(e.id, e.d, want, e.durable);
      if (!other) {
        e.durable = want;
        continue;
      }
      e.durable = other;
      e.st = loaded(other);
      e.loadedBound = isBound(other) ? other.window.top : 0;
      e.loadedEpoch = other.epoch;
      beaten.add(e.key);
    }
    this.dirty.clear();
    return beaten;
  }

  /** Whether a refused counter was lost to a restart: at or below the bound loaded, never seen by this process. */
  staleAfterRestart(id: string, d: string, epoch: number, counter: number): boolean {
    const e = this.m.get(d)?.get(id);
    return !!e && epoch === e.loadedEpoch && counter <= e.loadedBound;
  }

  /**
   * A clean close: each window is written back exactly (below its bound, which only this process held), so
   * a verifier stopped and started again loses nothing; only a crash costs the reserved counters.
   */
  flush(): void {
    // Reservations still noted are dropped, not written: the frames they cover were never reported.
    this.dirty.clear();
    this.beaten.clear();
    // One transaction for all of them (one fsync, not one per device).
    const back = () => {
      for (const byId of this.m.values()) {
        for (const e of byId.values()) {
          if (e.st.epoch !== e.durable.epoch || e.st.window.top >= e.durable.window.top) continue;
          if (this.reg.reserveReceiveState(e.id, e.d, e.st, e.durable) === null) e.durable = e.st;
        }
      }
    };
    if (this.reg.transaction) this.reg.transaction(back);
    else back();
    this.m.clear();
  }
}


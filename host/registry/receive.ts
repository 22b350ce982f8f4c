// What was received or used once (DESIGN.md §4): each (device, direction)'s replay window, the host's send
// counters for commands, and the TOTP steps the broker accepted from each device. Durable when they return.
import { initialReceiveState, ReceiveState } from '../../core/frame.js';
import { inputError, SealmqError } from '../errors.js';
import { insertAudit } from './audit.js';
import { adoptRotation } from './devices.js';
import type { RegistryStore } from './store.js';
import { checkDeviceId, checkDirection, EpochStatus } from './types.js';

/**
 * The receive state of (device, direction). No row yet, or a row under an epoch the device has since
 * left (rekey), gives a fresh window at the device's current epoch, so frames of a retired epoch are
 * 'old-epoch'. null for an unknown device.
 */
export function getReceiveState(store: RegistryStore, id: string, direction: string): ReceiveState | null {
  checkDeviceId(id);
  checkDirection(direction);
  const d = store.sql('SELECT epoch FROM devices WHERE id = ?').get(id) as { epoch: number } | undefined;
  if (!d) return null;
  const r = store.sql('SELECT epoch, top, hi, lo FROM replay_state WHERE device_id = ? AND direction = ?').get(id, direction) as
    { epoch: number; top: number; hi: number; lo: number } | undefined;
  if (!r || r.epoch < d.epoch) return initialReceiveState(d.epoch);
  return { epoch: r.epoch, window: { top: r.top, hi: r.hi, lo: r.lo } };
}

/**
 * Persists a receive state; durable when it returns (WAL, synchronous=FULL). Refuses to move a window
 * backwards (that would reopen replays). A state under a higher epoch that the registry holds keys for
 * makes that epoch current (DESIGN.md §4). A new state means a frame with a good tag: the device's
 * last-seen time moves in the same transaction (one synchronous commit per frame, not two).
 */
export function putReceiveState(store: RegistryStore, id: string, direction: string, st: ReceiveState): void {
  checkDeviceId(id);
  checkDirection(direction);
  const w = st.window;
  if (!validState(st)) throw inputError('receive state out of range');
  const now = store.clock();
  store.tx(() => {
    const d = store.sql('SELECT epoch FROM devices WHERE id = ?').get(id) as { epoch: number } | undefined;
    if (!d) throw inputError(`no device ${id} in the registry`);
    const cur = getReceiveState(store, id, direction)!;
    if (st.epoch < cur.epoch || (st.epoch === cur.epoch && w.top < cur.window.top)) {
      throw new SealmqError('internal', `replay state of ${id}/${direction} would move backwards (epoch ${cur.epoch} top ${cur.window.top} → epoch ${st.epoch} top ${w.top})`);
    }
    if (st.epoch > d.epoch) {
      const e = (store.sql('SELECT status FROM key_epochs WHERE device_id = ? AND epoch = ?').get(id, st.epoch) as { status: EpochStatus } | undefined)
        ?? adoptRotation(store, id, d.epoch, st.epoch, now);
      store.forgetDevices();
      if (!e || e.status === 'revoked') throw new SealmqError('internal', `device ${id} has no usable key epoch ${st.epoch}`);
      store.sql(`UPDATE key_epochs SET status = 'old' WHERE device_id = ? AND status = 'current'`).run(id);
      store.sql(`UPDATE key_epochs SET status = 'current' WHERE device_id = ? AND epoch = ?`).run(id, st.epoch);
      store.sql('UPDATE devices SET epoch = ?, updated_at = ? WHERE id = ?').run(st.epoch, now, id);
      insertAudit(store, { actor: 'registry', action: 'device.epoch', device: id, detail: { from: d.epoch, to: st.epoch, direction } }, now);
    }
    store.sql(UPSERT_STATE).run(id, direction, st.epoch, w.top, w.hi, w.lo, now);
    store.sql(TOUCH_DEVICE).run(now, id);
  });
}

const UPSERT_STATE = `INSERT INTO replay_state(device_id, direction, epoch, top, hi, lo, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)
  ON CONFLICT(device_id, direction) DO UPDATE SET epoch = excluded.epoch, top = excluded.top, hi = excluded.hi,
  lo = excluded.lo, updated_at = excluded.updated_at`;
const TOUCH_DEVICE = 'UPDATE devices SET last_seen_at = max(coalesce(last_seen_at, 0), ?) WHERE id = ?';
const u32 = (n: number) => Number.isInteger(n) && n >= 0 && n <= 0xffffffff;
const validState = (st: ReceiveState): boolean => Number.isInteger(st.epoch) && st.epoch >= 0 && st.epoch <= 255 && u32(st.window.top) && u32(st.window.hi) && u32(st.window.lo);

/**
 * A reservation (docs/PROTOCOL.md, "Replay state on the host"): persists `st` (durable when it returns) only
 * if the stored state is still `expected` — the one this process last read or wrote — and returns null;
 * otherwise another process wrote in between and the stored state is returned instead, nothing written.
 */
export function reserveReceiveState(store: RegistryStore, id: string, direction: string, st: ReceiveState, expected: ReceiveState | null): ReceiveState | null {
  return store.tx((): ReceiveState | null => {
    const cur = getReceiveState(store, id, direction);
    if (!cur) throw inputError(`no device ${id} in the registry`);
    if (expected && (cur.epoch !== expected.epoch || cur.window.top !== expected.window.top)) return cur;
    // Our own reservation handed back (a clean close): the exact window, below the bound only this process held.
    if (expected && st.epoch === cur.epoch && st.window.top < cur.window.top) {
      store.sql('UPDATE replay_state SET top = ?, hi = ?, lo = ?, updated_at = ? WHERE device_id = ? AND direction = ?')
        .run(st.window.top, st.window.hi, st.window.lo, store.clock(), id, direction);
      return null;
    }
    // The usual case, a bound above the stored one under the device's epoch: written without reading both
    // rows again (putReceiveState's checks hold: same transaction, just read). Anything else goes through it.
    if (st.epoch === cur.epoch && st.window.top >= cur.window.top && validState(st)) {
      const now = store.clock();
      const w = st.window;
      store.sql(UPSERT_STATE).run(id, direction, st.epoch, w.top, w.hi, w.lo, now);
      store.sql(TOUCH_DEVICE).run(now, id);
      return null;
    }
    putReceiveState(store, id, direction, st);
    return null;
  });
}

/**
 * Check-and-update as one transaction, safe against a second verifier on the same registry: reads the
 * state, calls fn (e.g. core receive()), and if the result carries a new `state`, persists it before
 * returning. Deliver the reading only after this returns. fn must be synchronous.
 */
export function withReceiveState<R extends { state?: ReceiveState }>(store: RegistryStore, id: string, direction: string, fn: (st: ReceiveState) => R): R {
  return store.tx((): R => {
    const st = getReceiveState(store, id, direction);
    if (!st) throw inputError(`no device ${id} in the registry`);
    const r = fn(st);
    if (r.state) putReceiveState(store, id, direction, r.state);
    return r;
  });
}

/**
 * The next counter the host may seal under for (device, direction, epoch), committed (synchronous=FULL)
 * before it is returned: a crash after this call skips a counter, never reuses one. A new epoch starts at 1.
 */
export function nextSendCounter(store: RegistryStore, id: string, direction: string, epoch: number): number {
  checkDeviceId(id);
  checkDirection(direction);
  return store.tx(() => {
    if (!store.sql('SELECT 1 FROM devices WHERE id = ?').get(id)) throw inputError(`no device ${id} in the registry`);
    const r = store.sql('SELECT epoch, counter FROM send_counters WHERE device_id = ? AND direction = ?').get(id, direction) as
      { epoch: number; counter: number } | undefined;
    if (r && r.epoch > epoch) throw new SealmqError('internal', `send counter of ${id}/${direction} is at epoch ${r.epoch}, above ${epoch}`);
    const next = r && r.epoch === epoch ? r.counter + 1 : 1;
    if (next > 0xffffffff) throw new SealmqError('input', `${id}/${direction}: counters of epoch ${epoch} are used up`, { hint: 'rotate the device to a new key epoch' });
    store.sql(`INSERT INTO send_counters(device_id, direction, epoch, counter, updated_at) VALUES (?, ?, ?, ?, ?)
      ON CONFLICT(device_id, direction) DO UPDATE SET epoch = excluded.epoch, counter = excluded.counter, updated_at = excluded.updated_at`)
      .run(id, direction, epoch, next, store.clock());
    return next;
  });
}

/**
 * Accepts a TOTP step for a device only if it is later than every step accepted before (so each step
 * is accepted once, across restarts: otplib-style replay protection). Durable when it returns true.
 */
export function consumeTotpStep(store: RegistryStore, id: string, step: number): boolean {
  checkDeviceId(id);
  if (!Number.isSafeInteger(step) || step < 0) throw inputError('TOTP step must be a non-negative integer');
  const now = store.clock();
  return store.tx((): boolean => {
    const r = store.sql('SELECT last_step FROM totp_used WHERE device_id = ?').get(id) as { last_step: number } | undefined;
    if (r && step <= r.last_step) return false;
    store.sql(`INSERT INTO totp_used(device_id, last_step, used_at) VALUES (?, ?, ?)
      ON CONFLICT(device_id) DO UPDATE SET last_step = excluded.last_step, used_at = excluded.used_at`).run(id, step, now);
    return true;
  });
}

export function lastTotpStep(store: RegistryStore, id: string): number | null {
  checkDeviceId(id);
  const r = store.sql('SELECT last_step FROM totp_used WHERE device_id = ?').get(id) as { last_step: number } | undefined;
  return r ? r.last_step : null;
}

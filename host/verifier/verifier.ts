// The verifier: opens every uplink frame in the DESIGN.md §4 order, persists the replay window before it
// hands a reading on, and reports each rejection with its reason. Storage, audit and clock are injected,
// so the same class runs against the SQLite registry, in benchmarks, and in the fuzzer.
import { deriveKeys, FrameKeys, initialReceiveState, receive, ReceiveState } from '../../core/frame.js';
import { isDeviceId } from '../../core/ids.js';
import type { CorePrimitives } from '../../core/primitives.js';
import { cachingNodePrimitives } from '../protocol/node-primitives.js';
import { isPlainFrame } from './plain.js';
import { cachingHmacSha256 } from './hmac-sha256.js';
import { ivAhead } from './iv-ahead.js';

/** What the verifier needs to know of a device. */
export interface DeviceRecord {
  id: string;
  status: 'active' | 'revoked';
  /** The device's current key epoch: frames under a lower one are old-epoch. */
  epoch: number;
  root: Uint8Array;
  /** Epochs that must never be accepted again (rotated away or revoked). */
  retiredEpochs?: number[];
  /**
   * The epoch a rotation asked for (`sealmq devices rotate`), if one is pending: the only epoch above `epoch`
   * a frame may move the device to. Any other higher epoch is refused as 'unrequested-epoch'.
   */
  pendingEpoch?: number | null;
}

export interface DeviceSource {
  device(id: string): DeviceRecord | null;
}

/**
 * Replay state per (device, direction). When put() returns, the state is durable or covered by a durable
 * bound (reserve.ts); false: the store refused it (another process reserved that counter), the frame is
 * refused as 'stale-after-restart'.
 */
export interface ReplayStore {
  get(id: string, direction: string): ReceiveState | null;
  put(id: string, direction: string, state: ReceiveState): void | boolean;
  /** A refused counter at or below the bound loaded at a restart (reserve.ts). */
  staleAfterRestart?(id: string, direction: string, epoch: number, counter: number): boolean;
}

export interface Rejection {
  ok: false;
  device: string | null;
  topic: string;
  reason: string;
  counter?: number;
  epoch?: number;
}

export interface Acceptance {
  ok: true;
  device: string;
  topic: string;
  epoch: number;
  counter: number;
  /** The board's clock (unix seconds) or null. */
  t: number | null;
  kind: 'reading' | 'reply' | 'challenge' | 'other';
  message: Record<string, unknown>;
  /** Host receive time minus the board's t, when the board's clock is set. */
  latencyMs: number | null;
  /** Set when this frame moved the device to a higher epoch. */
  epochMoved?: number;
}

export type VerifyResult = Acceptance | Rejection;

export interface VerifierOptions {
  devices: DeviceSource;
  replay: ReplayStore;
  prefix?: string;
  /** Milliseconds since the epoch; injectable for tests. */
  now?: () => number;
  primitives?: CorePrimitives;
  onResult?: (r: VerifyResult) => void;
}

/** An in-memory ReplayStore (benchmarks, fuzzing, tests). */
export class MemoryReplayStore implements ReplayStore {
  private m = new Map<string, ReceiveState>();
  get(id: string, d: string) { return this.m.get(id + '\u0000' + d) ?? null; }
  put(id: string, d: string, s: ReceiveState) { this.m.set(id + '\u0000' + d, s); }
}

interface KeyCacheEntry {
  root: Uint8Array;
  dev: DeviceRecord;
  /** The epoch of the receive state this frame is checked against (already accepted once). */
  stateEpoch: number;
  /** Set by lookup to the epoch it refused when no rotation asked for it (above the current one). */
  unrequested: number;
  keys: Map<number, FrameKeys>;
  lookup: (epoch: number) => FrameKeys | null;
}

/** Strict UTF-8 (WHATWG: no overlongs, surrogates or truncation; a BOM is kept), as core utf8Decode. */
const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** core/bytes.ts utf8Decode, natively: null for invalid UTF-8. test/verifier-fast.test.ts checks they agree. */
export function strictUtf8(b: Uint8Array): string | null {
  try {
    return UTF8.decode(b);
  } catch {
    return null;
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * The verifier's primitives: node:crypto AES with each key's schedule kept (cachingNodePrimitives), each
 * device's next frame IVs made ahead, several in one call (iv-ahead.ts), and HMAC-SHA256 from each key's
 * precomputed midstates (hmac-sha256.ts). docs/VERIFIER-PERF.md says why.
 */
export function verifierPrimitives(): CorePrimitives {
  return { ...ivAhead(cachingNodePrimitives()), hmacSha256: cachingHmacSha256() };
}

export class Verifier {
  private readonly prefix: string;
  private readonly prefixOk: boolean;
  private readonly now: () => number;
  private readonly p: CorePrimitives;
  /** Derived keys per device/epoch: HKDF once, not per frame. Dropped when a device's root changes. */
  /** Per direction, by device id (no per-frame key string to build and hash). */
  private keyCache: Record<string, Map<string, KeyCacheEntry>> = { up: new Map(), down: new Map() };

  constructor(private readonly o: VerifierOptions) {
    this.prefix = o.prefix ?? 'sealmq';
    // The prefix is one topic level: one with '/' in it matches no topic (as a split on '/' would).
    this.prefixOk = !this.prefix.includes('/');
    this.now = o.now ?? Date.now;
    this.p = o.primitives ?? verifierPrimitives();
  }

  /** Opens one MQTT message; never throws on hostile input. */
  handle(topic: string, payload: Uint8Array): VerifyResult {
    const r = this.open(topic, payload);
    this.o.onResult?.(r);
    return r;
  }

  private reject(topic: string, device: string | null, reason: string, extra: Partial<Rejection> = {}): Rejection {
    return { ok: false, topic, device, reason, ...extra };
  }

  /**
   * keysFor(epoch) for receive(). One entry per (device, direction) holds a copy of the root the keys came
   * from, the derived keys per epoch and the lookup function itself, so a frame allocates nothing here.
   * The device record is re-read per frame (retiredEpochs, pendingEpoch may change); a changed root drops the
   * keys. Keys exist only for the current epoch, the epoch the receive state already reached and the epoch
   * a rotation asked for: a frame under any other epoch is refused before its tag is computed.
   */
  private keysFor(dev: DeviceRecord, direction: string, stateEpoch: number): KeyCacheEntry {
    const cache = this.keyCache[direction];
    let c = cache.get(dev.id);
    if (!c || !sameBytes(c.root, dev.root)) {
      const entry: KeyCacheEntry = { root: new Uint8Array(dev.root), dev, stateEpoch, unrequested: -1, keys: new Map(), lookup: () => null };
      entry.lookup = (epoch) => {
        const d = entry.dev;
        if (d.retiredEpochs && d.retiredEpochs.includes(epoch)) return null;
        if (epoch !== d.epoch && epoch !== entry.stateEpoch && epoch !== d.pendingEpoch) {
          entry.unrequested = epoch;
          return null;
        }
        let k = entry.keys.get(epoch);
        if (!k) {
          k = deriveKeys(this.p, entry.root, d.id, direction, epoch);
          entry.keys.set(epoch, k);
        }
        return k;
      };
      cache.set(dev.id, entry);
      c = entry;
    }
    c.dev = dev;
    c.stateEpoch = stateEpoch;
    c.unrequested = -1;
    return c;
  }

  /**
   * Loads what this device's next uplink frame needs (its record, receive state and keys) ahead of it, so that
   * the first frame of a burst costs what any other does. Nothing is decided or written.
   */
  warm(id: string): void {
    const dev = this.o.devices.device(id);
    if (!dev || dev.status !== 'active') return;
    const stored = this.o.replay.get(id, 'up');
    const epoch = stored && stored.epoch >= dev.epoch ? stored.epoch : dev.epoch;
    const k = this.keysFor(dev, 'up', epoch).lookup(epoch);
    if (!k) return;
    // The primitives keep each key's AES schedules and HMAC midstates from its first use: made here.
    const block = new Uint8Array(16);
    this.p.cbcEncrypt(k.iv, block, block);
    this.p.cbcDecrypt(k.enc, block, block);
    this.p.hmacSha256?.(k.mac, block);
  }

  /** The device id of `<prefix>/<id>/up`, or null for any other topic (more levels, wildcards, bad ids). */
  private uplinkDevice(topic: string): string | null {
    const p = this.prefix.length;
    if (!this.prefixOk || topic.length <= p + 4 || topic.charCodeAt(p) !== 47 || !topic.startsWith(this.prefix) || !topic.endsWith('/up')) return null;
    const id = topic.slice(p + 1, topic.length - 3);
    return isDeviceId(id) ? id : null;
  }

  private open(topic: string, payload: Uint8Array): VerifyResult {
    const id = this.uplinkDevice(topic);
    if (id === null) return this.reject(topic, null, 'bad-topic');
    const dev = this.o.devices.device(id);
    if (!dev) return this.reject(topic, id, 'unknown-device');
    if (dev.status !== 'active') return this.reject(topic, id, 'revoked');
    const stored = this.o.replay.get(id, 'up');
    const st: ReceiveState = stored && stored.epoch >= dev.epoch ? stored : initialReceiveState(dev.epoch);
    const keys = this.keysFor(dev, 'up', st.epoch);
    const r = receive(this.p, keys.lookup, id, 'up', 'up', st, payload);
    if (!r.ok) {
      // A research plain message (docs/PROTOCOL.md) on a sealed topic: a downgrade attempt, named as such.
      if (r.reason === 'malformed' && isPlainFrame(payload)) return this.reject(topic, id, 'plain-downgrade');
      if (keys.unrequested >= 0 && r.reason === 'unknown-epoch') return this.reject(topic, id, 'unrequested-epoch', { epoch: keys.unrequested });
      if ((r.reason === 'stale' || r.reason === 'replay') && this.o.replay.staleAfterRestart) {
        const c = ((payload[3] << 24) | (payload[4] << 16) | (payload[5] << 8) | payload[6]) >>> 0;
        if (this.o.replay.staleAfterRestart(id, 'up', payload[2], c)) return this.reject(topic, id, 'stale-after-restart', { counter: c, epoch: payload[2] });
      }
      // A good tag over bad padding (a key bug) still consumed its counter: the window moves (DESIGN.md §4).
      if (r.state) this.o.replay.put(id, 'up', r.state);
      return this.reject(topic, id, r.reason ?? 'rejected', { counter: r.counter, epoch: r.epoch });
    }
    // Durable before delivery (DESIGN.md §4): a crash after this line can lose a reading, never accept a replay.
    if (this.o.replay.put(id, 'up', r.state!) === false) return this.reject(topic, id, 'stale-after-restart', { counter: r.counter, epoch: r.epoch });
    const text = strictUtf8(r.plaintext!);
    let msg: unknown = null;
    try {
      msg = text === null ? null : JSON.parse(text);
    } catch {
      msg = null;
    }
    if (!msg || typeof msg !== 'object' || Array.isArray(msg)) return this.reject(topic, id, 'bad-json', { counter: r.counter, epoch: r.epoch });
    const m = msg as Record<string, unknown>;
    const t = typeof m.t === 'number' && Number.isFinite(m.t) ? m.t : null;
    const kind = 'd' in m ? 'reading' : 'r' in m ? 'reply' : m.c === 'challenge' ? 'challenge' : 'other';
    const acc: Acceptance = {
      ok: true, device: id, topic, epoch: r.epoch!, counter: r.counter!, t, kind, message: m,
      latencyMs: t === null ? null : Math.round((this.now() - t * 1000) * 1000) / 1000,
    };
    if (r.epoch! > st.epoch) acc.epochMoved = r.epoch;
    return acc;
  }
}

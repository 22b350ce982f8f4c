// The verifier attached to a broker: subscribes to every device's uplink as an operator, opens each frame
// with the registry's keys and replay state (covered by a durable reservation before a reading is reported,
// reserve.ts), audits rejections; the frames of one I/O turn share one commit (group.ts).
import { connectMqtt, subscribeOrFail } from '../mqtt/connect.js';
import { DEFAULT_PREFIX } from '../../core/ids.js';
import type { Registry } from '../registry/registry.js';
import { ReservingReplayStore } from './reserve.js';
import { GroupCommit } from './group.js';
import { Rejection, Verifier, VerifyResult } from './verifier.js';

export interface VerifierRunOptions {
  registry: Registry;
  brokerUrl: string;
  username: string;
  password: string;
  prefix?: string;
  onResult: (r: VerifyResult) => void;
  now?: () => number;
  /** Active devices whose record, receive state and keys are loaded before subscribing (default 10,000). */
  warm?: number;
}

export interface RunningVerifier {
  stats: VerifierStats;
  /** Transactions committed so far: group commits and reservations made at once (a new epoch). */
  commits(): number;
  close(): Promise<void>;
}

export interface VerifierStats { accepted: number; rejected: number; byReason: Record<string, number> }

/**
 * A Verifier over the registry: device records kept in memory and read again after any other process's
 * commit (so a revocation takes effect at the next frame), each accepted counter covered by a durable
 * reservation before onResult sees it, every rejection audited. close() (or replay.flush()) writes the
 * windows back exactly, so a clean restart loses nothing.
 *
 * group: the frames of one I/O turn share one transaction for their reservations and audit rows (group.ts);
 * onResult then runs after that commit, not inside handle(); frames go in through take() and `drain()` must
 * run before a close.
 * Without it every write commits inside handle() (callers that need the result at once: tests, rotate).
 */
export function registryVerifier(reg: Registry, o: { prefix?: string; now?: () => number; reserve?: number; group?: boolean; busyMs?: number; onResult?: (r: VerifyResult) => void }): {
  verifier: Verifier; stats: VerifierStats; replay: ReservingReplayStore; group: GroupCommit | null;
  /**
   * How a frame is handed over as it is read: grouped, handled with the rest of its I/O turn (below); else at
   * once. newRead false: the frame came in the same socket read as the one handed over before it.
   */
  take: (topic: string, payload: Uint8Array, newRead?: boolean) => void;
  /** Handles (and, grouped, commits and reports) the frames taken and not handled yet: before a close. */
  drain: () => void;
} {
  const stats: VerifierStats = { accepted: 0, rejected: 0, byReason: {} };
  const replay = new ReservingReplayStore(reg, o.reserve, Date.now, !!o.group);
  // The device id is only recorded when the topic carried a valid one: the topic may be hostile.
  const audit = (r: Rejection) => reg.audit({ actor: 'verifier', action: 'verify.rejected', device: r.device && r.reason !== 'unknown-device' ? r.device : undefined,
    detail: { reason: r.reason, counter: r.counter ?? null, epoch: r.epoch ?? null, ...(r.reason === 'unknown-device' ? { claimed: r.device } : {}) } });
  const deliver = (r: VerifyResult) => {
    // A device's last-seen time is written with each reservation (putReceiveState), every K frames.
    if (r.ok) stats.accepted++;
    else {
      stats.rejected++;
      stats.byReason[r.reason] = (stats.byReason[r.reason] ?? 0) + 1;
    }
    o.onResult?.(r);
  };
  const group = o.group ? new GroupCommit({ store: reg, replay, audit, deliver }) : null;
  // In memory, read again at the next frame after another process commits (a revoke, a rotation). Grouped,
  // the check runs once for the frames of one I/O turn, after the I/O phase that read them: a commit made
  // before they were read is seen by all of them, and while the registry's file watcher saw no write the
  // check asks SQLite nothing (store.ts watchWrites says why that misses no commit).
  const device = group ? (id: string) => reg.cachedDeviceRecord(id, false) : (id: string) => reg.cachedDeviceRecord(id);
  if (group) reg.watchWrites();
  const verifier = new Verifier({
    prefix: o.prefix ?? DEFAULT_PREFIX,
    now: o.now,
    devices: { device },
    // Reservation ahead (reserve.ts): one synchronous commit per K frames of a device, not per frame.
    replay,
    onResult: group ? (r) => group.add(r) : (r) => {
      if (!r.ok) audit(r);
      deliver(r);
    },
  });
  if (!group) return { verifier, stats, replay, group, take: (t, p) => verifier.handle(t, p), drain: () => {} };
  // A turn's frames are handled one of two ways, each of which sees every commit made before the frame was
  // read (docs/PROTOCOL.md, "Revocation across processes without a system call per turn"):
  // - after a pause (the last turn ended over BUSY_MS ago: a lone reading): queued, and handled together just
  //   after the I/O phase that read them (setImmediate), once the registry watcher's callbacks of that phase
  //   have run, so the check asks SQLite only if a file of the registry changed (~40 µs on a core back from idle);
  // - busy (turns back to back): handled as they are read, with one SQLite check (a few µs on a warm core)
  //   after each socket read, before its frames. libuv then reads again at once what arrived meanwhile, in
  //   large chunks: queuing every turn cost ~5 % of the end-to-end rate at saturation (docs/VERIFIER-PERF.md).
  // Either way the turn's writes commit at its end, and its frames are reported in arrival order.
  let topics: string[] = [];
  let payloads: Uint8Array[] = [];
  let inline = false;
  let lastTurn = -Infinity;
  const busyMs = o.busyMs ?? BUSY_MS;
  const turn = () => {
    const t = topics;
    const p = payloads;
    if (t.length === 0) return;
    topics = [];
    payloads = [];
    reg.checkOtherWriters(true);
    for (let i = 0; i < t.length; i++) verifier.handle(t[i], p[i]);
    group.flush();
    lastTurn = performance.now();
  };
  const endInline = () => {
    inline = false;
    group.flush();
    lastTurn = performance.now();
  };
  const take = (topic: string, payload: Uint8Array, newRead = true) => {
    if (!inline && (topics.length > 0 || performance.now() - lastTurn > busyMs)) {
      if (topics.push(topic) === 1) setImmediate(turn);
      payloads.push(payload);
      return;
    }
    if (!inline) {
      inline = true;
      setImmediate(endInline);
    }
    if (newRead) reg.checkOtherWriters();
    verifier.handle(topic, payload);
  };
  return { verifier, stats, replay, group, take, drain: () => (inline ? endInline() : turn()) };
}

/** A turn that starts within this many ms of the end of the last one handles its frames as they are read. */
export const BUSY_MS = 1;

export async function runVerifier(o: VerifierRunOptions): Promise<RunningVerifier> {
  const prefix = o.prefix ?? DEFAULT_PREFIX;
  const { verifier, stats, replay, group, take, drain } = registryVerifier(o.registry, { prefix, now: o.now, group: true, onResult: o.onResult });
  // Device records, receive states and keys loaded up front (a few hundred µs a device, most of it the secrets'
  // decryption), in slices so that the process stays responsive: otherwise the first frame of each device pays.
  const warm = o.registry.listDevices().filter((d) => d.status === 'active').slice(0, o.warm ?? 10_000);
  for (let i = 0; i < warm.length; i++) {
    verifier.warm(warm[i].id);
    if (i % 256 === 255) await new Promise((r) => setImmediate(r));
  }
  const handle = (topic: string, payload: Buffer, newRead: boolean) => take(topic, new Uint8Array(payload.buffer, payload.byteOffset, payload.length), newRead);
  const client = await connectMqtt(o.brokerUrl, {
    username: o.username, password: o.password, idPrefix: 'sealmq-verify-', what: 'verifier',
    hint: 'check the broker URL, the operator name and password (sealmq users add NAME --role viewer)',
    // Each frame handed over as it is read (host/mqtt/publish-tap.ts), not one per process.nextTick.
    onPublish: handle,
  });
  await subscribeOrFail(client, `${prefix}/+/up`, `verifier (${o.username})`);
  // What mqtt.js hands over (a retained or QoS 1 message) is checked on its own.
  client.on('message', (topic: string, payload: Buffer) => handle(topic, payload, true));
  return {
    stats,
    commits: () => group!.commits + replay.commits,
    close: () => new Promise<void>((resolve) => client.end(false, {}, () => {
      drain();
      group!.flush();
      replay.flush();
      resolve();
    })),
  };
}

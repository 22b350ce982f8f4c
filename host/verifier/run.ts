// The verifier attached to a broker: subscribes to every device's uplink as an operator, opens each frame
// with the registry's keys and replay state (covered by a durable reservation before a reading is reported,
// reserve.ts), audits rejections.
import { connectMqtt, subscribeOrFail } from '../mqtt/connect.js';
import { DEFAULT_PREFIX } from '../../core/ids.js';
import type { Registry } from '../registry/registry.js';
import { ReservingReplayStore } from './reserve.js';
import { Verifier, VerifyResult } from './verifier.js';

export interface VerifierRunOptions {
  registry: Registry;
  brokerUrl: string;
  username: string;
  password: string;
  prefix?: string;
  onResult: (r: VerifyResult) => void;
  now?: () => number;
}

export interface RunningVerifier {
  stats: VerifierStats;
  close(): Promise<void>;
}

export interface VerifierStats { accepted: number; rejected: number; byReason: Record<string, number> }

/**
 * A Verifier over the registry: device records kept in memory and read again after any other process's
 * commit (so a revocation takes effect at the next frame), each accepted counter covered by a durable
 * reservation before onResult sees it, every rejection audited. close() (or replay.flush()) writes the
 * windows back exactly, so a clean restart loses nothing.
 */
export function registryVerifier(reg: Registry, o: { prefix?: string; now?: () => number; reserve?: number; onResult?: (r: VerifyResult) => void }): { verifier: Verifier; stats: VerifierStats; replay: ReservingReplayStore } {
  const stats: VerifierStats = { accepted: 0, rejected: 0, byReason: {} };
  const replay = new ReservingReplayStore(reg, o.reserve);
  const verifier = new Verifier({
    prefix: o.prefix ?? DEFAULT_PREFIX,
    now: o.now,
    // In memory, read again at the next frame after another process commits (a revoke, a rotation).
    devices: { device: (id) => reg.cachedDeviceRecord(id) },
    // Reservation ahead (reserve.ts): one synchronous commit per K frames of a device, not per frame.
    replay,
    onResult: (r) => {
      // A device's last-seen time is written with each reservation (putReceiveState), every K frames.
      if (r.ok) stats.accepted++;
      else {
        stats.rejected++;
        stats.byReason[r.reason] = (stats.byReason[r.reason] ?? 0) + 1;
        // The device id is only recorded when the topic carried a valid one: the topic may be hostile.
        reg.audit({ actor: 'verifier', action: 'verify.rejected', device: r.device && r.reason !== 'unknown-device' ? r.device : undefined,
          detail: { reason: r.reason, counter: r.counter ?? null, epoch: r.epoch ?? null, ...(r.reason === 'unknown-device' ? { claimed: r.device } : {}) } });
      }
      o.onResult?.(r);
    },
  });
  return { verifier, stats, replay };
}

export async function runVerifier(o: VerifierRunOptions): Promise<RunningVerifier> {
  const prefix = o.prefix ?? DEFAULT_PREFIX;
  const { verifier, stats, replay } = registryVerifier(o.registry, { prefix, now: o.now, onResult: o.onResult });
  const client = await connectMqtt(o.brokerUrl, {
    username: o.username, password: o.password, idPrefix: 'sealmq-verify-', what: 'verifier',
    hint: 'check the broker URL, the operator name and password (sealmq users add NAME --role viewer)',
  });
  await subscribeOrFail(client, `${prefix}/+/up`, `verifier (${o.username})`);
  client.on('message', (topic, payload) => {
    verifier.handle(topic, new Uint8Array(payload.buffer, payload.byteOffset, payload.length));
  });
  return {
    stats,
    close: () => new Promise<void>((resolve) => client.end(false, {}, () => {
      replay.flush();
      resolve();
    })),
  };
}

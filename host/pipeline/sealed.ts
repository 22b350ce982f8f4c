// The sealed pipeline's verifier: the registry's, as `sealmq verify` runs it, on its own MQTT client, with
// each message's time and the time inside the durable writes measured (the latency bench's split).
import type { ReceiveState } from '../../core/frame.js';
import { subscribeOrFail } from '../mqtt/connect.js';
import type { Registry } from '../registry/registry.js';
import { registryVerifier } from '../verifier/run.js';
import { mqttClient } from './plain.js';
import type { Credentials, PipelineEvent, VerifierHandle } from './pipeline.js';

/** The sealed verifier (the registry's, as `sealmq verify` runs it) on its own MQTT client, timed per message. */
export async function sealedVerifierOn(reg: Registry, url: string, prefix: string, who: Credentials, now: () => number, emit: (e: PipelineEvent) => void, inMemory: boolean): Promise<VerifierHandle> {
  let durable = 0;
  let depth = 0;
  const windows = new Map<string, ReceiveState>();
  // The registry's durable writes timed on their own: the group's transaction (its COMMIT is the fsync,
  // synchronous=FULL) and a reservation made outside one.
  // Each method is wrapped once, not on every access (a registry call per frame goes through here).
  const methods = new Map<PropertyKey, unknown>();
  const wrap = (target: Registry, key: PropertyKey, v: unknown): unknown => {
    // Called for methods only (the Proxy below returns other values as they are).
    if (inMemory && key === 'getReceiveState') return (id: string, d: string) => windows.get(id + '/' + d) ?? target.getReceiveState(id, d);
    if (inMemory && key === 'reserveReceiveState') return (id: string, d: string, s: ReceiveState) => (windows.set(id + '/' + d, s), null);
    if (key !== 'reserveReceiveState' && key !== 'transaction') return (v as (...x: unknown[]) => unknown).bind(target);
    return (...a: unknown[]) => {
      const t0 = depth++ === 0 ? now() : 0;
      try {
        return (v as (...x: unknown[]) => unknown).apply(target, a);
      } finally {
        if (--depth === 0) durable += now() - t0;
      }
    };
  };
  const timed = new Proxy(reg, {
    get(target, key, recv) {
      const v = Reflect.get(target, key, recv);
      if (typeof v !== 'function') return v;
      let w = methods.get(key);
      if (w === undefined) methods.set(key, (w = wrap(target, key, v)));
      return w;
    },
  });
  // Each frame's arrival, in order: the group reports results in arrival order, one per frame.
  const arrivals: number[] = [];
  let next = 0;
  const { stats, take, drain } = registryVerifier(timed, {
    prefix, now, group: true,
    onResult: (result) => emit({ type: 'frame', mode: 'sealed', result, timing: { receivedAt: arrivals[next++], doneAt: now(), durableMs: durable } }),
  });
  const handle = (topic: string, payload: Buffer, newRead: boolean) => {
    if (next === arrivals.length) {
      // Everything taken so far is reported: the durable time from here on is this batch's.
      arrivals.length = next = 0;
      durable = 0;
    }
    arrivals.push(now());
    take(topic, new Uint8Array(payload.buffer, payload.byteOffset, payload.length), newRead);
  };
  // As `sealmq verify`: frames handed over as they are read (host/mqtt/publish-tap.ts), handled per I/O turn.
  const client = await mqttClient(url, who, 'sealmq-verify-', handle);
  await subscribeOrFail(client, `${prefix}/+/up`);
  client.on('message', (topic: string, payload: Buffer) => handle(topic, payload, true));
  return { stats, close: () => new Promise<void>((r) => client.end(false, {}, () => (drain(), r()))) };
}

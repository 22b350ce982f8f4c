// The embedded broker's short path for a logged-in session's QoS 0 PUBLISH (docs/VERIFIER-PERF.md): the
// packet guard hands it complete packets (packet-guard.ts), and a packet this module takes is checked and
// forwarded here, byte for byte, without aedes' per-message machinery (two packet objects, a series of
// callbacks, a setImmediate per subscriber, a re-encoding). Nothing of the policy is skipped:
//   - the publish is decided by the same function as aedes' authorizePublish hook, per packet; a packet it
//     refuses is not taken, so aedes refuses it as before (audit row, event, connection closed);
//   - every subscriber is one aedes registered (its subscription matcher), and each gets the packet only if
//     the same function as the authorizeForward hook allows it; once per client, as aedes' dedupe does;
//   - only exact forms are taken: type byte 0x30 (QoS 0, no DUP, no RETAIN: a retained frame goes to aedes,
//     which strips the flag and reports it), a minimal Remaining Length, a non-empty topic inside the packet.
//     What a subscriber receives is then the packet aedes would have written, byte for byte;
//   - a connection is offered packets only while aedes has nothing of it left to handle (ready()), and from
//     the first packet not taken on, the rest of a chunk goes to aedes: one connection's packets keep their order;
//   - a subscription this module cannot tie to its client (not reported by aedes' 'subscribe' event yet)
//     sends the packet to aedes, which knows it.
// A subscriber over its high-water mark holds the publisher's reading until it drains, as aedes' own wait
// for 'drain' does. The publisher's keepalive timer is refreshed as aedes refreshes it for every packet.
import type { Aedes, Client } from 'aedes';
import type { EventEmitter } from 'node:events';
import { plainPublishTopicEnd } from '../mqtt/packets.js';
import { FastPath, GuardedConnection } from './packet-guard.js';

/** What this module reads of aedes' client (aedes 1.x; not in its typings). */
interface AedesClient {
  connected: boolean;
  closed: boolean;
  conn: unknown;
  _parsingBatch: number;
  _keepaliveInterval: number;
  _keepaliveTimer: { refresh(): void } | null;
  subscriptions: Record<string, { func: unknown } | undefined>;
}

/** The broker's policy, as its aedes hooks apply it. */
export interface FastPolicy {
  /** May this client's packets be offered at all (e.g. a device's session)? */
  session(client: Client): boolean;
  /** The authorizePublish decision for this topic. */
  mayPublish(client: Client, topic: string): boolean;
  /** The authorizeForward decision: may this subscriber receive a message on this topic? */
  mayRead(client: Client, topic: string): boolean;
}

export class FastPublish implements FastPath {
  /** aedes' subscription functions → their client, from aedes' 'subscribe' events. */
  private readonly owners = new WeakMap<object, AedesClient>();
  private readonly matcher: { match(topic: string): unknown[] };
  /** Packets taken (tests, benchmarks). */
  count = 0;

  constructor(aedes: Aedes, private readonly policy: FastPolicy) {
    this.matcher = (aedes as unknown as { mq: { _matcher: { match(topic: string): unknown[] } } }).mq._matcher;
    (aedes as unknown as EventEmitter).on('subscribe', (subs: { topic: string }[], client: AedesClient) => {
      for (const s of subs) {
        const f = client.subscriptions[s.topic]?.func;
        if (typeof f === 'function') this.owners.set(f, client);
      }
    });
  }

  ready(conn: GuardedConnection): boolean {
    const c = conn.client as AedesClient | undefined;
    return !!c && c.connected && !c.closed && c._parsingBatch === 0 && conn.readableLength === 0 && this.policy.session(c as unknown as Client);
  }

  offer(conn: GuardedConnection, data: Buffer, start: number, body: number, end: number): boolean {
    // A Remaining Length in more bytes than needed goes to aedes (which re-encodes it minimally).
    if (body - start > 2 && data[body - 1] === 0) return false;
    const te = plainPublishTopicEnd(data, start, body, end);
    if (te < 0) return false;
    // latin1: one character per byte, so a non-ASCII byte can never pass for an allowed (ASCII) topic.
    const topic = data.toString('latin1', body + 2, te);
    const pub = conn.client as Client;
    if (!this.policy.mayPublish(pub, topic)) return false;
    const fns = this.matcher.match(topic);
    const to: GuardedConnection[] = [];
    for (const f of fns) {
      const c = this.owners.get(f as object);
      if (!c) return false;
      if (!c.connected || c.closed) continue;
      if (!(c.conn instanceof GuardedConnection)) return false;
      if (!this.policy.mayRead(c as unknown as Client, topic)) continue;
      if (!to.includes(c.conn)) to.push(c.conn);
    }
    const pkt = data.subarray(start, end);
    for (const s of to) if (!s.sendRaw(pkt)) s.whenWritable(conn);
    this.count++;
    return true;
  }

  taken(conn: GuardedConnection): void {
    const c = conn.client as AedesClient | undefined;
    if (c && c._keepaliveInterval > 0) c._keepaliveTimer?.refresh();
  }
}

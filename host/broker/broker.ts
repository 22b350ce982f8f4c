// The embedded broker (DESIGN.md §5, docs/BROKER.md): aedes behind sealmq's own authenticate and
// authorize functions (aedes' defaults allow everything; none of them is used), TCP_NODELAY on every
// socket, and every refusal in the audit log. A library: events go to onEvent, nothing is printed.
import { Aedes } from 'aedes';
import type { AedesPublishPacket, AuthenticateError, Client, PublishPacket, Subscription } from 'aedes';
import type { EventEmitter } from 'node:events';
import { createServer, Server, Socket } from 'node:net';
import { DEFAULT_PREFIX } from '../../core/ids.js';
import { closeBroker, listenOn } from './listen.js';
import { inputError, SealmqError } from '../errors.js';
import type { Clock, Registry } from '../registry/registry.js';
import { Authenticator, CONNACK } from './auth.js';
import { DEFAULT_MAX_PACKET, GuardedConnection } from './packet-guard.js';
import { FastPublish } from './fast-publish.js';
import { isPrefix, Principal, principalName, publishDecision, readDecision, subscribeDecision } from './policy.js';

export const DEFAULT_LISTEN = 'mqtt://127.0.0.1:1883';
const ACTOR = 'broker';

export type BrokerEventType =
  | 'listening' | 'login' | 'login-refused' | 'publish-denied' | 'subscribe-denied' | 'retain-stripped'
  | 'disconnect' | 'audit-suppressed' | 'connection-refused' | 'error';

export interface BrokerEvent {
  type: BrokerEventType;
  at: number;
  principal?: string;
  device?: string | null;
  user?: string;
  clientId?: string;
  topic?: string;
  reason?: string;
  remote?: string;
  url?: string;
  count?: number;
}

export interface BrokerOptions {
  /** An unlocked registry: the broker needs the OTP seeds (kept in memory only). */
  registry: Registry;
  /** mqtt://host:port; port 0 picks a free port. Default mqtt://127.0.0.1:1883. */
  listen?: string;
  /** Topic prefix (default 'sealmq'). */
  prefix?: string;
  clock?: Clock;
  onEvent?: (e: BrokerEvent) => void;
  /** Failed logins per user name per minute before that name is refused unchecked (default 10). */
  maxFailures?: number;
  /** Refusals written to the audit log per minute; more are counted and summarised (default 600). */
  auditPerMinute?: number;
  /** Largest MQTT packet accepted, fixed header included; a bigger one closes the connection (default 65,536). */
  maxPacketBytes?: number;
  /** A connection that has not completed its CONNECT within this time is closed (ms, default 10,000). */
  connectTimeoutMs?: number;
  /** Open connections at most; more are refused at accept (default 1,000). */
  maxConnections?: number;
  /**
   * A device's QoS 0 PUBLISH checked and forwarded by fast-publish.ts instead of aedes' per-message path (the same
   * decisions; default true). false: every packet through aedes (comparisons, tests).
   */
  fastPublish?: boolean;
}

export interface RunningBroker {
  url: string;
  host: string;
  port: number;
  /** Principals of the live connections, by client id. */
  clients(): Map<string, string>;
  /** PUBLISH packets forwarded by the short path (fast-publish.ts) so far; tests and benchmarks. */
  fastPublished(): number;
  close(): Promise<void>;
}

export function parseListen(listen: string): { host: string; port: number } {
  let u: URL;
  try {
    u = new URL(listen);
  } catch {
    throw inputError(`--listen: ${JSON.stringify(listen)} is not a URL`, 'use mqtt://HOST:PORT, e.g. mqtt://127.0.0.1:1883');
  }
  if (u.protocol !== 'mqtt:' && u.protocol !== 'tcp:') throw inputError(`--listen: only mqtt:// is supported, got ${u.protocol}//`);
  if (u.pathname && u.pathname !== '/' || u.search || u.username || u.password) throw inputError('--listen: give only mqtt://HOST:PORT');
  const host = u.hostname.replace(/^\[(.*)\]$/, '$1');
  if (!host) throw inputError('--listen: the host is missing');
  const port = u.port === '' ? 1883 : Number(u.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw inputError(`--listen: bad port ${u.port}`);
  return { host, port };
}

const clip = (s: unknown, n = 64): string => {
  const t = typeof s === 'string' ? s : String(s);
  return t.length > n ? t.slice(0, n) + '…' : t;
};

/** A cap on audit rows per minute, so a flood of bad logins cannot fill the disk; the overflow is counted. */
class AuditBudget {
  private since = 0;
  private used = 0;
  private suppressed = 0;
  constructor(private readonly perMinute: number, private readonly clock: Clock, private readonly flush: (n: number) => void) {}
  take(): boolean {
    const now = this.clock();
    if (now - this.since >= 60_000) {
      if (this.suppressed > 0) this.flush(this.suppressed);
      this.since = now;
      this.used = 0;
      this.suppressed = 0;
    }
    if (this.used < this.perMinute) {
      this.used++;
      return true;
    }
    this.suppressed++;
    return false;
  }
  close(): void {
    if (this.suppressed > 0) this.flush(this.suppressed);
    this.suppressed = 0;
  }
}

export async function startBroker(o: BrokerOptions): Promise<RunningBroker> {
  const registry = o.registry;
  if (!registry.unlocked) throw new SealmqError('auth', 'the broker needs the unlocked registry (it checks device TOTPs)');
  const prefix = o.prefix ?? DEFAULT_PREFIX;
  if (!isPrefix(prefix)) throw inputError(`--prefix: ${JSON.stringify(prefix)} is not a topic prefix`, 'plain levels of [A-Za-z0-9_-], no wildcards, no $');
  const { host, port } = parseListen(o.listen ?? DEFAULT_LISTEN);
  const clock = o.clock ?? Date.now;
  const emit = (e: Omit<BrokerEvent, 'at'>): void => {
    try {
      o.onEvent?.({ at: clock(), ...e });
    } catch { /* a listener's bug must not take the broker down */ }
  };
  const auth = new Authenticator({ registry, clock, maxFailures: o.maxFailures });
  const budget = new AuditBudget(o.auditPerMinute ?? 600, clock, (n) => {
    registry.audit({ actor: ACTOR, action: 'broker.audit.suppressed', detail: { count: n } });
    emit({ type: 'audit-suppressed', count: n });
  });
  const refusal = (action: string, device: string | null, detail: Record<string, unknown>): void => {
    if (!budget.take()) return;
    try {
      registry.audit({ actor: ACTOR, action, device, detail });
    } catch (e) {
      emit({ type: 'error', reason: 'audit failed: ' + (e as Error).message });
    }
  };

  const principals = new WeakMap<Client, Principal>();
  const connects = new WeakMap<Client, { hasWill: boolean }>();
  const maxPacket = o.maxPacketBytes ?? DEFAULT_MAX_PACKET;
  const remoteOf = (c: Client | null): string => {
    const s = c?.conn as Socket | undefined;
    return s && s.remoteAddress ? `${s.remoteAddress}:${s.remotePort}` : 'unknown';
  };

  /** The client's address without the port (a reconnect comes from a new port). */
  const sourceOf = (c: Client | null): string => (c?.conn as Socket | undefined)?.remoteAddress ?? 'unknown';

  // aedes keeps its live clients by id in .clients (not in its typings).
  const live = (): Record<string, Client> => (aedes as unknown as { clients: Record<string, Client> }).clients;
  const aedes: Aedes = await Aedes.createBroker({
    connectTimeout: o.connectTimeoutMs ?? 10_000,
    // No second queue behind aedes' own flow control (it reads a connection's next packets only once the
    // last ones were delivered, and waits for a subscriber's socket to drain): with the default of 100
    // messages in flight, a burst queued in an array drained by shift(), O(n) each (docs/VERIFIER-PERF.md).
    concurrency: 0,
    preConnect(client, packet, done) {
      connects.set(client, { hasWill: !!packet.will });
      done(null, true);
    },
    authenticate(client, username, password, done) {
      const held = client.id ? live()[client.id] : undefined;
      const holder = held && held !== client ? principals.get(held) ?? null : null;
      auth.login({
        username, password: password ? new Uint8Array(password) : undefined, clientId: client.id,
        hasWill: connects.get(client)?.hasWill ?? false, clientIdHolder: holder, source: sourceOf(client),
      }).then((r) => {
        const remote = remoteOf(client);
        if (r.ok) {
          principals.set(client, r.principal);
          const device = r.principal.kind === 'device' ? r.principal.id : null;
          if (device) registry.touchDevice(device);
          registry.audit({ actor: ACTOR, action: 'broker.login', device, detail: { principal: principalName(r.principal), clientId: clip(client.id), remote } });
          emit({ type: 'login', principal: principalName(r.principal), device, clientId: client.id, remote });
          return done(null, true);
        }
        const user = clip(username ?? '');
        if (r.reason !== 'rate-limited' || auth.firstThrottle(username ?? '', sourceOf(client))) {
          refusal('broker.login.refused', r.device, { reason: r.reason, user, clientId: clip(client.id), remote });
        }
        emit({ type: 'login-refused', reason: r.reason, user, device: r.device, clientId: clip(client.id), remote });
        const err = new Error('connection refused: ' + (r.returnCode === CONNACK.IDENTIFIER_REJECTED ? 'identifier rejected' : 'not authorized')) as AuthenticateError;
        err.returnCode = r.returnCode as AuthenticateError['returnCode'];
        done(err, null);
      }).catch((e: unknown) => {
        emit({ type: 'error', reason: 'login check failed: ' + (e as Error).message });
        const err = new Error('server unavailable') as AuthenticateError;
        err.returnCode = 3 as AuthenticateError['returnCode'];
        done(err, null);
      });
    },
    authorizePublish(client, packet: PublishPacket, done) {
      const p = client ? principals.get(client) : undefined;
      const d = p ? publishDecision(p, prefix, packet.topic) : { allow: false, reason: 'not-authenticated' };
      if (!d.allow) {
        const device = p?.kind === 'device' ? p.id : null;
        refusal('broker.publish.denied', device, { reason: d.reason, principal: p ? principalName(p) : 'none', topic: clip(packet.topic, 200) });
        emit({ type: 'publish-denied', principal: p ? principalName(p) : undefined, device, topic: clip(packet.topic, 200), reason: d.reason });
        // MQTT-3.3.5-2: MQTT 3.1.1 cannot tell a client "no" to a PUBLISH; the connection is closed.
        return done(new Error('publish not authorized'));
      }
      if (packet.retain) {
        // The broker keeps no retained state: a retained frame would be re-delivered to every new
        // subscriber, and a retained command would be acted on whenever its device next connects.
        packet.retain = false;
        emit({ type: 'retain-stripped', principal: principalName(p!), topic: packet.topic });
      }
      done(null);
    },
    authorizeSubscribe(client, sub: Subscription, done) {
      const p = principals.get(client);
      const d = p ? subscribeDecision(p, prefix, sub.topic) : { allow: false, reason: 'not-authenticated' };
      if (!d.allow) {
        const device = p?.kind === 'device' ? p.id : null;
        refusal('broker.subscribe.denied', device, { reason: d.reason, principal: p ? principalName(p) : 'none', topic: clip(sub.topic, 200) });
        emit({ type: 'subscribe-denied', principal: p ? principalName(p) : undefined, device, topic: clip(sub.topic, 200), reason: d.reason });
        // MQTT-3.9.3: a SUBACK return code of 0x80 (failure) for this filter; the connection stays up.
        return done(null, null);
      }
      done(null, sub);
    },
    authorizeForward(client, packet: AedesPublishPacket) {
      const p = principals.get(client);
      return p && readDecision(p, prefix, packet.topic).allow ? packet : null;
    },
  });

  const fast = o.fastPublish === false ? undefined : new FastPublish(aedes, {
    session: (c) => principals.get(c)?.kind === 'device',
    mayPublish: (c, topic) => {
      const p = principals.get(c);
      return !!p && publishDecision(p, prefix, topic).allow;
    },
    mayRead: (c, topic) => {
      const p = principals.get(c);
      return !!p && readDecision(p, prefix, topic).allow;
    },
  });

  aedes.on('clientDisconnect', (client) => {
    const p = principals.get(client);
    if (p) emit({ type: 'disconnect', principal: principalName(p), clientId: client.id, device: p.kind === 'device' ? p.id : null });
  });
  (aedes as unknown as EventEmitter).on('error', (e: Error) => emit({ type: 'error', reason: e.message }));

  const sockets = new Set<Socket>();
  const server: Server = createServer({ noDelay: true }, (socket) => {
    // DESIGN.md §8: no 40 ms Nagle stalls.
    socket.setNoDelay(true);
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    // Malformed or oversized packets close the connection before aedes buffers them (packet-guard.ts).
    const remote = `${socket.remoteAddress}:${socket.remotePort}`;
    aedes.handle(new GuardedConnection(socket, maxPacket, (why) => {
      refusal('broker.connection.refused', null, { reason: why, remote });
      emit({ type: 'connection-refused', reason: why, remote });
    }, fast) as unknown as Socket);
  });
  server.maxConnections = o.maxConnections ?? 1000;
  await listenOn(server, host, port, () => aedes.close());
  server.on('error', (e) => emit({ type: 'error', reason: e.message }));
  const addr = server.address();
  const boundPort = typeof addr === 'object' && addr ? addr.port : port;
  const url = `mqtt://${host.includes(':') ? `[${host}]` : host}:${boundPort}`;
  emit({ type: 'listening', url });

  let closing: Promise<void> | null = null;
  return {
    url, host, port: boundPort,
    fastPublished: () => fast?.count ?? 0,
    clients() {
      const m = new Map<string, string>();
      for (const [id, c] of Object.entries(live())) {
        const p = principals.get(c);
        if (p) m.set(id, principalName(p));
      }
      return m;
    },
    close() {
      if (!closing) {
        closing = (async () => {
          await closeBroker(aedes, server, sockets);
          budget.close();
        })();
      }
      return closing;
    },
  };
}

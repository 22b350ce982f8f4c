// The embedded broker in RESEARCH INSECURE mode (issue 5 item 1; docs/PROTOCOL.md "Research plain mode"):
// aedes with anonymous logins and no ACL, for the plain pipeline the sealed one is compared with. Refused
// unless asked for explicitly (researchInsecure: true / --research-insecure); it says so in a warning
// event on start. Loopback only. Same sockets as the real broker: TCP_NODELAY on every connection, the same
// packet guard and short path for QoS 0 PUBLISH (fast-publish.ts, with aedes' own defaults as its policy),
// so that a comparison with the sealed pipeline sees the same broker machinery on both sides.
import { Aedes } from 'aedes';
import type { EventEmitter } from 'node:events';
import { createServer, Server, Socket } from 'node:net';
import { closeBroker, listenOn } from './listen.js';
import { FastPublish } from './fast-publish.js';
import { DEFAULT_MAX_PACKET, GuardedConnection } from './packet-guard.js';
import { inputError } from '../errors.js';
import { parseListen } from './broker.js';
import { requireResearchInsecure } from '../verifier/plain.js';

export const INSECURE_WARNING = 'RESEARCH INSECURE broker: anonymous logins, no ACL, anyone may publish and read anything. For comparisons on a test bench only.';

export interface InsecureBrokerOptions {
  /** Must be true, or the broker refuses to start (exit 2). */
  researchInsecure: boolean;
  /** mqtt://127.0.0.1:PORT (loopback only); port 0 picks a free port. Default mqtt://127.0.0.1:0. */
  listen?: string;
  onEvent?: (e: { type: 'warning' | 'listening' | 'login' | 'error'; text: string; clientId?: string }) => void;
}

export interface RunningInsecureBroker {
  url: string;
  host: string;
  port: number;
  insecure: true;
  /** Live client ids (whoever they claim to be). */
  clients(): string[];
  close(): Promise<void>;
}

const PLAIN_TOPIC = /^[A-Za-z0-9_-]+(\/[A-Za-z0-9_-]+)*$/;
const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

export async function startInsecureBroker(o: InsecureBrokerOptions): Promise<RunningInsecureBroker> {
  requireResearchInsecure(o.researchInsecure, 'an anonymous broker without ACL');
  const { host, port } = parseListen(o.listen ?? 'mqtt://127.0.0.1:0');
  if (!LOOPBACK.has(host)) throw inputError(`refusing a research insecure broker on ${host}: loopback only`, 'use mqtt://127.0.0.1:PORT');
  const emit = (e: Parameters<NonNullable<InsecureBrokerOptions['onEvent']>>[0]) => {
    try {
      o.onEvent?.(e);
    } catch { /* a listener's bug must not take the broker down */ }
  };
  emit({ type: 'warning', text: INSECURE_WARNING });
  // aedes' defaults: every login, publish, subscribe and delivery allowed. That is the point here.
  const aedes: Aedes = await Aedes.createBroker({ connectTimeout: 10_000, concurrency: 0 });
  // aedes' defaults as the short path's policy: anyone publishes anywhere but '$' topics, anyone reads. Only plain
  // topic levels are taken (no wildcard, ASCII): anything else goes through aedes, which decides as it always did.
  const fast = new FastPublish(aedes, {
    session: () => true,
    mayPublish: (_c, topic) => PLAIN_TOPIC.test(topic),
    mayRead: () => true,
  });
  aedes.on('client', (c) => emit({ type: 'login', text: `anonymous client ${c.id}`, clientId: c.id }));
  (aedes as unknown as EventEmitter).on('error', (e: Error) => emit({ type: 'error', text: e.message }));
  const sockets = new Set<Socket>();
  const server: Server = createServer({ noDelay: true }, (socket) => {
    socket.setNoDelay(true);
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    aedes.handle(new GuardedConnection(socket, DEFAULT_MAX_PACKET, () => {}, fast) as unknown as Socket);
  });
  await listenOn(server, host, port, () => aedes.close());
  const addr = server.address();
  const boundPort = typeof addr === 'object' && addr ? addr.port : port;
  const url = `mqtt://${host.includes(':') ? `[${host}]` : host}:${boundPort}`;
  emit({ type: 'listening', text: `RESEARCH INSECURE broker on ${url}` });
  let closing: Promise<void> | null = null;
  return {
    url, host, port: boundPort, insecure: true,
    clients: () => Object.keys((aedes as unknown as { clients: Record<string, unknown> }).clients),
    close() {
      if (!closing) {
        closing = (async () => {
          await closeBroker(aedes, server, sockets);
        })();
      }
      return closing;
    },
  };
}

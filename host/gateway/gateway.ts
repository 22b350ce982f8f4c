// `sealmq gateway` as a library: relays the MQTT byte stream of a board without a network (its UART: a
// serial device, or tcp://HOST:PORT for QEMU's -serial tcp:…,server, ser2net or an emulated board) to a
// broker, one broker connection per board session (docs/PROTOCOL.md, "MQTT over a UART"; framing.ts).
//
// It is untrusted like the broker (docs/SECURITY.md): it sees sealed frames and one-time TOTP logins,
// never a key, and reads nothing but MQTT fixed headers (and a CONNECT's client id, for its log).
//
// - A CONNECT from the board opens a broker connection (closing the previous one); the board's packets go
//   to it whole, the broker's come back whole.
// - The broker closes (or cannot be reached, or sends what the board cannot take): the gateway sends the
//   board 0x00, which the firmware's splitter treats as malformed: it drops its session and redials.
// - The board sends 0x00 (its end()): the broker connection is closed.
// - Garbage, an oversize packet or a packet that stalls half-way from the board: that session is dropped
//   (0x00 to the board) and the gateway waits for the next CONNECT.
// - The UART goes away: the gateway reopens it with back-off; on every (re)open it sends 0x00, so a board
//   that still believes in a session from before redials at once.
// - Broker connections that fail in a row are spaced out with back-off too.
//
// Libraries never print: everything is an event (onEvent); errors are SealmqError (host/errors.ts).
import { connect as tcpConnect, type Socket } from 'node:net';
import { deviceError, usageError } from '../errors.js';
import type { ConsoleLink } from '../link/console-link.js';
import { SerialLink } from '../link/serial-link.js';
import { TcpLink } from '../link/tcp-link.js';
import { BoardStream, BrokerStream, DEFAULT_MAX_PACKET, END_BYTE, type EndReason } from './framing.js';

export interface GatewayOptions {
  /** The board's UART: tcp://HOST:PORT, a serial device path (/dev/ttyUSB1) or serial:PATH?baud=N. */
  uart: string;
  /** The broker: mqtt://HOST:PORT (or tcp://HOST:PORT). */
  broker: string;
  /** Serial baud rate for a device path (default 115200; must match the board profile's uart.baud). */
  baud?: number;
  /** Largest Remaining Length relayed either way (default 2048, the firmware's limit). */
  maxPacket?: number;
  /** A packet from the board begun but not finished within this long ends the session (default 5000 ms). */
  stallMs?: number;
  /** Back-off bounds for reopening the UART and for broker connections that keep failing (ms). */
  retryMinMs?: number;
  retryMaxMs?: number;
  /** Broker connect timeout (default 5000 ms). */
  connectTimeoutMs?: number;
  onEvent?: (e: GatewayEvent) => void;
}

export interface Traffic {
  bytes: number;
  packets: number;
}

/** Why a session ended. */
export type SessionEnd =
  | EndReason // board-end (the board's 0x00), malformed, oversize (from the board)
  | 'reconnect' // the board sent a new CONNECT
  | 'broker-closed'
  | 'broker-unreachable'
  | 'broker-malformed'
  | 'broker-oversize'
  | 'stalled'
  | 'backlog' // the broker connection was not up in time for what the board kept sending
  | 'uart-closed'
  | 'stopped';

export type GatewayEvent =
  | { type: 'uart-open'; uart: string }
  | { type: 'uart-closed'; uart: string; error?: string; retryInMs?: number }
  | { type: 'uart-retry'; uart: string; error: string; retryInMs: number }
  | { type: 'session-open'; session: number; clientId: string | null; broker: string }
  | {
      type: 'session-closed'; session: number; clientId: string | null; reason: SessionEnd; seconds: number;
      toBroker: Traffic; toBoard: Traffic;
    }
  | { type: 'skipped'; bytes: number }
  | { type: 'stopped'; stats: GatewayStats };

export interface GatewayStats {
  sessions: number;
  /** Sessions whose broker connection got as far as being connected. */
  connected: number;
  toBroker: Traffic;
  toBoard: Traffic;
  /** Bytes from the board outside any session that were not a CONNECT. */
  skipped: number;
  uartOpens: number;
}

export interface Gateway {
  readonly uart: string;
  readonly broker: string;
  stats(): GatewayStats;
  /** Ends the session, closes the broker connection and the UART; nothing is reopened. */
  stop(): Promise<void>;
}

interface Session {
  id: number;
  clientId: string | null;
  /** The broker connection (undefined while a back-off holds the dial). */
  sock?: Socket;
  hold?: NodeJS.Timeout;
  connected: boolean;
  /** The board ended the session before its broker connection was up: send what it sent, then close. */
  flushThenEnd?: boolean;
  /** Packets for the broker while it is being connected. */
  queue: Buffer[];
  queued: number;
  fromBroker: BrokerStream;
  toBroker: Traffic;
  toBoard: Traffic;
  t0: number;
  over: boolean;
}

/** Most bytes held for a broker connection still being made (a board sends a CONNECT, then little). */
const BACKLOG_BYTES = 16 * 1024;

export function parseBrokerUrl(url: string): { host: string; port: number } {
  const m = /^(?:mqtt|tcp):\/\/(\[[^\]]+\]|[^:/@]+)(?::(\d+))?\/?$/.exec(url);
  if (!m || (m[2] !== undefined && (Number(m[2]) < 1 || Number(m[2]) > 65535))) {
    throw usageError(`--broker: expected mqtt://HOST:PORT, got ${JSON.stringify(url)}`, 'e.g. mqtt://127.0.0.1:1883');
  }
  return { host: m[1].replace(/^\[|\]$/g, ''), port: m[2] === undefined ? 1883 : Number(m[2]) };
}

/** The UART link a URL names, transparent (no XON/XOFF: the MQTT stream is binary). */
export function uartLink(url: string, baud?: number, connectTimeoutMs = 5000): ConsoleLink {
  if (url.startsWith('tcp://')) return new TcpLink(url, connectTimeoutMs, { xonXoff: false });
  if (url.startsWith('serial:') || url.startsWith('/') || url.startsWith('.') || /^COM\d+$/i.test(url)) return new SerialLink(url, baud, { xonXoff: false });
  throw usageError(`--uart: expected tcp://HOST:PORT or a serial device path, got ${JSON.stringify(url)}`, 'e.g. tcp://127.0.0.1:4001 or /dev/ttyUSB1');
}

/**
 * Opens the UART (throws SealmqError('device') if it cannot: nothing else is started then) and relays
 * until stop(). Later losses of the UART or the broker are retried, reported as events.
 */
export async function startGateway(o: GatewayOptions): Promise<Gateway> {
  const brokerAt = parseBrokerUrl(o.broker);
  const max = o.maxPacket ?? DEFAULT_MAX_PACKET;
  const stallMs = o.stallMs ?? 5000;
  const retryMin = o.retryMinMs ?? 250;
  const retryMax = o.retryMaxMs ?? 5000;
  const connectTimeoutMs = o.connectTimeoutMs ?? 5000;
  const emit = (e: GatewayEvent) => {
    try {
      o.onEvent?.(e);
    } catch { /* a listener's bug must not stop the relay */ }
  };
  const stats: GatewayStats = { sessions: 0, connected: 0, toBroker: { bytes: 0, packets: 0 }, toBoard: { bytes: 0, packets: 0 }, skipped: 0, uartOpens: 0 };
  const board = new BoardStream(max);
  let link: ConsoleLink | undefined;
  let session: Session | undefined;
  let stopped = false;
  let uartTimer: NodeJS.Timeout | undefined;
  let uartTries = 0;
  let brokerFails = 0;
  let stallTimer: NodeJS.Timeout | undefined;
  let nextId = 0;

  const backoff = (n: number) => Math.min(retryMax, retryMin * 2 ** n);

  const toUart = (b: Buffer) => {
    if (link?.isOpen) link.write(b).catch(() => undefined);
  };

  const endSession = (reason: SessionEnd, tellBoard: boolean) => {
    const s = session;
    if (!s) return;
    session = undefined;
    s.over = true;
    if (s.hold) clearTimeout(s.hold);
    // end(), not destroy(): packets already written (the board's last frames before its 0x00) still reach the
    // broker; a board that ends while its broker connection is still being made has them sent once it is.
    if (s.sock && !s.connected && reason === 'board-end') s.flushThenEnd = true;
    else if (s.sock) closeGently(s.sock);
    if (reason !== 'board-end' && reason !== 'reconnect') board.endSession();
    if (tellBoard) toUart(Buffer.from([END_BYTE]));
    if (reason === 'broker-unreachable') brokerFails++;
    emit({ type: 'session-closed', session: s.id, clientId: s.clientId, reason, seconds: (Date.now() - s.t0) / 1000, toBroker: s.toBroker, toBoard: s.toBoard });
  };

  const closeGently = (c: Socket) => {
    c.end();
    setTimeout(() => c.destroy(), 2000).unref();
  };

  const toBroker = (s: Session, p: Buffer) => {
    s.toBroker.bytes += p.length;
    s.toBroker.packets++;
    stats.toBroker.bytes += p.length;
    stats.toBroker.packets++;
    if (s.connected && s.sock) s.sock.write(p);
    else {
      s.queue.push(p);
      s.queued += p.length;
      if (s.queued > BACKLOG_BYTES) endSession('backlog', true);
    }
  };

  const openSession = (connectPacket: Buffer, clientId: string | null) => {
    if (session) endSession('reconnect', false);
    const id = ++nextId;
    stats.sessions++;
    const s: Session = {
      id, clientId, connected: false, queue: [], queued: 0, fromBroker: new BrokerStream(max),
      toBroker: { bytes: 0, packets: 0 }, toBoard: { bytes: 0, packets: 0 }, t0: Date.now(), over: false,
    };
    const dial = () => {
      s.hold = undefined;
      if (s.over) return;
      const c = tcpConnect({ host: brokerAt.host, port: brokerAt.port });
      s.sock = c;
      c.setNoDelay(true);
      const t = setTimeout(() => {
        if (s.connected) return;
        if (s.over) c.destroy();
        else endSession('broker-unreachable', true);
      }, connectTimeoutMs);
      c.on('connect', () => {
        clearTimeout(t);
        if (s.over && s.flushThenEnd) {
          for (const p of s.queue) c.write(p);
          return closeGently(c);
        }
        if (s.over) return void c.destroy();
        s.connected = true;
        stats.connected++;
        brokerFails = 0;
        emit({ type: 'session-open', session: id, clientId, broker: o.broker });
        for (const p of s.queue) c.write(p);
        s.queue = [];
        s.queued = 0;
      });
      c.on('data', (d: Buffer) => {
        if (s.over) return;
        for (const a of s.fromBroker.push(d)) {
          if (a.type === 'end') return endSession(a.reason === 'oversize' ? 'broker-oversize' : 'broker-malformed', true);
          s.toBoard.bytes += a.packet.length;
          s.toBoard.packets++;
          stats.toBoard.bytes += a.packet.length;
          stats.toBoard.packets++;
          toUart(a.packet);
        }
      });
      c.on('error', () => undefined);
      c.on('close', () => {
        clearTimeout(t);
        if (s.over || session !== s) return;
        endSession(s.connected ? 'broker-closed' : 'broker-unreachable', true);
      });
    };
    session = s;
    // Broker connections failing in a row are spaced out; the CONNECT waits (the board's own timeout is 10 s).
    const wait = brokerFails ? backoff(brokerFails - 1) : 0;
    if (wait) s.hold = setTimeout(dial, wait);
    else dial();
    toBroker(s, connectPacket);
  };

  const armStall = () => {
    if (stallTimer) clearTimeout(stallTimer);
    stallTimer = undefined;
    if (board.pending && board.inSession) {
      stallTimer = setTimeout(() => {
        stallTimer = undefined;
        if (board.pending && board.inSession) {
          board.clear();
          endSession('stalled', true);
        }
      }, stallMs);
    }
  };

  const fromUart = (d: Uint8Array) => {
    if (stopped) return;
    for (const a of board.push(Buffer.from(d.buffer, d.byteOffset, d.byteLength))) {
      if (a.type === 'skip') {
        stats.skipped += a.bytes;
        emit({ type: 'skipped', bytes: a.bytes });
      } else if (a.type === 'connect') openSession(a.packet, a.clientId);
      else if (a.type === 'packet') {
        if (session) toBroker(session, a.packet);
      } else endSession(a.reason, a.reason !== 'board-end');
    }
    armStall();
  };

  const openUart = async (): Promise<void> => {
    const l = uartLink(o.uart, o.baud);
    await l.open();
    if (stopped) return void (await l.close());
    link = l;
    uartTries = 0;
    stats.uartOpens++;
    board.clear();
    l.onData(fromUart);
    l.onClose((err) => {
      if (link !== l) return;
      link = undefined;
      endSession('uart-closed', false);
      board.clear();
      if (stopped) return;
      const wait = backoff(uartTries++);
      emit({ type: 'uart-closed', uart: o.uart, error: err?.message, retryInMs: wait });
      uartTimer = setTimeout(retryUart, wait);
    });
    emit({ type: 'uart-open', uart: o.uart });
    // Whatever session the board believed in before this cable is gone: tell it, so it redials now.
    toUart(Buffer.from([END_BYTE]));
  };

  const retryUart = () => {
    uartTimer = undefined;
    if (stopped) return;
    openUart().catch((e) => {
      if (stopped) return;
      const wait = backoff(uartTries++);
      emit({ type: 'uart-retry', uart: o.uart, error: (e as Error).message, retryInMs: wait });
      uartTimer = setTimeout(retryUart, wait);
    });
  };

  try {
    await openUart();
  } catch (e) {
    if ((e as { kind?: string }).kind === 'usage') throw e;
    // The link's own message speaks of a console; say which cable this is.
    const cause = (e as { cause?: NodeJS.ErrnoException }).cause;
    const why = cause?.code ?? (e as Error).message.replace(/^cannot (?:connect to|open) the (?:console at|serial port) \S+: /, '');
    throw deviceError(`cannot open the UART ${o.uart}: ${why}`, o.uart.startsWith('tcp://')
      ? 'is the board (QEMU, ser2net, sealmq emulate --uart) listening there?'
      : 'is the board plugged in, and the path right? list ports with `ls /dev/tty*`', e);
  }

  const snapshot = (): GatewayStats => ({ ...stats, toBroker: { ...stats.toBroker }, toBoard: { ...stats.toBoard } });
  return {
    uart: o.uart,
    broker: o.broker,
    stats: snapshot,
    async stop() {
      if (stopped) return;
      stopped = true;
      if (uartTimer) clearTimeout(uartTimer);
      if (stallTimer) clearTimeout(stallTimer);
      // The board is told its session is over (it redials, and finds a gateway again when one is back).
      if (session) endSession('stopped', true);
      const l = link;
      link = undefined;
      if (l) {
        await new Promise((r) => setTimeout(r, 20));
        await l.close();
      }
      emit({ type: 'stopped', stats: snapshot() });
    },
  };
}

// Espruino's packet protocol (firmware 2v25+; README_Protocol.md, src/jsinteractive.c), the host's side:
// DLE SOH, a 16-bit big-endian header (3 bits type, 13 bits length, so at most 8191 data bytes), the data;
// the board answers ACK (0x06) or NAK (0x15). A file goes as FILE_SEND {fn,s} then DATA packets, each
// ACKed before the next is sent, so the board is never fed faster than it stores (no REPL echo, no string
// escaping, no JS parser in the loop). EVAL runs an expression and answers ACK and a RESPONSE packet.
//
// Failure handling: the board NAKs a packet not complete within 5 s (2v29) and closes a file left idle for
// 10 s. A NAK or a missing answer is retried from FILE_SEND (offset 0 re-creates the file), because a
// DATA packet whose ACK was lost may have been stored already and resending it alone would shift the file.
// A FILE_SEND that gets no answer at all means the firmware does not speak packets: PacketUnsupported, so
// the caller can fall back to REPL writes. Either way the caller verifies the stored file by hash: 2v29
// ACKs a DATA packet even when its flash write failed.
import { deviceError, SealmqError } from '../errors.js';
import type { ConsoleLink } from './console-link.js';

const DLE = 0x10;
const SOH = 0x01;
const ACK = 0x06;
const NAK = 0x15;

export const PACKET_TYPES = { RESPONSE: 0x0000, EVAL: 0x2000, EVENT: 0x4000, FILE_SEND: 0x6000, DATA: 0x8000, FILE_RECV: 0xa000 } as const;
export type PacketTypeName = keyof typeof PACKET_TYPES;
export const MAX_PACKET_DATA = 0x1fff;

/** The board did not answer the first packet at all: its firmware has no packet protocol (before 2v25). */
export class PacketUnsupported extends SealmqError {
  constructor(url: string) {
    super('device', `the board on ${url} did not answer a packet (firmware before 2v25, or packets disabled)`, { hint: 'sealmq falls back to REPL writes' });
  }
}

/** Firmware versions like "2v25", "2v29.12", "2v29-emu": true from 2v25 on. */
export function firmwareHasPackets(version: string | null | undefined): boolean {
  const m = /^(\d+)v(\d+)/.exec(version ?? '');
  return !!m && (Number(m[1]) > 2 || (Number(m[1]) === 2 && Number(m[2]) >= 25));
}

/**
 * A packet length whose low byte is not 3 (Ctrl-C) or 4 (Ctrl-D). The header is seen by the console's
 * receive interrupt before the interpreter knows a packet has started, so a 0x03 there can break running
 * code, and Espruino's Linux build exits on it (a second Ctrl-C within 5 s) or on 0x04. Lengths are at most
 * 2 bytes shorter than asked for; what is left goes in the next packet.
 */
export function safePacketLength(n: number): number {
  const lo = n & 255;
  return lo === 3 || lo === 4 ? n - 2 : n;
}

/** The bytes of one packet. */
export function encodePacket(type: PacketTypeName, data: Uint8Array): Uint8Array {
  if (data.length > MAX_PACKET_DATA) throw new RangeError(`packet data is ${data.length} bytes; at most ${MAX_PACKET_DATA}`);
  const h = PACKET_TYPES[type] | data.length;
  const out = new Uint8Array(4 + data.length);
  out.set([DLE, SOH, h >> 8, h & 255]);
  out.set(data, 4);
  return out;
}

export interface PacketOptions {
  /** Data bytes per DATA packet (default 1024, as EspruinoTools; at most 8191). */
  chunkSize?: number;
  /** How long to wait for the ACK of the first packet before deciding the board has no packets (ms, default 2000). */
  firstAckTimeoutMs?: number;
  /** How long to wait for each later ACK (ms, default 6000: longer than the board's own 5 s packet timeout, so its NAK comes first); as long again for a late answer before giving up. */
  ackTimeoutMs?: number;
  /** Whole-file attempts after a NAK or a lost answer (default 3). */
  attempts?: number;
  onProgress?: (sent: number, total: number) => void;
}

type Answer = { kind: 'ack' } | { kind: 'nak' } | { kind: 'packet'; type: number; data: Uint8Array } | { kind: 'timeout' } | { kind: 'closed'; err?: Error };

/**
 * Reads ACK, NAK and packets out of the console stream while a packet exchange is running. Other bytes (log
 * lines, prompts) are left to whoever else listens to the link; the REPL client ignores stray ACKs.
 */
class AnswerReader {
  private queue: Answer[] = [];
  private waiter: ((a: Answer) => void) | undefined;
  private pkt: { state: 'dle' | 'soh' | 'hi' | 'lo' | 'data'; h: number; data: number[] } = { state: 'dle', h: 0, data: [] };
  private readonly unsub: (() => void)[];

  constructor(private readonly link: ConsoleLink) {
    this.unsub = [link.onData((d) => this.data(d)), link.onClose((err) => this.push({ kind: 'closed', err }))];
  }

  next(timeoutMs: number): Promise<Answer> {
    const q = this.queue.shift();
    if (q) return Promise.resolve(q);
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.waiter = undefined;
        resolve({ kind: 'timeout' });
      }, timeoutMs);
      this.waiter = (a) => {
        clearTimeout(t);
        this.waiter = undefined;
        resolve(a);
      };
    });
  }

  /** Forgets answers that came late (after a timeout), before a fresh attempt. */
  drain(): void {
    this.queue = [];
  }

  close(): void {
    for (const u of this.unsub) u();
  }

  private push(a: Answer): void {
    if (this.waiter) this.waiter(a);
    else this.queue.push(a);
  }

  private data(d: Uint8Array): void {
    const p = this.pkt;
    for (const c of d) {
      if (p.state === 'hi') { p.h = c << 8; p.state = 'lo'; continue; }
      if (p.state === 'lo') {
        p.h |= c;
        p.data = [];
        if ((p.h & MAX_PACKET_DATA) === 0) { this.push({ kind: 'packet', type: p.h & 0xe000, data: new Uint8Array(0) }); p.state = 'dle'; } else p.state = 'data';
        continue;
      }
      if (p.state === 'data') {
        // The board puts "\r" before each "\n" of a packet it sends without counting it (jsiConsolePrintStringVar).
        if (c === 13) continue;
        p.data.push(c);
        if (p.data.length >= (p.h & MAX_PACKET_DATA)) { this.push({ kind: 'packet', type: p.h & 0xe000, data: Uint8Array.from(p.data) }); p.state = 'dle'; }
        continue;
      }
      if (p.state === 'soh') {
        if (c === SOH) { p.state = 'hi'; continue; }
        p.state = 'dle';
      }
      if (c === DLE) p.state = 'soh';
      else if (c === ACK) this.push({ kind: 'ack' });
      else if (c === NAK) this.push({ kind: 'nak' });
    }
  }
}

const why = (a: Answer, ms: number) => (a.kind === 'nak' ? 'the board answered NAK' : a.kind === 'timeout' ? `no ACK within ${ms} ms` : a.kind === 'closed' ? 'the link closed' : 'an unexpected packet');

export interface PacketSendResult {
  /** Attempts it took (1 when all went through first time). */
  attempts: number;
  packets: number;
}

/**
 * Sends a file into the board's Storage with FILE_SEND + DATA packets, each waiting for its ACK.
 * Throws PacketUnsupported if the very first FILE_SEND is not answered at all.
 */
export async function sendFilePackets(link: ConsoleLink, name: string, contents: Uint8Array, o: PacketOptions = {}): Promise<PacketSendResult> {
  const chunk = Math.min(MAX_PACKET_DATA, Math.max(1, o.chunkSize ?? 1024));
  const firstMs = o.firstAckTimeoutMs ?? 2000;
  const ackMs = o.ackTimeoutMs ?? 6000;
  const attempts = Math.max(1, o.attempts ?? 3);
  let json = JSON.stringify({ fn: name, s: contents.length });
  if (safePacketLength(json.length) !== json.length) json = json.replace('{', '{  ');
  const header = new Uint8Array(Buffer.from(json, 'latin1'));
  const reader = new AnswerReader(link);
  let packets = 0;
  let lastWhy = '';
  try {
    for (let attempt = 1; attempt <= attempts; attempt++) {
      reader.drain();
      await link.write(encodePacket('FILE_SEND', header));
      packets++;
      const first = await reader.next(attempt === 1 ? firstMs : ackMs);
      if (first.kind === 'timeout' && attempt === 1) throw new PacketUnsupported(link.url);
      if (first.kind === 'closed') throw deviceError(`the board on ${link.url} went away during the packet transfer of ${name}`, 'check the cable and run the command again');
      if (first.kind !== 'ack') { lastWhy = `FILE_SEND: ${why(first, ackMs)}`; continue; }
      let ok = true;
      for (let off = 0; off < contents.length; ) {
        const part = contents.subarray(off, off + safePacketLength(Math.min(chunk, contents.length - off)));
        await link.write(encodePacket('DATA', part));
        packets++;
        const a = await reader.next(ackMs);
        if (a.kind === 'closed') throw deviceError(`the board on ${link.url} went away during the packet transfer of ${name}`, 'check the cable and run the command again');
        if (a.kind === 'timeout') {
          // A board that lost part of the packet NAKs it after its own 5 s timeout; a busy one ACKs late.
          // Either way it is alive: start again. Silence means it is gone.
          const late = await reader.next(ackMs);
          if (late.kind === 'timeout' || late.kind === 'closed') throw deviceError(`the board on ${link.url} stopped answering during the packet transfer of ${name} (no ACK for the DATA at offset ${off} within ${2 * ackMs} ms)`, 'check the board and the cable, then run the command again');
          lastWhy = `DATA at offset ${off}: answered only after ${ackMs} ms`;
          ok = false;
          break;
        }
        if (a.kind !== 'ack') {
          lastWhy = `DATA at offset ${off}: ${why(a, ackMs)}`;
          ok = false;
          break;
        }
        off += part.length;
        o.onProgress?.(off, contents.length);
      }
      if (ok) return { attempts: attempt, packets };
    }
  } finally {
    reader.close();
  }
  throw deviceError(`the packet transfer of ${name} to ${link.url} failed ${attempts} times (last: ${lastWhy})`, 'check the cable, then run the command again');
}

/** Runs an EVAL packet and returns the board's RESPONSE (E.toJS of the result) as text. */
export async function evalPacket(link: ConsoleLink, expr: string, o: { timeoutMs?: number } = {}): Promise<string> {
  const ms = o.timeoutMs ?? 2000;
  const reader = new AnswerReader(link);
  try {
    const e = safePacketLength(expr.length) === expr.length ? expr : expr + '  ';
    await link.write(encodePacket('EVAL', new Uint8Array(Buffer.from(e, 'latin1'))));
    const a = await reader.next(ms);
    if (a.kind === 'timeout') throw new PacketUnsupported(link.url);
    if (a.kind === 'nak') throw deviceError(`the board on ${link.url} could not evaluate ${JSON.stringify(expr)} (NAK)`);
    if (a.kind !== 'ack') throw deviceError(`the board on ${link.url} answered an EVAL packet with ${why(a, ms)}`);
    const r = await reader.next(ms);
    if (r.kind !== 'packet' || r.type !== PACKET_TYPES.RESPONSE) throw deviceError(`the board on ${link.url} sent no RESPONSE packet for ${JSON.stringify(expr)} (${why(r, ms)})`);
    return Buffer.from(r.data).toString('latin1');
  } finally {
    reader.close();
  }
}

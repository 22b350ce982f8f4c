// Espruino's packet protocol (2v25+, README_Protocol.md and src/jsinteractive.c in Espruino 2v29), the board's
// side: DLE SOH, a 16-bit header (3 bits type, 13 bits length), then the data. The board answers ACK (0x06)
// or NAK (0x15); EVAL also answers a RESPONSE packet, FILE_RECV DATA packets. Byte for byte where a host
// program could notice, including the quirks:
// - a packet not complete within 5 s is NAKed and dropped (2v29; the README still says 2 s);
// - a file transfer left idle for 10 s is closed, so later DATA packets are NAKed;
// - DATA is written with jsfWriteFile(name, data, offset, size) and ACKed even when that write fails (2v29 ORs
//   the result into a flag that starts true): only a read-back hash tells a failed write;
// - packets the board sends go through jsiConsolePrintStringVar, which puts "\r" before every "\n" without
//   counting it in the header;
// - Ctrl-C inside a packet is data, not a break.
// Heatshrink-compressed transfers ({c:1}, 2v29) and the FAT filesystem ({fs:1}) are not emulated: NAKed.

export const DLE = 0x10;
export const SOH = 0x01;
export const ACK = 0x06;
export const NAK = 0x15;

export const enum PacketType {
  RESPONSE = 0x0000,
  EVAL = 0x2000,
  EVENT = 0x4000,
  FILE_SEND = 0x6000,
  DATA = 0x8000,
  FILE_RECV = 0xa000,
}

/** What a packet needs from the board. Strings are byte strings (one char per byte). */
export interface PacketHost {
  /** Raw console output (no "\n" → "\r\n" conversion). */
  out(bytes: string): void;
  /** jsfWriteFile; throws on failure. */
  storageWrite(name: string, data: Uint8Array, offset: number, size: number): void;
  storageRead(name: string): Uint8Array | undefined;
  /** Evaluates an expression; throws what the code throws. */
  evaluate(expr: string): unknown;
  /** Prints an uncaught error the way the REPL does. */
  reportError(e: unknown): void;
  /** E.emit('packet', obj); false if the board could not run it. */
  emitPacket(obj: unknown): boolean;
}

/** Espruino 2v29 timeouts (ms). */
export const PACKET_TIMEOUT_MS = 5000;
export const FILE_TIMEOUT_MS = 10000;

interface OpenFile {
  fn: string;
  size: number;
  offset: number;
}

/** Firmware versions like "2v25", "2v29.12", "2v29-emu": true from 2v25 on. */
export function versionHasPackets(version: string | undefined | null): boolean {
  const m = /^(\d+)v(\d+)/.exec(version ?? '');
  return !!m && (Number(m[1]) > 2 || (Number(m[1]) === 2 && Number(m[2]) >= 25));
}

/** jswrap_json_parse_liberal: JSON whose field names may be unquoted; undefined if it is not an object. */
export function parseLiberal(text: string): Record<string, unknown> | undefined {
  try {
    const v = JSON.parse(text.replace(/([{,]\s*)([A-Za-z_$][\w$]*)\s*:/g, '$1"$2":'));
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? v : undefined;
  } catch {
    return undefined;
  }
}

/** E.toJS for the values an EVAL can return (functions as a placeholder). */
export function toJS(v: unknown, seen = new Set<unknown>()): string {
  if (v === undefined) return 'undefined';
  if (v === null) return 'null';
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : Number.isNaN(v) ? 'NaN' : v > 0 ? 'Infinity' : '-Infinity';
  if (typeof v === 'boolean') return String(v);
  if (typeof v === 'string') return JSON.stringify(v).replace(/[\u007f-\u00ff]/g, (c) => '\\x' + c.charCodeAt(0).toString(16).padStart(2, '0'));
  if (typeof v === 'function') return 'function(){}';
  if (typeof v !== 'object' || seen.has(v)) return 'undefined';
  seen.add(v);
  if (ArrayBuffer.isView(v)) return `new ${v.constructor.name}([${Array.from(v as unknown as ArrayLike<number>).join(',')}])`;
  if (Array.isArray(v)) return '[' + v.map((x) => toJS(x, seen)).join(',') + ']';
  const body = Object.keys(v as object).map((k) => (/^[A-Za-z_$][\w$]*$/.test(k) ? k : JSON.stringify(k)) + ':' + toJS((v as Record<string, unknown>)[k], seen));
  return '{' + body.join(',') + '}';
}

const bytes = (s: string) => new Uint8Array(Buffer.from(s, 'latin1'));

/**
 * The receiving state machine. The REPL calls start() on DLE SOH and hands it every byte while `active`.
 * One per boot: a reset forgets an open transfer, as Espruino's hidden variables go with it.
 */
export class PacketReceiver {
  private state: 'idle' | 'hi' | 'lo' | 'data' = 'idle';
  private header = 0;
  private data: number[] = [];
  private packetTimer: NodeJS.Timeout | undefined;
  private file: OpenFile | undefined;
  private fileTimer: NodeJS.Timeout | undefined;
  private disposed = false;

  constructor(private readonly host: PacketHost) {}

  get active(): boolean {
    return this.state !== 'idle';
  }

  /** DLE SOH arrived (jsiPacketStart). */
  start(): void {
    if (this.disposed) return;
    this.state = 'hi';
    this.data = [];
    clearTimeout(this.packetTimer);
    this.packetTimer = setTimeout(() => {
      // jsiPacketTimeoutHandler
      this.host.out(String.fromCharCode(NAK));
      this.exit();
    }, PACKET_TIMEOUT_MS);
  }

  input(ch: number): void {
    if (this.state === 'hi') {
      this.header = ch << 8;
      this.state = 'lo';
    } else if (this.state === 'lo') {
      this.header |= ch;
      if ((this.header & 0x1fff) === 0) this.process();
      else this.state = 'data';
    } else if (this.state === 'data') {
      this.data.push(ch);
      if (this.data.length >= (this.header & 0x1fff)) this.process();
    }
  }

  /** Power cut or reboot: no timer of this board's may fire again. */
  dispose(): void {
    this.disposed = true;
    clearTimeout(this.packetTimer);
    clearTimeout(this.fileTimer);
    this.state = 'idle';
    this.file = undefined;
  }

  private exit(): void {
    clearTimeout(this.packetTimer);
    this.packetTimer = undefined;
    this.state = 'idle';
    this.data = [];
  }

  private reply(type: PacketType, payload: string): void {
    const n = type | payload.length;
    this.host.out(String.fromCharCode(DLE, SOH, n >> 8, n & 255) + payload.replace(/\n/g, '\r\n'));
  }

  private closeFile(): void {
    this.file = undefined;
    clearTimeout(this.fileTimer);
    this.fileTimer = undefined;
  }

  private fileTimeout(): void {
    clearTimeout(this.fileTimer);
    this.fileTimer = setTimeout(() => this.closeFile(), FILE_TIMEOUT_MS);
  }

  /** jsiPacketProcess. */
  private process(): void {
    const type = this.header & 0xe000;
    const text = Buffer.from(this.data).toString('latin1');
    const out = (ok: boolean) => this.host.out(String.fromCharCode(ok ? ACK : NAK));
    this.exit();
    if (this.disposed) return;
    if (type === PacketType.EVAL) {
      let v: unknown;
      try {
        v = this.host.evaluate(text);
      } catch (e) {
        out(false);
        this.host.reportError(e);
        return;
      }
      out(true);
      this.reply(PacketType.RESPONSE, toJS(v));
    } else if (type === PacketType.EVENT) {
      const r = parseLiberal(text);
      out(!!r && this.host.emitPacket(r));
    } else if (type === PacketType.FILE_RECV) {
      const r = parseLiberal(text);
      const f = r && typeof r.fn === 'string' && !r.fs ? this.host.storageRead(r.fn) : undefined;
      if (!f) return out(false);
      out(true);
      const s = Buffer.from(f).toString('latin1');
      for (let i = 0; i < s.length; i += 1024) this.reply(PacketType.DATA, s.slice(i, i + 1024));
      this.reply(PacketType.DATA, '');
    } else if (type === PacketType.FILE_SEND) {
      this.closeFile();
      const r = parseLiberal(text);
      const size = r ? Math.trunc(Number(r.s)) : 0;
      const ok = !!r && typeof r.fn === 'string' && Number.isFinite(size) && size !== 0 && !r.fs && !r.c;
      if (ok) {
        this.file = { fn: r!.fn as string, size, offset: 0 };
        this.fileTimeout();
      }
      out(ok);
    } else if (type === PacketType.DATA) {
      const f = this.file;
      if (!f) return out(false);
      try {
        this.host.storageWrite(f.fn, bytes(text), f.offset, f.size);
      } catch {
        // Espruino 2v29 ACKs anyway (see the top of this file).
      }
      f.offset += text.length;
      if (f.offset >= f.size) this.closeFile();
      else this.fileTimeout();
      out(true);
    } else out(false);
  }
}

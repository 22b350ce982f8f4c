// Moving files into a board's Storage, two ways:
// - packets (firmware 2v25+, packet.ts): FILE_SEND + DATA packets, each ACKed; binary, no escaping, no parser;
// - REPL writes, as the Espruino IDE did before 2v25: Storage.write(name, chunk, offset, total), where the
//   first chunk (offset 0) creates a file of `total` bytes and later chunks fill it in.
// 'auto' asks the board its version (process.env.VERSION) and uses packets from 2v25 on; a board that does
// not answer the first packet gets REPL writes instead. Re-running after a dropped cable is safe both ways:
// offset 0 re-creates the file (jsfWriteFile), and an identical file already there costs no flash write.
// What was stored is then checked by hash (readBackHash): SHA-256 computed on the board if it has
// require("crypto"), else read back; callers must not trust an ACK alone.
import { createHash } from 'node:crypto';
import { deviceError, inputError } from '../errors.js';
import { firmwareHasPackets, PacketUnsupported, sendFilePackets, type PacketOptions } from './packet.js';
import { byteStringLiteral, type Repl } from './repl.js';

export type TransferMethod = 'packet' | 'repl';

export interface UploadOptions {
  /** Bytes per Storage.write call (default 512) or per DATA packet (default 1024). */
  chunkSize?: number;
  /** Called after each chunk with bytes stored so far and the total. */
  onProgress?: (sent: number, total: number) => void;
  /** 'auto' (default): packets where the firmware has them, else REPL writes. 'packet' fails if it has not. */
  transfer?: 'auto' | TransferMethod;
  /** Packet timeouts and retries (packet.ts). */
  packet?: Omit<PacketOptions, 'chunkSize' | 'onProgress'>;
}

export interface UploadResult {
  method: TransferMethod;
  /** Why packets were not used, when 'auto' fell back to REPL writes. */
  fallback?: string;
}

/** What each board (one Repl per connection) said about packets, so the version is asked once. */
const packetSupport = new WeakMap<Repl, { ok: boolean; why: string }>();

/** Whether the board on this REPL speaks Espruino's packet protocol, by its firmware version. */
export async function packetCapability(repl: Repl): Promise<{ ok: boolean; why: string }> {
  const known = packetSupport.get(repl);
  if (known) return known;
  let version: unknown;
  try {
    version = await repl.eval('process.env.VERSION');
  } catch {
    version = undefined;
  }
  const v = typeof version === 'string' ? version : null;
  const r = firmwareHasPackets(v) ? { ok: true, why: `firmware ${v}` } : { ok: false, why: `firmware ${v ?? 'version unknown'} is before 2v25` };
  packetSupport.set(repl, r);
  return r;
}

/** Espruino 2v05+ file names: up to 28 characters. */
const MAX_NAME = 28;

function checkName(name: string): void {
  if (!name || name.length > MAX_NAME || /[\x00-\x1f"\\]/.test(name)) throw inputError(`Storage file name ${JSON.stringify(name)}: must be 1..${MAX_NAME} printable characters`);
}

const bytesOf = (c: Uint8Array | string) => (typeof c === 'string' ? new Uint8Array(Buffer.from(c, 'latin1')) : c);

/** Writes `contents` (bytes, or a string of byte chars) to Storage file `name` on the board. */
export async function uploadFile(repl: Repl, name: string, contents: Uint8Array | string, opts: UploadOptions = {}): Promise<UploadResult> {
  checkName(name);
  const data = bytesOf(contents);
  if (data.length === 0) throw inputError(`cannot store an empty file ${JSON.stringify(name)}: Espruino has no zero-length files`);
  const mode = opts.transfer ?? 'auto';
  let fallback: string | undefined;
  if (mode !== 'repl') {
    const cap = mode === 'packet' ? { ok: true, why: 'asked for' } : await packetCapability(repl);
    if (cap.ok) {
      try {
        await sendFilePackets(repl.link, name, data, { ...opts.packet, chunkSize: opts.chunkSize, onProgress: opts.onProgress });
        return { method: 'packet' };
      } catch (e) {
        if (!(e instanceof PacketUnsupported) || mode === 'packet') throw e;
        packetSupport.set(repl, { ok: false, why: 'the board did not answer a packet' });
        fallback = `${cap.why}, but the board did not answer a packet`;
        // Whatever the packet left on the board's input line goes with one Ctrl-C.
        await repl.sync();
      }
    } else fallback = cap.why;
  }
  await uploadRepl(repl, name, data, opts);
  return fallback === undefined ? { method: 'repl' } : { method: 'repl', fallback };
}

async function uploadRepl(repl: Repl, name: string, data: Uint8Array, opts: UploadOptions): Promise<void> {
  const chunk = opts.chunkSize ?? 512;
  const n = JSON.stringify(name);
  for (let off = 0; off < data.length; off += chunk) {
    const part = data.subarray(off, Math.min(data.length, off + chunk));
    const lines = await repl.run(`print(require("Storage").write(${n},${byteStringLiteral(part)},${off},${data.length}))`);
    if (lines[lines.length - 1] !== 'true') throw deviceError(`the board on ${repl.link.url} did not store ${name} at offset ${off} (it said ${JSON.stringify(lines.join(' '))})`);
    opts.onProgress?.(off + part.length, data.length);
  }
}

export interface StoredHash {
  /** SHA-256 of the file's bytes as stored, hex. */
  sha256: string;
  size: number;
  /** How it was computed: on the board with require("crypto"), or on the host from a read-back. */
  method: 'board-crypto' | 'read-back';
}

/** SHA-256 of a stored file (undefined if there is no such file). */
export async function readBackHash(repl: Repl, name: string, opts: { chunkSize?: number } = {}): Promise<StoredHash | undefined> {
  checkName(name);
  const n = JSON.stringify(name);
  const [head] = await repl.run(
    `var __f=require("Storage").read(${n});if(__f===undefined)print("none");else{var __c;try{__c=require("crypto")}catch(e){}` +
      `print(__f.length+" "+(__c?btoa(E.toString(__c.SHA256(__f))):"-"))}delete __f;delete __c;`,
  );
  if (head === undefined) throw deviceError(`the board on ${repl.link.url} did not answer the hash of ${name}`);
  if (head === 'none') return undefined;
  const [sizeText, b64] = head.split(' ');
  const size = Number(sizeText);
  if (b64 && b64 !== '-') return { sha256: Buffer.from(b64, 'base64').toString('hex'), size, method: 'board-crypto' };
  const chunk = opts.chunkSize ?? 768;
  const h = createHash('sha256');
  for (let off = 0; off < size; off += chunk) {
    const [part] = await repl.run(`print(btoa(require("Storage").read(${n},${off},${Math.min(chunk, size - off)})))`);
    h.update(Buffer.from(part ?? '', 'base64'));
  }
  return { sha256: h.digest('hex'), size, method: 'read-back' };
}

/** SHA-256 of bytes on the host, for comparing with readBackHash. */
export function sha256Hex(contents: Uint8Array | string): string {
  return createHash('sha256').update(bytesOf(contents)).digest('hex');
}

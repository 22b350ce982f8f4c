// The emulated board's flash: an append-only journal of file operations kept in one host file, replayed
// at boot, the way Espruino's Storage is a journaling store (src/jsflash.c): a write never edits old
// records, it appends a new one. Each record is [u32 length][u32 CRC-32][payload], written with one
// write() and made durable (fdatasync) before the Storage call returns. At boot the journal is read up
// to the first record that is short or fails its CRC; that tail is a torn write and is cut off, so a
// power cut mid-write leaves the file's previous contents, never a half-written file that reads as valid.
import { closeSync, existsSync, fdatasyncSync, fsyncSync, openSync, readFileSync, renameSync, writeSync, ftruncateSync } from 'node:fs';
import { dirname } from 'node:path';

const MAGIC = Buffer.from('sealmq-emulated-flash v1\n', 'latin1');
const HEADER = 8;

/** Operations a record holds; each is applied whole or (torn) not at all. */
export type FlashOp =
  | { op: 'create'; name: string; size: number; data: Uint8Array }
  | { op: 'patch'; name: string; offset: number; data: Uint8Array }
  | { op: 'erase'; name: string }
  | { op: 'eraseAll' };

const OP_CODE = { create: 1, patch: 2, erase: 3, eraseAll: 4 } as const;

let CRC_TABLE: Uint32Array | undefined;
/** CRC-32 (IEEE 802.3, reflected, as zlib), enough to tell a torn or rotten record from a whole one. */
export function crc32(b: Uint8Array): number {
  if (!CRC_TABLE) {
    CRC_TABLE = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      CRC_TABLE[n] = c >>> 0;
    }
  }
  let c = 0xffffffff;
  for (let i = 0; i < b.length; i++) c = CRC_TABLE[(c ^ b[i]) & 255] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function encodeOp(o: FlashOp): Buffer {
  const name = 'name' in o ? Buffer.from(o.name, 'latin1') : Buffer.alloc(0);
  const data = 'data' in o ? o.data : new Uint8Array(0);
  const p = Buffer.alloc(1 + 1 + name.length + 8 + data.length);
  let i = 0;
  p[i++] = OP_CODE[o.op];
  p[i++] = name.length;
  name.copy(p, i);
  i += name.length;
  p.writeUInt32LE(o.op === 'create' ? o.size : o.op === 'patch' ? o.offset : 0, i);
  p.writeUInt32LE(data.length, i + 4);
  i += 8;
  p.set(data, i);
  return p;
}

function decodeOp(p: Buffer): FlashOp | undefined {
  if (p.length < 10) return undefined;
  const code = p[0];
  const nameLen = p[1];
  if (p.length < 10 + nameLen) return undefined;
  const name = p.toString('latin1', 2, 2 + nameLen);
  const n = p.readUInt32LE(2 + nameLen);
  const len = p.readUInt32LE(6 + nameLen);
  const data = new Uint8Array(p.subarray(10 + nameLen, 10 + nameLen + len));
  if (data.length !== len) return undefined;
  if (code === 1) return { op: 'create', name, size: n, data };
  if (code === 2) return { op: 'patch', name, offset: n, data };
  if (code === 3) return { op: 'erase', name };
  if (code === 4) return { op: 'eraseAll' };
  return undefined;
}

/** A record as bytes: length, CRC, payload. */
function frameRecord(payload: Buffer): Buffer {
  const r = Buffer.alloc(HEADER + payload.length);
  r.writeUInt32LE(payload.length, 0);
  r.writeUInt32LE(crc32(payload), 4);
  payload.copy(r, HEADER);
  return r;
}

/** Applies one operation to an in-memory file table (erased bytes are 0xFF, as in NOR flash). */
export function applyOp(files: Map<string, Uint8Array>, o: FlashOp): void {
  if (o.op === 'eraseAll') files.clear();
  else if (o.op === 'erase') files.delete(o.name);
  else if (o.op === 'create') {
    const f = new Uint8Array(o.size).fill(0xff);
    f.set(o.data.subarray(0, o.size));
    files.delete(o.name); // a re-created file moves to the end of flash, as in Espruino's list() order
    files.set(o.name, f);
  } else {
    const f = files.get(o.name);
    if (f) f.set(o.data.subarray(0, Math.max(0, f.length - o.offset)), o.offset);
  }
}

export interface TornWrite {
  /** How many bytes of the next record reach the flash (clamped to 0..length-1). */
  bytes: (recordLength: number) => number;
  /** Called once the partial record is on disk: the power is gone. */
  onCut: () => void;
}

/** Thrown by append() when an armed torn write cut the power: nothing after it may run. */
export class PowerCutError extends Error {
  constructor() {
    super('power cut during a flash write');
    this.name = 'PowerCutError';
  }
}

export class FlashJournal {
  /** Records written whole since this journal was opened (flash wear, for the power-cut campaign). */
  appends = 0;
  readonly path: string;
  readonly files = new Map<string, Uint8Array>();
  private fd: number;
  private size = 0;
  private torn: TornWrite | undefined;
  /** Bytes dropped from the end at boot (a torn record); 0 on a clean flash. */
  readonly recoveredTail: number;

  constructor(path: string) {
    this.path = path;
    const fresh = !existsSync(path);
    this.fd = openSync(path, fresh ? 'w+' : 'r+');
    let good = MAGIC.length;
    let total = 0;
    if (fresh) {
      writeSync(this.fd, MAGIC, 0, MAGIC.length, 0);
      fdatasyncSync(this.fd);
      syncDir(path);
    } else {
      const all = readFileSync(path);
      total = all.length;
      if (all.length < MAGIC.length || !all.subarray(0, MAGIC.length).equals(MAGIC)) {
        closeSync(this.fd);
        throw new Error(`${path} is not an emulated flash file (expected it to start with "${MAGIC.toString().trim()}")`);
      }
      let i = MAGIC.length;
      while (i + HEADER <= all.length) {
        const len = all.readUInt32LE(i);
        const crc = all.readUInt32LE(i + 4);
        if (i + HEADER + len > all.length) break;
        const payload = all.subarray(i + HEADER, i + HEADER + len);
        if (crc32(payload) !== crc) break;
        const o = decodeOp(payload);
        if (!o) break;
        applyOp(this.files, o);
        i += HEADER + len;
      }
      good = i;
    }
    this.recoveredTail = fresh ? 0 : total - good;
    if (this.recoveredTail > 0) {
      // The tail is a torn record: cut it off so the next record starts on a clean boundary.
      ftruncateSync(this.fd, good);
      fdatasyncSync(this.fd);
    }
    this.size = good;
  }

  /** Journal bytes in use (header + records), what Storage.getFree() counts against capacity. */
  get used(): number {
    return this.size;
  }

  /** Bytes one operation would add to the journal. */
  static recordSize(o: FlashOp): number {
    return HEADER + encodeOp(o).length;
  }

  /** Arms a torn write: the next append() lands only partially, then the power is cut. */
  armTornWrite(t: TornWrite): void {
    this.torn = t;
  }

  get tornArmed(): boolean {
    return this.torn !== undefined;
  }

  /** Appends one operation durably, then applies it. */
  append(o: FlashOp): void {
    const rec = frameRecord(encodeOp(o));
    const torn = this.torn;
    if (torn) {
      this.torn = undefined;
      const n = Math.max(0, Math.min(rec.length - 1, Math.floor(torn.bytes(rec.length))));
      if (n > 0) writeSync(this.fd, rec, 0, n, this.size);
      fdatasyncSync(this.fd);
      this.size += n;
      torn.onCut();
      throw new PowerCutError();
    }
    writeSync(this.fd, rec, 0, rec.length, this.size);
    fdatasyncSync(this.fd);
    this.size += rec.length;
    this.appends++;
    applyOp(this.files, o);
  }

  /**
   * Rewrites the journal as one record per live file, into a new file renamed over the old one, so a
   * cut during compaction leaves either the old journal or the new one (rename is atomic on POSIX).
   */
  compact(): void {
    const tmp = this.path + '.compact';
    const fd = openSync(tmp, 'w');
    let size = 0;
    const put = (b: Buffer) => {
      writeSync(fd, b, 0, b.length, size);
      size += b.length;
    };
    put(MAGIC);
    for (const [name, data] of this.files) put(frameRecord(encodeOp({ op: 'create', name, size: data.length, data })));
    fdatasyncSync(fd);
    closeSync(fd);
    renameSync(tmp, this.path);
    syncDir(this.path);
    closeSync(this.fd);
    this.fd = openSync(this.path, 'r+');
    this.size = size;
  }

  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }
}

/** Makes a create/rename durable: the directory entry must reach the disk too. */
function syncDir(file: string): void {
  try {
    const d = openSync(dirname(file), 'r');
    try {
      fsyncSync(d);
    } finally {
      closeSync(d);
    }
  } catch {
    // Some filesystems refuse fsync on a directory; the data itself is already synced.
  }
}

// require("Storage") with Espruino's semantics (src/jswrap_storage.c, jsfWriteFile in src/jsflash.c):
// names up to 28 chars, write(name, data, offset, size) creating a file of `size` bytes of 0xFF at offset
// 0 and filling it later without overwriting written bytes, an identical rewrite costing no flash, reads
// returning binary strings. Files live in a FlashJournal so every write is durable before it returns.
import { FlashJournal, type FlashOp } from './flash-journal.js';
import { binaryString, bytesOf, type Realm } from './realm.js';
import { parseLiberal, stringifyForStorage } from './espruino-json.js';

/** Espruino 2v05+ keeps 28 chars of a file name (JsfFileName). */
export const MAX_NAME = 28;

export class StorageError extends Error {}

export class BoardStorage {
  constructor(
    readonly journal: FlashJournal,
    /** Flash bytes the board gives Storage (board profile); the journal must fit in it. */
    readonly capacity: number,
  ) {}

  static nameOf(name: unknown): string {
    return String(name).slice(0, MAX_NAME);
  }

  get(name: string): Uint8Array | undefined {
    return this.journal.files.get(BoardStorage.nameOf(name));
  }

  /** jsfWriteFile: true on success; throws StorageError with Espruino's message where Espruino throws. */
  write(rawName: unknown, data: Uint8Array, offset = 0, size = 0): boolean {
    if (offset < 0 || size < 0) return false;
    const name = BoardStorage.nameOf(rawName);
    if (!name) throw new StorageError('Invalid filename');
    if (size === 0) size = data.length;
    if (!size) throw new StorageError("Can't create zero length file");
    const file = this.journal.files.get(name);
    const erased = (f: Uint8Array, from: number, n: number) => {
      for (let i = from; i < from + n; i++) if (f[i] !== 0xff) return false;
      return true;
    };
    if ((!file && offset === 0) || (file && offset === 0 && (size !== file.length || !erased(file, 0, file.length)))) {
      if (file && size === file.length && data.length === size && Buffer.from(file).equals(Buffer.from(data))) return true;
      this.append({ op: 'create', name, size, data });
      return true;
    }
    if (!file) throw new StorageError('Unable to find or create file');
    if (offset + data.length > file.length) throw new StorageError('Too much data for file size');
    if (!erased(file, offset, data.length)) throw new StorageError('File already written with different data');
    this.append({ op: 'patch', name, offset, data });
    return true;
  }

  erase(rawName: unknown): void {
    const name = BoardStorage.nameOf(rawName);
    if (this.journal.files.has(name)) this.append({ op: 'erase', name });
  }

  eraseAll(): void {
    this.append({ op: 'eraseAll' });
    this.journal.compact();
  }

  list(): string[] {
    return [...this.journal.files.keys()];
  }

  getFree(): number {
    return Math.max(0, this.capacity - this.journal.used);
  }

  compact(): void {
    this.journal.compact();
  }

  /** Appends, compacting first when the journal would outgrow the flash (as Espruino compacts when full). */
  private append(o: FlashOp): void {
    const need = FlashJournal.recordSize(o);
    if (this.journal.used + need > this.capacity) this.journal.compact();
    if (this.journal.used + need > this.capacity) throw new StorageError('Unable to find or create file');
    this.journal.append(o);
  }
}

/** The object `require("Storage")` returns inside the sandbox. */
export function storageModule(storage: BoardStorage, realm: Realm, guard: <T>(f: () => T) => T): Record<string, unknown> {
  const rethrow = (e: unknown): never => {
    if (e instanceof StorageError) throw realm.error('Error', e.message);
    throw e;
  };
  const n = realm.native;
  const readText = (name: unknown) => {
    const f = storage.get(String(name));
    return f === undefined ? undefined : binaryString(f);
  };
  return realm.object({
    read: n((name: unknown, offset?: unknown, length?: unknown) => guard(() => {
      const f = storage.get(String(name));
      if (f === undefined) return undefined;
      const o = Math.max(0, Math.floor(Number(offset) || 0));
      const l = Math.floor(Number(length) || 0);
      return binaryString(f.subarray(o, l > 0 ? o + l : f.length));
    })),
    readJSON: n((name: unknown, noExceptions?: unknown) => guard(() => {
      const t = readText(name);
      if (t === undefined) return undefined;
      try {
        return parseLiberal(t, { object: () => realm.object({}), array: () => realm.array([]) });
      } catch (e) {
        if (noExceptions) return undefined;
        throw realm.error('SyntaxError', (e as Error).message);
      }
    })),
    readArrayBuffer: n((name: unknown) => guard(() => {
      const f = storage.get(String(name));
      return f === undefined ? undefined : realm.arrayBuffer(f);
    })),
    write: n((name: unknown, data: unknown, offset?: unknown, size?: unknown) => guard(() => {
      try {
        let bytes: Uint8Array | undefined;
        let off = Math.floor(Number(offset) || 0);
        let sz = Math.floor(Number(size) || 0);
        const plainObject = data !== null && typeof data === 'object' && !Array.isArray(data) && !ArrayBuffer.isView(data) &&
          Object.prototype.toString.call(data) !== '[object ArrayBuffer]';
        if (plainObject) {
          // Espruino writes a plain object as its JSON text, always as a whole new file.
          bytes = bytesOf(String(realm.global.JSON.stringify(data)));
          off = 0;
          sz = 0;
        } else bytes = bytesOf(data === undefined ? '' : data);
        if (!bytes) throw new StorageError("Can't get pointer to data to write");
        return storage.write(name, bytes, off, sz);
      } catch (e) {
        return rethrow(e);
      }
    })),
    writeJSON: n((name: unknown, data: unknown) => guard(() => {
      try {
        return storage.write(name, bytesOf(stringifyForStorage(data) ?? '')!, 0, 0);
      } catch (e) {
        return rethrow(e);
      }
    })),
    erase: n((name: unknown) => guard(() => storage.erase(name))),
    eraseAll: n(() => guard(() => storage.eraseAll())),
    list: n((regex?: unknown) => guard(() => {
      let names = storage.list();
      if (regex !== undefined && regex !== null) names = names.filter((x) => x.match(regex as RegExp) !== null);
      return realm.array(names);
    })),
    getFree: n(() => guard(() => storage.getFree())),
    compact: n(() => guard(() => storage.compact())),
    getStats: n(() => guard(() => realm.object({
      totalBytes: storage.capacity,
      freeBytes: storage.getFree(),
      fileBytes: storage.list().reduce((s, k) => s + (storage.get(k)?.length ?? 0), 0),
      fileCount: storage.list().length,
      trashBytes: 0,
      trashCount: 0,
    }))),
  });
}

/**
 * What a boot runs, in order, as Espruino's jsfLoadBootCodeFromFlash does: .bootPowerOn at the first boot
 * after power-on, .boot0….boot3 at every boot, then the boot code ("boot code"): load(file)'s file, else
 * .bootrst always and .bootcde unless this is a reset().
 */
export function bootFiles(storage: BoardStorage, kind: 'power' | 'load' | 'reset', file?: string): { name: string; code: Uint8Array }[] {
  const out: { name: string; code: Uint8Array }[] = [];
  for (const name of [...(kind === 'power' ? ['.bootPowerOn'] : []), '.boot0', '.boot1', '.boot2', '.boot3']) {
    const code = storage.get(name);
    if (code) out.push({ name, code });
  }
  const boot = file !== undefined ? storage.get(file) : storage.get('.bootrst') ?? (kind === 'reset' ? undefined : storage.get('.bootcde'));
  if (boot) out.push({ name: 'boot code', code: boot });
  return out;
}

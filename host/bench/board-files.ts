// The bench's own files on a board's Storage (host/bench/crypto.ts, footprint.ts): stored only where there
// is room, checked by hash, erased when done.
import { deviceError } from '../errors.js';
import type { Repl } from '../link/repl.js';
import { readBackHash, sha256Hex, uploadFile } from '../link/storage-files.js';

/** Espruino's Storage.getStats(): bytes in live files, free at the end, and in erased files a compaction gives back. */
interface StorageStats {
  totalBytes: number;
  freeBytes: number;
  fileBytes: number;
  fileCount: number;
  trashBytes: number;
  trashCount: number;
}

const storageStats = (repl: Repl) => repl.eval<StorageStats | null>('require("Storage").getStats?require("Storage").getStats():null');

/**
 * Writes one of the bench's files to the board's Storage and checks it is there, byte for byte. Espruino
 * stores a file as a 32-byte header and its bytes rounded up to 4; when that does not fit in the free space
 * at the end, the board compacts (drops erased files) or, if even that is not enough, prints "Unable to find
 * or create file" for every packet while the packet transfer itself still completes, so the upload alone
 * proves nothing (a QEMU board's whole Storage is 64 KB). Room is checked first and the result read back by
 * hash: no room, or a file that is not what was sent, is an error that says so.
 */
export async function storeBenchFile(repl: Repl, name: string, code: string): Promise<void> {
  const bytes = Buffer.byteLength(code, 'latin1');
  const need = 32 + ((bytes + 3) & ~3);
  const s0 = await storageStats(repl);
  const state = (s: StorageStats) => `${s.totalBytes} bytes of Storage: ${s.fileBytes} in ${s.fileCount} files, ${s.freeBytes} free, ${s.trashBytes} in erased files`;
  if (s0 && s0.freeBytes + s0.trashBytes < need) {
    const files = await repl.eval<string[]>('require("Storage").list()');
    throw deviceError(`the board on ${repl.link.url} has no room in its Storage for ${name} (${bytes} bytes, ${need} stored): ${state(s0)} (${files.join(', ')})`, 'erase files from the board (sealmq flash leaves only the firmware) and run the bench again');
  }
  if (s0 && s0.freeBytes < need) await repl.run('require("Storage").compact()', { timeoutMs: 60_000 });
  await uploadFile(repl, name, code);
  const got = await readBackHash(repl, name);
  if (!got || got.sha256 !== sha256Hex(code)) {
    const s1 = await storageStats(repl);
    throw deviceError(`the board on ${repl.link.url} did not store ${name} (${bytes} bytes): ${got ? `it holds ${got.size} bytes that differ` : 'no such file after the upload'}${s1 ? `; ${state(s1)}` : ''}`);
  }
}

/** Erases one of the bench's own files (after a reset(), so no function still runs from it). */
export const eraseBenchFile = (repl: Repl, name: string) => repl.run(`require("Storage").erase(${JSON.stringify(name)})`);


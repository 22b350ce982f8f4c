/**
 * makeSuite turns a raw AES-128-CBC and a SHA-256 into the protocol core's primitives
 * (core/primitives.ts) and holds every implementation to the core's contract: key and IV of 16 bytes,
 * data a non-empty multiple of 16 (checked BEFORE the call: Espruino's native AES prints an error and
 * returns undefined otherwise), a result of the same length (checked AFTER), else it throws.
 */
import { CorePrimitives, Hash } from '../core/primitives.js';

/** AES-128-CBC without padding; may return undefined or an ArrayBuffer on failure or success. */
export type RawCbc = (dec: boolean, key: Uint8Array, iv: Uint8Array, data: Uint8Array) => ArrayBuffer | Uint8Array | undefined;

export const makeSuite = (aes: RawCbc, sha256: Hash): CorePrimitives => {
  const cbc = (dec: boolean) => (k: Uint8Array, iv: Uint8Array, d: Uint8Array) => {
    const n = d.length;
    const r = k.length === 16 && iv.length === 16 && n && !(n & 15) ? aes(dec, k, iv, d) : undefined;
    if (!r || r.byteLength !== n) throw new Error('aes');
    return new Uint8Array(r);
  };
  return { sha256: sha256, cbcEncrypt: cbc(false), cbcDecrypt: cbc(true) };
};

/**
 * makeSuite turns a raw AES-128-CBC and a SHA-256 into the protocol core's primitives
 * (core/primitives.ts) and holds every implementation to the core's contract: key and IV of 16 bytes,
 * data a non-empty multiple of 16 (checked BEFORE the call: Espruino's native AES prints an error and
 * returns undefined otherwise), a result of the same length (checked AFTER), else it throws.
 * It also gives the core a faster HMAC-SHA256 (RFC 2104) that keeps the last key's padded blocks: on
 * Espruino the core's byte loops over ipad/opad cost more than the two native SHA-256 calls.
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
  // The last key's inner pad, and the outer hash's input (opad ‖ inner hash) with its opad already in place.
  let key: Uint8Array | undefined;
  let ipad: Uint8Array;
  let outer: Uint8Array;
  const hmacSha256 = (k: Uint8Array, m: Uint8Array) => {
    if (k !== key) {
      const kk = k.length > 64 ? sha256(k) : k;
      ipad = new Uint8Array(64);
      outer = new Uint8Array(96);
      for (let i = 0; i < 64; i++) {
        ipad[i] = kk[i] ^ 0x36;
        outer[i] = kk[i] ^ 0x5c;
      }
      key = k;
    }
    const a = new Uint8Array(64 + m.length);
    a.set(ipad);
    a.set(m, 64);
    outer.set(sha256(a), 64);
    return sha256(outer);
  };
  return { sha256: sha256, cbcEncrypt: cbc(false), cbcDecrypt: cbc(true), hmacSha256: hmacSha256 };
};

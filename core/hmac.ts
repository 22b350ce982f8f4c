import { Hash } from './primitives.js';

/**
 * HMAC (RFC 2104) over any block hash. Espruino's crypto module has SHA1/SHA256 but no HMAC, so the
 * board builds it here. blockSize is 64 for SHA-1/SHA-256, 128 for SHA-512.
 */
export function hmac(hash: Hash, blockSize: number, key: Uint8Array, msg: Uint8Array): Uint8Array {
  let k = key;
  if (k.length > blockSize) k = hash(k);
  const ipad = new Uint8Array(blockSize + msg.length);
  const opad = new Uint8Array(blockSize + 64);
  for (let i = 0; i < blockSize; i++) {
    const b = i < k.length ? k[i] : 0;
    ipad[i] = b ^ 0x36;
    opad[i] = b ^ 0x5c;
  }
  ipad.set(msg, blockSize);
  const inner = hash(ipad);
  const o = opad.subarray(0, blockSize + inner.length);
  o.set(inner, blockSize);
  return hash(o);
}

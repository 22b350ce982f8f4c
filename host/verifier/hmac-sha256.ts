// HMAC-SHA256 for the verifier's hot path, with each key's inner and outer midstates computed once
// (RFC 2104 §4: "the intermediate results of the compression function on the B-byte blocks (K XOR ipad)
// and (K XOR opad) can be precomputed only once"). node:crypto has no way to keep a keyed HMAC state
// (createHmac re-hashes both pads and allocates three objects per call: ~4 µs of an ~11 µs frame); a frame's
// tag here costs three SHA-256 compressions in JavaScript (host/protocol/sha256.ts).
// test/verifier-fast.test.ts checks it against node:crypto (FIPS 180-4 / RFC 4231 vectors, random keys
// and lengths, keys overwritten in place).

import { compress, digestInto, digestOf, IV, sha256 } from '../protocol/sha256.js';

/** Tail blocks scratch: up to two blocks of message end + 0x80 + zeros + 64-bit length. */
const TAIL = new Uint8Array(128);
/** The outer hash's single block: inner digest ‖ 0x80 ‖ zeros ‖ length (64 + 32 bytes = 768 bits). */
const OUTER = new Uint8Array(64);
OUTER[32] = 0x80;
OUTER[62] = 0x03;
const ST = new Int32Array(8);

/** SHA-256 of (one already-compressed 64-byte block, then m), continuing from midstate `mid`, into ST. */
function hashFrom(mid: Int32Array, m: Uint8Array): void {
  ST.set(mid);
  const full = m.length & ~63;
  for (let o = 0; o < full; o += 64) compress(ST, m, o);
  const rest = m.length - full;
  TAIL.fill(0);
  for (let i = 0; i < rest; i++) TAIL[i] = m[full + i];
  TAIL[rest] = 0x80;
  const blocks = rest + 9 > 64 ? 2 : 1;
  // Bit length of (64-byte pad block ‖ m); m is at most 2^29 bytes here, so 32 bits of bytes×8 do.
  const bits = (64 + m.length) * 8;
  const end = blocks * 64;
  TAIL[end - 5] = Math.floor(bits / 0x100000000) & 0xff;
  TAIL[end - 4] = (bits >>> 24) & 0xff;
  TAIL[end - 3] = (bits >>> 16) & 0xff;
  TAIL[end - 2] = (bits >>> 8) & 0xff;
  TAIL[end - 1] = bits & 0xff;
  compress(ST, TAIL, 0);
  if (blocks === 2) compress(ST, TAIL, 64);
}

/** A key's precomputed HMAC midstates, with a copy of the key they came from. */
interface Midstates {
  key: Uint8Array;
  inner: Int32Array;
  outer: Int32Array;
}

function midstates(key: Uint8Array): Midstates {
  const k = new Uint8Array(64);
  if (key.length > 64) {
    // A long key is hashed first (RFC 2104 §2); the verifier's keys are 32 bytes, this is for completeness.
    const h = sha256(key);
    k.set(h);
  } else k.set(key);
  const pad = new Uint8Array(64);
  const inner = new Int32Array(IV);
  const outer = new Int32Array(IV);
  for (let i = 0; i < 64; i++) pad[i] = k[i] ^ 0x36;
  compress(inner, pad, 0);
  for (let i = 0; i < 64; i++) pad[i] = k[i] ^ 0x5c;
  compress(outer, pad, 0);
  k.fill(0);
  pad.fill(0);
  return { key: new Uint8Array(key), inner, outer };
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i] ^ b[i];
  return d === 0;
}

/**
 * An HMAC-SHA256 function (core/primitives.ts `hmacSha256`) that keeps each key's midstates in a WeakMap
 * keyed by the key array (they go when the caller drops the key) and uses them only while the array still
 * holds the bytes they were made from: a key overwritten in place gets new midstates, never stale ones.
 */
export function cachingHmacSha256(): (key: Uint8Array, data: Uint8Array) => Uint8Array {
  const cache = new WeakMap<Uint8Array, Midstates>();
  return (key, data) => {
    let m = cache.get(key);
    if (!m || !sameBytes(m.key, key)) {
      m = midstates(key);
      cache.set(key, m);
    }
    hashFrom(m.inner, data);
    digestInto(ST, OUTER, 0);
    ST.set(m.outer);
    compress(ST, OUTER, 0);
    return digestOf(ST);
  };
}

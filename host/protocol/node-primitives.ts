// node:crypto behind the core's primitive contract (core/primitives.ts).
import { Cipher, createCipheriv, createDecipheriv, createHash, createHmac, Decipher } from 'node:crypto';
import type { CorePrimitives } from '../../core/primitives.js';

function checkCbc(key: Uint8Array, iv: Uint8Array, data: Uint8Array): void {
  if (key.length !== 16 || iv.length !== 16) throw new Error('aes-128-cbc: key and iv must be 16 bytes');
  if (data.length === 0 || data.length % 16 !== 0) throw new Error('aes-128-cbc: data must be a non-empty multiple of 16 bytes');
}

function cbc(decrypt: boolean, key: Uint8Array, iv: Uint8Array, data: Uint8Array): Uint8Array {
  checkCbc(key, iv, data);
  const c = decrypt ? createDecipheriv('aes-128-cbc', key, iv) : createCipheriv('aes-128-cbc', key, iv);
  c.setAutoPadding(false);
  const a = c.update(data);
  const b = c.final();
  return b.length ? new Uint8Array(Buffer.concat([a, b])) : new Uint8Array(a.buffer, a.byteOffset, a.length);
}

export const nodePrimitives: CorePrimitives = {
  sha256: (d) => new Uint8Array(createHash('sha256').update(d).digest()),
  cbcEncrypt: (k, iv, d) => cbc(false, k, iv, d),
  cbcDecrypt: (k, iv, d) => cbc(true, k, iv, d),
  hmacSha256: (k, d) => new Uint8Array(createHmac('sha256', k).update(d).digest()),
};

/** An AES-128 key schedule kept for reuse, with a copy of the key it was made from. */
interface Schedule {
  key: Uint8Array;
  enc: Cipher | null;
  dec: Decipher | null;
}

/** Whether two 16-byte AES keys hold the same bytes (no early exit). */
export function sameKey(a: Uint8Array, b: Uint8Array): boolean {
  let d = 0;
  for (let i = 0; i < 16; i++) d |= a[i] ^ b[i];
  return d === 0;
}

/** Above this many blocks one CBC call beats block-by-block chaining (one update() call per block). */
const CHAIN_MAX_BLOCKS = 4;
const EMPTY = new Uint8Array(0);

/**
 * The same primitives for a long-lived receiver (the verifier): each AES key's schedule is built once and
 * kept in an ECB cipher that is never finalised, and CBC is chained here (SP 800-38A §6.2:
 * C_i = E(P_i ⊕ C_{i-1}), P_i = D(C_i) ⊕ C_{i-1}, C_0 = IV). Creating a node:crypto cipher costs about
 * as much as the whole rest of a frame, and the verifier uses the same few keys for every frame.
 *
 * Schedules are held in a WeakMap keyed by the key array (so they go when the caller drops its keys) and
 * are used only while the array still holds the bytes they were made from: a key overwritten in place
 * gets a new schedule, never a stale one. ECB with padding off buffers nothing between update() calls;
 * that is checked on every call, and a schedule that ever returns a short block is dropped.
 */
export interface CachingPrimitives extends CorePrimitives {
  /** AES-128-ECB of whole blocks under a kept schedule (the verifier's frame IVs, host/verifier/iv-ahead.ts). */
  ecbEncrypt(key: Uint8Array, data: Uint8Array): Uint8Array;
}

export function cachingNodePrimitives(): CachingPrimitives {
  const schedules = new WeakMap<Uint8Array, Schedule>();
  /** Scratch for one chained block: update() copies its input before it returns. */
  const x = new Uint8Array(16);
  const scheduleFor = (key: Uint8Array): Schedule => {
    let s = schedules.get(key);
    if (!s || !sameKey(s.key, key)) {
      s = { key: new Uint8Array(key), enc: null, dec: null };
      schedules.set(key, s);
    }
    return s;
  };
  const ecb = (s: Schedule, decrypt: boolean, data: Uint8Array): Buffer => {
    let c: Cipher | Decipher | null = decrypt ? s.dec : s.enc;
    if (!c) {
      c = decrypt ? createDecipheriv('aes-128-ecb', s.key, null) : createCipheriv('aes-128-ecb', s.key, null);
      c.setAutoPadding(false);
      if (decrypt) s.dec = c as Decipher;
      else s.enc = c as Cipher;
    }
    const out = c.update(data);
    if (out.length !== data.length) {
      if (decrypt) s.dec = null;
      else s.enc = null;
      throw new Error('aes-128-ecb: cipher returned ' + out.length + ' bytes for ' + data.length);
    }
    return out;
  };
  return {
    sha256: nodePrimitives.sha256,
    // node:crypto has no reusable HMAC state (Hash.copy() of a keyed midstate measured slower than this).
    hmacSha256: (k, d) => {
      const m = createHmac('sha256', k).update(d).digest();
      return new Uint8Array(m.buffer, m.byteOffset, m.length);
    },
    cbcEncrypt: (key, iv, data) => {
      checkCbc(key, iv, data);
      const blocks = data.length / 16;
      if (blocks > CHAIN_MAX_BLOCKS) return cbc(false, key, iv, data);
      const s = scheduleFor(key);
      let out: Uint8Array = EMPTY;
      let prev = iv;
      for (let b = 0; b < blocks; b++) {
        const o = b * 16;
        for (let i = 0; i < 16; i++) x[i] = data[o + i] ^ prev[i];
        const c = ecb(s, false, x);
        if (blocks === 1) return new Uint8Array(c.buffer, c.byteOffset, 16);
        if (b === 0) out = new Uint8Array(data.length);
        out.set(c, o);
        prev = c;
      }
      return out;
    },
    ecbEncrypt: (key, data) => {
      if (key.length !== 16 || data.length === 0 || data.length % 16 !== 0) throw new Error('aes-128-ecb: a 16-byte key and whole blocks');
      const c = ecb(scheduleFor(key), false, data);
      return new Uint8Array(c.buffer, c.byteOffset, c.length);
    },
    cbcDecrypt: (key, iv, data) => {
      checkCbc(key, iv, data);
      const p = ecb(scheduleFor(key), true, data);
      for (let i = 0; i < 16; i++) p[i] ^= iv[i];
      for (let i = 16; i < data.length; i++) p[i] ^= data[i - 16];
      return new Uint8Array(p.buffer, p.byteOffset, p.length);
    },
  };
}

export const sha1 = (d: Uint8Array): Uint8Array => new Uint8Array(createHash('sha1').update(d).digest());
export const sha512 = (d: Uint8Array): Uint8Array => new Uint8Array(createHash('sha512').update(d).digest());
export const sha256 = nodePrimitives.sha256;

import { Hash } from './primitives.js';
import { hmac } from './hmac.js';

type Mac = (key: Uint8Array, msg: Uint8Array) => Uint8Array;

function macOf(sha256: Hash, fast?: Mac): Mac {
  return fast ? fast : function (k: Uint8Array, m: Uint8Array) { return hmac(sha256, 64, k, m); };
}

/** RFC 5869 §2.2 HKDF-Extract with HMAC-SHA256; an empty salt means 32 zero bytes. */
export function hkdfExtract(sha256: Hash, salt: Uint8Array, ikm: Uint8Array, fast?: Mac): Uint8Array {
  return macOf(sha256, fast)(salt.length ? salt : new Uint8Array(32), ikm);
}

/** RFC 5869 §2.3 HKDF-Expand with HMAC-SHA256; length ≤ 255·32. */
export function hkdfExpand(sha256: Hash, prk: Uint8Array, info: Uint8Array, length: number, fast?: Mac): Uint8Array {
  if (length < 0 || length > 255 * 32) throw new Error('hkdf: length out of range');
  const mac = macOf(sha256, fast);
  const out = new Uint8Array(length);
  let t: Uint8Array = new Uint8Array(0);
  let o = 0;
  for (let i = 1; o < length; i++) {
    const m = new Uint8Array(t.length + info.length + 1);
    m.set(t, 0);
    m.set(info, t.length);
    m[m.length - 1] = i;
    t = mac(prk, m);
    const n = Math.min(t.length, length - o);
    out.set(t.subarray(0, n), o);
    o += n;
  }
  return out;
}

/** HKDF-SHA256 in one call. */
export function hkdf(sha256: Hash, ikm: Uint8Array, salt: Uint8Array, info: Uint8Array, length: number, fast?: Mac): Uint8Array {
  return hkdfExpand(sha256, hkdfExtract(sha256, salt, ikm, fast), info, length, fast);
}

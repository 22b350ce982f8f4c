// node:crypto behind the core's primitive contract (core/primitives.ts).
import { createCipheriv, createDecipheriv, createHash, createHmac } from 'node:crypto';
import type { CorePrimitives } from '../../core/primitives.js';

function cbc(decrypt: boolean, key: Uint8Array, iv: Uint8Array, data: Uint8Array): Uint8Array {
  if (key.length !== 16 || iv.length !== 16) throw new Error('aes-128-cbc: key and iv must be 16 bytes');
  if (data.length === 0 || data.length % 16 !== 0) throw new Error('aes-128-cbc: data must be a non-empty multiple of 16 bytes');
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

export const sha1 = (d: Uint8Array): Uint8Array => new Uint8Array(createHash('sha1').update(d).digest());
export const sha512 = (d: Uint8Array): Uint8Array => new Uint8Array(createHash('sha512').update(d).digest());
export const sha256 = nodePrimitives.sha256;

// Secrets at rest (docs/REGISTRY.md): one key per registry, scrypt(passphrase, random salt), and each
// record sealed with XSalsa20-Poly1305 (tweetnacl secretbox) under a fresh random 24-byte nonce. The
// Poly1305 tag means a wrong key or a flipped bit fails loudly: nothing is ever decrypted to garbage.
// Operator passwords: scrypt with a per-user salt, compared in constant time.
import { randomBytes, scrypt as scryptCb, timingSafeEqual } from 'node:crypto';
import nacl from 'tweetnacl';

export interface ScryptParams {
  N: number;
  r: number;
  p: number;
}

/** Floor for every scrypt use here: N = 2^15, r = 8, p = 1 (RFC 7914 §2; OWASP's scrypt minimum). */
export const MIN_SCRYPT_N = 1 << 15;
/** The registry key is derived once per command, so it can afford twice the floor. */
export const REGISTRY_KDF: ScryptParams = { N: 1 << 16, r: 8, p: 1 };
/** Operator passwords are checked on every MQTT login: the floor. */
export const PASSWORD_KDF: ScryptParams = { N: 1 << 15, r: 8, p: 1 };

export const KEY_LEN = 32;
export const SALT_LEN = 16;
export const NONCE_LEN = nacl.secretbox.nonceLength;

export function checkScryptParams(k: ScryptParams): void {
  const pow2 = k.N > 1 && (k.N & (k.N - 1)) === 0;
  if (!pow2 || k.N < MIN_SCRYPT_N || k.r < 8 || k.p < 1 || k.N > 1 << 22 || k.r > 32 || k.p > 16) {
    throw new Error(`scrypt parameters refused: N=${k.N} r=${k.r} p=${k.p} (need N a power of two ≥ 2^15, r ≥ 8, p ≥ 1)`);
  }
}

/** scrypt on the libuv thread pool, so a broker keeps serving while a password is checked. */
export function scrypt(secret: string | Uint8Array, salt: Uint8Array, k: ScryptParams, len = KEY_LEN): Promise<Uint8Array> {
  checkScryptParams(k);
  return new Promise((res, rej) => {
    scryptCb(secret, salt, len, { N: k.N, r: k.r, p: k.p, maxmem: 256 * k.N * k.r + (1 << 20) }, (err, out) =>
      err ? rej(err) : res(new Uint8Array(out.buffer, out.byteOffset, out.length)));
  });
}

export function randomSalt(): Uint8Array {
  return new Uint8Array(randomBytes(SALT_LEN));
}

export interface Sealed {
  nonce: Uint8Array;
  box: Uint8Array;
}

export function sealBox(key: Uint8Array, plaintext: Uint8Array): Sealed {
  const nonce = new Uint8Array(randomBytes(NONCE_LEN));
  return { nonce, box: nacl.secretbox(plaintext, nonce, key) };
}

/** null when the tag does not verify: wrong key, or the record was altered. */
export function openBox(key: Uint8Array, s: Sealed): Uint8Array | null {
  if (s.nonce.length !== NONCE_LEN) return null;
  return nacl.secretbox.open(s.box, s.nonce, key);
}

export function ctEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

export function wipe(b: Uint8Array | null | undefined): void {
  if (b) b.fill(0);
}

// require("crypto") as Espruino's native module behaves (libs/crypto/jswrap_crypto.c, mbedtls underneath),
// traps included, because firmware must survive them on a real board (DESIGN.md §6):
// - SHA1/SHA256/SHA224/SHA512/SHA384 return an ArrayBuffer;
// - AES.encrypt/decrypt(data, key, {iv, mode}): no padding; CBC with a length that is not a multiple of
//   16 prints "ERROR: Invalid input length" and returns undefined; ECB encrypts the whole blocks and
//   leaves the tail of the result zero, silently; no iv means an all-zero IV, silently; CTR always starts
//   from a zero counter block (the IV is ignored); an unknown mode throws; an ArrayBuffer comes back.
import { createCipheriv, createDecipheriv, createHash } from 'node:crypto';
import { cachingNodePrimitives } from '../protocol/node-primitives.js';
import { bytesOf, type Realm } from './realm.js';
import { sha256 } from '../protocol/sha256.js';

export interface CryptoHost {
  realm: Realm;
  /** Espruino's jsError: prints "ERROR: <msg>" on the console and carries on. */
  consoleError: (msg: string) => void;
  guard: <T>(f: () => T) => T;
}

type Mode = 'CBC' | 'ECB' | 'CTR' | 'CFB' | 'OFB';
const MODES: Mode[] = ['CBC', 'CFB', 'CTR', 'OFB', 'ECB'];

/**
 * AES-128-CBC with each key's schedule kept (the verifier's primitives): a board seals under the same few keys
 * for its whole life, and building an OpenSSL cipher per call is most of a seal's cost in the emulator
 * (~115 µs against ~50 on a core that idled between readings). The primitives keep a schedule per key
 * object, so each key's bytes map to one object; a handful of keys at most (a board's directions and epochs).
 */
const cbc128 = cachingNodePrimitives();
const keyObjects = new Map<string, Uint8Array>();
const KEYS_KEPT = 8;
function keyObject(key: Uint8Array): Uint8Array {
  const hex = Buffer.from(key.buffer, key.byteOffset, key.length).toString('hex');
  let k = keyObjects.get(hex);
  if (!k) {
    if (keyObjects.size >= KEYS_KEPT) keyObjects.delete(keyObjects.keys().next().value!);
    k = new Uint8Array(key);
    keyObjects.set(hex, k);
  }
  return k;
}

/** One AES operation with mbedtls's behaviour for each Espruino mode; a string is an Espruino error. */
export function espruinoAes(encrypt: boolean, data: Uint8Array, key: Uint8Array, iv: Uint8Array, mode: Mode): Uint8Array | string {
  if (![16, 24, 32].includes(key.length)) return 'Unknown error: -0x20'; // MBEDTLS_ERR_AES_INVALID_KEY_LENGTH
  const bits = key.length * 8;
  const run = (algo: string, ivBytes: Uint8Array | null, input: Uint8Array) => {
    const c = encrypt ? createCipheriv(algo, key, ivBytes) : createDecipheriv(algo, key, ivBytes);
    c.setAutoPadding(false);
    return new Uint8Array(Buffer.concat([c.update(input), c.final()]));
  };
  switch (mode) {
    case 'CBC':
      if (data.length % 16 !== 0) return 'Invalid input length';
      if (!data.length) return new Uint8Array(0);
      if (bits === 128) return (encrypt ? cbc128.cbcEncrypt : cbc128.cbcDecrypt)(keyObject(key), iv, data);
      return run(`aes-${bits}-cbc`, iv, data);
    case 'ECB': {
      const out = new Uint8Array(data.length);
      const whole = data.length - (data.length % 16);
      if (whole) out.set(run(`aes-${bits}-ecb`, null, data.subarray(0, whole)));
      return out;
    }
    case 'CTR':
      return data.length ? run(`aes-${bits}-ctr`, new Uint8Array(16), data) : new Uint8Array(0);
    case 'CFB':
      return data.length ? run(`aes-${bits}-cfb8`, iv, data) : new Uint8Array(0);
    default:
      return 'Feature unavailable';
  }
}

export function cryptoModule(h: CryptoHost): Record<string, unknown> {
  const { realm, guard } = h;
  const n = realm.native;
  const input = (v: unknown, what: string): Uint8Array => {
    const b = bytesOf(v);
    if (!b) throw realm.error('Error', `Expecting ${what} to be iterable, got ${typeof v}`);
    return b;
  };
  // SHA256 (the one a seal calls twice) in JavaScript (host/protocol/sha256.ts says why); the others rarely.
  const sha = (algo: string) => n((message: unknown) => guard(() => {
    const m = input(message, 'message');
    return realm.arrayBuffer(algo === 'sha256' ? sha256(m) : new Uint8Array(createHash(algo).update(m).digest()));
  }));
  const aes = (encrypt: boolean) => n((message: unknown, key: unknown, options?: unknown) => guard(() => {
    const iv = new Uint8Array(16);
    let mode: Mode = 'CBC';
    if (options !== null && typeof options === 'object') {
      const o = options as { iv?: unknown; mode?: unknown };
      if (o.iv !== undefined) iv.set((bytesOf(o.iv) ?? new Uint8Array(0)).subarray(0, 16));
      if (o.mode !== undefined) {
        const m = String(o.mode) as Mode;
        if (!MODES.includes(m)) throw realm.error('Error', `Unknown Crypto mode "${String(o.mode)}"`);
        mode = m;
      }
    } else if (options !== undefined) {
      h.consoleError("'options' must be undefined, or an Object");
      return undefined;
    }
    const r = espruinoAes(encrypt, input(message, 'message'), input(key, 'key'), iv, mode);
    if (typeof r === 'string') {
      h.consoleError(r);
      return undefined;
    }
    return realm.arrayBuffer(r);
  }));
  return realm.object({
    SHA1: sha('sha1'),
    SHA224: sha('sha224'),
    SHA256: sha('sha256'),
    SHA384: sha('sha384'),
    SHA512: sha('sha512'),
    AES: realm.object({ encrypt: aes(true), decrypt: aes(false) }),
  });
}

// require("crypto") as Espruino's native module behaves (libs/crypto/jswrap_crypto.c, mbedtls underneath),
// traps included, because firmware must survive them on a real board (DESIGN.md §6):
// - SHA1/SHA256/SHA224/SHA512/SHA384 return an ArrayBuffer;
// - AES.encrypt/decrypt(data, key, {iv, mode}): no padding; CBC with a length that is not a multiple of
//   16 prints "ERROR: Invalid input length" and returns undefined; ECB encrypts the whole blocks and
//   leaves the tail of the result zero, silently; no iv means an all-zero IV, silently; CTR always starts
//   from a zero counter block (the IV is ignored); an unknown mode throws; an ArrayBuffer comes back.
import { createCipheriv, createDecipheriv, createHash } from 'node:crypto';
import aesjs from 'aes-js';
import { encryptBlock128, expandKey128 } from './aes128.js';
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
 * CBC (the mode the firmware uses) in JavaScript, with each key's schedule kept: a board seals under the
 * same few keys for its whole life, and on a core that idled between readings node:crypto's per-call
 * machinery was most of a seal's cost in the emulator (a seal's two AES calls, 30 ms apart: ~165 µs through
 * node:crypto with kept schedules, ~55 µs with aes-js; back to back both ~7 µs). Encryption with a 16-byte
 * key (every AES call a seal makes) runs aes128.ts's one-table AES; decryption and other key sizes aes-js.
 * Table-based AES is not constant time (cache timing): acceptable for an emulated board's test keys, never
 * for the verifier, which keeps node:crypto.
 */
interface Kept {
  /** A copy of the key's bytes. */
  key: Uint8Array;
  /** aes128.ts's schedule (16-byte keys), made at once. */
  w: Uint32Array | null;
  /** aes-js's, made when first needed. */
  ecb: InstanceType<typeof aesjs.ModeOfOperation.ecb> | null;
}

/**
 * The kept schedules, newest first, found by comparing bytes in JavaScript: a key's hex string (Buffer →
 * C++) cost 17–33 µs a call on a core back from idle, more than the AES itself (docs/VERIFIER-PERF.md,
 * "Seventh round"). A handful of keys at most (a board's directions and epochs).
 */
const schedules: Kept[] = [];
const KEYS_KEPT = 8;
function keptOf(key: Uint8Array): Kept {
  const n = key.length;
  for (const e of schedules) {
    if (e.key.length !== n) continue;
    let i = 0;
    while (i < n && e.key[i] === key[i]) i++;
    if (i === n) return e;
  }
  const e: Kept = { key: key.slice(), w: n === 16 ? expandKey128(key) : null, ecb: null };
  schedules.unshift(e);
  if (schedules.length > KEYS_KEPT) schedules.pop();
  return e;
}

/** AES-CBC of whole blocks (SP 800-38A §6.2: C_i = E(P_i ⊕ C_{i-1}), P_i = D(C_i) ⊕ C_{i-1}, C_0 = IV). */
function cbc(encrypt: boolean, key: Uint8Array, iv: Uint8Array, data: Uint8Array): Uint8Array {
  const k = keptOf(key);
  if (encrypt && k.w) {
    const out = new Uint8Array(data.length);
    let prev = iv;
    let p = 0;
    for (let o = 0; o < data.length; o += 16) {
      for (let i = 0; i < 16; i++) out[o + i] = data[o + i] ^ prev[p + i];
      encryptBlock128(k.w, out, o, out, o);
      prev = out;
      p = o;
    }
    return out;
  }
  const ecb = k.ecb ?? (k.ecb = new aesjs.ModeOfOperation.ecb(key));
  if (!encrypt) {
    // Decryption does not chain through its own output: every block at once, then the XOR.
    const out = ecb.decrypt(data);
    for (let i = 0; i < data.length; i++) out[i] ^= i < 16 ? iv[i] : data[i - 16];
    return out;
  }
  const out = new Uint8Array(data.length);
  const x = new Uint8Array(16);
  let prev = iv;
  for (let o = 0; o < data.length; o += 16) {
    for (let i = 0; i < 16; i++) x[i] = data[o + i] ^ prev[i];
    out.set(ecb.encrypt(x), o);
    prev = out.subarray(o, o + 16);
  }
  return out;
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
      return cbc(encrypt, key, iv, data);
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

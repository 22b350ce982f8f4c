/**
 * Pure-JS AES-128 (FIPS-197), SHA-256 and SHA-1 (FIPS 180-4) for Espruino builds without
 * require("crypto"). Written to be small, not fast: aes-js costs ~9,500 variables on the board and would
 * alone blow the 16 KB bundle budget (DESIGN.md §6, §8). So: the S-boxes are computed at first use
 * (FIPS-197 §5.1.1: inverse in GF(2^8), then the affine map), there are no T-tables and no cached key
 * schedules, and SHA-256's constants are computed from the primes as FIPS 180-4 §4.2.2/§5.3.3 define
 * them (in doubles each lands ≥ 0.005 from a rounding boundary, far beyond a few ulps of error). Words
 * stay signed 32-bit (`|0`): Espruino has no Math.imul and turns integer overflow into doubles.
 * test/firmware-crypto.test.ts checks this file against the vectors and node:crypto; dist/selftest.js
 * checks it again on the board.
 */
import { makeSuite } from './suite.js';

let SB: Uint8Array;
let IS: Uint8Array;
let K: Int32Array;
let H2: Int32Array;

/** Multiplication by x in GF(2^8) modulo x^8+x^4+x^3+x+1 (FIPS-197 §4.2.1). */
const xt = (x: number) => ((x << 1) ^ (x & 128 ? 27 : 0)) & 255;

/** S-box and inverse (FIPS-197 §5.1.1): p walks the powers of 3, q the powers of 3⁻¹; S(p) = affine(q). */
const sboxes = () => {
  SB = new Uint8Array(256);
  IS = new Uint8Array(256);
  let p = 1;
  let q = 1;
  do {
    p ^= xt(p);
    q ^= q << 1;
    q ^= q << 2;
    q ^= q << 4;
    q &= 255;
    if (q & 128) q ^= 9;
    let x = q ^ (q << 1) ^ (q << 2) ^ (q << 3) ^ (q << 4);
    x = (x ^ (x >> 8) ^ 99) & 255;
    SB[p] = x;
    IS[x] = p;
  } while (p !== 1);
  SB[0] = 99;
};

/** AES-128 key expansion (FIPS-197 §5.2), byte by byte: 11 round keys, 176 bytes. */
const expand = (k: Uint8Array) => {
  const w = new Uint8Array(176);
  let rc = 1;
  w.set(k, 0);
  for (let i = 16; i < 176; i++) {
    const j = i & 3;
    let a = w[i - 4];
    if (!(i & 12)) {
      a = SB[w[i - 4 - j + ((j + 1) & 3)]];
      if (!j) {
        a ^= rc;
        rc = xt(rc);
      }
    }
    w[i] = w[i - 16] ^ a;
  }
  return w;
};

/**
 * One block in place (FIPS-197 §5.1 Cipher, §5.3 InvCipher). State byte i is row i & 3, column i >> 2.
 * ShiftRows reads byte (i + 4·row) mod 16, InvShiftRows (i − 4·row) mod 16. MixColumns byte by byte:
 * a_i ⊕ (a0⊕a1⊕a2⊕a3) ⊕ 2·(a_i ⊕ a_i+1). InvMixColumns is MixColumns after adding 4·(a_i ⊕ a_i+2) to
 * a_i and a_i+2.
 */
const block = (w: Uint8Array, s: Uint8Array, dec: boolean) => {
  const t = new Uint8Array(16);
  let i;
  for (i = 0; i < 16; i++) s[i] ^= w[dec ? 160 + i : i];
  for (let r = 1; r <= 10; r++) {
    const k = dec ? 160 - 16 * r : 16 * r;
    for (i = 0; i < 16; i++) t[i] = dec ? IS[s[(i - ((i & 3) << 2)) & 15]] ^ w[k + i] : SB[s[(i + ((i & 3) << 2)) & 15]];
    for (i = 0; dec && r < 10 && i < 16; i++) {
      if (!(i & 2)) {
        const u = xt(xt(t[i] ^ t[i + 2]));
        t[i] ^= u;
        t[i + 2] ^= u;
      }
    }
    for (i = 0; i < 16; i++) {
      const c = i & 12;
      const a = t[i];
      s[i] = (r < 10 ? a ^ t[c] ^ t[c + 1] ^ t[c + 2] ^ t[c + 3] ^ xt(a ^ t[c + ((i + 1) & 3)]) : a) ^ (dec ? 0 : w[k + i]);
    }
  }
};

/** AES-128-CBC without padding (SP 800-38A §6.2); lengths are checked by makeSuite (suite.ts). */
const cbc = (dec: boolean, key: Uint8Array, iv: Uint8Array, data: Uint8Array) => {
  const n = data.length;
  const out = new Uint8Array(n);
  const s = new Uint8Array(16);
  let prev = iv;
  if (!SB) sboxes();
  const w = expand(key);
  for (let o = 0; o < n; o += 16) {
    const b = data.subarray(o, o + 16);
    let i;
    for (i = 0; i < 16; i++) s[i] = dec ? b[i] : b[i] ^ prev[i];
    block(w, s, dec);
    for (i = 0; i < 16; i++) out[o + i] = dec ? s[i] ^ prev[i] : s[i];
    prev = dec ? b : out.subarray(o, o + 16);
  }
  return out;
};

/** The first 32 bits of the fractional part of x, as a signed word. */
const frac = (x: number) => ((x - Math.floor(x)) * 4294967296) | 0;

/** SHA-256 constants (FIPS 180-4 §4.2.2, §5.3.3): fractional parts of the cube and square roots of the primes. */
const constants = () => {
  K = new Int32Array(64);
  H2 = new Int32Array(8);
  for (let n = 2, i = 0; i < 64; n++) {
    let q = 2;
    while (n % q) q++;
    if (q === n) {
      if (i < 8) H2[i] = frac(Math.sqrt(n));
      K[i++] = frac(Math.pow(n, 1 / 3));
    }
  }
};

/**
 * Runs a Merkle–Damgård hash: pads (FIPS 180-4 §5.1.1: 0x80, zeros, 64-bit big-endian bit length),
 * feeds each 64-byte block as 16 big-endian words to f(state, words), returns the state big-endian.
 */
const md = (data: Uint8Array, H: Int32Array, W: Int32Array, f: (H: Int32Array, W: Int32Array) => void) => {
  const n = data.length;
  const m = new Uint8Array((((n + 8) >> 6) << 6) + 64);
  const e = m.length;
  let i;
  m.set(data, 0);
  m[n] = 128;
  for (i = 0; i < 5; i++) m[e - 1 - i] = (n * 8) / Math.pow(256, i);
  for (let o = 0; o < e; o += 64) {
    for (i = 0; i < 16; i++) W[i] = (m[o + 4 * i] << 24) | (m[o + 4 * i + 1] << 16) | (m[o + 4 * i + 2] << 8) | m[o + 4 * i + 3];
    f(H, W);
  }
  const out = new Uint8Array(H.length * 4);
  for (i = 0; i < out.length; i++) out[i] = H[i >> 2] >> (24 - 8 * (i & 3));
  return out;
};

/** SHA-256 compression (FIPS 180-4 §6.2.2). */
const c256 = (H: Int32Array, W: Int32Array) => {
  let i;
  for (i = 16; i < 64; i++) {
    const x = W[i - 15];
    const y = W[i - 2];
    W[i] = (((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3)) + W[i - 7] +
      (((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10)) + W[i - 16];
  }
  let a = H[0];
  let b = H[1];
  let c = H[2];
  let d = H[3];
  let e = H[4];
  let f = H[5];
  let g = H[6];
  let h = H[7];
  for (i = 0; i < 64; i++) {
    const t = (h + (((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7))) + ((e & f) ^ (~e & g)) + K[i] + W[i]) | 0;
    h = g;
    g = f;
    f = e;
    e = (d + t) | 0;
    d = c;
    c = b;
    b = a;
    a = (t + (((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10))) + ((a & c) ^ (a & d) ^ (c & d))) | 0;
  }
  H[0] += a;
  H[1] += b;
  H[2] += c;
  H[3] += d;
  H[4] += e;
  H[5] += f;
  H[6] += g;
  H[7] += h;
};

/** SHA-1 compression (FIPS 180-4 §6.1.2). */
const c1 = (H: Int32Array, W: Int32Array) => {
  let i;
  for (i = 16; i < 80; i++) {
    const x = W[i - 3] ^ W[i - 8] ^ W[i - 14] ^ W[i - 16];
    W[i] = (x << 1) | (x >>> 31);
  }
  let a = H[0];
  let b = H[1];
  let c = H[2];
  let d = H[3];
  let e = H[4];
  for (i = 0; i < 80; i++) {
    const t = (((a << 5) | (a >>> 27)) + e + W[i] + (i < 20 ? ((b & c) | (~b & d)) + 1518500249 : i < 40 ? (b ^ c ^ d) + 1859775393 :
      i < 60 ? ((b & c) | (b & d) | (c & d)) - 1894007588 : (b ^ c ^ d) - 899497514)) | 0;
    e = d;
    d = c;
    c = (b << 30) | (b >>> 2);
    b = a;
    a = t;
  }
  H[0] += a;
  H[1] += b;
  H[2] += c;
  H[3] += d;
  H[4] += e;
};

/** SHA-256 (FIPS 180-4 §6.2). */
export const sha256 = (data: Uint8Array) => {
  if (!K) constants();
  return md(data, new Int32Array(H2), new Int32Array(64), c256);
};

/**
 * SHA-1 (FIPS 180-4 §6.1): only for the TOTP login (RFC 6238), once per MQTT CONNECT, never for frames;
 * the board always uses this one, native SHA1 or not, so there is one TOTP path to test.
 */
export const sha1 = (data: Uint8Array) =>
  md(data, new Int32Array([1732584193, -271733879, -1732584194, 271733878, -1009589776]), new Int32Array(80), c1);

/** The pure-JS primitives (suite.ts). */
export const jsSuite = makeSuite(cbc, sha256);

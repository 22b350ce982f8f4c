// AES-128 encryption of one block (FIPS-197) with ONE 1 KB table, for the emulated board's require("crypto")
// (espruino-crypto.ts): a seal's two AES encryptions are on every reading's path, and on a core back from
// idle what a call costs is mostly the cache lines it touches. aes-js's four 256-entry tables of doubles
// (8 KB) cost ~28 µs a block there, this one table of 32-bit words (the other three are its rotations)
// ~12 µs (docs/VERIFIER-PERF.md, "Seventh round"). Table-based AES is not constant time (cache timing):
// acceptable for an emulated board's keys, never for the verifier, which keeps node:crypto.
// Decryption and other key sizes stay with aes-js (a command now and then, never on a reading's path).

/** The S-box and T[x] = (2·S[x], S[x], S[x], 3·S[x]) as one big-endian word (FIPS-197 §5.1.1, §5.1.3). */
const SBOX = new Uint8Array(256);
const T = new Uint32Array(256);

/** Multiplication by x in GF(2^8) modulo x^8 + x^4 + x^3 + x + 1. */
const xtime = (a: number) => ((a << 1) ^ (a & 0x80 ? 0x11b : 0)) & 255;

{
  // S[x] = affine(x^-1): walk p over the multiplicative group with generator 3 and q = p^-1 alongside.
  let p = 1;
  let q = 1;
  do {
    p = p ^ xtime(p);
    q ^= q << 1;
    q ^= q << 2;
    q ^= q << 4;
    q &= 255;
    if (q & 0x80) q ^= 0x09;
    const r = (n: number) => ((q << n) | (q >> (8 - n))) & 255;
    SBOX[p] = q ^ r(1) ^ r(2) ^ r(3) ^ r(4) ^ 0x63;
  } while (p !== 1);
  SBOX[0] = 0x63;
  for (let i = 0; i < 256; i++) {
    const s = SBOX[i];
    const s2 = xtime(s);
    T[i] = ((s2 << 24) | (s << 16) | (s << 8) | (s2 ^ s)) >>> 0;
  }
}

/** The 44-word key schedule of a 16-byte key (FIPS-197 §5.2). */
export function expandKey128(key: Uint8Array): Uint32Array {
  if (key.length !== 16) throw new Error('AES-128 needs a 16-byte key');
  const w = new Uint32Array(44);
  for (let i = 0; i < 4; i++) w[i] = (key[4 * i] << 24) | (key[4 * i + 1] << 16) | (key[4 * i + 2] << 8) | key[4 * i + 3];
  let rcon = 1;
  for (let i = 4; i < 44; i++) {
    let t = w[i - 1];
    if ((i & 3) === 0) {
      // RotWord, SubWord, Rcon.
      t = ((SBOX[(t >>> 16) & 255] << 24) | (SBOX[(t >>> 8) & 255] << 16) | (SBOX[t & 255] << 8) | SBOX[t >>> 24]) ^ (rcon << 24);
      rcon = xtime(rcon);
    }
    w[i] = w[i - 4] ^ t;
  }
  return w;
}

/** Right rotation: T rotated by 8, 16, 24 bits is the table of the next column's byte. */
const ror = (x: number, n: number) => (x >>> n) | (x << (32 - n));

/** The last round's word: SubBytes and ShiftRows of four state words, then the round key. */
const last = (a: number, b: number, c: number, d: number, k: number) =>
  ((SBOX[a >>> 24] << 24) | (SBOX[(b >>> 16) & 255] << 16) | (SBOX[(c >>> 8) & 255] << 8) | SBOX[d & 255]) ^ k;

const put = (out: Uint8Array, o: number, v: number) => {
  out[o] = v >>> 24;
  out[o + 1] = (v >>> 16) & 255;
  out[o + 2] = (v >>> 8) & 255;
  out[o + 3] = v & 255;
};

/** Encrypts the block in[i..i+16) under schedule w into out[o..o+16) (in and out may be the same bytes). */
export function encryptBlock128(w: Uint32Array, input: Uint8Array, i: number, out: Uint8Array, o: number): void {
  let s0 = ((input[i] << 24) | (input[i + 1] << 16) | (input[i + 2] << 8) | input[i + 3]) ^ w[0];
  let s1 = ((input[i + 4] << 24) | (input[i + 5] << 16) | (input[i + 6] << 8) | input[i + 7]) ^ w[1];
  let s2 = ((input[i + 8] << 24) | (input[i + 9] << 16) | (input[i + 10] << 8) | input[i + 11]) ^ w[2];
  let s3 = ((input[i + 12] << 24) | (input[i + 13] << 16) | (input[i + 14] << 8) | input[i + 15]) ^ w[3];
  for (let k = 4; k < 40; k += 4) {
    const t0 = T[s0 >>> 24] ^ ror(T[(s1 >>> 16) & 255], 8) ^ ror(T[(s2 >>> 8) & 255], 16) ^ ror(T[s3 & 255], 24) ^ w[k];
    const t1 = T[s1 >>> 24] ^ ror(T[(s2 >>> 16) & 255], 8) ^ ror(T[(s3 >>> 8) & 255], 16) ^ ror(T[s0 & 255], 24) ^ w[k + 1];
    const t2 = T[s2 >>> 24] ^ ror(T[(s3 >>> 16) & 255], 8) ^ ror(T[(s0 >>> 8) & 255], 16) ^ ror(T[s1 & 255], 24) ^ w[k + 2];
    const t3 = T[s3 >>> 24] ^ ror(T[(s0 >>> 16) & 255], 8) ^ ror(T[(s1 >>> 8) & 255], 16) ^ ror(T[s2 & 255], 24) ^ w[k + 3];
    s0 = t0;
    s1 = t1;
    s2 = t2;
    s3 = t3;
  }
  const o0 = last(s0, s1, s2, s3, w[40]);
  const o1 = last(s1, s2, s3, s0, w[41]);
  const o2 = last(s2, s3, s0, s1, w[42]);
  const o3 = last(s3, s0, s1, s2, w[43]);
  put(out, o, o0);
  put(out, o + 4, o1);
  put(out, o + 8, o2);
  put(out, o + 12, o3);
}

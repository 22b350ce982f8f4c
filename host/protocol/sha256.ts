// SHA-256 (FIPS 180-4) in JavaScript, for the host's hot paths: the verifier's HMAC midstates
// (host/verifier/hmac-sha256.ts) and the emulated board's crypto.SHA256 (host/emulator/espruino-crypto.ts).
// Why not node:crypto there: createHash builds a stream object and an OpenSSL context per call, ~4 µs hot
// and ~40 µs on a core that idled between readings, against ~1 and ~12 for a 100-byte message here; and it
// cannot continue from a midstate. SHA-256 is adds, rotations and boolean functions only (no table indexed
// by data), so this is no more timing-exposed than OpenSSL's. test/verifier-fast.test.ts checks it against
// node:crypto (FIPS 180-4 vectors, random lengths across the block boundaries).

const K = new Int32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);
export const IV = new Int32Array([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]);

/** Message schedule scratch (the process has one JavaScript thread). */
const W = new Int32Array(64);

/** One SHA-256 compression of the 64 bytes at b[o..o+64) into state s (FIPS 180-4 §6.2.2). */
export function compress(s: Int32Array, b: Uint8Array, o: number): void {
  for (let i = 0; i < 16; i++, o += 4) W[i] = (b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3];
  for (let i = 16; i < 64; i++) {
    const x = W[i - 15];
    const y = W[i - 2];
    const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
    const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
    W[i] = (W[i - 16] + s0 + W[i - 7] + s1) | 0;
  }
  let a = s[0], bb = s[1], c = s[2], d = s[3], e = s[4], f = s[5], g = s[6], h = s[7];
  for (let i = 0; i < 64; i++) {
    const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
    const t1 = (h + S1 + ((e & f) ^ (~e & g)) + K[i] + W[i]) | 0;
    const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
    const t2 = (S0 + ((a & bb) ^ (a & c) ^ (bb & c))) | 0;
    h = g; g = f; f = e; e = (d + t1) | 0;
    d = c; c = bb; bb = a; a = (t1 + t2) | 0;
  }
  s[0] = (s[0] + a) | 0; s[1] = (s[1] + bb) | 0; s[2] = (s[2] + c) | 0; s[3] = (s[3] + d) | 0;
  s[4] = (s[4] + e) | 0; s[5] = (s[5] + f) | 0; s[6] = (s[6] + g) | 0; s[7] = (s[7] + h) | 0;
}

/** SHA-256 of a message (FIPS 180-4), allocating only its padding block and digest. */
export function sha256(m: Uint8Array): Uint8Array {
  const s = new Int32Array(IV);
  const full = m.length & ~63;
  for (let o = 0; o < full; o += 64) compress(s, m, o);
  const rest = m.length - full;
  const t = new Uint8Array(rest + 9 > 64 ? 128 : 64);
  t.set(m.subarray(full));
  t[rest] = 0x80;
  const bits = m.length * 8;
  const hi = Math.floor(bits / 0x100000000);
  t[t.length - 8] = hi >>> 24;
  t[t.length - 7] = (hi >>> 16) & 0xff;
  t[t.length - 6] = (hi >>> 8) & 0xff;
  t[t.length - 5] = hi & 0xff;
  t[t.length - 4] = (bits >>> 24) & 0xff;
  t[t.length - 3] = (bits >>> 16) & 0xff;
  t[t.length - 2] = (bits >>> 8) & 0xff;
  t[t.length - 1] = bits & 0xff;
  for (let o = 0; o < t.length; o += 64) compress(s, t, o);
  return digestOf(s);
}

/** Writes a SHA-256 state as its 32-byte big-endian digest into out at o. */
export function digestInto(s: Int32Array, out: Uint8Array, o: number): void {
  for (let i = 0; i < 8; i++) {
    const v = s[i];
    out[o + i * 4] = v >>> 24;
    out[o + i * 4 + 1] = (v >>> 16) & 0xff;
    out[o + i * 4 + 2] = (v >>> 8) & 0xff;
    out[o + i * 4 + 3] = v & 0xff;
  }
}

/** A SHA-256 state as its 32-byte big-endian digest. */
export function digestOf(s: Int32Array): Uint8Array {
  const out = new Uint8Array(32);
  digestInto(s, out, 0);
  return out;
}

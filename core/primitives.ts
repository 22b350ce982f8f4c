// The crypto each platform injects into the protocol core. The core never reaches for a global:
// the board passes Espruino's native `crypto` (or the pure-JS fallback), the host passes node:crypto.

/** A hash: bytes in, digest out. */
export type Hash = (data: Uint8Array) => Uint8Array;

export interface CorePrimitives {
  /** SHA-256 digest (32 bytes). */
  sha256: Hash;
  /** AES-128-CBC encryption WITHOUT padding; data is a non-empty multiple of 16 bytes. Must throw, never return junk. */
  cbcEncrypt: (key: Uint8Array, iv: Uint8Array, data: Uint8Array) => Uint8Array;
  /** AES-128-CBC decryption WITHOUT padding removal; same contract. */
  cbcDecrypt: (key: Uint8Array, iv: Uint8Array, data: Uint8Array) => Uint8Array;
  /** Optional fast HMAC-SHA256 (the host has one in node:crypto); the core builds its own on sha256 otherwise. */
  hmacSha256?: (key: Uint8Array, data: Uint8Array) => Uint8Array;
}

import { Hash } from './primitives.js';
import { hmac } from './hmac.js';

/**
 * HOTP (RFC 4226 §5.3) for a 64-bit counter held as a JS number (exact up to 2^53).
 * Built on an injected hash so the board can use Espruino's native SHA1.
 */
export function hotp(hash: Hash, blockSize: number, secret: Uint8Array, counter: number, digits: number): string {
  const msg = new Uint8Array(8);
  const hi = Math.floor(counter / 4294967296);
  const lo = counter - hi * 4294967296;
  msg[0] = (hi >>> 24) & 255; msg[1] = (hi >>> 16) & 255; msg[2] = (hi >>> 8) & 255; msg[3] = hi & 255;
  msg[4] = (lo >>> 24) & 255; msg[5] = (lo >>> 16) & 255; msg[6] = (lo >>> 8) & 255; msg[7] = lo & 255;
  const h = hmac(hash, blockSize, secret, msg);
  const off = h[h.length - 1] & 15;
  const bin = ((h[off] & 0x7f) * 16777216) + (h[off + 1] << 16) + (h[off + 2] << 8) + h[off + 3];
  let s = '' + (bin % Math.pow(10, digits));
  while (s.length < digits) s = '0' + s;
  return s;
}

/** The TOTP time step (RFC 6238 §4.2) for unix seconds. */
export function totpStep(unixSeconds: number, stepSeconds: number): number {
  return Math.floor(unixSeconds / stepSeconds);
}

/** TOTP (RFC 6238) code for unix seconds. sealmq's device login uses SHA-1, 30 s, 8 digits (DESIGN.md §3). */
export function totp(hash: Hash, blockSize: number, secret: Uint8Array, unixSeconds: number, stepSeconds: number, digits: number): string {
  return hotp(hash, blockSize, secret, totpStep(unixSeconds, stepSeconds), digits);
}

/** DESIGN.md §3: device TOTP parameters. */
export const DEVICE_TOTP_STEP = 30;
export const DEVICE_TOTP_DIGITS = 8;

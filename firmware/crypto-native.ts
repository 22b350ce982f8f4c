/**
 * Espruino's native require("crypto") (mbedtls) as the core's primitives, with its traps closed (DESIGN.md §6): no IV
 * means an all-zero IV, so one is always passed; lengths and results are checked by makeSuite; there is
 * no HMAC, so the core builds it on SHA256. Pure over the module object, so tests can hand it one.
 */
import { CorePrimitives } from '../core/primitives.js';
import { makeSuite } from './suite.js';

/** AES.encrypt/decrypt(data, key, {iv, mode}): an ArrayBuffer, or undefined after printing an error. */
type NativeAes = (data: any, key: any, options: { iv: any; mode: string }) => ArrayBuffer | undefined;

/** The part of require("crypto") used here (libs/crypto/jswrap_crypto.c). */
export interface NativeCrypto {
  SHA256?: (data: any) => ArrayBuffer;
  AES?: { encrypt?: NativeAes; decrypt?: NativeAes };
}

/** The native primitives, or null when the module lacks AES or SHA256. */
export const nativeSuite = (c: NativeCrypto | undefined): CorePrimitives | null => {
  const A = c && c.AES;
  const H = c && c.SHA256;
  return A && H
    ? makeSuite((dec, k, iv, d) => (dec ? A.decrypt! : A.encrypt!)(d, k, { iv: iv, mode: 'CBC' }), (d) => new Uint8Array(H(d)))
    : null;
};

// Operator TOTP (RFC 6238) as authenticator apps do it: HMAC-SHA-1, 30 s steps, 6 digits (the only
// parameters every app honours), a 160-bit random seed, base32 in an otpauth:// URI (the Key Uri Format
// of Google Authenticator). The code math is core/otp.ts, the same RFC-tested code the devices use.
import { timingSafeEqual } from 'node:crypto';
import { totp, totpStep } from '../../core/otp.js';
import { sha1 } from '../protocol/node-primitives.js';

export const OPERATOR_TOTP_STEP = 30;
export const OPERATOR_TOTP_DIGITS = 6;
/** Steps accepted either side of now: t-1, t, t+1 (RFC 6238 §5.2 recommends at most one step back). */
export const OPERATOR_TOTP_SKEW = 1;
export const ISSUER = 'sealmq';

const B32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** RFC 4648 §6 base32, without padding (the Key Uri Format omits it). */
export function base32(b: Uint8Array): string {
  let out = '';
  let bits = 0;
  let acc = 0;
  for (const x of b) {
    acc = (acc << 8) | x;
    bits += 8;
    while (bits >= 5) {
      out += B32[(acc >>> (bits - 5)) & 31];
      bits -= 5;
    }
    acc &= (1 << bits) - 1;
  }
  if (bits > 0) out += B32[(acc << (5 - bits)) & 31];
  return out;
}

export function base32Decode(s: string): Uint8Array {
  const clean = s.replace(/=+$/, '').toUpperCase();
  const out: number[] = [];
  let bits = 0;
  let acc = 0;
  for (const ch of clean) {
    const v = B32.indexOf(ch);
    if (v < 0) throw new Error(`not base32: ${JSON.stringify(ch)}`);
    acc = (acc << 5) | v;
    bits += 5;
    if (bits >= 8) {
      out.push((acc >>> (bits - 8)) & 255);
      bits -= 8;
    }
    acc &= (1 << bits) - 1;
  }
  return new Uint8Array(out);
}

/** otpauth://totp/sealmq:NAME?secret=…&issuer=sealmq&algorithm=SHA1&digits=6&period=30 (contains the secret: shown once, at enrolment). */
export function otpauthUri(name: string, seed: Uint8Array, label = ISSUER): string {
  const q = new URLSearchParams({
    secret: base32(seed), issuer: label, algorithm: 'SHA1', digits: String(OPERATOR_TOTP_DIGITS), period: String(OPERATOR_TOTP_STEP),
  });
  return `otpauth://totp/${encodeURIComponent(label)}:${encodeURIComponent(name)}?${q.toString()}`;
}

/** The code for a time (ms). */
export function operatorCode(seed: Uint8Array, atMs: number): string {
  return totp(sha1, 64, seed, Math.floor(atMs / 1000), OPERATOR_TOTP_STEP, OPERATOR_TOTP_DIGITS);
}

export function stepAt(atMs: number): number {
  return totpStep(Math.floor(atMs / 1000), OPERATOR_TOTP_STEP);
}

const CODE = new RegExp('^[0-9]{' + OPERATOR_TOTP_DIGITS + '}$');

export function isCodeShape(code: string): boolean {
  return CODE.test(code);
}

/**
 * The latest step in [now - skew, now + skew] whose code equals `code`, or null. Every step in the window
 * is computed and compared in constant time, without stopping early. Whether that step was used before
 * is the registry's question (operatorAttemptSucceeded).
 */
export function matchStep(seed: Uint8Array, code: string, nowMs: number): number | null {
  if (typeof code !== 'string' || !isCodeShape(code)) return null;
  const now = stepAt(nowMs);
  let matched: number | null = null;
  for (let step = now - OPERATOR_TOTP_SKEW; step <= now + OPERATOR_TOTP_SKEW; step++) {
    const want = operatorCode(seed, step * OPERATOR_TOTP_STEP * 1000);
    if (timingSafeEqual(Buffer.from(want, 'latin1'), Buffer.from(code, 'latin1'))) matched = step;
  }
  return matched;
}

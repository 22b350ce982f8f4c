// Frames as the attacker handles them (docs/SECURITY.md): reading a sealed frame's counter, recovering a
// plain frame's cleartext, forging frames and readings, and tampering with one field at a time.
import { randomBytes } from 'node:crypto';

export function frameCounter(f: Uint8Array): number | null {
  return f.length >= 7 ? ((f[3] << 24) >>> 0) + (f[4] << 16) + (f[5] << 8) + f[6] : null;
}

/** What an eavesdropper recovers from a payload: the JSON object in it, or null (e.g. a sealed frame). */
export function recoverClear(payload: Uint8Array): Record<string, unknown> | null {
  try {
    const m = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(payload));
    return m && typeof m === 'object' && !Array.isArray(m) ? m : null;
  } catch {
    return null;
  }
}

/** A frame-shaped forgery: a valid v1 header with a fresh counter, random ciphertext and tag (no key). */
export function forgedFrame(epoch: number, counter: number, direction: 0 | 1 = 0): Buffer {
  const h = Buffer.from([1, direction, epoch, (counter >>> 24) & 255, (counter >>> 16) & 255, (counter >>> 8) & 255, counter & 255]);
  return Buffer.concat([h, randomBytes(32), randomBytes(16)]);
}

/** A made-up reading in the research plain format (what the plain firmware publishes). */
export function forgedPlainReading(i: number): Record<string, unknown> {
  return { t: Math.round(Date.now()) / 1000, d: { temp: 66.6 + i, a0: 0.5, free: 1234 }, plain: true };
}

const SEALED_FIELDS = ['version', 'flags', 'epoch', 'counter', 'ciphertext', 'tag'] as const;

/** The byte range of a sealed frame's field. */
function fieldRange(f: Uint8Array, name: typeof SEALED_FIELDS[number]): [number, number] {
  switch (name) {
    case 'version': return [0, 1];
    case 'flags': return [1, 2];
    case 'epoch': return [2, 3];
    case 'counter': return [3, 7];
    case 'ciphertext': return [7, f.length - 16];
    case 'tag': return [f.length - 16, f.length];
  }
}

/** Run i's bit flip in a sealed frame: field i mod 6, a byte and a bit of it chosen from i. */
export function tamperSealed(f: Uint8Array, i: number): { frame: Buffer; field: string } {
  const field = SEALED_FIELDS[i % SEALED_FIELDS.length];
  const [lo, hi] = fieldRange(f, field);
  const out = Buffer.from(f);
  const at = lo + ((i * 7) % (hi - lo));
  out[at] ^= 1 << ((i * 3) % 8);
  return { frame: out, field };
}

/**
 * Run i's bit flip in a plain message: field i mod n of "t" and each numeric reading; the low bit of the
 * last digit of its JSON text ('4' ↔ '5'), so the message stays valid JSON with one value changed.
 */
export function tamperPlain(m: Record<string, unknown>, i: number): { message: Record<string, unknown>; field: string } {
  const d = (m.d && typeof m.d === 'object' ? m.d : {}) as Record<string, unknown>;
  const fields = ['t', ...Object.keys(d).filter((k) => typeof d[k] === 'number')];
  const field = fields[i % fields.length];
  const flip = (v: number): number => {
    const s = String(v);
    const last = s.charCodeAt(s.length - 1);
    return Number(s.slice(0, -1) + String.fromCharCode(last ^ 1));
  };
  const out = JSON.parse(JSON.stringify(m)) as Record<string, unknown>;
  if (field === 't' && typeof m.t === 'number') out.t = flip(m.t);
  else if (typeof d[field] === 'number') (out.d as Record<string, unknown>)[field] = flip(d[field] as number);
  return { message: out, field };
}

// ── judging ─────────────────────────────────────────────────────────────────────────────────────────


// Frame IVs computed ahead, for the verifier (docs/VERIFIER-PERF.md, "IVs ahead"). A frame's IV is
// AES-128-ECB(K_iv, header ‖ 9 zero bytes) (core/frame.ts frameIv, called as a one-block CBC with a zero IV),
// and a device's next frames carry the next counters. So when the IV of counter c is asked for, the IVs of
// c … c+N−1 are computed in ONE node:crypto call (the call, not the AES, is what a block costs: ~1.5 µs
// against ~20 ns) and the device's next N−1 frames find theirs made. A frame that lands elsewhere (a gap,
// another epoch) costs one call as before. What comes back is always exactly AES(K_iv, block): this is a
// cache, keyed by the key's bytes as the schedules are (a key overwritten in place starts afresh).
//
// Only the IV derivation is served from it: a one-block encryption with an all-zero IV of a block shaped as
// a frame header (version, direction bit, epoch, counter ≠ 0, nine zero bytes). The verifier computes IVs
// only after a frame's tag has passed, so nobody without the MAC key can make it compute any.
import { FRAME_VERSION, HEADER_LEN, MAX_COUNTER } from '../../core/frame.js';
import { sameKey, type CachingPrimitives } from '../protocol/node-primitives.js';

/** IVs made per call: one call a device's 16 frames. */
export const IVS_AHEAD = 16;

interface Ahead {
  /** A copy of the key the IVs were made under. */
  key: Uint8Array;
  /** Header bytes 0–2 (version, direction, epoch) the IVs are for. */
  v: number;
  d: number;
  e: number;
  /** The counter of the first IV held, and how many are held. */
  first: number;
  count: number;
  ivs: Uint8Array;
}

const isZero = (b: Uint8Array): boolean => {
  let d = 0;
  for (let i = 0; i < b.length; i++) d |= b[i];
  return d === 0;
};

/** A frame header in the first 7 bytes of a 16-byte block, the rest zero (what frameIv encrypts). */
function isIvBlock(b: Uint8Array): boolean {
  if (b.length !== 16 || b[0] !== FRAME_VERSION || (b[1] & 0xfe) !== 0) return false;
  for (let i = HEADER_LEN; i < 16; i++) if (b[i] !== 0) return false;
  return (b[3] | b[4] | b[5] | b[6]) !== 0;
}

/** `p` with its frame-IV encryptions served from IVs made `n` at a time (n = 1: as `p`). */
export function ivAhead(p: CachingPrimitives, n = IVS_AHEAD): CachingPrimitives {
  const held = new WeakMap<Uint8Array, Ahead>();
  const make = (key: Uint8Array, block: Uint8Array, counter: number): Ahead => {
    const count = Math.min(n, MAX_COUNTER - counter + 1);
    const blocks = new Uint8Array(count * 16);
    for (let j = 0; j < count; j++) {
      const o = j * 16;
      const c = counter + j;
      blocks[o] = block[0];
      blocks[o + 1] = block[1];
      blocks[o + 2] = block[2];
      blocks[o + 3] = c >>> 24;
      blocks[o + 4] = (c >>> 16) & 255;
      blocks[o + 5] = (c >>> 8) & 255;
      blocks[o + 6] = c & 255;
    }
    const a: Ahead = { key: new Uint8Array(key), v: block[0], d: block[1], e: block[2], first: counter, count, ivs: p.ecbEncrypt(key, blocks) };
    held.set(key, a);
    return a;
  };
  return {
    ...p,
    cbcEncrypt: (key, iv, data) => {
      if (n <= 1 || key.length !== 16 || iv.length !== 16 || !isIvBlock(data) || !isZero(iv)) return p.cbcEncrypt(key, iv, data);
      const counter = ((data[3] << 24) >>> 0) + (data[4] << 16) + (data[5] << 8) + data[6];
      let a = held.get(key);
      if (!a || a.v !== data[0] || a.d !== data[1] || a.e !== data[2] || counter < a.first || counter - a.first >= a.count || !sameKey(a.key, key)) {
        a = make(key, data, counter);
      }
      const o = (counter - a.first) * 16;
      return a.ivs.slice(o, o + 16);
    },
  };
}

// Mutations of sealed frames for the fuzzer: each takes a base frame (a valid original or a capture) and
// returns one hostile MQTT message (topic + payload) and the name of what was done. All randomness comes
// from the seeded Prng, so a run is reproduced exactly by its seed.
import { HEADER_LEN, MAX_COUNTER, TAG_LEN } from '../../core/frame.js';
import { Prng } from './prng.js';

/** A frame the fuzzer starts from. */
export interface Base {
  /** Device whose topic it belongs on. */
  device: string;
  topic: string;
  frame: Uint8Array;
  /** Highest counter accepted from this device once the originals are in (drives counter edge values). */
  top: number;
  /** The device's current key epoch. */
  epoch: number;
}

export interface Mutant {
  kind: string;
  topic: string;
  frame: Uint8Array;
}

export interface MutationContext {
  rng: Prng;
  prefix: string;
  /** The originals, each valid once on its own topic (and already fed). */
  originals: readonly Base[];
  /** Frames sealed with real keys that this verifier must never accept (revoked, retired epoch, downlink…). */
  captures: readonly Base[];
  /** Frames sealed with keys the verifier does not have (a forger's own root), same devices and counters above the window. */
  forgeries: readonly Base[];
  /** Every device id the verifier knows, and a few it does not. */
  deviceIds: readonly string[];
  /** Random bytes reused for huge frames so that a huge frame costs a copy, not a million PRNG calls. */
  hugePool: Uint8Array;
}

const COUNTER_EDGES = (top: number): number[] =>
  [0, 1, 2, MAX_COUNTER, MAX_COUNTER - 1, top, top + 1, top - 1, top - 63, top - 64, top - 65, 0x80000000, 0x7fffffff]
    .filter((c) => c >= 0 && c <= MAX_COUNTER);

function copy(b: Uint8Array): Uint8Array {
  return new Uint8Array(b);
}

function setCounter(f: Uint8Array, c: number): void {
  f[3] = (c >>> 24) & 255;
  f[4] = (c >>> 16) & 255;
  f[5] = (c >>> 8) & 255;
  f[6] = c & 255;
}

/** Byte-level mutations: all keep the base's topic. Each returns a new array. */
const byteLevel: Record<string, (c: MutationContext, b: Base, f: Uint8Array) => Uint8Array> = {
  'bit-flip': (c, _b, f) => {
    const g = copy(f);
    if (g.length === 0) return g;
    const n = c.rng.int(1, 8);
    for (let i = 0; i < n; i++) {
      const bit = c.rng.below(g.length * 8);
      g[bit >> 3] ^= 1 << (bit & 7);
    }
    return g;
  },
  'byte-set': (c, _b, f) => {
    const g = copy(f);
    if (g.length === 0) return g;
    const n = c.rng.int(1, 4);
    for (let i = 0; i < n; i++) g[c.rng.below(g.length)] = c.rng.below(256);
    return g;
  },
  truncate: (c, _b, f) => f.slice(0, f.length === 0 ? 0 : c.rng.below(f.length)),
  'truncate-block': (c, _b, f) => (f.length > 16 ? f.slice(0, f.length - 16 * c.rng.int(1, Math.floor(f.length / 16))) : f.slice(0, 0)),
  extend: (c, _b, f) => {
    const g = new Uint8Array(f.length + c.rng.int(1, 48));
    g.set(f);
    c.rng.fill(g.subarray(f.length));
    return g;
  },
  /** Whole blocks appended after the tag, or inserted before it: the length stays well-formed. */
  'extend-block': (c, _b, f) => {
    const k = 16 * c.rng.int(1, 4);
    const g = new Uint8Array(f.length + k);
    if (c.rng.chance(0.5) || f.length < TAG_LEN) {
      g.set(f);
      c.rng.fill(g.subarray(f.length));
    } else {
      g.set(f.subarray(0, f.length - TAG_LEN));
      c.rng.fill(g.subarray(f.length - TAG_LEN, f.length - TAG_LEN + k));
      g.set(f.subarray(f.length - TAG_LEN), f.length - TAG_LEN + k);
    }
    return g;
  },
  /** One ciphertext block dropped, the tag kept. */
  'drop-block': (c, _b, f) => {
    const blocks = Math.floor((f.length - HEADER_LEN - TAG_LEN) / 16);
    if (blocks < 1) return f.slice(0, Math.max(0, f.length - 1));
    const k = c.rng.below(blocks);
    const at = HEADER_LEN + 16 * k;
    const g = new Uint8Array(f.length - 16);
    g.set(f.subarray(0, at));
    g.set(f.subarray(at + 16), at);
    return g;
  },
  version: (c, _b, f) => {
    const g = copy(f);
    if (g.length > 0) g[0] = c.rng.pick([0, 2, 0x81, 0xff, c.rng.below(256)]);
    return g;
  },
  flags: (c, _b, f) => {
    const g = copy(f);
    if (g.length > 1) g[1] = c.rng.pick([1, 2, 3, 0x80, 0xfe, 0xff, c.rng.below(256)]);
    return g;
  },
  epoch: (c, b, f) => {
    const g = copy(f);
    if (g.length > 2) g[2] = c.rng.pick([b.epoch - 1, b.epoch + 1, 0, 1, 7, 255, c.rng.below(256)].filter((e) => e >= 0 && e <= 255));
    return g;
  },
  counter: (c, b, f) => {
    const g = copy(f);
    if (g.length >= HEADER_LEN) setCounter(g, c.rng.chance(0.75) ? c.rng.pick(COUNTER_EDGES(b.top)) : c.rng.u32());
    return g;
  },
  tag: (c, _b, f) => {
    const g = copy(f);
    if (g.length < TAG_LEN) return g;
    const t = g.subarray(g.length - TAG_LEN);
    const how = c.rng.below(4);
    if (how === 0) t.fill(0);
    else if (how === 1) t[c.rng.below(TAG_LEN)] ^= 1 << c.rng.below(8);
    else if (how === 2) t.set(c.rng.pick(c.originals).frame.subarray(-TAG_LEN));
    else t[0] ^= 0x80; // the first tag byte: the one a timing attacker would try first
    return g;
  },
  /** Header, ciphertext and tag taken from different originals of the same device. */
  splice: (c, b, f) => {
    const same = c.originals.filter((o) => o.device === b.device);
    const pool = same.length > 1 ? same : c.originals;
    const h = c.rng.pick(pool).frame;
    const x = c.rng.pick(pool).frame;
    const t = c.rng.pick(pool).frame;
    const ct = x.subarray(HEADER_LEN, x.length - TAG_LEN);
    const g = new Uint8Array(HEADER_LEN + ct.length + TAG_LEN);
    g.set(h.subarray(0, HEADER_LEN));
    g.set(ct, HEADER_LEN);
    g.set(t.subarray(t.length - TAG_LEN), HEADER_LEN + ct.length);
    return f.length === 0 ? f : g;
  },
};

const BYTE_LEVEL = Object.keys(byteLevel);

/** Topics an attacker might try for a frame: other channels, levels, prefixes, wildcards, bad ids. */
function hostileTopic(c: MutationContext, device: string): string {
  const p = c.prefix;
  switch (c.rng.below(12)) {
    case 0: return `${p}/${device}/down`;
    case 1: return `${p}/${device}/up/x`;
    case 2: return `${p}/${device}`;
    case 3: return `${p}/+/up`;
    case 4: return `${p}/#`;
    case 5: return `x${p}/${device}/up`;
    case 6: return `${p}/${device.toUpperCase()}/up`;
    case 7: return `${p}//up`;
    case 8: return '';
    case 9: return `${p}/${device}/UP`;
    case 10: return `${p}/${device}\u0000/up`;
    default: return `${p}/${'a'.repeat(c.rng.int(33, 4096))}/up`;
  }
}

/** One mutant; the kind names the strategy (stacked byte-level mutations are 'havoc'). */
export function mutate(c: MutationContext): Mutant {
  const r = c.rng;
  const roll = r.below(1000);
  const base = r.pick(c.originals);
  if (roll < 600) {
    const kind = r.pick(BYTE_LEVEL);
    return { kind, topic: base.topic, frame: byteLevel[kind](c, base, base.frame) };
  }
  if (roll < 680) {
    let f = base.frame;
    const n = r.int(2, 4);
    for (let i = 0; i < n; i++) f = byteLevel[r.pick(BYTE_LEVEL)](c, base, f);
    return { kind: 'havoc', topic: base.topic, frame: f };
  }
  if (roll < 720) {
    const other = r.pick(c.deviceIds.filter((d) => d !== base.device));
    return { kind: 'move-device', topic: `${c.prefix}/${other}/up`, frame: copy(base.frame) };
  }
  if (roll < 750) return { kind: 'move-topic', topic: hostileTopic(c, base.device), frame: copy(base.frame) };
  if (roll < 790) return { kind: 'replay', topic: base.topic, frame: copy(base.frame) };
  if (roll < 840) {
    const cap = r.pick(c.captures);
    const f = r.chance(0.5) ? copy(cap.frame) : byteLevel[r.pick(BYTE_LEVEL)](c, cap, cap.frame);
    return { kind: 'capture', topic: cap.topic, frame: f };
  }
  if (roll < 880) {
    const forged = r.pick(c.forgeries);
    return { kind: 'forged-key', topic: forged.topic, frame: copy(forged.frame) };
  }
  if (roll < 930) {
    const n = r.chance(0.2) ? r.below(HEADER_LEN + TAG_LEN + 16) : r.int(0, 256);
    return { kind: 'random', topic: base.topic, frame: r.bytes(n) };
  }
  if (roll < 975) {
    // Random bytes behind a well-formed header: past the length/version/flags checks, into epoch/counter/tag.
    const g = r.bytes(HEADER_LEN + 16 * r.int(1, 6) + TAG_LEN);
    g.set(base.frame.subarray(0, 3));
    if (r.chance(0.5)) setCounter(g, r.pick(COUNTER_EDGES(base.top)));
    return { kind: 'random-shaped', topic: base.topic, frame: g };
  }
  if (roll < 990) return { kind: 'empty', topic: base.topic, frame: new Uint8Array(0) };
  if (roll < 998) {
    // A frame with no bytes in it, 1..4 bytes, or one block short of the minimum.
    return { kind: 'tiny', topic: base.topic, frame: r.bytes(r.pick([1, 2, 3, 4, HEADER_LEN, HEADER_LEN + TAG_LEN + 15])) };
  }
  const n = r.chance(0.5) ? 16 * r.int(4096, c.hugePool.length / 16 - 2) + HEADER_LEN + TAG_LEN : r.int(65536, c.hugePool.length);
  const g = new Uint8Array(n);
  g.set(c.hugePool.subarray(0, n));
  g.set(base.frame.subarray(0, HEADER_LEN));
  return { kind: 'huge', topic: base.topic, frame: g };
}

/** Every kind mutate() can return, for reports that list them all. */
export const MUTATION_KINDS = [...BYTE_LEVEL, 'havoc', 'move-device', 'move-topic', 'replay', 'capture', 'forged-key', 'random', 'random-shaped', 'empty', 'tiny', 'huge'];

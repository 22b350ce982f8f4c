// The verifier fuzzer: seals valid frames for a fixed set of devices (roots drawn from the seed), feeds
// them once (they must all be accepted), then feeds N mutants and counts what the Verifier does with each.
// A mutant must never crash it, never be accepted, never pass the tag unless it is byte-for-byte an
// original on its own topic (then it is a replay), and never change the replay state.
// Streams: memory is bounded by the originals and a fixed pool, whatever N is.
import { toHex, utf8Encode } from '../../core/bytes.js';
import { deriveKeys, MAX_COUNTER, seal } from '../../core/frame.js';
import { DEFAULT_PREFIX } from '../../core/ids.js';
import type { ReceiveState } from '../../core/frame.js';
import { cachingNodePrimitives } from '../protocol/node-primitives.js';
import { DeviceRecord, MemoryReplayStore, ReplayStore, Verifier, VerifierOptions, VerifyResult } from '../verifier/verifier.js';
import { Base, mutate, MUTATION_KINDS, MutationContext } from './mutate.js';
import { Prng } from './prng.js';

export interface FuzzOptions {
  frames: number;
  seed: number;
  /** Called now and then with the number of mutants fed so far. */
  onProgress?: (done: number, total: number) => void;
  /** Mutants per slice between yields to the event loop (and progress calls). */
  sliceSize?: number;
  /** The verifier under test (default: the real Verifier); tests pass a broken one to see it caught. */
  makeVerifier?: (o: VerifierOptions) => FuzzTarget;
}

/** What the fuzzer drives. */
export interface FuzzTarget {
  handle(topic: string, payload: Uint8Array): VerifyResult;
}

/** One reproducible failing input. */
export interface FuzzSample {
  index: number;
  kind: string;
  topic: string;
  /** The payload as hex, cut to 256 bytes for huge ones (length gives the full size). */
  frameHex: string;
  length: number;
  /** What went wrong: the exception, or the Verifier's answer. */
  detail: string;
}

export interface FuzzReport {
  seed: number;
  frames: number;
  devices: { id: string; status: string; epoch: number; originals: number }[];
  originals: { fed: number; accepted: number };
  /** Exceptions thrown by Verifier.handle: must be 0. */
  crashes: number;
  /** Mutants the Verifier accepted: must be 0. */
  acceptedMutants: number;
  /** Mutants that got past the tag check without being an original on its own topic: must be 0. */
  tagPasses: number;
  /** Replay-store writes made while rejecting a mutant: must be 0. */
  stateWritesOnReject: number;
  rejectedByReason: Record<string, number>;
  /** Per mutation kind, how many were fed and their outcomes by reason. */
  byMutation: Record<string, { fed: number; outcomes: Record<string, number> }>;
  samples: FuzzSample[];
  ok: boolean;
}

const MAX_SAMPLES = 10;
const HUGE_POOL = 1 << 20;

/** Reasons given after the tag passed: a mutant may reach them only as a byte-exact original (replay). */
const AFTER_TAG = new Set(['replay', 'bad-padding', 'bad-json']);

interface Fixture {
  verifier: FuzzTarget;
  store: CountingStore;
  ctx: MutationContext;
  devices: FuzzReport['devices'];
  /** `deviceId hex` of every original: the only frames allowed past the tag. */
  genuine: Set<string>;
}

class CountingStore implements ReplayStore {
  writes = 0;
  private inner = new MemoryReplayStore();
  get(id: string, d: string) { return this.inner.get(id, d); }
  put(id: string, d: string, s: ReceiveState) { this.writes++; this.inner.put(id, d, s); }
}

function reading(rng: Prng, counter: number): Uint8Array {
  const body = { t: 1767225600 + counter, d: { temp: (rng.below(600) - 100) / 10, hum: rng.below(1000) / 10, seq: counter } };
  return utf8Encode(JSON.stringify(body));
}

/** The device set and every frame the mutator starts from, all drawn from the seed. */
function fixture(seed: number, prefix: string, make: (o: VerifierOptions) => FuzzTarget): Fixture {
  const rng = new Prng(seed);
  const P = cachingNodePrimitives();
  const spec: { id: string; status: 'active' | 'revoked'; epoch: number; retired?: number[]; counters: number[] }[] = [
    { id: 'fuzz-a', status: 'active', epoch: 0, counters: Array.from({ length: 24 }, (_, i) => i + 1) },
    // Gaps leave holes in the 64-counter window; the last ones jump so that the earliest fall off its left edge.
    { id: 'fuzz-b', status: 'active', epoch: 0, counters: [1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 100, 101, 102, 144, 150] },
    // A rotated device at the very end of its counter space, with a retired epoch above the current one.
    { id: 'fuzz-c', status: 'active', epoch: 3, retired: [0, 1, 2, 7], counters: Array.from({ length: 20 }, (_, i) => MAX_COUNTER - 19 + i) },
    { id: 'fuzz-r', status: 'revoked', epoch: 0, counters: [1, 2, 3] },
  ];
  const records = new Map<string, DeviceRecord>();
  const originals: Base[] = [];
  const captures: Base[] = [];
  const forgeries: Base[] = [];
  const devices: FuzzReport['devices'] = [];
  for (const s of spec) {
    const root = rng.bytes(32);
    records.set(s.id, { id: s.id, status: s.status, epoch: s.epoch, root, retiredEpochs: s.retired });
    const topic = `${prefix}/${s.id}/up`;
    const top = s.counters[s.counters.length - 1];
    const up = deriveKeys(P, root, s.id, 'up', s.epoch);
    const into = s.status === 'active' ? originals : captures;
    for (const n of s.counters) into.push({ device: s.id, topic, top, epoch: s.epoch, frame: seal(P, up, s.id, 'up', 'up', s.epoch, n, reading(rng, n)) });
    devices.push({ id: s.id, status: s.status, epoch: s.epoch, originals: s.status === 'active' ? s.counters.length : 0 });
    if (s.status !== 'active') continue;
    const fresh = Math.min(MAX_COUNTER, top + 1);
    // Real keys, never acceptable here: the device's downlink (wrong direction), an uplink whose MAC binds
    // the channel "down", and uplinks under each retired epoch and the one below the current.
    const down = deriveKeys(P, root, s.id, 'down', s.epoch);
    captures.push({ device: s.id, topic, top, epoch: s.epoch, frame: seal(P, down, s.id, 'down', 'down', s.epoch, fresh, reading(rng, fresh)) });
    captures.push({ device: s.id, topic, top, epoch: s.epoch, frame: seal(P, up, s.id, 'down', 'up', s.epoch, fresh, reading(rng, fresh)) });
    for (const e of [...(s.retired ?? []), ...(s.epoch > 0 ? [s.epoch - 1] : [])]) {
      captures.push({ device: s.id, topic, top, epoch: s.epoch, frame: seal(P, deriveKeys(P, root, s.id, 'up', e), s.id, 'up', 'up', e, fresh, reading(rng, fresh)) });
    }
    // A forger's own root: fresh counters, the current epoch and the next one (an attempted epoch move).
    const fake = rng.bytes(32);
    for (const e of [s.epoch, s.epoch + 1]) {
      for (const n of [fresh, Math.min(MAX_COUNTER, top + 1000)]) {
        forgeries.push({ device: s.id, topic, top, epoch: s.epoch, frame: seal(P, deriveKeys(P, fake, s.id, 'up', e), s.id, 'up', 'up', e, n, reading(rng, n)) });
      }
    }
  }
  const store = new CountingStore();
  const verifier = make({ devices: { device: (id) => records.get(id) ?? null }, replay: store, prefix, now: () => 1767225600000 });
  const ctx: MutationContext = {
    rng, prefix, originals, captures, forgeries,
    deviceIds: [...records.keys(), 'fuzz-x', 'unknown-device'],
    hugePool: rng.bytes(HUGE_POOL),
  };
  const genuine = new Set(originals.map((o) => o.device + ' ' + toHex(o.frame)));
  return { verifier, store, ctx, devices, genuine };
}

function sample(index: number, kind: string, topic: string, frame: Uint8Array, detail: string): FuzzSample {
  return { index, kind, topic: topic.length > 200 ? topic.slice(0, 200) + '…' : topic, frameHex: toHex(frame.subarray(0, 256)), length: frame.length, detail };
}

function deviceOf(topic: string, prefix: string): string {
  const parts = topic.split('/');
  return parts.length === 3 && parts[0] === prefix ? parts[1] : '';
}

/** Runs the fuzzer. Never throws for anything the Verifier does: every failure is in the report. */
export async function runFuzz(o: FuzzOptions): Promise<FuzzReport> {
  if (!Number.isSafeInteger(o.frames) || o.frames < 0) throw new Error('fuzz: frames must be a whole number ≥ 0');
  const prefix = DEFAULT_PREFIX;
  const fx = fixture(o.seed, prefix, o.makeVerifier ?? ((vo) => new Verifier(vo)));
  const { verifier, store, ctx } = fx;
  const report: FuzzReport = {
    seed: o.seed, frames: o.frames, devices: fx.devices, originals: { fed: 0, accepted: 0 },
    crashes: 0, acceptedMutants: 0, tagPasses: 0, stateWritesOnReject: 0,
    rejectedByReason: {}, byMutation: {}, samples: [], ok: false,
  };
  for (const k of MUTATION_KINDS) report.byMutation[k] = { fed: 0, outcomes: {} };
  const fail = (s: FuzzSample) => { if (report.samples.length < MAX_SAMPLES) report.samples.push(s); };

  // The originals, once each, in order: they must all be accepted (else the fixture, not the verifier, is wrong).
  for (const b of ctx.originals) {
    report.originals.fed++;
    let r: VerifyResult | null = null;
    try {
      r = verifier.handle(b.topic, b.frame);
    } catch (e) {
      report.crashes++;
      fail(sample(-1, 'original', b.topic, b.frame, 'threw: ' + String((e as Error)?.stack ?? e)));
    }
    if (r && r.ok) report.originals.accepted++;
    else if (r) fail(sample(-1, 'original', b.topic, b.frame, 'original rejected: ' + r.reason));
  }

  const slice = o.sliceSize ?? 4096;
  for (let i = 0; i < o.frames; i++) {
    if (i % slice === 0 && i > 0) {
      o.onProgress?.(i, o.frames);
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    const m = mutate(ctx);
    const entry = report.byMutation[m.kind];
    entry.fed++;
    const writes = store.writes;
    let r: VerifyResult;
    try {
      r = verifier.handle(m.topic, m.frame);
    } catch (e) {
      report.crashes++;
      entry.outcomes.crash = (entry.outcomes.crash ?? 0) + 1;
      fail(sample(i, m.kind, m.topic, m.frame, 'threw: ' + String((e as Error)?.stack ?? e)));
      continue;
    }
    if (r.ok) {
      report.acceptedMutants++;
      entry.outcomes.accepted = (entry.outcomes.accepted ?? 0) + 1;
      fail(sample(i, m.kind, m.topic, m.frame, `accepted: counter ${r.counter} epoch ${r.epoch}`));
      continue;
    }
    const reason = typeof r.reason === 'string' ? r.reason : 'no-reason';
    report.rejectedByReason[reason] = (report.rejectedByReason[reason] ?? 0) + 1;
    entry.outcomes[reason] = (entry.outcomes[reason] ?? 0) + 1;
    if (store.writes !== writes) {
      report.stateWritesOnReject++;
      fail(sample(i, m.kind, m.topic, m.frame, `replay state written while rejecting (${reason})`));
    }
    if (AFTER_TAG.has(reason) && !fx.genuine.has(deviceOf(m.topic, prefix) + ' ' + toHex(m.frame))) {
      report.tagPasses++;
      fail(sample(i, m.kind, m.topic, m.frame, `passed the tag check, then ${reason}`));
    }
  }
  o.onProgress?.(o.frames, o.frames);
  report.ok = report.crashes === 0 && report.acceptedMutants === 0 && report.tagPasses === 0 && report.stateWritesOnReject === 0
    && report.originals.accepted === report.originals.fed;
  return report;
}

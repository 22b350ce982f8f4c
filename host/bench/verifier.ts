// Verifier throughput (DESIGN.md §8: ≥ 100,000 frames/s on one core, in-process): frames opened per second
// through the Verifier (many devices, in-order counters, MemoryReplayStore), next to a ceiling measured in
// the same run over the same frames: node:crypto AES-128-CBC decrypt + HMAC-SHA256 and nothing else.
//
// Method: the frames are sealed up front; one warm-up pass of each kind, then `runs` repetitions, each
// timing a verifier pass, a ceiling pass and a keyed-ceiling pass (rotating their order). Every verifier
// pass starts from an empty replay store on the same warmed Verifier (keys derived once, as in service),
// and must accept every frame. Figures are medians over the repetitions, from wall-clock time
// (process.hrtime) on the one JavaScript thread; process CPU time (process.cpuUsage, V8's GC helper threads
// included) is reported next to it, being less exposed to other load on a shared machine.
import { createDecipheriv, createHmac } from 'node:crypto';
import { cpus, loadavg } from 'node:os';
import { utf8Encode } from '../../core/bytes.js';
import { deriveKeys, FrameKeys, frameIv, HEADER_LEN, macInput, seal, TAG_LEN } from '../../core/frame.js';
import type { ReceiveState } from '../../core/frame.js';
import { Prng } from '../fuzz/prng.js';
import type { BrokerBenchReport } from './verifier-broker.js';
import { cachingNodePrimitives } from '../protocol/node-primitives.js';
import { DeviceRecord, MemoryReplayStore, Verifier, verifierPrimitives } from '../verifier/verifier.js';

/** DESIGN.md §8. */
export const VERIFIER_BUDGET = 100_000;

export type BenchKind = 'verifier' | 'ceiling' | 'ceiling-keyed';

export interface VerifierBenchOptions {
  frames: number;
  devices?: number;
  /** Measured repetitions (default 9); the reported figures are their medians. */
  runs?: number;
  /** Frames per warm-up pass of each kind (default min(frames, 20,000)). */
  warmupFrames?: number;
  seed?: number;
  onProgress?: (label: string, done: number, total: number) => void;
}

export interface BenchRun {
  kind: BenchKind;
  /** 0 = warm-up (not in the medians). */
  run: number;
  frames: number;
  seconds: number;
  cpuSeconds: number;
  framesPerSecond: number;
  cpuFramesPerSecond: number;
  /** Verifier passes only: frames accepted. */
  opened?: number;
}

export interface VerifierBenchReport {
  framesPerSecond: number;
  ceilingFramesPerSecond: number;
  ratio: number;
  budgetFramesPerSecond: number;
  meetsBudget: boolean;
  /** Median over repetitions of (verifier ÷ ceiling) within one repetition: less exposed to load that changes between runs. */
  ratioPerRun: number;
  /** The same crypto with each key's AES schedule and HMAC made the way the verifier makes them. */
  keyedCeilingFramesPerSecond: number;
  keyedRatio: number;
  /** The fastest repetition of each kind (wall clock): the least disturbed by other load on a shared machine. */
  best: { framesPerSecond: number; ceilingFramesPerSecond: number; keyedCeilingFramesPerSecond: number };
  /** Medians from CPU time instead of wall-clock time. */
  cpu: { framesPerSecond: number; ceilingFramesPerSecond: number; keyedCeilingFramesPerSecond: number; ratio: number };
  microsecondsPerFrame: { verifier: number; ceiling: number; keyedCeiling: number };
  frames: number;
  devices: number;
  frameBytes: number;
  plaintextBytes: number;
  runs: number;
  /** Every verifier pass accepted every frame. */
  allOpened: boolean;
  method: string;
  platform: { node: string; cpu: string; cores: number; loadavgStart: number[]; loadavgEnd: number[] };
  detail: BenchRun[];
  /** `--through-broker`: the same verifier in service, fed through the embedded broker (verifier-broker.ts). */
  broker?: BrokerBenchReport & { ratioToInProcess: number };
  /** `--through-broker`: the same through a real Mosquitto, or why it was not run. */
  mosquitto?: (BrokerBenchReport & { ratioToInProcess: number }) | { skipped: string };
}

/**
 * The sealed frames, packed: every frame has the same length, and frame i of device i % devices sits at
 * i × frameBytes in one buffer (the MAC inputs and IVs for the ceiling likewise). A pass takes a fresh view
 * per frame, as MQTT hands the verifier a fresh Buffer per message; the heap holds a few big buffers instead
 * of hundreds of thousands of small objects, which would otherwise make every major GC of the run slower.
 */
interface Corpus {
  n: number;
  frameBytes: number;
  macBytes: number;
  frames: Uint8Array;
  macInputs: Uint8Array;
  ivs: Uint8Array;
  /** Per device: its uplink topic and keys. */
  topics: string[];
  keys: FrameKeys[];
  records: Map<string, DeviceRecord>;
  plaintextBytes: number;
}

const T0 = 1767225600;

/** A reading of fixed length, so every frame is the same size. */
function reading(i: number, rng: Prng): Uint8Array {
  const temp = (15 + rng.below(150) / 10).toFixed(1).padStart(4, '0');
  const hum = (30 + rng.below(600) / 10).toFixed(1).padStart(4, '0');
  return utf8Encode(`{"t":${T0 + i},"d":{"temp":${temp},"hum":${hum},"pm25":${(rng.below(900) / 100).toFixed(2)}}}`);
}

function corpus(n: number, deviceCount: number, seed: number, progress?: VerifierBenchOptions['onProgress']): Corpus {
  const rng = new Prng(seed);
  const P = cachingNodePrimitives();
  const records = new Map<string, DeviceRecord>();
  const ids: string[] = [];
  const deviceKeys: FrameKeys[] = [];
  for (let d = 0; d < deviceCount; d++) {
    const id = 'bench-' + String(d).padStart(4, '0');
    const root = rng.bytes(32);
    records.set(id, { id, status: 'active', epoch: 0, root });
    ids.push(id);
    deviceKeys.push(deriveKeys(P, root, id, 'up', 0));
  }
  let c: Corpus | null = null;
  for (let i = 0; i < n; i++) {
    if (i % 4096 === 0) progress?.('sealing frames', i, n);
    const d = i % deviceCount;
    const counter = Math.floor(i / deviceCount) + 1;
    const k = deviceKeys[d];
    const pt = reading(i, rng);
    const f = seal(P, k, ids[d], 'up', 'up', 0, counter, pt);
    const m = macInput(f.subarray(0, HEADER_LEN), ids[d], 'up', f.subarray(HEADER_LEN, f.length - TAG_LEN));
    if (!c) {
      c = {
        n, frameBytes: f.length, macBytes: m.length, frames: new Uint8Array(n * f.length), macInputs: new Uint8Array(n * m.length),
        ivs: new Uint8Array(n * 16), topics: ids.map((id) => 'sealmq/' + id + '/up'), keys: deviceKeys, records, plaintextBytes: pt.length,
      };
    }
    if (f.length !== c.frameBytes || m.length !== c.macBytes) throw new Error('bench: readings must all seal to the same length');
    c.frames.set(f, i * c.frameBytes);
    c.macInputs.set(m, i * c.macBytes);
    c.ivs.set(frameIv(P, k.iv, f.subarray(0, HEADER_LEN)), i * 16);
  }
  return c!;
}

interface Timed { seconds: number; cpuSeconds: number; count: number }

function timed(fn: () => number): Timed {
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const count = fn();
  const t1 = process.hrtime.bigint();
  const c = process.cpuUsage(c0);
  return { seconds: Number(t1 - t0) / 1e9, cpuSeconds: (c.user + c.system) / 1e6, count };
}

const medianOf = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/** Runs the benchmark. Throws if the verifier does not open every frame (then no figure means anything). */
export function runVerifierBench(o: VerifierBenchOptions): VerifierBenchReport {
  const n = o.frames;
  const deviceCount = Math.max(1, Math.min(o.devices ?? 100, n));
  const runs = o.runs ?? 9;
  if (!(Number.isSafeInteger(n) && n >= 1)) throw new Error('bench: frames must be a whole number ≥ 1');
  if (!(Number.isSafeInteger(runs) && runs >= 1)) throw new Error('bench: runs must be a whole number ≥ 1');
  const warm = Math.max(1, Math.min(n, o.warmupFrames ?? 20_000));
  const loadavgStart = loadavg();
  const c = corpus(n, deviceCount, o.seed ?? 1, o.onProgress);
  const L = c.frameBytes;
  const M = c.macBytes;
  const D = c.topics.length;

  // One Verifier for the whole run; each pass swaps in an empty replay store.
  let store = new MemoryReplayStore();
  const verifier = new Verifier({
    devices: { device: (id) => c.records.get(id) ?? null },
    replay: { get: (id, d) => store.get(id, d), put: (id, d, s: ReceiveState) => store.put(id, d, s) },
    now: () => T0 * 1000,
  });
  const keyed = verifierPrimitives();

  const passes: Record<BenchKind, (count: number) => number> = {
    verifier: (count) => {
      store = new MemoryReplayStore();
      let ok = 0;
      for (let i = 0; i < count; i++) if (verifier.handle(c.topics[i % D], c.frames.subarray(i * L, i * L + L)).ok) ok++;
      return ok;
    },
    // node:crypto as a one-shot user would call it: a Hmac and a Decipheriv per frame.
    ceiling: (count) => {
      let x = 0;
      for (let i = 0; i < count; i++) {
        const k = c.keys[i % D];
        const tag = createHmac('sha256', k.mac).update(c.macInputs.subarray(i * M, i * M + M)).digest();
        const d = createDecipheriv('aes-128-cbc', k.enc, c.ivs.subarray(i * 16, i * 16 + 16));
        d.setAutoPadding(false);
        const p = d.update(c.frames.subarray(i * L + HEADER_LEN, i * L + L - TAG_LEN));
        d.final();
        x += tag[0] ^ p[p.length - 1];
      }
      return x;
    },
    // The same two operations through the verifier's primitives (AES key schedules, HMAC midstates kept per key).
    'ceiling-keyed': (count) => {
      let x = 0;
      for (let i = 0; i < count; i++) {
        const k = c.keys[i % D];
        const tag = keyed.hmacSha256!(k.mac, c.macInputs.subarray(i * M, i * M + M));
        const p = keyed.cbcDecrypt(k.enc, c.ivs.subarray(i * 16, i * 16 + 16), c.frames.subarray(i * L + HEADER_LEN, i * L + L - TAG_LEN));
        x += tag[0] ^ p[p.length - 1];
      }
      return x;
    },
  };

  // The ceiling must do real work: its tags are the frames' tags and its plaintexts carry valid padding.
  for (let i = 0; i < Math.min(n, 64); i++) {
    const k = c.keys[i % D];
    const tag = createHmac('sha256', k.mac).update(c.macInputs.subarray(i * M, i * M + M)).digest().subarray(0, TAG_LEN);
    if (!tag.equals(c.frames.subarray(i * L + L - TAG_LEN, i * L + L))) throw new Error('bench: ceiling tag differs from the frame tag');
    const p = keyed.cbcDecrypt(k.enc, c.ivs.subarray(i * 16, i * 16 + 16), c.frames.subarray(i * L + HEADER_LEN, i * L + L - TAG_LEN));
    if (p[p.length - 1] !== p.length - c.plaintextBytes) throw new Error('bench: ceiling plaintext padding is wrong');
  }

  const detail: BenchRun[] = [];
  const kinds: BenchKind[] = ['verifier', 'ceiling', 'ceiling-keyed'];
  const record = (kind: BenchKind, run: number, count: number, t: Timed) => {
    const r: BenchRun = {
      kind, run, frames: count, seconds: t.seconds, cpuSeconds: t.cpuSeconds,
      framesPerSecond: count / t.seconds, cpuFramesPerSecond: t.cpuSeconds > 0 ? count / t.cpuSeconds : Infinity,
    };
    if (kind === 'verifier') {
      r.opened = t.count;
      if (t.count !== count) throw new Error(`bench: the verifier opened ${t.count} of ${count} frames`);
    }
    detail.push(r);
  };
  for (const kind of kinds) record(kind, 0, warm, timed(() => passes[kind](warm)));
  for (let run = 1; run <= runs; run++) {
    o.onProgress?.(`run ${run}/${runs}`, run - 1, runs);
    for (let k = 0; k < kinds.length; k++) {
      const kind = kinds[(k + run) % kinds.length];
      record(kind, run, n, timed(() => passes[kind](n)));
    }
  }
  o.onProgress?.('done', runs, runs);

  const med = (kind: BenchKind, cpu: boolean) => medianOf(detail.filter((r) => r.kind === kind && r.run > 0).map((r) => (cpu ? r.cpuFramesPerSecond : r.framesPerSecond)));
  const best = (kind: BenchKind) => Math.max(...detail.filter((r) => r.kind === kind && r.run > 0).map((r) => r.framesPerSecond));
  const fps = med('verifier', false);
  const ceil = med('ceiling', false);
  const keyedCeil = med('ceiling-keyed', false);
  const round = (x: number) => Math.round(x);
  const r3 = (x: number) => Math.round(x * 1000) / 1000;
  return {
    framesPerSecond: round(fps),
    ceilingFramesPerSecond: round(ceil),
    ratio: r3(fps / ceil),
    ratioPerRun: r3(medianOf(Array.from({ length: runs }, (_, k) => {
      const at = (kind: BenchKind) => detail.find((r) => r.kind === kind && r.run === k + 1)!.framesPerSecond;
      return at('verifier') / at('ceiling');
    }))),
    budgetFramesPerSecond: VERIFIER_BUDGET,
    meetsBudget: fps >= VERIFIER_BUDGET,
    keyedCeilingFramesPerSecond: round(keyedCeil),
    keyedRatio: r3(fps / keyedCeil),
    best: { framesPerSecond: round(best('verifier')), ceilingFramesPerSecond: round(best('ceiling')), keyedCeilingFramesPerSecond: round(best('ceiling-keyed')) },
    cpu: {
      framesPerSecond: round(med('verifier', true)), ceilingFramesPerSecond: round(med('ceiling', true)),
      keyedCeilingFramesPerSecond: round(med('ceiling-keyed', true)), ratio: r3(med('verifier', true) / med('ceiling', true)),
    },
    microsecondsPerFrame: { verifier: r3(1e6 / fps), ceiling: r3(1e6 / ceil), keyedCeiling: r3(1e6 / keyedCeil) },
    frames: n, devices: deviceCount, frameBytes: L, plaintextBytes: c.plaintextBytes, runs,
    allOpened: detail.filter((r) => r.kind === 'verifier').every((r) => r.opened === r.frames),
    method: `${runs} repetitions after a ${warm}-frame warm-up; per repetition one pass of each kind over the same ${n} frames `
      + `(${deviceCount} devices, in-order counters, ${L}-byte frames, a fresh view per frame), order rotated; medians of wall-clock frames/s. `
      + 'verifier = Verifier.handle (topic, device, replay window, tag, IV, decrypt, padding, UTF-8, JSON) with a MemoryReplayStore; '
      + 'ceiling = node:crypto createHmac(sha256) over the MAC input + createDecipheriv(aes-128-cbc) of the ciphertext, per frame; '
      + 'ceiling-keyed = the same two operations through the verifier\'s primitives (AES key schedule kept per key, HMAC from per-key midstates).',
    platform: { node: process.version, cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, loadavgStart: loadavgStart.map((x) => r3(x)), loadavgEnd: loadavg().map((x) => r3(x)) },
    detail: detail.map((r) => ({ ...r, seconds: Number(r.seconds.toFixed(6)), cpuSeconds: Number(r.cpuSeconds.toFixed(6)), framesPerSecond: round(r.framesPerSecond), cpuFramesPerSecond: round(r.cpuFramesPerSecond) })),
  };
}

/** The runs as CSV (one row per pass, warm-up included as run 0; through a broker, one per shot). */
export function benchCsv(r: VerifierBenchReport): string {
  const rows = ['kind,run,frames,seconds,cpu_seconds,frames_per_second,cpu_frames_per_second,opened'];
  for (const d of r.detail) rows.push([d.kind, d.run, d.frames, d.seconds, d.cpuSeconds, d.framesPerSecond, d.cpuFramesPerSecond, d.opened ?? ''].join(','));
  // Through a broker: one row per shot (run = shot number, from 1).
  const shots = (kind: string, b: BrokerBenchReport) => b.shots.forEach((s, i) =>
    rows.push([kind, i + 1, b.publishers * b.framesPerPublisher, s.seconds, '', s.framesPerSecond, '', s.accepted].join(',')));
  if (r.broker) shots('broker', r.broker);
  const m = r.mosquitto;
  if (m && !('skipped' in m)) shots('broker-mosquitto', m);
  return rows.join('\n') + '\n';
}

// `sealmq bench latency` as a library (issue 6 item 2; docs/BENCHMARKS.md "End-to-end latency"): the sealed
// pipeline and the RESEARCH PLAIN pipeline (host/pipeline) on emulated boards, running AT THE SAME TIME on
// this machine so its load falls on both alike, each in its own worker thread (latency-worker.ts). Latency is the time from a board's reading (its own clock,
// taken before sealing, in microseconds, aligned to the host clock over the console) to the verifier's
// output (for a sealed reading: after its replay window is durable). The registry's durable writes (SQLite
// synchronous=FULL: fsync) are timed separately, so the wire and the crypto can be read without them.
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { join } from 'node:path';
import type * as vl from 'vega-lite';
import { renderSvg, toCsv } from './output.js';
import { Worker } from 'node:worker_threads';
import type { PipelineBrokerKind, PipelineOptions, ClockSync } from '../pipeline/pipeline.js';
import type { BoardTarget } from '../emulator/process.js';
import { SealmqError } from '../errors.js';
import type { WorkerCommand, WorkerReply } from './latency-worker.js';
import { PLAIN_LABEL } from '../verifier/plain.js';
import { hiresNow } from '../pipeline/console.js';

export interface LatencyBenchOptions {
  boards: number;
  /** Measured seconds (after the warm-up). */
  seconds: number;
  broker: PipelineBrokerKind;
  /** Seconds between readings on each board (default 0.1). */
  interval?: number;
  /** Seconds of readings discarded once both pipelines run (default 2). */
  warmupSeconds?: number;
  /** The sealed verifier's replay store: 'registry' (durable, the product) or 'memory' (to separate storage from protocol). */
  verifierStore?: 'registry' | 'memory';
  onProgress?: (label: string, done: number, total: number) => void;
  /** What runs the boards (default 'emulated'; 'espruino': Espruino's Linux interpreter, which keeps the host clock too). */
  target?: BoardTarget;
}

export interface Percentiles {
  p50Ms: number | null;
  p95Ms: number | null;
  p99Ms: number | null;
  maxMs: number | null;
  n: number;
}

export interface PipelineLatency extends Percentiles {
  /** Board reading → the message handed to the verifier (board work, MQTT, broker, loopback TCP). */
  wire: Percentiles;
  /** Message handed to the verifier → its output (open, replay window, durable writes). */
  verify: Percentiles;
  /** Of verify: the registry's durable writes (fsync). 0 for plain. */
  durable: Percentiles;
  /** End to end without the durable writes. */
  withoutDurable: Percentiles;
  /** Readings sent (boards' count) and rejected by the verifier during the measured window. */
  rejected: number;
  /** Samples 35–45 ms: a Nagle / delayed-ACK stall would pile up there. */
  near40Ms: number;
}

export interface Overhead {
  p50Ms: number | null;
  p95Ms: number | null;
  p99Ms: number | null;
  p50Ratio: number | null;
  p95Ratio: number | null;
  p99Ratio: number | null;
}

export interface LatencyReport {
  bench: 'latency';
  target: string;
  broker: PipelineBrokerKind;
  /** 'registry': sealed readings are output after their replay window is durable (the product); 'memory': not. */
  verifierStore: 'registry' | 'memory';
  boards: number;
  seconds: number;
  intervalS: number;
  warmupS: number;
  plain: PipelineLatency;
  sealed: PipelineLatency;
  /** sealed − plain (ms) and sealed ÷ plain, end to end. */
  overhead: Overhead & { withoutDurable: Overhead };
  /** Issue 6: sealed p50 within 0.2 ms of plain p50. */
  target02: { p50DifferenceMs: number | null; met: boolean; withoutDurableMet: boolean };
  clocks: ClockSync[];
  /** The console clock estimate's error as a fraction of its round trip (median of estimate ÷ round trip; every board's true offset is 0). */
  clockBiasPerRtt: number;
  method: string;
  platform: { node: string; cpu: string; cores: number; memGB: number; kernel: string; loadavgStart: number[]; loadavgEnd: number[] };
}

export interface LatencySample {
  pipeline: 'plain' | 'sealed';
  board: string;
  e2eMs: number;
  wireMs: number;
  verifyMs: number;
  durableMs: number;
}

const r3 = (x: number) => Math.round(x * 1000) / 1000;

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? r3(s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2) : 0;
};

/** Nearest-rank percentile of sorted values. */
export function pct(sorted: number[], p: number): number | null {
  if (!sorted.length) return null;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return r3(sorted[i]);
}

export function percentiles(values: number[]): Percentiles {
  const s = [...values].sort((a, b) => a - b);
  return { p50Ms: pct(s, 50), p95Ms: pct(s, 95), p99Ms: pct(s, 99), maxMs: s.length ? r3(s[s.length - 1]) : null, n: s.length };
}

function summarise(samples: LatencySample[], rejected: number): PipelineLatency {
  const e2e = samples.map((x) => x.e2eMs);
  return {
    ...percentiles(e2e),
    wire: percentiles(samples.map((x) => x.wireMs)),
    verify: percentiles(samples.map((x) => x.verifyMs)),
    durable: percentiles(samples.map((x) => x.durableMs)),
    withoutDurable: percentiles(samples.map((x) => x.e2eMs - x.durableMs)),
    rejected,
    near40Ms: e2e.filter((x) => x >= 35 && x <= 45).length,
  };
}

function overheadOf(p: Percentiles, s: Percentiles): Overhead {
  const d = (a: number | null, b: number | null) => (a === null || b === null ? null : r3(b - a));
  const q = (a: number | null, b: number | null) => (a === null || b === null || a <= 0 ? null : Math.round((b / a) * 1000) / 1000);
  return { p50Ms: d(p.p50Ms, s.p50Ms), p95Ms: d(p.p95Ms, s.p95Ms), p99Ms: d(p.p99Ms, s.p99Ms), p50Ratio: q(p.p50Ms, s.p50Ms), p95Ratio: q(p.p95Ms, s.p95Ms), p99Ratio: q(p.p99Ms, s.p99Ms) };
}

/** A pipeline running in a worker thread (latency-worker.ts), driven by request/reply messages. */
class PipelineWorker {
  private constructor(private readonly w: Worker, private readonly replies: WorkerReply[], private readonly waiters: ((m: WorkerReply) => void)[]) {}

  static async start(o: Omit<PipelineOptions, 'onEvent'>): Promise<PipelineWorker> {
    const w = new Worker(new URL('./latency-worker.js', import.meta.url), { workerData: o });
    const replies: WorkerReply[] = [];
    const waiters: ((m: WorkerReply) => void)[] = [];
    const deliver = (m: WorkerReply) => {
      const f = waiters.shift();
      if (f) f(m);
      else replies.push(m);
    };
    w.on('message', deliver);
    w.on('error', (e) => deliver({ done: 'error', message: e.message }));
    w.on('exit', () => deliver({ done: 'error', message: 'the pipeline worker exited' }));
    const pw = new PipelineWorker(w, replies, waiters);
    await pw.next('started');
    return pw;
  }

  private next<K extends WorkerReply['done']>(want: K): Promise<Extract<WorkerReply, { done: K }>> {
    return new Promise((resolve, reject) => {
      const take = (m: WorkerReply) => {
        if (m.done === want) resolve(m as Extract<WorkerReply, { done: K }>);
        else if (m.done === 'error') reject(new SealmqError(m.kind === 'usage' || m.kind === 'input' || m.kind === 'device' || m.kind === 'auth' ? m.kind : 'internal', m.message));
        else reject(new SealmqError('internal', `pipeline worker: expected ${want}, got ${m.done}`));
      };
      const queued = this.replies.shift();
      if (queued) take(queued);
      else this.waiters.push(take);
    });
  }

  ask<K extends WorkerReply['done']>(c: WorkerCommand, want: K): Promise<Extract<WorkerReply, { done: K }>> {
    const r = this.next(want);
    this.w.postMessage(c);
    return r;
  }

  async stop(): Promise<void> {
    try {
      await Promise.race([this.ask({ do: 'stop' }, 'stopped'), new Promise((r) => setTimeout(r, 30_000))]);
    } catch { /* already gone */ }
    await this.w.terminate();
  }
}

export async function runLatencyBench(o: LatencyBenchOptions): Promise<{ report: LatencyReport; samples: LatencySample[] }> {
  const interval = o.interval ?? 0.1;
  const warmup = o.warmupSeconds ?? 2;
  // Every board's readings this far (ms) from the next board's, sealed and plain in turn (below).
  const slot = (interval * 1000) / (2 * o.boards);
  const loadavgStart = loadavg().map(r3);
  const steps = 6;
  const progress = (label: string, done: number) => o.onProgress?.(label, done, steps);
  const samples: LatencySample[] = [];
  const rejected = { plain: 0, sealed: 0 };
  const common = { boards: o.boards, interval, broker: o.broker, stampScale: 1e6, target: o.target };
  let plain: PipelineWorker | undefined;
  let sealed: PipelineWorker | undefined;
  let clocks: ClockSync[] = [];
  let clockBiasPerRtt = 0;
  try {
    // Each pipeline in its own worker thread: its own event loop, as separate processes would have.
    progress('starting the sealed pipeline', 0);
    sealed = await PipelineWorker.start({ ...common, mode: 'sealed', names: 'sealed', verifierStore: o.verifierStore ?? 'registry', keepHostClock: true });
    progress(`starting the plain pipeline (${PLAIN_LABEL})`, 1);
    // Every board keeps the host clock exactly (no setTime reaches it): the emulated board's clock IS the
    // host clock, so "t" needs no alignment. The console estimate is still taken (not applied) and reported:
    // it shows what an NTP-style alignment over the console would get wrong (its bias, a fraction of the round trip).
    plain = await PipelineWorker.start({ ...common, mode: 'plain', names: 'plain', researchInsecure: true, keepHostClock: true });
    progress('checking the boards\' clocks', 2);
    // A QEMU board's clock is its own (Espruino's STM32 time, set once at provisioning, never on the plain
    // boards): it is aligned here over the console, the host's time at the midpoint of the fastest of 40
    // round trips, so its readings' "t" is within half that round trip of the host clock.
    const apply = o.target === 'qemu';
    clocks = [
      ...(await sealed.ask({ do: 'sync', rounds: 40, apply, biasPerRtt: 0 }, 'sync')).clocks,
      ...(await plain.ask({ do: 'sync', rounds: 40, apply, biasPerRtt: 0 }, 'sync')).clocks,
    ];
    clockBiasPerRtt = median(clocks.map((c) => c.offsetMs / c.rttMs));
    // Every board's readings a fixed 1/(2·boards) of the interval apart, sealed and plain in turn, so that no two
    // readings meet on this machine's cores by chance (random phases put one board's reading in another's path in
    // some runs and not others: a board's p50 up to 0.25 ms off another's) and each pipeline meets the other's alike.
    const t0 = hiresNow() + 500;
    await Promise.all([
      sealed.ask({ do: 'align', atMs: Array.from({ length: o.boards }, (_, i) => t0 + 2 * i * slot) }, 'align'),
      plain.ask({ do: 'align', atMs: Array.from({ length: o.boards }, (_, i) => t0 + (2 * i + 1) * slot) }, 'align'),
    ]);
    progress('warm-up', 3);
    await new Promise((r) => setTimeout(r, warmup * 1000));
    progress(`measuring for ${o.seconds} s`, 4);
    await Promise.all([plain.ask({ do: 'measure', on: true }, 'measure'), sealed.ask({ do: 'measure', on: true }, 'measure')]);
    await new Promise((r) => setTimeout(r, o.seconds * 1000));
    const [a, b] = await Promise.all([plain.ask({ do: 'measure', on: false }, 'samples'), sealed.ask({ do: 'measure', on: false }, 'samples')]);
    samples.push(...a.samples, ...b.samples);
    rejected.plain = a.rejected;
    rejected.sealed = b.rejected;
    progress('stopping', 5);
  } finally {
    await Promise.all([plain?.stop(), sealed?.stop()]);
  }
  progress('done', 6);
  const p = summarise(samples.filter((x) => x.pipeline === 'plain'), rejected.plain);
  const s = summarise(samples.filter((x) => x.pipeline === 'sealed'), rejected.sealed);
  const diff = p.p50Ms === null || s.p50Ms === null ? null : r3(s.p50Ms - p.p50Ms);
  const diffNoDurable = p.withoutDurable.p50Ms === null || s.withoutDurable.p50Ms === null ? null : s.withoutDurable.p50Ms - p.withoutDurable.p50Ms;
  const report: LatencyReport = {
    bench: 'latency',
    target: `${o.target === 'espruino' ? 'Espruino Linux build 2v29 boards (the recipe\'s build' : o.target === 'qemu' ? 'QEMU Cortex-M4 boards (Espruino 2v29 STM32 firmware, MQTT over Serial2 through a gateway each' : 'emulated boards (host/emulator'}, one process each) on loopback, ${o.broker} broker`,
    broker: o.broker, verifierStore: o.verifierStore ?? 'registry', boards: o.boards, seconds: o.seconds, intervalS: interval, warmupS: warmup,
    plain: p, sealed: s,
    overhead: { ...overheadOf(p, s), withoutDurable: overheadOf(p.withoutDurable, s.withoutDurable) },
    target02: { p50DifferenceMs: diff, met: diff !== null && diff <= 0.2, withoutDurableMet: diffNoDurable !== null && diffNoDurable <= 0.2 },
    clocks, clockBiasPerRtt,
    method: 'Both pipelines run at once, each pipeline\'s broker and verifier in its own worker thread (own event loop), each board its own process ' +
      '(sealed-NN, plain-NN), every board reporting every ' +
      `${interval} s, readings spread evenly over the interval (SEALMQ.align: sealed and plain boards in turn, ${r3(slot)} ms apart); ${warmup} s warm-up discarded. Latency = verifier output time − the reading's "t" (board clock at the reading, before sealing; ` +
      'µs stamps from a bench build). Clocks: an emulated board\'s clock is the host clock (performance.timeOrigin + performance.now() in its ' +
      'process) plus any setTime offset, and no board gets one here (setTime is a no-op during the sealed provisioning, set through the console), ' +
      'so t and the verifier\'s clock agree to microseconds; the console estimate (best of 40 round trips, not applied) is reported as a check. ' +
      (o.target === 'qemu' ? 'QEMU boards keep their own clock: it is set over the console before measuring (the host time at the midpoint of the fastest of 40 round trips; clocks[].rttMs / 2 bounds the error), and their wire time includes the emulated CPU\'s own time to seal and send (QEMU runs the Cortex-M4 far slower than a real one). ' : '') +
      'Percentiles are nearest-rank. durable = time inside the registry\'s SQLite writes (synchronous=FULL) per sealed reading.',
    platform: {
      node: process.version, cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, memGB: Math.round(totalmem() / 1e8) / 10, kernel: release(),
      loadavgStart, loadavgEnd: loadavg().map(r3),
    },
  };
  return { report, samples };
}

export const LATENCY_COLUMNS = ['pipeline', 'board', 'e2eMs', 'wireMs', 'verifyMs', 'durableMs'];

/**
 * The latency distribution, plain vs sealed: the cumulative distribution of each pipeline on a log time axis
 * (a histogram hides the tail the percentiles are about), p50 of each marked with a dashed rule.
 */
export function latencySpec(r: LatencyReport, samples: LatencySample[]): vl.TopLevelSpec {
  const values = samples.map((x) => ({ pipeline: x.pipeline === 'plain' ? 'plain (research, not secure)' : 'sealed', ms: Math.max(0.01, r3(x.e2eMs)) }));
  const p50 = [
    { pipeline: 'plain (research, not secure)', ms: r.plain.p50Ms },
    { pipeline: 'sealed', ms: r.sealed.p50Ms },
  ].filter((x) => x.ms !== null);
  const color = { field: 'pipeline', type: 'nominal', title: null, scale: { domain: ['plain (research, not secure)', 'sealed'] }, legend: { labelLimit: 320, orient: 'bottom' } };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: {
      text: 'sealmq end-to-end latency: board reading → verifier output',
      subtitle: `${r.boards} + ${r.boards} emulated boards, ${r.broker} broker, ${r.seconds} s; p50 plain ${r.plain.p50Ms} ms, sealed ${r.sealed.p50Ms} ms (dashed)`,
    },
    width: 520,
    height: 240,
    layer: [
      {
        data: { values },
        transform: [{ window: [{ op: 'cume_dist', as: 'cdf' }], sort: [{ field: 'ms' }], groupby: ['pipeline'] }],
        mark: { type: 'line', interpolate: 'step-after' },
        encoding: {
          x: { field: 'ms', type: 'quantitative', scale: { type: 'log' }, title: 'latency (ms, log scale)' },
          y: { field: 'cdf', type: 'quantitative', title: 'fraction of readings ≤ x', axis: { format: '%' } },
          color,
        },
      },
      {
        data: { values: p50 },
        mark: { type: 'rule', strokeDash: [4, 3], strokeWidth: 1.5 },
        encoding: { x: { field: 'ms', type: 'quantitative' }, color },
      },
    ],
  } as unknown as vl.TopLevelSpec;
}

/** Writes latency.json, latency.csv (one row per reading) and latency.svg into dir. */
export async function writeLatencyOutputs(r: LatencyReport, samples: LatencySample[], dir: string): Promise<{ json: string; csv: string; svg: string }> {
  mkdirSync(dir, { recursive: true });
  const files = { json: join(dir, 'latency.json'), csv: join(dir, 'latency.csv'), svg: join(dir, 'latency.svg') };
  writeFileSync(files.json, JSON.stringify(r, null, 2) + '\n');
  writeFileSync(files.csv, toCsv(samples.map((x) => ({ ...x, e2eMs: r3(x.e2eMs), wireMs: r3(x.wireMs), verifyMs: r3(x.verifyMs), durableMs: r3(x.durableMs) })), LATENCY_COLUMNS));
  writeFileSync(files.svg, await renderSvg(latencySpec(r, samples)));
  return files;
}

// `sealmq bench verifier --through-broker`: the verifier as it runs in service — the registry verifier
// (host/verifier/run.ts, what `sealmq verify` runs: device records in memory, replay state reserved ahead and
// group-committed, rejections audited) subscribed to a broker — fed by many synthetic publishers at once.
// Three processes (two on Mosquitto): the broker (embedded: this one; or a real Mosquitto with the emitted
// deny-by-default config and the TOTP plugin), the verifier (verifier-child.ts, so that its memory is its
// own) and the publishers (publisher-child.ts), so that no two of them share an event loop.
//
// Everything lives in a throwaway SEALMQ home with a random passphrase; nothing touches the user's registry.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { toHex } from '../../core/bytes.js';
import { DEFAULT_PREFIX } from '../../core/ids.js';
import { startBroker } from '../broker/broker.js';
import { emitMosquitto } from '../broker/mosquitto.js';
import { freePort, startMosquitto } from '../pipeline/mosquitto.js';
import { openRegistry } from '../registry/registry.js';
import { median } from '../attack/stats.js';
import { forkChild } from './child.js';
import type { PublisherMessage, PublisherStart } from './publisher-child.js';
import type { ChildMessage, ChildStart, MemorySample } from './verifier-child.js';

export type BenchBroker = 'embedded' | 'mosquitto';

export interface BrokerBenchOptions {
  publishers: number;
  /** Frames each publisher sends a shot. */
  framesPerPublisher: number;
  /**
   * Shots (default 5): the publishers send their frames this many times over, each shot once the verifier has
   * seen the last one's; the headline figures are the shots' medians. One shot of 50,000 frames lasts under a
   * second, and on a shared machine one such shot moved ±30 % from run to run.
   */
  shots?: number;
  /** PUBLISH packets a publisher writes to its socket at once (default 1: one segment a reading). */
  packetsPerWrite?: number;
  /** The embedded broker (default) or a real Mosquitto (the OS package) with the emitted config. */
  broker?: BenchBroker;
  /** Give up waiting for the verifier after this long (ms, default 120,000). */
  timeoutMs?: number;
  onProgress?: (label: string, done: number, total: number) => void;
}

/** One shot: every publisher sends its framesPerPublisher frames at once. */
export interface BrokerShot {
  /** Frames the verifier accepted in this shot. */
  accepted: number;
  /** Accepted frames ÷ (the verifier's last frame − the first publish), wall clock. */
  framesPerSecond: number;
  seconds: number;
  /** Accepted frames ÷ (last − first frame at the verifier): the verifier's own rate while frames flowed. */
  verifierFramesPerSecond: number;
  /** Seconds from the first publish until the publishers had written their last frame. */
  publishSeconds: number;
}

export interface BrokerBenchReport {
  broker: BenchBroker;
  publishers: number;
  /** Frames each publisher sends a shot. */
  framesPerPublisher: number;
  packetsPerWrite: number;
  /** Frames offered over all shots. */
  frames: number;
  /** Frames the verifier saw, accepted and rejected (by reason), over all shots. */
  seen: number;
  accepted: number;
  rejected: number;
  byReason: Record<string, number>;
  /** The median shot's end-to-end rate (BrokerShot.framesPerSecond), and the slowest and fastest shot's. */
  framesPerSecond: number;
  framesPerSecondRange: { min: number; max: number };
  /** Seconds the frames flowed, all shots (first publish to the verifier's last frame, summed). */
  seconds: number;
  /** Medians over the shots (BrokerShot). */
  verifierFramesPerSecond: number;
  publishSeconds: number;
  shots: BrokerShot[];
  /** Transactions the verifier committed (group commits and reservations made at once) during the run. */
  commits: number;
  /**
   * CPU time (user + system) per frame offered, µs, of each process while frames flowed, all shots: the broker
   * (the embedded one: this process, from a shot's first publish to the verifier's last frame; Mosquitto: not
   * measured, null), the verifier (from a shot's start to its last frame) and the publishers (until their last write). On a shared
   * machine this moves far less than wall-clock rates do; their sum is what the run asks of the cores.
   */
  cpuUsPerFrame: { broker: number | null; verifier: number; publishers: number };
  /** The verifier process: after start-up (GC'd, subscribed, no frame yet), the largest sample, after the run (GC'd). */
  memory: { before: MemorySample; peak: MemorySample; after: MemorySample; sampleMs: number; samples: number };
  frameBytes: number;
  method: string;
}

const perFrame = (ms: number, frames: number): number => Math.round((ms * 1000 / frames) * 10) / 10;

/** Runs the broker-path bench; throws if the broker or the verifier fails to start. */
export async function runBrokerBench(o: BrokerBenchOptions): Promise<BrokerBenchReport> {
  const n = o.publishers;
  const per = o.framesPerPublisher;
  const batch = o.packetsPerWrite ?? 1;
  const shots = o.shots ?? 5;
  const total = n * per * shots;
  const home = mkdtempSync(join(tmpdir(), 'sealmq-bench-broker-'));
  const passphrase = toHex(new Uint8Array(randomBytes(24)));
  const opPassword = toHex(new Uint8Array(randomBytes(18)));
  const opName = 'bench-verifier';
  const cleanup: (() => Promise<void> | void)[] = [() => rmSync(home, { recursive: true, force: true })];
  try {
    o.onProgress?.('provisioning synthetic devices', 0, n);
    const reg = openRegistry({ home });
    cleanup.unshift(() => reg.close());
    await reg.unlock(passphrase);
    const devices: { id: string; root: string; otpSeed: string }[] = [];
    for (let d = 0; d < n; d++) {
      const id = 'bench-' + String(d).padStart(4, '0');
      const root = new Uint8Array(randomBytes(32));
      const otpSeed = new Uint8Array(randomBytes(20));
      reg.recordProvisioned({ id, root, otpSeed, actor: 'bench' });
      devices.push({ id, root: toHex(root), otpSeed: toHex(otpSeed) });
      if (d % 10 === 0) o.onProgress?.('provisioning synthetic devices', d, n);
    }
    await reg.addOperator({ name: opName, role: 'viewer', password: opPassword, actor: 'bench' });
    const kind = o.broker ?? 'embedded';
    let url: string;
    let password = opPassword;
    if (kind === 'mosquitto') {
      const port = await freePort();
      const m = await emitMosquitto({ registry: reg, dir: join(home, 'mosquitto'), host: '127.0.0.1', port, prefix: DEFAULT_PREFIX, actor: 'bench' });
      password = m.credentials.get(opName)!;
      const mosq = await startMosquitto({ conf: m.files.conf, port });
      cleanup.unshift(() => mosq.close());
      url = mosq.url;
    } else {
      const broker = await startBroker({ registry: reg, listen: 'mqtt://127.0.0.1:0', maxConnections: n + 50, maxFailures: 1000 });
      cleanup.unshift(() => broker.close());
      url = broker.url;
    }

    const child = forkChild<ChildMessage>(fileURLToPath(new URL('./verifier-child.js', import.meta.url)), 'verifier', ['--expose-gc']);
    cleanup.unshift(() => child.kill());
    const pubs = forkChild<PublisherMessage>(fileURLToPath(new URL('./publisher-child.js', import.meta.url)), 'publisher');
    cleanup.unshift(() => pubs.kill());
    const next = child.next.bind(child);
    const sampleMs = 10;
    const start: ChildStart = { home, passphrase, brokerUrl: url, user: opName, password, sampleMs };
    child.send(start);
    const ready = await next('ready', 60_000);

    // The publishers log in first (each with its own TOTP), then all publish at once.
    o.onProgress?.('publishers logging in', 0, n);
    const pubStart: PublisherStart = { type: 'start', url, prefix: DEFAULT_PREFIX, framesPerPublisher: per, shots, packetsPerWrite: batch, devices };
    pubs.send(pubStart);
    const pubReady = await pubs.next('ready', 120_000);
    o.onProgress?.('publishing', 0, total);
    const timeout = o.timeoutMs ?? 120_000;
    const shotReports: BrokerShot[] = [];
    let brokerCpuMs = 0;
    let verifierCpuMs = 0;
    let publishersCpuMs = 0;
    let accepted = 0;
    for (let k = 0; k < shots; k++) {
      const cpu0 = process.cpuUsage();
      child.send({ type: 'go', shot: k, until: n * per * (k + 1) });
      pubs.send({ type: 'go', shot: k });
      const published = await pubs.next('published', timeout);
      // Wait for the verifier to have seen every frame of the shot (or for the timeout: QoS 0 may lose some).
      let seen: Extract<ChildMessage, { type: 'shot' }>;
      try {
        seen = await next('shot', timeout);
      } catch (e) {
        if (!/within/.test((e as Error).message)) throw e;
        child.send({ type: 'finish' });
        seen = await next('shot', 10_000);
      }
      const cpu = process.cpuUsage(cpu0);
      brokerCpuMs += (cpu.user + cpu.system) / 1000;
      verifierCpuMs += seen.cpuMs;
      publishersCpuMs += published.cpuMs;
      const t0 = published.firstAt;
      const seconds = (seen.lastAt - t0) / 1000;
      const flow = (seen.lastAt - seen.firstAt) / 1000;
      const shotAccepted = seen.accepted - accepted;
      accepted = seen.accepted;
      shotReports.push({
        accepted: shotAccepted,
        framesPerSecond: seconds > 0 ? Math.round(shotAccepted / seconds) : 0,
        seconds: Number(seconds.toFixed(3)),
        verifierFramesPerSecond: flow > 0 ? Math.round(shotAccepted / flow) : 0,
        publishSeconds: Number(((published.lastAt - t0) / 1000).toFixed(3)),
      });
      o.onProgress?.('publishing', n * per * (k + 1), total);
    }
    pubs.send({ type: 'close' });
    child.send({ type: 'close' });
    const done = await next('done', 30_000);
    const after = await next('after', 30_000);
    await child.exited;

    const fps = shotReports.map((x) => x.framesPerSecond);
    return {
      broker: kind, publishers: n, framesPerPublisher: per, packetsPerWrite: batch, frames: total,
      seen: done.seen, accepted: done.accepted, rejected: done.rejected, byReason: done.byReason,
      framesPerSecond: Math.round(median(fps)),
      framesPerSecondRange: { min: Math.min(...fps), max: Math.max(...fps) },
      seconds: Number(shotReports.reduce((a, x) => a + x.seconds, 0).toFixed(3)),
      verifierFramesPerSecond: Math.round(median(shotReports.map((x) => x.verifierFramesPerSecond))),
      publishSeconds: Number(median(shotReports.map((x) => x.publishSeconds)).toFixed(3)),
      shots: shotReports,
      commits: done.commits,
      cpuUsPerFrame: {
        broker: kind === 'embedded' ? perFrame(brokerCpuMs, total) : null,
        verifier: perFrame(verifierCpuMs, total),
        publishers: perFrame(publishersCpuMs, total),
      },
      memory: { before: ready.memory, peak: done.peak, after: after.memory, sampleMs, samples: done.samples },
      frameBytes: pubReady.frameBytes,
      method: `${n} synthetic publishers (in a process of their own, each logged in with mqtt.js as its own registry-provisioned device with its TOTP) publish ${per} valid sealed frames each, `
        + `in ${shots} shot${shots === 1 ? '' : 's'} (each once the verifier has seen the last one's frames; the counters go on) `
        + `(QoS 0, counter order, all at once; pre-encoded PUBLISH packets written on each device's socket round-robin, ${batch === 1 ? 'one packet a write' : `${batch} packets a write`}) to ${kind === 'mosquitto' ? 'Mosquitto (the OS package, the config `sealmq broker --emit-mosquitto` writes: TOTP plugin, password file, ACL)' : 'the embedded broker (this process)'} on loopback; `
        + 'the registry verifier (host/verifier/run.ts, as `sealmq verify` runs it: device records in memory, replay state reserved ahead and group-committed before a reading is reported, '
        + 'rejections audited) subscribes in its own process. frames/s = accepted ÷ (last frame at the verifier − first publish) of a shot, wall clock; the median shot\'s, with the slowest and fastest. '
        + `Memory: the verifier process's V8 heap used and RSS after start-up (GC'd), the largest of samples every ${sampleMs} ms during the run, and after it (GC'd).`,
    };
  } finally {
    for (const c of cleanup) {
      try {
        await c();
      } catch { /* best effort */ }
    }
  }
}

// `sealmq bench verifier --through-broker`: the verifier as it runs in service — the registry verifier
// (host/verifier/run.ts: device records and replay state in SQLite, each window persisted before a reading
// is reported, rejections audited) subscribed to the embedded broker (host/broker/broker.ts) — fed by many
// synthetic publishers at once. Each publisher is an mqtt.js client logged in as its own registry-provisioned
// device (user = id, password = its TOTP) publishing valid sealed frames in counter order. The verifier runs
// in a child process (verifier-child.ts) so that its memory (heapUsed and RSS: before, peak, after) is its own.
//
// Everything lives in a throwaway SEALMQ home with a random passphrase; nothing touches the user's registry.
import { fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import mqtt from 'mqtt';
import { toHex, utf8Encode } from '../../core/bytes.js';
import { deriveKeys, seal } from '../../core/frame.js';
import { DEFAULT_PREFIX } from '../../core/ids.js';
import { DEVICE_TOTP_DIGITS, DEVICE_TOTP_STEP, totp } from '../../core/otp.js';
import { startBroker } from '../broker/broker.js';
import { cachingNodePrimitives, sha1 } from '../protocol/node-primitives.js';
import { openRegistry } from '../registry/registry.js';
import type { ChildMessage, ChildStart, MemorySample } from './verifier-child.js';

export interface BrokerBenchOptions {
  publishers: number;
  /** Frames each publisher sends. */
  framesPerPublisher: number;
  /** Give up waiting for the verifier after this long (ms, default 120,000). */
  timeoutMs?: number;
  onProgress?: (label: string, done: number, total: number) => void;
}

export interface BrokerBenchReport {
  publishers: number;
  framesPerPublisher: number;
  frames: number;
  /** Frames the verifier saw, accepted and rejected (by reason). */
  seen: number;
  accepted: number;
  rejected: number;
  byReason: Record<string, number>;
  /** Accepted frames ÷ (the verifier's last frame − the first publish), wall clock. */
  framesPerSecond: number;
  seconds: number;
  /** Accepted frames ÷ (last − first frame at the verifier): the verifier's own rate while frames flowed. */
  verifierFramesPerSecond: number;
  /** The verifier process: after start-up (GC'd, subscribed, no frame yet), the largest sample, after the run (GC'd). */
  memory: { before: MemorySample; peak: MemorySample; after: MemorySample; sampleMs: number; samples: number };
  frameBytes: number;
  method: string;
}

const T0 = 1767225600;
const wallMs = () => performance.timeOrigin + performance.now();

function reading(i: number): Uint8Array {
  return utf8Encode(`{"t":${T0 + i},"d":{"temp":${(15 + (i % 150) / 10).toFixed(1).padStart(4, '0')},"hum":${(30 + (i % 600) / 10).toFixed(1).padStart(4, '0')},"pm25":${((i % 900) / 100).toFixed(2)}}}`);
}

/** A device's client id must be its id (the broker refuses any other). */
function connect(url: string, username: string, password: string, clientId: string): Promise<mqtt.MqttClient> {
  return new Promise((resolve, reject) => {
    const c = mqtt.connect(url, { username, password, clientId, protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 10_000 });
    c.once('connect', () => resolve(c));
    c.once('error', (e) => {
      c.end(true);
      reject(new Error(`bench: ${username} cannot log in to the broker: ${e.message}`));
    });
  });
}

/** Runs the broker-path bench; throws if the broker or the verifier fails to start. */
export async function runBrokerBench(o: BrokerBenchOptions): Promise<BrokerBenchReport> {
  const n = o.publishers;
  const per = o.framesPerPublisher;
  const total = n * per;
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
    const P = cachingNodePrimitives();
    const devices: { id: string; otpSeed: Uint8Array; frames: Uint8Array[] }[] = [];
    for (let d = 0; d < n; d++) {
      const id = 'bench-' + String(d).padStart(4, '0');
      const root = new Uint8Array(randomBytes(32));
      const otpSeed = new Uint8Array(randomBytes(20));
      reg.recordProvisioned({ id, root, otpSeed, actor: 'bench' });
      const k = deriveKeys(P, root, id, 'up', 0);
      const frames = Array.from({ length: per }, (_, i) => seal(P, k, id, 'up', 'up', 0, i + 1, reading(d * per + i)));
      devices.push({ id, otpSeed, frames });
      if (d % 10 === 0) o.onProgress?.('provisioning synthetic devices', d, n);
    }
    await reg.addOperator({ name: opName, role: 'viewer', password: opPassword, actor: 'bench' });
    const broker = await startBroker({ registry: reg, listen: 'mqtt://127.0.0.1:0', maxConnections: n + 50, maxFailures: 1000 });
    cleanup.unshift(() => broker.close());

    // The verifier process.
    const child = fork(fileURLToPath(new URL('./verifier-child.js', import.meta.url)), [], {
      execArgv: ['--expose-gc'], stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    });
    cleanup.unshift(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill();
    });
    const inbox: ChildMessage[] = [];
    const waiters: (() => void)[] = [];
    child.on('message', (m: ChildMessage) => {
      inbox.push(m);
      waiters.splice(0).forEach((w) => w());
    });
    const exited = new Promise<void>((resolve) => child.once('exit', () => {
      resolve();
      waiters.splice(0).forEach((w) => w());
    }));
    const next = async <T extends ChildMessage['type']>(type: T, ms: number): Promise<Extract<ChildMessage, { type: T }>> => {
      const end = Date.now() + ms;
      for (;;) {
        const i = inbox.findIndex((m) => m.type === type || m.type === 'error');
        if (i >= 0) {
          const m = inbox.splice(i, 1)[0];
          if (m.type === 'error') throw new Error('bench: the verifier process failed: ' + m.message);
          return m as Extract<ChildMessage, { type: T }>;
        }
        if (child.exitCode !== null || child.signalCode !== null) throw new Error(`bench: the verifier process exited (${child.exitCode ?? child.signalCode}) before '${type}'`);
        if (Date.now() > end) throw new Error(`bench: no '${type}' from the verifier process within ${ms} ms`);
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, Math.min(250, Math.max(1, end - Date.now())));
          waiters.push(() => {
            clearTimeout(t);
            resolve();
          });
        });
      }
    };
    const sampleMs = 10;
    const start: ChildStart = { home, passphrase, brokerUrl: broker.url, user: opName, password: opPassword, expected: total, sampleMs };
    child.send(start);
    const ready = await next('ready', 60_000);

    // The publishers log in first (each with its own TOTP), then all publish at once.
    o.onProgress?.('publishers logging in', 0, n);
    const now = Math.floor(Date.now() / 1000);
    const clients: mqtt.MqttClient[] = [];
    cleanup.unshift(() => clients.forEach((c) => c.end(true)));
    for (let i = 0; i < n; i += 20) {
      const batch = devices.slice(i, i + 20).map((d) => connect(broker.url, d.id,
        totp(sha1, 64, d.otpSeed, now, DEVICE_TOTP_STEP, DEVICE_TOTP_DIGITS), d.id));
      clients.push(...(await Promise.all(batch)));
      o.onProgress?.('publishers logging in', clients.length, n);
    }
    const prefix = DEFAULT_PREFIX;
    o.onProgress?.('publishing', 0, total);
    const t0 = wallMs();
    await Promise.all(devices.map(async (d, k) => {
      const c = clients[k];
      const topic = `${prefix}/${d.id}/up`;
      for (const f of d.frames) {
        // QoS 0 as the firmware publishes; the callback fires once the packet is written to the socket.
        await new Promise<void>((resolve, reject) => c.publish(topic, Buffer.from(f.buffer, f.byteOffset, f.length), { qos: 0 }, (e) => (e ? reject(e) : resolve())));
      }
    }));
    // Wait for the verifier to have seen every frame (or for the timeout: QoS 0 may lose some).
    let done: Extract<ChildMessage, { type: 'done' }>;
    try {
      done = await next('done', o.timeoutMs ?? 120_000);
    } catch (e) {
      if (!/within/.test((e as Error).message)) throw e;
      child.send({ type: 'finish' });
      done = await next('done', 10_000);
    }
    o.onProgress?.('publishing', done.seen, total);
    child.send({ type: 'close' });
    const after = await next('after', 30_000);
    await exited;

    const seconds = (done.lastAt - t0) / 1000;
    const flow = (done.lastAt - done.firstAt) / 1000;
    return {
      publishers: n, framesPerPublisher: per, frames: total,
      seen: done.seen, accepted: done.accepted, rejected: done.rejected, byReason: done.byReason,
      framesPerSecond: Math.round(done.accepted / seconds),
      seconds: Number(seconds.toFixed(3)),
      verifierFramesPerSecond: flow > 0 ? Math.round(done.accepted / flow) : 0,
      memory: { before: ready.memory, peak: done.peak, after: after.memory, sampleMs, samples: done.samples },
      frameBytes: devices[0]?.frames[0]?.length ?? 0,
      method: `${n} synthetic publishers (mqtt.js, each logged in as its own registry-provisioned device with its TOTP) publish ${per} valid sealed frames each `
        + '(QoS 0, counter order, all at once) to the embedded broker on loopback; the registry verifier (host/verifier/run.ts: SQLite device records and replay state, '
        + 'each window persisted before a reading is reported) subscribes in its own process. frames/s = accepted ÷ (last frame at the verifier − first publish), wall clock. '
        + `Memory: process.memoryUsage() of the verifier process after start-up (GC'd), the largest of samples every ${sampleMs} ms during the run, and after it (GC'd).`,
    };
  } finally {
    for (const c of cleanup) {
      try {
        await c();
      } catch { /* best effort */ }
    }
  }
}

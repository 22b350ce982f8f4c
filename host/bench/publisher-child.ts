// The synthetic publishers of `sealmq bench verifier --through-broker`, in their own process so that they
// share neither the broker's nor the verifier's event loop. Each is an mqtt.js client logged in as its own
// registry-provisioned device (user = id, password = its TOTP), publishing valid sealed frames in counter
// order at QoS 0, as the firmware does. Roots and OTP seeds come over IPC (never argv or env).
//
// The frames are encoded as MQTT PUBLISH packets before the clock starts (the bytes mqtt.js would write)
// and written on each device's socket round-robin over the devices, `packetsPerWrite` at a time: 1 (the
// default) is one TCP segment a reading, as a board sends. On loopback a write() costs the sender ~10 µs
// of CPU (the kernel delivers the segment to the receiver in the sender's context), so with one packet a
// write the load generator takes about a third of what the run asks of a 2-core machine; N packets a write
// is a device (or a gateway) flushing a backlog of N readings, and costs it and the broker fewer syscalls.
import mqtt from 'mqtt';
import type { Writable } from 'node:stream';
import { fromHex, utf8Encode } from '../../core/bytes.js';
import { deriveKeys, seal } from '../../core/frame.js';
import { DEVICE_TOTP_DIGITS, DEVICE_TOTP_STEP, totp } from '../../core/otp.js';
import { publishPacket } from '../mqtt/packets.js';
import { cachingNodePrimitives, sha1 } from '../protocol/node-primitives.js';

export interface PublisherStart {
  type: 'start';
  url: string;
  prefix: string;
  framesPerPublisher: number;
  /** Shots: each publisher sends framesPerPublisher frames a shot, its counters going on from shot to shot. */
  shots: number;
  /** Packets written to a socket at once (1: one write, so one TCP segment, a reading). */
  packetsPerWrite: number;
  devices: { id: string; root: string; otpSeed: string }[];
}

export type PublisherMessage =
  | { type: 'ready'; frameBytes: number }
  /** performance.timeOrigin + performance.now() (ms since the epoch) of the shot's first publish and last write. */
  | { type: 'published'; shot: number; firstAt: number; lastAt: number; cpuMs: number }
  | { type: 'error'; message: string };

const T0 = 1767225600;
const wallMs = () => performance.timeOrigin + performance.now();
const send = (m: PublisherMessage) => process.send!(m);
const EMPTY = Buffer.alloc(0);

function reading(i: number): Uint8Array {
  return utf8Encode(`{"t":${T0 + i},"d":{"temp":${(15 + (i % 150) / 10).toFixed(1).padStart(4, '0')},"hum":${(30 + (i % 600) / 10).toFixed(1).padStart(4, '0')},"pm25":${((i % 900) / 100).toFixed(2)}}}`);
}

/** A device's client id must be its id (both brokers refuse any other). */
function connect(url: string, username: string, password: string): Promise<mqtt.MqttClient> {
  return new Promise((resolve, reject) => {
    const c = mqtt.connect(url, { username, password, clientId: username, protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 10_000 });
    c.once('connect', () => {
      (c.stream as unknown as { setNoDelay?: (b: boolean) => void }).setNoDelay?.(true);
      resolve(c);
    });
    c.once('error', (e) => {
      c.end(true);
      reject(new Error(`${username} cannot log in to the broker: ${e.message}`));
    });
  });
}

process.once('message', (start: PublisherStart) => {
  (async () => {
    const P = cachingNodePrimitives();
    const per = start.framesPerPublisher;
    const batch = Math.max(1, start.packetsPerWrite);
    const writes = Math.ceil(per / batch);
    const all = per * start.shots;
    let frameBytes = 0;
    // Each device's packets of every shot in one buffer, written in views (chunks[shot][write]): a few thousand
    // objects on the heap, not one per frame.
    const devices = start.devices.map((d, n) => {
      const k = deriveKeys(P, fromHex(d.root), d.id, 'up', 0);
      const topic = `${start.prefix}/${d.id}/up`;
      const packets = Array.from({ length: all }, (_, i) => {
        const f = seal(P, k, d.id, 'up', 'up', 0, i + 1, reading(n * all + i));
        frameBytes = f.length;
        return publishPacket(topic, f);
      });
      const bytes = Buffer.concat(packets);
      // at[i]: where packet i starts in bytes (at[all]: the end).
      const at = [0];
      for (const p of packets) at.push(at[at.length - 1] + p.length);
      const chunks = Array.from({ length: start.shots }, (_, s) => Array.from({ length: writes }, (_, w) => {
        const from = s * per + w * batch;
        return bytes.subarray(at[from], at[Math.min(from + batch, (s + 1) * per)]);
      }));
      return { ...d, chunks };
    });
    const now = Math.floor(Date.now() / 1000);
    const clients: mqtt.MqttClient[] = [];
    for (let i = 0; i < devices.length; i += 20) {
      clients.push(...(await Promise.all(devices.slice(i, i + 20).map((d) =>
        connect(start.url, d.id, totp(sha1, 64, fromHex(d.otpSeed), now, DEVICE_TOTP_STEP, DEVICE_TOTP_DIGITS))))));
    }
    send({ type: 'ready', frameBytes });
    process.on('message', (m: { type: string; shot?: number }) => {
      if (m.type === 'go') {
        const shot = m.shot!;
        const firstAt = wallMs();
        const cpu0 = process.cpuUsage();
        const sockets = clients.map((c) => c.stream as unknown as Writable);
        void (async () => {
          for (let i = 0; i < writes; i++) {
            for (let k = 0; k < devices.length; k++) sockets[k].write(devices[k].chunks[shot][i]);
            // Let the sockets drain (and the broker's replies be read) every round.
            await new Promise((r) => setImmediate(r));
          }
          // Every packet handed to the kernel: each socket's last write has completed.
          await Promise.all(sockets.map((s) => new Promise<void>((resolve, reject) => s.write(EMPTY, (e) => (e ? reject(e) : resolve())))));
        })().then(() => {
          const lastAt = wallMs();
          const cpu = process.cpuUsage(cpu0);
          send({ type: 'published', shot, firstAt, lastAt, cpuMs: Math.round((cpu.user + cpu.system) / 1000) });
        }, (e: Error) => send({ type: 'error', message: e.message }));
      }
      if (m.type === 'close') {
        clients.forEach((c) => c.end(true));
        process.disconnect();
      }
    });
  })().catch((e: Error) => {
    send({ type: 'error', message: e.message });
    process.disconnect();
  });
});

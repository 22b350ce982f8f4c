// The verifier process of `sealmq bench verifier --through-broker`: the registry verifier (host/verifier/run.ts)
// attached to the broker, alone in its process so that its memory is its own. Everything it needs, the
// registry passphrase and the operator password included, comes over the IPC channel (never argv or env).
// It samples its heap (V8's used size) and RSS every few ms and reports counts, timings and memory back:
// per shot (the frames and CPU time from 'go' until it has seen the shot's last frame) and, at 'close', totals.
import { getHeapStatistics } from 'node:v8';
import { runVerifier } from '../verifier/run.js';
import { openRegistry } from '../registry/registry.js';

export interface ChildStart {
  home: string;
  passphrase: string;
  brokerUrl: string;
  user: string;
  password: string;
  sampleMs: number;
}

export interface MemorySample { heapUsed: number; rss: number }

export type ChildMessage =
  | { type: 'ready'; memory: MemorySample }
  | { type: 'shot'; shot: number; seen: number;
    /** Frames accepted so far, all shots. */
    accepted: number;
    /** performance.timeOrigin + performance.now() (ms since the epoch) of the shot's first and last frame. */
    firstAt: number; lastAt: number;
    /** CPU time (user + system, ms) of this process from the shot's 'go' to its last frame. */
    cpuMs: number }
  | { type: 'done'; seen: number; accepted: number; rejected: number; byReason: Record<string, number>; peak: MemorySample; samples: number; commits: number }
  | { type: 'after'; memory: MemorySample }
  | { type: 'error'; message: string };

const gc = (globalThis as { gc?: () => void }).gc;
// process.memoryUsage() measured ~200 µs a call in this process under load (it also totals external and
// ArrayBuffer memory), against ~40 for the two figures kept: sampled every 10 ms, that was ~2 % of the
// verifier's CPU in the window the bench reports. heapUsed is the same V8 figure either way.
const mem = (): MemorySample => ({ heapUsed: getHeapStatistics().used_heap_size, rss: process.memoryUsage.rss() });
const send = (m: ChildMessage) => process.send!(m);
const wallMs = () => performance.timeOrigin + performance.now();

process.once('message', (start: ChildStart) => {
  (async () => {
    const reg = openRegistry({ home: start.home });
    await reg.unlock(start.passphrase);
    let seen = 0;
    // The shot under way: its number, the count of frames seen at which it is complete, and its figures. A shot's
    // frames are those after the last shot's end (some may arrive before its 'go' does: the publishers got theirs too).
    let shot = -1;
    let until = Infinity;
    let shotFrom = 0;
    let firstAt = 0;
    let lastAt = 0;
    let cpu0 = process.cpuUsage();
    const peak: MemorySample = { heapUsed: 0, rss: 0 };
    let samples = 0;
    const sample = () => {
      const m = mem();
      samples++;
      if (m.heapUsed > peak.heapUsed) peak.heapUsed = m.heapUsed;
      if (m.rss > peak.rss) peak.rss = m.rss;
    };
    let timer: NodeJS.Timeout | undefined;
    let stats = { accepted: 0, rejected: 0, byReason: {} as Record<string, number> };
    let commits = () => 0;
    const endShot = () => {
      if (shot < 0) return;
      const cpu = process.cpuUsage(cpu0);
      send({ type: 'shot', shot, seen: seen - shotFrom, accepted: stats.accepted, firstAt, lastAt, cpuMs: Math.round((cpu.user + cpu.system) / 1000) });
      shot = -1;
      until = Infinity;
      shotFrom = seen;
    };
    const running = await runVerifier({
      registry: reg, brokerUrl: start.brokerUrl, username: start.user, password: start.password,
      onResult: () => {
        const now = wallMs();
        if (seen === shotFrom) firstAt = now;
        lastAt = now;
        seen++;
        if (seen >= until) endShot();
      },
    });
    stats = running.stats;
    commits = () => running.commits();
    gc?.();
    const before = mem();
    peak.heapUsed = before.heapUsed;
    peak.rss = before.rss;
    timer = setInterval(sample, start.sampleMs);
    process.on('message', (m: { type: string; shot?: number; until?: number }) => {
      // A shot's CPU window starts when its frames do (as the broker's and the publishers' do), not at the logins.
      if (m.type === 'go') {
        shot = m.shot!;
        until = m.until!;
        cpu0 = process.cpuUsage();
        if (seen >= until) endShot();
      }
      // The bench gave up waiting (QoS 0 may lose frames): the shot ends with what it saw.
      if (m.type === 'finish') endShot();
      if (m.type === 'close') {
        sample();
        clearInterval(timer);
        send({ type: 'done', seen, accepted: stats.accepted, rejected: stats.rejected, byReason: stats.byReason, peak, samples, commits: commits() });
        void running.close().then(() => {
          gc?.();
          send({ type: 'after', memory: mem() });
          reg.close();
          process.disconnect();
        });
      }
    });
    send({ type: 'ready', memory: before });
  })().catch((e: Error) => {
    send({ type: 'error', message: e.message });
    process.disconnect();
  });
});

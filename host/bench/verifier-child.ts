// The verifier process of `sealmq bench verifier --through-broker`: the registry verifier (host/verifier/run.ts)
// attached to the broker, alone in its process so that its memory is its own. Everything it needs, the
// registry passphrase and the operator password included, comes over the IPC channel (never argv or env).
// It samples its heap (V8's used size) and RSS every few ms and reports counts, timings and memory back.
import { getHeapStatistics } from 'node:v8';
import { runVerifier } from '../verifier/run.js';
import { openRegistry } from '../registry/registry.js';

export interface ChildStart {
  home: string;
  passphrase: string;
  brokerUrl: string;
  user: string;
  password: string;
  /** Frames to expect: the child reports 'done' when it has seen this many. */
  expected: number;
  sampleMs: number;
}

export interface MemorySample { heapUsed: number; rss: number }

export type ChildMessage =
  | { type: 'ready'; memory: MemorySample }
  | { type: 'done'; seen: number; accepted: number; rejected: number; byReason: Record<string, number>;
    /** performance.timeOrigin + performance.now() (ms since the epoch) of the first and last frame. */
    firstAt: number; lastAt: number; peak: MemorySample; samples: number; commits: number;
    /** CPU time (user + system, ms) of this process from 'ready' to 'done'. */
    cpuMs: number }
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
    let firstAt = 0;
    let lastAt = 0;
    let finished = false;
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
    let cpu0 = process.cpuUsage();
    const finish = () => {
      if (finished) return;
      finished = true;
      sample();
      clearInterval(timer);
      const cpu = process.cpuUsage(cpu0);
      send({ type: 'done', seen, accepted: stats.accepted, rejected: stats.rejected, byReason: stats.byReason, firstAt, lastAt, peak, samples, commits: commits(), cpuMs: Math.round((cpu.user + cpu.system) / 1000) });
    };
    const running = await runVerifier({
      registry: reg, brokerUrl: start.brokerUrl, username: start.user, password: start.password,
      onResult: () => {
        const now = wallMs();
        if (seen === 0) firstAt = now;
        lastAt = now;
        seen++;
        if (seen === start.expected) finish();
      },
    });
    stats = running.stats;
    commits = () => running.commits();
    gc?.();
    const before = mem();
    peak.heapUsed = before.heapUsed;
    peak.rss = before.rss;
    timer = setInterval(sample, start.sampleMs);
    cpu0 = process.cpuUsage();
    process.on('message', (m: { type: string }) => {
      // The CPU window starts when the frames do (as the broker's and the publishers' do), not at the logins.
      if (m.type === 'go') cpu0 = process.cpuUsage();
      if (m.type === 'finish') finish();
      if (m.type === 'close') {
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

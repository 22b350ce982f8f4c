// The one-command demo: an embedded broker, N emulated boards (each its own process, reached only through
// its console), each flashed and provisioned exactly as a real board would be, a verifier proving every
// frame, and a command round trip. Everything lives in a throw-away SEALMQ_HOME with a random passphrase.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBroker, RunningBroker } from '../broker/broker.js';
import { flashBoard } from '../board/flash.js';
import { provisionBoard } from '../board/provision.js';
import { sendCommand } from '../board/send.js';
import { smqCall } from '../board/smq.js';
import { spawnEmulator, EmulatorProcess } from '../emulator/process.js';
import { connectRepl } from '../link/repl.js';
import { openLink } from '../link/open-link.js';
import { openRegistry, Registry } from '../registry/registry.js';
import { runVerifier, RunningVerifier } from '../verifier/run.js';
import type { VerifyResult } from '../verifier/verifier.js';
import { firmwareBundle } from '../board/firmware-bundle.js';

export interface DemoOptions {
  boards: number;
  seconds: number;
  /** Seconds between readings on each board. */
  interval: number;
  board?: string;
  keep?: boolean;
  onEvent?: (e: DemoEvent) => void;
}

export type DemoEvent =
  | { type: 'phase'; text: string }
  | { type: 'board'; name: string; text: string }
  | { type: 'frame'; result: VerifyResult }
  | { type: 'command'; text: string };

export interface DemoSummary {
  boards: number;
  sealed: number;
  verified: number;
  rejected: number;
  commandRoundTrip: boolean;
  latencyMs: { p50: number | null; p95: number | null };
  home?: string;
  rejections?: Record<string, number>;
}

export function percentile(sorted: number[], p: number): number | null {
  if (!sorted.length) return null;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return Math.round(sorted[i] * 1000) / 1000;
}

export async function runDemo(o: DemoOptions): Promise<DemoSummary> {
  const say = (text: string) => o.onEvent?.({ type: 'phase', text });
  const home = mkdtempSync(join(tmpdir(), 'sealmq-demo-'));
  const passphrase = randomBytes(24).toString('base64');
  const viewerPw = randomBytes(18).toString('base64');
  const adminPw = randomBytes(18).toString('base64');
  const boards: EmulatorProcess[] = [];
  let registry: Registry | undefined;
  let broker: RunningBroker | undefined;
  let verifier: RunningVerifier | undefined;
  const latencies: number[] = [];
  try {
    say(`registry in ${home} (throw-away, random passphrase)`);
    registry = openRegistry({ home });
    await registry.unlock(passphrase);
    await registry.addOperator({ name: 'demo-viewer', role: 'viewer', password: viewerPw, actor: 'demo' });
    await registry.addOperator({ name: 'demo-admin', role: 'admin', password: adminPw, actor: 'demo' });

    say('building the firmware bundle');
    const fw = await firmwareBundle(o.board ?? 'emulated', join(home, 'dist'));
    say(`firmware ${fw.version}: ${fw.bundle.length} bytes`);

    broker = await startBroker({ registry, listen: 'mqtt://127.0.0.1:0' });
    say(`embedded broker on ${broker.url}`);

    say(`starting ${o.boards} emulated boards`);
    const names = Array.from({ length: o.boards }, (_, i) => `node-${String(i + 1).padStart(2, '0')}`);
    for (const name of names) {
      boards.push(await spawnEmulator({ name, flashFile: join(home, `${name}.flash`), board: o.board ?? 'emulated' }));
    }
    await Promise.all(boards.map(async (b) => {
      const f = await flashBoard({ port: b.console, bundle: fw.bundle, version: fw.version });
      o.onEvent?.({ type: 'board', name: b.name, text: `flashed ${f.bytes} bytes in ${f.seconds.toFixed(1)} s (sha256 checked on the board)` });
      const p = await provisionBoard({
        port: b.console, deviceId: b.name, broker: broker!.url, interval: o.interval, registry: registry!, actor: 'demo',
      });
      o.onEvent?.({ type: 'board', name: b.name, text: `provisioned: epoch ${p.epoch}, crypto ${p.crypto}, ${p.seconds.toFixed(1)} s` });
    }));

    verifier = await runVerifier({
      registry, brokerUrl: broker.url, username: 'demo-viewer', password: viewerPw,
      onResult: (r) => {
        if (r.ok && r.kind === 'reading' && r.latencyMs !== null) latencies.push(r.latencyMs);
        o.onEvent?.({ type: 'frame', result: r });
      },
    });
    say(`verifier subscribed; running for ${o.seconds} s`);

    let commandRoundTrip = false;
    const half = new Promise((r) => setTimeout(r, Math.max(1000, (o.seconds * 1000) / 2)));
    await half;
    try {
      const r = await sendCommand({
        registry, brokerUrl: broker.url, username: 'demo-admin', password: adminPw, deviceId: names[0],
        command: 'ping', actor: 'demo', timeoutMs: 10000,
      });
      commandRoundTrip = r.reply.ok === true;
      o.onEvent?.({ type: 'command', text: `ping → ${names[0]}: sealed reply #${r.counter} in ${r.roundTripMs.toFixed(0)} ms` });
    } catch (e) {
      o.onEvent?.({ type: 'command', text: `ping → ${names[0]} failed: ${(e as Error).message}` });
    }
    await new Promise((r) => setTimeout(r, Math.max(0, o.seconds * 1000 / 2)));

    say('stopping the boards and counting what they sent');
    let sealed = 0;
    for (const b of boards) {
      const link = await openLink(b.console);
      const repl = await connectRepl(link);
      const s = await smqCall<{ sent?: number; counter?: number }>(repl, 'SEALMQ.stop(true);SEALMQ.status()');
      sealed += s.sent ?? s.counter ?? 0;
      repl.detach();
      await link.close();
    }
    await new Promise((r) => setTimeout(r, 500));
    const stats = verifier.stats;
    latencies.sort((a, b) => a - b);
    return {
      boards: o.boards, sealed, verified: stats.accepted, rejected: stats.rejected, commandRoundTrip,
      latencyMs: { p50: percentile(latencies, 50), p95: percentile(latencies, 95) },
      ...(stats.rejected ? { rejections: stats.byReason } : {}),
      ...(o.keep ? { home } : {}),
    };
  } finally {
    await verifier?.close().catch(() => {});
    await Promise.all(boards.map((b) => b.stop().catch(() => {})));
    await broker?.close().catch(() => {});
    registry?.close();
    if (!o.keep) rmSync(home, { recursive: true, force: true });
  }
}


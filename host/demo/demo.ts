// The one-command demo: an embedded broker, N emulated boards (each its own process, reached only through
// its console), each flashed and provisioned exactly as a real board would be, a verifier proving every
// frame, and a command round trip. Everything lives in a throw-away SEALMQ_HOME with a random passphrase.
// The setup is host/pipeline (the sealed pipeline); with plain: true it is the RESEARCH PLAIN pipeline.
import type { BoardTarget } from '../emulator/process.js';
import type { VerifyResult } from '../verifier/verifier.js';
import type { PlainResult } from '../verifier/plain.js';
import { PLAIN_LABEL } from '../verifier/plain.js';
import { startPipeline, Pipeline } from '../pipeline/pipeline.js';
import { dashboardOnPipeline, PipelineDashboard } from '../dashboard/demo.js';

export interface DemoOptions {
  boards: number;
  seconds: number;
  /** Seconds between readings on each board. */
  interval: number;
  board?: string;
  /** What runs the boards (default 'emulated'). */
  target?: BoardTarget;
  keep?: boolean;
  /** The research plain pipeline instead (needs researchInsecure: true). */
  plain?: boolean;
  researchInsecure?: boolean;
  onEvent?: (e: DemoEvent) => void;
  /** Serve the dashboard on this URL (sealed only); the demo then runs until `until` settles. */
  dashboard?: { listen: string; reportsDir?: string; until: Promise<void>; onReady: (d: PipelineDashboard) => void };
}

export type DemoEvent =
  | { type: 'phase'; text: string }
  | { type: 'board'; name: string; text: string }
  | { type: 'frame'; result: VerifyResult | PlainResult }
  | { type: 'command'; text: string };

export interface DemoSummary {
  /** Present only for the research plain pipeline: 'RESEARCH PLAIN / NOT SECURE'. */
  pipeline?: string;
  boards: number;
  sealed: number;
  verified: number;
  rejected: number;
  /** Research plain pipeline only: messages the boards sent in clear (sealed is 0). */
  sentInClear?: number;
  commandRoundTrip: boolean;
  latencyMs: { p50: number | null; p95: number | null };
  home?: string;
  rejections?: Record<string, number>;
  /**
   * Boards without a network (QEMU, emulated-uart): what their gateways relayed, all boards together
   * (MQTT packets each way: the sealed PUBLISHes and the sessions' CONNECT, SUBSCRIBE, PINGREQ and acks).
   */
  gateways?: { count: number; packetsToBroker: number; packetsToBoards: number; bytesToBroker: number; bytesToBoards: number };
  /**
   * Each board's clock against the host's before the demo corrected it (NTP-style over its console, best of 5
   * round trips): the latencies are host time − board time, so an offset here would have been in every one.
   */
  clocks?: { board: string; offsetMs: number; rttMs: number }[];
}

export function percentile(sorted: number[], p: number): number | null {
  if (!sorted.length) return null;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return Math.round(sorted[i] * 1000) / 1000;
}

export async function runDemo(o: DemoOptions): Promise<DemoSummary> {
  const latencies: number[] = [];
  let pipe: Pipeline | undefined;
  let dash: PipelineDashboard | undefined;
  try {
    pipe = await startPipeline({
      mode: o.plain ? 'plain' : 'sealed', researchInsecure: o.researchInsecure, boards: o.boards, interval: o.interval,
      board: o.board ?? 'emulated', target: o.target, keep: o.keep,
      onEvent: (e) => {
        if (e.type === 'frame') {
          const r = e.result;
          if (r.ok && r.kind === 'reading' && r.latencyMs !== null) latencies.push(r.latencyMs);
          o.onEvent?.({ type: 'frame', result: r });
        } else if (e.type === 'phase' || e.type === 'board') o.onEvent?.(e);
      },
    });
    const names = pipe.boards.map((b) => b.deviceId);
    // A board's clock was set when it was provisioned, over its console and late by that console's transit
    // (over 10 ms on a loaded machine); the latencies shown are host time − board time, so each clock is
    // corrected first (NTP-style over the console, the best of 5 round trips), as bench latency does.
    o.onEvent?.({ type: 'phase', text: 'aligning the boards\' clocks over their consoles' });
    let clocks: DemoSummary['clocks'];
    try {
      clocks = (await pipe.syncClocks(5)).map((c) => ({ board: c.board, offsetMs: c.offsetMs, rttMs: c.rttMs }));
      // Readings verified before the correction carried the offset: the latencies start from here.
      latencies.length = 0;
    } catch (e) {
      o.onEvent?.({ type: 'phase', text: `clocks not aligned (${(e as Error).message}): latencies include each board's clock offset` });
    }
    if (o.dashboard) {
      dash = await dashboardOnPipeline(pipe, { listen: o.dashboard.listen, reportsDir: o.dashboard.reportsDir });
      o.dashboard.onReady(dash);
    }
    o.onEvent?.({ type: 'phase', text: `running for ${o.seconds} s` });

    let commandRoundTrip = false;
    await new Promise((r) => setTimeout(r, Math.max(1000, (o.seconds * 1000) / 2)));
    try {
      const r = await pipe.command(names[0], 'ping', undefined, 10000);
      commandRoundTrip = r.reply.ok === true;
      o.onEvent?.({ type: 'command', text: `ping → ${names[0]}: ${o.plain ? 'reply in clear' : 'sealed reply #' + String((r.reply as { i?: unknown }).i ?? '?')} in ${r.roundTripMs.toFixed(0)} ms` });
    } catch (e) {
      o.onEvent?.({ type: 'command', text: `ping → ${names[0]} failed: ${(e as Error).message}` });
    }
    await new Promise((r) => setTimeout(r, Math.max(0, o.seconds * 1000 / 2)));
    if (o.dashboard) await o.dashboard.until;

    o.onEvent?.({ type: 'phase', text: 'stopping the boards and counting what they sent' });
    const sent = (await pipe.stopReporting()).reduce((a, b) => a + b.sent, 0);
    await new Promise((r) => setTimeout(r, 500));
    const stats = pipe.stats();
    latencies.sort((a, b) => a - b);
    const gw = pipe.boards.map((b) => b.gateway?.stats?.()).filter((g) => g !== undefined);
    const gateways = gw.length ? {
      count: gw.length,
      packetsToBroker: gw.reduce((a, g) => a + g.toBroker.packets, 0), packetsToBoards: gw.reduce((a, g) => a + g.toBoard.packets, 0),
      bytesToBroker: gw.reduce((a, g) => a + g.toBroker.bytes, 0), bytesToBoards: gw.reduce((a, g) => a + g.toBoard.bytes, 0),
    } : undefined;
    return {
      ...(o.plain ? { pipeline: PLAIN_LABEL } : {}),
      boards: o.boards, sealed: o.plain ? 0 : sent, verified: stats.accepted, rejected: stats.rejected, commandRoundTrip,
      latencyMs: { p50: percentile(latencies, 50), p95: percentile(latencies, 95) },
      ...(o.plain ? { sentInClear: sent } : {}),
      ...(stats.rejected ? { rejections: stats.byReason } : {}),
      ...(o.keep ? { home: pipe.home } : {}),
      ...(gateways ? { gateways } : {}),
      ...(clocks ? { clocks } : {}),
    };
  } finally {
    await dash?.close().catch(() => {});
    await pipe?.stop();
  }
}

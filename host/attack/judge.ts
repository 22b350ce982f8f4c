// What every attack of the suite shares (pipelines.ts runs them, attacks.ts defines them): the names, the
// outcome and report shapes, the log of the verifier's results, the context an attack runs in and the
// judges that read an outcome from what the pipeline itself did.
import { isDeepStrictEqual } from 'node:util';
import type { BoardTarget } from '../emulator/process.js';
import type { Pipeline, PipelineBrokerKind, PipelineMode, PipelineResult } from '../pipeline/pipeline.js';
import type { Relay, RelayPublish } from './relay.js';
import { frameCounter, recoverClear } from './frames.js';

export const ATTACKS = [
  'eavesdrop', 'inject', 'replay', 'replay-after-restart', 'tamper', 'move', 'downgrade', 'forged-command',
  'malicious-broker', 'password-reuse', 'client-id-takeover', 'counter-rollback',
] as const;
export type AttackName = typeof ATTACKS[number];

/**
 * Seconds between readings on the attacked boards, per target: 0.05, the firmware's fastest, on every one.
 * QEMU boards keep up with it (measured, docs/SECURITY.md: three boards on 2 shared cores at load 6.5 sent
 * 18.7–19.7 of 20 readings a second, none rejected; ~1.1 cores for the three QEMUs), and the UART is far
 * from full (a reading's PUBLISH is ~123 bytes: 2.5 KB/s of the 11.5 KB/s of 115200 baud 8N1).
 */
export const DEFAULT_INTERVAL: Record<BoardTarget, number> = { emulated: 0.05, espruino: 0.05, qemu: 0.05 };

export interface Outcome {
  succeeded: boolean;
  detected: boolean;
  /** What stopped or reported it (a verifier reason, 'broker-refused', 'board-rejected', …). */
  reason?: string;
}

export interface AttackResult {
  attack: AttackName;
  pipeline: PipelineMode;
  succeeded: number;
  detected: number;
  runs: number;
  /** How runs ended: reasons (detections) and the other outcomes, counted. */
  reasons: Record<string, number>;
}

export interface AttackReport {
  runs: number;
  broker: PipelineBrokerKind;
  /** What ran the boards. */
  target: BoardTarget;
  /** Seconds between readings on the boards. */
  interval: number;
  results: AttackResult[];
  date: string;
  seconds: number;
  platform: { node: string; cpu: string; cores: number };
}

export interface AttackSuiteOptions {
  pipelines: PipelineMode[];
  broker: PipelineBrokerKind;
  runs: number;
  attacks?: AttackName[];
  /** What runs the boards (default 'emulated'; 'qemu': Espruino's STM32 firmware, MQTT through a gateway each). */
  target?: BoardTarget;
  /** Seconds between readings on the boards (default DEFAULT_INTERVAL of the target). */
  interval?: number;
  onProgress?: (label: string, done: number, total: number) => void;
  onPhase?: (text: string) => void;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
// Only runs that end with no result at all wait this long (a rejection or an acceptance ends the wait).
export const WAIT_MS = 5000;
export const A = 0; // the board most attacks aim at
export const B = 1; // the other board: target of "move", and of the login attacks
export const R = 2; // the board restored from an old flash image

export interface Logged { seq: number; result: PipelineResult }

/** The verifier's results as they come, numbered, with waits. */
export class ResultLog {
  private log: Logged[] = [];
  private seq = 0;
  private waiters: (() => void)[] = [];
  add(result: PipelineResult): void {
    this.log.push({ seq: ++this.seq, result });
    if (this.log.length > 50_000) this.log.splice(0, 10_000);
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
  get mark(): number { return this.seq; }
  /** The first result after `from` that matches, or null after timeoutMs. Each result is offered to match once. */
  async find(from: number, match: (r: PipelineResult) => boolean, timeoutMs = WAIT_MS): Promise<PipelineResult | null> {
    const end = Date.now() + timeoutMs;
    let scanned = from;
    for (;;) {
      for (const l of this.log) {
        if (l.seq <= scanned) continue;
        scanned = l.seq;
        if (match(l.result)) return l.result;
      }
      const left = end - Date.now();
      if (left <= 0) return null;
      await new Promise<void>((res) => {
        const t = setTimeout(res, left);
        this.waiters.push(() => { clearTimeout(t); res(); });
      });
    }
  }
}

export interface Ctx {
  mode: PipelineMode;
  broker: PipelineBrokerKind;
  p: Pipeline;
  relay: Relay;
  log: ResultLog;
  ids: string[];
  topic(i: number, ch?: string): string;
  /** The last epoch seen on the wire (sealed). */
  epoch: number;
  say(text: string): void;
  /** The counter rollback's outcomes, one per frame judged (set up once per pipeline). */
  rollback?: Outcome[];
}

// ── frames ──────────────────────────────────────────────────────────────────────────────────────────

/** A sealed frame's counter (bytes 3..6, big-endian; DESIGN.md §4), or null for anything shorter. */
export const isAccept = (r: PipelineResult, topic: string) => r.ok && r.topic === topic;
export const isReject = (r: PipelineResult, topic: string) => !r.ok && r.topic === topic;

/**
 * Sealed: a result for this topic about this counter, unless a different frame under the same counter
 * went through the relay unchanged on that topic (the board's own, e.g. B's frame when A's is moved onto
 * B's topic: its acceptance is not the attack's). Plain: an acceptance of exactly this message.
 */
export function sameFrame(ctx: Ctx, r: PipelineResult, topic: string, payload: Uint8Array): boolean {
  if (r.topic !== topic) return false;
  if (ctx.mode === 'plain') {
    const m = recoverClear(payload);
    return r.ok && m !== null && isDeepStrictEqual(r.message, m);
  }
  const c = frameCounter(payload);
  if (c === null || (r as { counter?: number }).counter !== c) return false;
  const p = Buffer.from(payload);
  return !ctx.relay.captured.some((x) => x.forwarded && x.topic === topic && frameCounter(x.payload) === c && !x.payload.equals(p));
}

/**
 * After a frame went to the verifier: succeeded if it was accepted (matching `accepted`), detected if the
 * verifier rejected a frame on that topic (its reason is kept).
 */
export async function judgeVerifier(ctx: Ctx, from: number, topic: string, accepted: (r: PipelineResult) => boolean): Promise<Outcome> {
  const r = await ctx.log.find(from, (x) => (isAccept(x, topic) && accepted(x)) || isReject(x, topic));
  if (!r) return { succeeded: false, detected: false, reason: 'no-result' };
  if (r.ok) return { succeeded: true, detected: false, reason: 'accepted' };
  return { succeeded: false, detected: true, reason: r.reason };
}

/** Waits for a genuine frame of board i on the wire and for the verifier to accept it. */
export async function genuine(ctx: Ctx, i: number): Promise<RelayPublish | null> {
  const topic = ctx.topic(i);
  for (let tries = 0; tries < 5; tries++) {
    const from = ctx.log.mark;
    const pub = await ctx.relay.next('up', (p) => p.topic === topic, 5000);
    if (!pub) continue;
    const ok = await ctx.log.find(from, (r) => r.ok && sameFrame(ctx, r, topic, pub.payload));
    if (ok) {
      if (ctx.mode === 'sealed') ctx.epoch = pub.payload[2];
      return pub;
    }
  }
  return null;
}

export function session(ctx: Ctx, i: number) {
  return ctx.relay.waitSession(ctx.ids[i], 15_000);
}

// ── the attacks ─────────────────────────────────────────────────────────────────────────────────────

export type Attack = { setup?: (ctx: Ctx, runs: number) => Promise<void>; run: (ctx: Ctx, i: number) => Promise<Outcome> };


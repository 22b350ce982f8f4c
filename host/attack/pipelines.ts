// `sealmq attack`: every attack of docs/SECURITY.md ("The attack table") against a research plain and a
// sealed pipeline (host/pipeline), on the embedded broker or a real Mosquitto. Each pipeline is set up
// once (three emulated boards, broker, verifier), an on-path relay (relay.ts) is put between its boards
// and its broker, and each attack is repeated `runs` times against it. A run's outcome is judged only by
// what the pipeline itself did: the verifier's results (accepted or rejected, with the reason), the
// broker's answer to the attacker's own MQTT client, the board's counters read over its console.
// A library: progress goes to onProgress, nothing is printed.
import mqtt from 'mqtt';
import { randomBytes } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import { smqCall } from '../board/smq.js';
import { unlockConsole } from '../link/console-lock.js';
import { connectRepl, Repl } from '../link/repl.js';
import { openLink } from '../link/open-link.js';
import { hiresNow, Pipeline, PipelineBrokerKind, PipelineEvent, PipelineMode, PipelineResult, startPipeline } from '../pipeline/pipeline.js';
import { publishPacket, Relay, RelayPublish } from './relay.js';

export const ATTACKS = [
  'eavesdrop', 'inject', 'replay', 'replay-after-restart', 'tamper', 'move', 'downgrade', 'forged-command',
  'malicious-broker', 'password-reuse', 'client-id-takeover', 'counter-rollback',
] as const;
export type AttackName = typeof ATTACKS[number];

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
  /** Seconds between readings on the boards (default 0.05, the firmware's fastest). */
  interval?: number;
  onProgress?: (label: string, done: number, total: number) => void;
  onPhase?: (text: string) => void;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
// Only runs that end with no result at all wait this long (a rejection or an acceptance ends the wait).
const WAIT_MS = 5000;
const A = 0; // the board most attacks aim at
const B = 1; // the other board: target of "move", and of the login attacks
const R = 2; // the board restored from an old flash image

interface Logged { seq: number; result: PipelineResult }

/** The verifier's results as they come, numbered, with waits. */
class ResultLog {
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

interface Ctx {
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
export function frameCounter(f: Uint8Array): number | null {
  return f.length >= 7 ? ((f[3] << 24) >>> 0) + (f[4] << 16) + (f[5] << 8) + f[6] : null;
}

/** What an eavesdropper recovers from a payload: the JSON object in it, or null (e.g. a sealed frame). */
export function recoverClear(payload: Uint8Array): Record<string, unknown> | null {
  try {
    const m = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(payload));
    return m && typeof m === 'object' && !Array.isArray(m) ? m : null;
  } catch {
    return null;
  }
}

/** A frame-shaped forgery: a valid v1 header with a fresh counter, random ciphertext and tag (no key). */
function forgedFrame(epoch: number, counter: number, direction: 0 | 1 = 0): Buffer {
  const h = Buffer.from([1, direction, epoch, (counter >>> 24) & 255, (counter >>> 16) & 255, (counter >>> 8) & 255, counter & 255]);
  return Buffer.concat([h, randomBytes(32), randomBytes(16)]);
}

/** A made-up reading in the research plain format (what the plain firmware publishes). */
function forgedPlainReading(i: number): Record<string, unknown> {
  return { t: Math.round(Date.now()) / 1000, d: { temp: 66.6 + i, a0: 0.5, free: 1234 }, plain: true };
}

const SEALED_FIELDS = ['version', 'flags', 'epoch', 'counter', 'ciphertext', 'tag'] as const;

/** The byte range of a sealed frame's field. */
function fieldRange(f: Uint8Array, name: typeof SEALED_FIELDS[number]): [number, number] {
  switch (name) {
    case 'version': return [0, 1];
    case 'flags': return [1, 2];
    case 'epoch': return [2, 3];
    case 'counter': return [3, 7];
    case 'ciphertext': return [7, f.length - 16];
    case 'tag': return [f.length - 16, f.length];
  }
}

/** Run i's bit flip in a sealed frame: field i mod 6, a byte and a bit of it chosen from i. */
export function tamperSealed(f: Uint8Array, i: number): { frame: Buffer; field: string } {
  const field = SEALED_FIELDS[i % SEALED_FIELDS.length];
  const [lo, hi] = fieldRange(f, field);
  const out = Buffer.from(f);
  const at = lo + ((i * 7) % (hi - lo));
  out[at] ^= 1 << ((i * 3) % 8);
  return { frame: out, field };
}

/**
 * Run i's bit flip in a plain message: field i mod n of "t" and each numeric reading; the low bit of the
 * last digit of its JSON text ('4' ↔ '5'), so the message stays valid JSON with one value changed.
 */
export function tamperPlain(m: Record<string, unknown>, i: number): { message: Record<string, unknown>; field: string } {
  const d = (m.d && typeof m.d === 'object' ? m.d : {}) as Record<string, unknown>;
  const fields = ['t', ...Object.keys(d).filter((k) => typeof d[k] === 'number')];
  const field = fields[i % fields.length];
  const flip = (v: number): number => {
    const s = String(v);
    const last = s.charCodeAt(s.length - 1);
    return Number(s.slice(0, -1) + String.fromCharCode(last ^ 1));
  };
  const out = JSON.parse(JSON.stringify(m)) as Record<string, unknown>;
  if (field === 't' && typeof m.t === 'number') out.t = flip(m.t);
  else if (typeof d[field] === 'number') (out.d as Record<string, unknown>)[field] = flip(d[field] as number);
  return { message: out, field };
}

// ── judging ─────────────────────────────────────────────────────────────────────────────────────────

const isAccept = (r: PipelineResult, topic: string) => r.ok && r.topic === topic;
const isReject = (r: PipelineResult, topic: string) => !r.ok && r.topic === topic;

/**
 * Sealed: a result for this topic about this counter, unless a different frame under the same counter
 * went through the relay unchanged on that topic (the board's own, e.g. B's frame when A's is moved onto
 * B's topic: its acceptance is not the attack's). Plain: an acceptance of exactly this message.
 */
function sameFrame(ctx: Ctx, r: PipelineResult, topic: string, payload: Uint8Array): boolean {
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
async function judgeVerifier(ctx: Ctx, from: number, topic: string, accepted: (r: PipelineResult) => boolean): Promise<Outcome> {
  const r = await ctx.log.find(from, (x) => (isAccept(x, topic) && accepted(x)) || isReject(x, topic));
  if (!r) return { succeeded: false, detected: false, reason: 'no-result' };
  if (r.ok) return { succeeded: true, detected: false, reason: 'accepted' };
  return { succeeded: false, detected: true, reason: r.reason };
}

/** Waits for a genuine frame of board i on the wire and for the verifier to accept it. */
async function genuine(ctx: Ctx, i: number): Promise<RelayPublish | null> {
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

function session(ctx: Ctx, i: number) {
  return ctx.relay.waitSession(ctx.ids[i], 15_000);
}

// ── the attacks ─────────────────────────────────────────────────────────────────────────────────────

type Attack = { setup?: (ctx: Ctx, runs: number) => Promise<void>; run: (ctx: Ctx, i: number) => Promise<Outcome> };

/** Eavesdrop: succeeds if the reading's values are recovered from the captured bytes alone (equal to what the verifier delivered). */
const eavesdrop: Attack = {
  async run(ctx) {
    const topic = ctx.topic(A);
    const from = ctx.log.mark;
    const pub = await ctx.relay.next('up', (p) => p.topic === topic, 5000);
    if (!pub) return { succeeded: false, detected: false, reason: 'no-frame' };
    const clear = recoverClear(pub.payload);
    if (!clear || !('d' in clear)) return { succeeded: false, detected: false, reason: 'unreadable' };
    const r = await ctx.log.find(from, (x) => x.ok && x.topic === topic && isDeepStrictEqual(x.message.d, clear.d));
    return r ? { succeeded: true, detected: false, reason: 'read' } : { succeeded: false, detected: false, reason: 'no-match' };
  },
};

/** Inject: a made-up reading written into board A's session; succeeds if the verifier accepts it. */
const inject: Attack = {
  async run(ctx, i) {
    const s = await session(ctx, A);
    if (!s) return { succeeded: false, detected: false, reason: 'no-session' };
    const topic = ctx.topic(A);
    const payload = ctx.mode === 'plain' ? Buffer.from(JSON.stringify(forgedPlainReading(i))) : forgedFrame(ctx.epoch, 0x7000_0000 + i);
    const from = ctx.log.mark;
    ctx.relay.inject(s, 'up', [publishPacket(topic, payload)]);
    return judgeVerifier(ctx, from, topic, (r) => sameFrame(ctx, r, topic, payload));
  },
};

/** Replay: a frame the verifier already accepted, sent again; succeeds if it is accepted a second time. */
const replay: Attack = {
  async run(ctx) {
    const pub = await genuine(ctx, A);
    const s = pub && !pub.session.closed ? pub.session : await session(ctx, A);
    if (!pub || !s) return { succeeded: false, detected: false, reason: 'no-frame' };
    const from = ctx.log.mark;
    ctx.relay.inject(s, 'up', [publishPacket(pub.topic, pub.payload)]);
    return judgeVerifier(ctx, from, pub.topic, (r) => sameFrame(ctx, r, pub.topic, pub.payload));
  },
};

/** Replay after a verifier restart: as replay, with the verifier restarted in between (its state must persist). */
const replayAfterRestart: Attack = {
  async run(ctx) {
    const pub = await genuine(ctx, A);
    if (!pub) return { succeeded: false, detected: false, reason: 'no-frame' };
    await ctx.p.restartVerifier();
    const s = await session(ctx, A);
    if (!s) return { succeeded: false, detected: false, reason: 'no-session' };
    const from = ctx.log.mark;
    ctx.relay.inject(s, 'up', [publishPacket(pub.topic, pub.payload)]);
    return judgeVerifier(ctx, from, pub.topic, (r) => sameFrame(ctx, r, pub.topic, pub.payload));
  },
};

/** Tamper: board A's next frame held and one bit of one field flipped (each field in turn); succeeds if the altered frame is accepted. */
const tamper: Attack = {
  async run(ctx, i) {
    const topic = ctx.topic(A);
    const held = await ctx.relay.hold('up', (p) => p.topic === topic, 5000);
    if (!held) return { succeeded: false, detected: false, reason: 'no-frame' };
    let payload: Buffer;
    if (ctx.mode === 'plain') {
      const m = recoverClear(held.payload);
      payload = m ? Buffer.from(JSON.stringify(tamperPlain(m, i).message)) : Buffer.from(held.payload);
    } else {
      payload = tamperSealed(held.payload, i).frame;
    }
    const from = ctx.log.mark;
    held.release([publishPacket(topic, payload)]);
    // The original was not forwarded: an acceptance under its counter or the altered one is the altered frame's.
    return judgeVerifier(ctx, from, topic, (r) => sameFrame(ctx, r, topic, payload) ||
      (ctx.mode === 'sealed' && (r as { counter?: number }).counter === frameCounter(held.payload)));
  },
};

/** Move: board A's frame taken off the wire and published on board B's topic, in B's session; succeeds if accepted as B's. */
const move: Attack = {
  async run(ctx) {
    const topicA = ctx.topic(A);
    const topicB = ctx.topic(B);
    const held = await ctx.relay.hold('up', (p) => p.topic === topicA, 5000);
    if (!held) return { succeeded: false, detected: false, reason: 'no-frame' };
    held.release([]);
    const s = await session(ctx, B);
    if (!s) return { succeeded: false, detected: false, reason: 'no-session' };
    const from = ctx.log.mark;
    ctx.relay.inject(s, 'up', [publishPacket(topicB, held.payload)]);
    return judgeVerifier(ctx, from, topicB, (r) => sameFrame(ctx, r, topicB, held.payload));
  },
};

/** Downgrade: board A's frame replaced by the same reading in the plain format; succeeds if the verifier accepts it. */
const downgrade: Attack = {
  async run(ctx, i) {
    const topic = ctx.topic(A);
    const held = await ctx.relay.hold('up', (p) => p.topic === topic, 5000);
    if (!held) return { succeeded: false, detected: false, reason: 'no-frame' };
    const clear = recoverClear(held.payload);
    const m = clear ? { ...clear, plain: true } : forgedPlainReading(i);
    const payload = Buffer.from(JSON.stringify(m));
    const from = ctx.log.mark;
    held.release([publishPacket(topic, payload)]);
    return judgeVerifier(ctx, from, topic, (r) => isDeepStrictEqual((r as { message: unknown }).message, m));
  },
};

/**
 * Runs fn on board i's console REPL (the test bench's own access to its boards). A console locked by
 * provisioning (Espruino's console password, host/link/console-lock.ts) is unlocked first with the
 * password the pipeline's registry holds for the device.
 */
async function withConsole<T>(p: Pipeline, i: number, fn: (repl: Repl) => Promise<T>): Promise<T> {
  const b = p.boards[i];
  const link = await openLink(b.console);
  try {
    // The research plain boards have no registry and an open console; unlockConsole leaves an open one alone.
    if (p.registry) await unlockConsole(link, p.registry.consolePasswords(b.deviceId), { device: b.deviceId });
    const repl = await connectRepl(link);
    try {
      return await fn(repl);
    } finally {
      repl.detach();
    }
  } finally {
    await link.close().catch(() => {});
  }
}

function boardStatus(ctx: Ctx, i: number): Promise<{ rejected?: number }> {
  return withConsole(ctx.p, i, (repl) => smqCall<{ rejected?: number }>(repl, 'SEALMQ.status()'));
}

/**
 * Forged command: a command the admin never sent written into board A's session from the broker's side
 * (odd runs: the plain JSON command; even runs: a frame-shaped forgery). Succeeds if the board carries it
 * out (its reply reaches the verifier); detected when the board's rejected-frame count rises.
 */
const forgedCommand: Attack = {
  async run(ctx, i) {
    const s = await session(ctx, A);
    if (!s) return { succeeded: false, detected: false, reason: 'no-session' };
    const topic = ctx.topic(A);
    const nonce = `ping`;
    const payload = ctx.mode === 'plain' || i % 2 === 1 ? Buffer.from(JSON.stringify({ c: nonce, a: {} })) : forgedFrame(ctx.epoch, 0x7000_0000 + i, 1);
    const from = ctx.log.mark;
    // The board answers a command as soon as it has read it, on the same connection as its readings: once
    // five more readings of A went through the verifier, a reply that has not come will not come.
    let readings = 0;
    ctx.relay.inject(s, 'down', [publishPacket(ctx.topic(A, 'down'), payload)]);
    const r = await ctx.log.find(from, (x) => {
      if (x.topic !== topic) return false;
      if (x.ok && (x.message as { r?: unknown }).r === nonce) return true;
      if (x.ok && 'd' in x.message) readings++;
      return readings >= 5;
    }, 3000);
    return r && r.ok && (r.message as { r?: unknown }).r === nonce
      ? { succeeded: true, detected: false, reason: 'executed' } : { succeeded: false, detected: false, reason: 'not-executed' };
  },
};

/**
 * Malicious broker (the relay as the boards' broker): run i reads (i mod 4 = 0), forges (1), reorders (2) or
 * replays (3) what it relays. Reorder succeeds if two frames reach the verifier swapped and both are
 * accepted with nothing authenticated to show it (sealed readings carry their authenticated counter, so a
 * later-delivered lower counter is counted as detected).
 */
const maliciousBroker: Attack = {
  async run(ctx, i) {
    switch (i % 4) {
      case 0: return eavesdrop.run(ctx, i);
      case 1: return inject.run(ctx, i);
      case 3: return replay.run(ctx, i);
    }
    const topic = ctx.topic(A);
    const first = await ctx.relay.hold('up', (p) => p.topic === topic, 5000);
    if (!first) return { succeeded: false, detected: false, reason: 'no-frame' };
    const from = ctx.log.mark;
    const second = await ctx.relay.next('up', (p) => p.topic === topic, 5000);
    first.release();
    if (!second) return { succeeded: false, detected: false, reason: 'no-frame' };
    const a = await ctx.log.find(from, (r) => sameFrame(ctx, r, topic, second.payload));
    const b = await ctx.log.find(from, (r) => sameFrame(ctx, r, topic, first.payload));
    if (!a || !b) return { succeeded: false, detected: !!(a && !a.ok) || !!(b && !b.ok), reason: 'no-result' };
    if (!a.ok || !b.ok) return { succeeded: false, detected: true, reason: (!a.ok ? a : b as { reason: string }).reason as string };
    if (ctx.mode === 'sealed') {
      const ca = (a as { counter: number }).counter;
      const cb = (b as { counter: number }).counter;
      return cb < ca ? { succeeded: false, detected: true, reason: 'reorder-visible-by-counter' } : { succeeded: true, detected: false, reason: 'accepted' };
    }
    return { succeeded: true, detected: false, reason: 'accepted' };
  },
};

/** An attacker's own MQTT client; resolves with it, or with the refusal. */
function attackerClient(ctx: Ctx, o: mqtt.IClientOptions): Promise<{ client?: mqtt.MqttClient; refused?: string }> {
  return new Promise((resolve) => {
    const c = mqtt.connect(ctx.p.brokerUrl, { protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 3000, clean: true, ...o });
    c.once('connect', () => resolve({ client: c }));
    c.once('error', (e) => { c.end(true); resolve({ refused: (e as { code?: number }).code ? `connack-${(e as { code?: number }).code}` : e.message }); });
    c.once('close', () => resolve({ refused: 'closed' }));
  });
}

/**
 * Password reuse: the user name and password board B sent in its CONNECT, as captured on the wire, used by
 * the attacker's own client to publish a made-up reading as B. Succeeds if the verifier accepts the reading.
 */
const passwordReuse: Attack = {
  async run(ctx, i) {
    const cred = ctx.relay.sniffedCredentials(ctx.ids[B]);
    if (!cred) return { succeeded: false, detected: false, reason: 'nothing-sniffed' };
    const { client, refused } = await attackerClient(ctx, {
      clientId: 'attacker-' + randomBytes(3).toString('hex'),
      ...(cred.username !== null ? { username: cred.username } : {}),
      ...(cred.password !== null ? { password: cred.password } : {}),
    });
    if (!client) return { succeeded: false, detected: true, reason: 'broker-refused' };
    try {
      const topic = ctx.topic(B);
      const payload = ctx.mode === 'plain' ? Buffer.from(JSON.stringify(forgedPlainReading(i))) : forgedFrame(ctx.epoch, 0x7100_0000 + i);
      const from = ctx.log.mark;
      await client.publishAsync(topic, payload, { qos: 0 });
      return await judgeVerifier(ctx, from, topic, (r) => sameFrame(ctx, r, topic, payload));
    } finally {
      client.end(true);
      await ctx.relay.waitSession(ctx.ids[B], 15_000);
      void refused;
    }
  },
};

/**
 * Client id takeover: the attacker's own client connects with board B's client id and whatever credentials
 * were sniffed. Succeeds if the broker closes B's session for it and nothing reports it.
 */
const takeover: Attack = {
  async run(ctx) {
    const s = await session(ctx, B);
    if (!s) return { succeeded: false, detected: false, reason: 'no-session' };
    const cred = ctx.relay.sniffedCredentials(ctx.ids[B]);
    const { client } = await attackerClient(ctx, {
      clientId: ctx.ids[B],
      ...(cred?.username ? { username: cred.username } : {}),
      ...(cred?.password ? { password: cred.password } : {}),
    });
    if (!client) return { succeeded: false, detected: true, reason: 'broker-refused' };
    // A broker that hands the id over closes the old session right after the new CONNACK.
    for (let waited = 0; !s.closed && waited < 3000; waited += 25) await sleep(25);
    const kicked = s.closed && s.closedBy === 'broker';
    client.end(true);
    await ctx.relay.waitSession(ctx.ids[B], 15_000, s.opened + 1);
    return kicked ? { succeeded: true, detected: false, reason: 'board-kicked' } : { succeeded: false, detected: false, reason: 'board-kept' };
  },
};

/**
 * Counter rollback: board R's counter and window records are read over its console (the "old flash image"),
 * the board runs on for `runs` + 2·K frames, then the old records are written back and it reboots. Each of
 * the first `runs` frames it sends after that reuses a counter it had already sent: a run succeeds if the
 * verifier accepts such a frame, and is detected if the verifier rejects it (replay or stale).
 */
const rollback: Attack = {
  async setup(ctx, runs) {
    const topic = ctx.topic(R);
    const files = ['smq.cfg', 'smq.c0', 'smq.c1', 'smq.dw0', 'smq.dw1', 'smq.iv'];
    const outcomes: Outcome[] = [];
    await withConsole(ctx.p, R, async (repl) => {
      const image = await repl.eval<Record<string, string | null>>(
        `(function(){var S=require("Storage"),o={};${JSON.stringify(files)}.forEach(function(n){var v=S.read(n);o[n]=v===undefined?null:v;});return o;})()`);
      // Counters sent since the image: at least runs + 2K (K = 64 on the emulated board) so every counter the
      // restored board uses again was used before.
      const from = ctx.log.mark;
      const need = runs + 2 * 64 + 4;
      let seen = 0;
      let maxBefore = 0;
      await ctx.log.find(from, (r) => {
        if (r.ok && r.topic === topic) {
          seen++;
          maxBefore = Math.max(maxBefore, (r as { counter?: number }).counter ?? 0);
        }
        return seen >= need;
      }, 60_000);
      const restore = Object.entries(image).map(([n, v]) => v === null ? `S.erase(${JSON.stringify(n)});` : `S.write(${JSON.stringify(n)},${JSON.stringify(v)});`).join('');
      const mark = ctx.log.mark;
      const t0 = Date.now();
      await repl.run(`SEALMQ.stop(true);var S=require("Storage");${restore}setTimeout(load,10)`);
      // The restored board logs in again (on the embedded broker: at the next TOTP step) and resends old counters.
      let taken = 0;
      await ctx.log.find(mark, (r) => {
        if (r.topic !== topic || taken >= runs) return taken >= runs;
        if (ctx.mode === 'plain') {
          if (r.ok) { outcomes.push({ succeeded: true, detected: false, reason: 'accepted' }); taken++; }
          return taken >= runs;
        }
        const c = (r as { counter?: number }).counter;
        if (r.ok && c !== undefined && c <= maxBefore) outcomes.push({ succeeded: true, detected: false, reason: 'accepted-reused-counter' });
        else if (!r.ok) outcomes.push({ succeeded: false, detected: true, reason: r.reason });
        else return false;
        taken++;
        return taken >= runs;
      }, 180_000);
      ctx.say(`counter rollback: image restored; ${taken} frames judged in ${((Date.now() - t0) / 1000).toFixed(1)} s (highest counter before: ${maxBefore})`);
    });
    ctx.rollback = outcomes;
  },
  async run(ctx, i) {
    return ctx.rollback?.[i] ?? { succeeded: false, detected: false, reason: 'no-frame' };
  },
};

const SUITE: Record<AttackName, Attack> = {
  eavesdrop, inject, replay, 'replay-after-restart': replayAfterRestart, tamper, move, downgrade,
  'forged-command': forgedCommand, 'malicious-broker': maliciousBroker, 'password-reuse': passwordReuse,
  'client-id-takeover': takeover, 'counter-rollback': rollback,
};

/**
 * Puts the relay on the path: each board is told (over its console, with the configuration it already has)
 * that the broker is at the relay's address. Secrets stay on the board; counters are kept (same secrets).
 */
async function onPath(p: Pipeline, relay: Relay): Promise<void> {
  await Promise.all(p.boards.map((b, i) => withConsole(p, i, async (repl) => {
    const r = await smqCall<{ ok: boolean; error?: string }>(repl,
      `(function(){var c=require("Storage").readJSON("smq.cfg");c.broker={host:"127.0.0.1",port:${relay.port}};SEALMQ.provision(c);})()`, 15_000);
    if (!r.ok) throw new Error(`board ${b.name} refused the relay address: ${r.error}`);
  })));
}

async function runOnPipeline(o: AttackSuiteOptions, mode: PipelineMode, attacks: AttackName[], progress: (done: number) => void): Promise<AttackResult[]> {
  const log = new ResultLog();
  const say = (t: string) => o.onPhase?.(`[${mode}] ${t}`);
  const p = await startPipeline({
    mode, broker: o.broker, researchInsecure: true, boards: 3, interval: o.interval ?? 0.05, names: mode === 'plain' ? 'plain' : 'node',
    onEvent: (e: PipelineEvent) => { if (e.type === 'frame') log.add(e.result); else if (e.type === 'phase') say(e.text); },
  });
  const u = new URL(p.brokerUrl);
  const relay = new Relay({ brokerHost: u.hostname, brokerPort: Number(u.port) });
  try {
    await relay.start();
    say(`on-path relay ${relay.url} in front of ${p.brokerUrl}`);
    // On the embedded broker a device's TOTP step is accepted once: the boards logged in during set-up,
    // so they come back through the relay at the next step.
    await onPath(p, relay);
    const ids = p.boards.map((b) => b.deviceId);
    const ctx: Ctx = { mode, broker: o.broker, p, relay, log, ids, topic: (i, ch = 'up') => `${p.prefix}/${ids[i]}/${ch}`, epoch: 0, say };
    for (let i = 0; i < ids.length; i++) {
      if (!(await relay.waitSession(ids[i], 90_000))) throw new Error(`board ${ids[i]} did not come back through the relay`);
    }
    say('boards on the relay');
    await genuine(ctx, A);
    // The rollback runs alongside the others, on its own board (it waits for counters and a new login).
    // Verifier restarts wait for it: a frame sent while the verifier is down is never seen, so the same
    // counter coming back from the restored board would be a first delivery, not a replay.
    const rollbackDone = attacks.includes('counter-rollback') ? rollback.setup!(ctx, o.runs) : Promise.resolve();
    const order = [...attacks.filter((a) => a !== 'replay-after-restart' && a !== 'counter-rollback'),
      ...attacks.filter((a) => a === 'counter-rollback' || a === 'replay-after-restart')];
    let done = 0;
    const byName = new Map<AttackName, AttackResult>();
    for (const name of order) {
      const attack = SUITE[name];
      if (name === 'counter-rollback' || name === 'replay-after-restart') await rollbackDone;
      if (name !== 'counter-rollback') await attack.setup?.(ctx, o.runs);
      const before = name === 'forged-command' && mode === 'sealed' ? (await boardStatus(ctx, A)).rejected ?? 0 : 0;
      const res: AttackResult = { attack: name, pipeline: mode, succeeded: 0, detected: 0, runs: o.runs, reasons: {} };
      for (let i = 0; i < o.runs; i++) {
        const out = await attack.run(ctx, i);
        if (out.succeeded) res.succeeded++;
        if (out.detected) res.detected++;
        const k = out.reason ?? (out.succeeded ? 'succeeded' : 'failed');
        res.reasons[k] = (res.reasons[k] ?? 0) + 1;
        progress(++done);
      }
      if (name === 'forged-command' && mode === 'sealed') {
        // The board counts every downlink frame it refuses (SEALMQ.status().rejected).
        const after = (await boardStatus(ctx, A)).rejected ?? 0;
        res.detected = Math.min(o.runs, after - before);
        res.reasons['board-rejected'] = after - before;
      }
      byName.set(name, res);
    }
    return attacks.map((a) => byName.get(a)!);
  } finally {
    await relay.close();
    await p.stop();
  }
}

export async function runAttackSuite(o: AttackSuiteOptions): Promise<AttackReport> {
  const t0 = hiresNow();
  const attacks = o.attacks ?? [...ATTACKS];
  const total = attacks.length * o.runs;
  const done: Record<string, number> = {};
  const tick = (mode: string) => (n: number) => {
    done[mode] = n;
    o.onProgress?.('attacks', Object.values(done).reduce((a, b) => a + b, 0), total * o.pipelines.length);
  };
  // Both pipelines at once: they share nothing but the machine.
  const per = await Promise.all(o.pipelines.map((m) => runOnPipeline(o, m, attacks, tick(m))));
  const { cpus } = await import('node:os');
  const c = cpus();
  return {
    runs: o.runs, broker: o.broker, results: per.flat(), date: new Date().toISOString(),
    seconds: Math.round((hiresNow() - t0) / 100) / 10,
    platform: { node: process.version, cpu: c[0]?.model ?? 'unknown', cores: c.length },
  };
}

// The research plain verifier (docs/PROTOCOL.md, "Research plain mode"; issue 5 item 1): it reads the plain
// firmware's readings in clear, for comparisons with the sealed pipeline only. It proves NOTHING: anyone on
// the broker can write what it accepts. Every result it produces carries plain: true and the label, and the
// sealed verifier refuses these payloads as 'plain-downgrade' (isPlainFrame).
import { connectMqtt, subscribeOrFail } from '../mqtt/connect.js';
import { DEFAULT_PREFIX, isDeviceId } from '../../core/ids.js';
import { usageError } from '../errors.js';

/** Shown wherever the plain pipeline appears: readings, summaries, banners. */
export const PLAIN_LABEL = 'RESEARCH PLAIN / NOT SECURE';

const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

export interface PlainAcceptance {
  ok: true;
  plain: true;
  label: typeof PLAIN_LABEL;
  device: string;
  topic: string;
  /** The board's clock (unix seconds) or null. */
  t: number | null;
  kind: 'reading' | 'reply' | 'other';
  message: Record<string, unknown>;
  /** Host receive time minus the board's t, when the board's clock is set. */
  latencyMs: number | null;
}

export interface PlainRejection {
  ok: false;
  plain: true;
  device: string | null;
  topic: string;
  /** 'bad-topic', 'not-plain' (not a plain JSON message: e.g. a sealed frame). */
  reason: string;
}

export type PlainResult = PlainAcceptance | PlainRejection;

/** A plain message's JSON object (an object with "plain": true), or null. Cheap for non-JSON bytes. */
export function plainMessage(payload: Uint8Array): Record<string, unknown> | null {
  // A sealed frame starts with version byte 1; a plain message with '{' (possibly after JSON white space).
  let i = 0;
  while (i < payload.length && (payload[i] === 0x20 || payload[i] === 0x0a || payload[i] === 0x0d || payload[i] === 0x09)) i++;
  if (payload[i] !== 0x7b || payload.length > 65536) return null;
  try {
    const m = JSON.parse(UTF8.decode(payload)) as unknown;
    return m && typeof m === 'object' && !Array.isArray(m) && (m as Record<string, unknown>).plain === true ? (m as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/** True for a research plain message: the sealed verifier rejects it as 'plain-downgrade'. */
export const isPlainFrame = (payload: Uint8Array): boolean => plainMessage(payload) !== null;

export interface PlainVerifierOptions {
  prefix?: string;
  /** Milliseconds since the epoch (sub-millisecond allowed); default Date.now. */
  now?: () => number;
  onResult?: (r: PlainResult) => void;
}

export class PlainVerifier {
  readonly stats = { accepted: 0, rejected: 0, byReason: {} as Record<string, number> };
  private readonly prefix: string;
  private readonly now: () => number;
  constructor(private readonly o: PlainVerifierOptions = {}) {
    this.prefix = o.prefix ?? DEFAULT_PREFIX;
    this.now = o.now ?? Date.now;
  }

  handle(topic: string, payload: Uint8Array): PlainResult {
    const r = this.read(topic, payload);
    if (r.ok) this.stats.accepted++;
    else {
      this.stats.rejected++;
      this.stats.byReason[r.reason] = (this.stats.byReason[r.reason] ?? 0) + 1;
    }
    this.o.onResult?.(r);
    return r;
  }

  private read(topic: string, payload: Uint8Array): PlainResult {
    const p = this.prefix;
    const id = topic.startsWith(p + '/') && topic.endsWith('/up') ? topic.slice(p.length + 1, topic.length - 3) : '';
    if (!isDeviceId(id)) return { ok: false, plain: true, device: null, topic, reason: 'bad-topic' };
    const m = plainMessage(payload);
    if (!m) return { ok: false, plain: true, device: id, topic, reason: 'not-plain' };
    const t = typeof m.t === 'number' && Number.isFinite(m.t) ? m.t : null;
    return {
      ok: true, plain: true, label: PLAIN_LABEL, device: id, topic, t, kind: 'd' in m ? 'reading' : 'r' in m ? 'reply' : 'other', message: m,
      latencyMs: t === null ? null : Math.round((this.now() - t * 1000) * 1000) / 1000,
    };
  }
}

export interface PlainVerifierRunOptions extends PlainVerifierOptions {
  brokerUrl: string;
  /** Must be true: the plain verifier is a research tool (refused otherwise, exit 2). */
  researchInsecure: boolean;
}

export interface RunningPlainVerifier {
  verifier: PlainVerifier;
  stats: PlainVerifier['stats'];
  close(): Promise<void>;
}

/** Refuses the research plain mode unless it was asked for explicitly. */
export function requireResearchInsecure(ok: unknown, what: string): void {
  if (ok !== true) {
    throw usageError(`${what} is the research plain mode (${PLAIN_LABEL}): refused unless asked for explicitly`,
      'pass --research-insecure (library: researchInsecure: true); it is for comparisons on a test bench, never for real data');
  }
}

/** The plain verifier on a broker: anonymous login, subscribed to <prefix>/+/up, TCP_NODELAY. */
export async function runPlainVerifier(o: PlainVerifierRunOptions): Promise<RunningPlainVerifier> {
  requireResearchInsecure(o.researchInsecure, 'the plain verifier');
  const prefix = o.prefix ?? DEFAULT_PREFIX;
  const verifier = new PlainVerifier({ ...o, prefix });
  const client = await connectMqtt(o.brokerUrl, {
    idPrefix: 'sealmq-plain-verify-', what: 'plain verifier', hint: 'the plain pipeline needs a broker in research insecure mode (anonymous)',
  });
  await subscribeOrFail(client, `${prefix}/+/up`, 'plain verifier');
  client.on('message', (topic, payload) => verifier.handle(topic, new Uint8Array(payload.buffer, payload.byteOffset, payload.length)));
  return { verifier, stats: verifier.stats, close: () => new Promise<void>((resolve) => client.end(false, {}, () => resolve())) };
}

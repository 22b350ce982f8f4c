// Provisioning a box of boards at once (issue 4, "many boards"): a plan of (port, device id, interval)
// from several --port options with a device pattern or list, or from a CSV manifest; the whole plan is
// validated before any board is touched; then the boards are provisioned concurrently (each its own
// console, its own secrets, its own registry transaction), and every board gets its own result.
import { readFileSync } from 'node:fs';
import { isDeviceId } from '../../core/ids.js';
import { inputError, SealmqError } from '../errors.js';
import type { Registry } from '../registry/registry.js';
import { provisionBoard, ProvisionOptions, ProvisionStep } from './provision.js';

export interface PlanEntry {
  port: string;
  deviceId: string;
  interval?: number;
  /** 1-based line of the manifest, for messages. */
  line?: number;
}

export type BoardOutcome = 'ok' | 'already provisioned' | 'failed';

export interface BoardResult {
  board: string;
  device: string;
  result: BoardOutcome;
  seconds: number;
  epoch?: number;
  firmware?: string;
  crypto?: string;
  error?: string;
}

/**
 * The device ids for n ports: a comma-separated list of exactly n ids, or a pattern with {n} (1, 2, …),
 * {nn} (01, 02, …) or {nnn}; a plain id is allowed only for one port.
 */
export function expandDevices(spec: string, n: number): string[] {
  const m = /\{(n+)\}/.exec(spec);
  if (m) {
    if (spec.includes(',')) throw inputError('--device: a pattern ({n}) cannot also be a list');
    return Array.from({ length: n }, (_, i) => spec.replace(m[0], String(i + 1).padStart(m[1].length, '0')));
  }
  const ids = spec.split(',').map((s) => s.trim());
  if (ids.length !== n) {
    throw inputError(`--device: ${ids.length} id${ids.length === 1 ? '' : 's'} for ${n} ports`, 'give one id per --port (a,b,c) or a pattern such as field-{nn}');
  }
  return ids;
}

/** Parses a manifest: CSV lines port,device[,interval]; '#' comments, blank lines and a header line allowed. */
export function parseManifest(text: string, file = 'manifest'): PlanEntry[] {
  const out: PlanEntry[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const l = raw.trim();
    if (!l || l.startsWith('#')) return;
    const cells = l.split(',').map((c) => c.trim().replace(/^"(.*)"$/, '$1'));
    if (out.length === 0 && /^port$/i.test(cells[0]) && /^device/i.test(cells[1] ?? '')) return;
    if (cells.length < 2 || cells.length > 3) throw inputError(`${file}:${i + 1}: expected port,device[,interval], got ${JSON.stringify(l)}`);
    const e: PlanEntry = { port: cells[0], deviceId: cells[1], line: i + 1 };
    if (cells[2]) {
      const v = Number(cells[2]);
      if (!Number.isFinite(v)) throw inputError(`${file}:${i + 1}: interval ${JSON.stringify(cells[2])} is not a number`);
      e.interval = v;
    }
    out.push(e);
  });
  if (out.length === 0) throw inputError(`${file}: no boards listed`, 'one line per board: port,device[,interval]');
  return out;
}

export function readManifest(path: string): PlanEntry[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw inputError(`--manifest: cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  return parseManifest(text, path);
}

/**
 * Every problem of a plan at once (ids, duplicates, intervals, ports), before any board is touched.
 * checkPort throws for a port that cannot be right (e.g. a serial path that does not exist).
 */
export function validatePlan(plan: PlanEntry[], checkPort: (port: string) => void): void {
  const problems: string[] = [];
  const where = (e: PlanEntry) => (e.line ? `line ${e.line}` : e.port);
  const ports = new Map<string, PlanEntry>();
  const ids = new Map<string, PlanEntry>();
  for (const e of plan) {
    if (!isDeviceId(e.deviceId)) problems.push(`${where(e)}: device id ${JSON.stringify(e.deviceId)} is not valid`);
    if (e.interval !== undefined && !(e.interval >= 0.05 && e.interval <= 86400)) problems.push(`${where(e)}: interval must be 0.05..86400 seconds`);
    const p = ports.get(e.port);
    if (p) problems.push(`${where(e)}: port ${e.port} is listed twice (also ${where(p)})`);
    else ports.set(e.port, e);
    const d = ids.get(e.deviceId);
    if (d) problems.push(`${where(e)}: device ${e.deviceId} is listed twice (also ${where(d)})`);
    else ids.set(e.deviceId, e);
    try {
      checkPort(e.port);
    } catch (err) {
      problems.push(`${where(e)}: ${(err as Error).message}`);
    }
  }
  if (problems.length) {
    throw inputError(`${problems.length === 1 ? 'the plan has a problem' : `the plan has ${problems.length} problems`}; no board was touched: ${problems.join('; ')}`,
      'device ids match [a-z0-9][a-z0-9-]{0,31}; one line per board, each port and id once');
  }
}

export interface ProvisionManyOptions extends Omit<ProvisionOptions, 'port' | 'deviceId' | 'onStep' | 'registry'> {
  plan: PlanEntry[];
  registry: Registry;
  /** Boards provisioned at the same time (default: all, at most 8). */
  concurrency?: number;
  /** A device already active in the registry is skipped as "already provisioned" instead of failing. */
  skipProvisioned?: boolean;
  onStep?: (entry: PlanEntry, step: ProvisionStep | 'done' | 'failed', done: number, total: number) => void;
  onResult?: (r: BoardResult) => void;
}

export async function provisionMany(o: ProvisionManyOptions): Promise<BoardResult[]> {
  const results: BoardResult[] = new Array(o.plan.length);
  const limit = Math.max(1, Math.min(o.concurrency ?? 8, o.plan.length));
  let next = 0;
  const one = async (e: PlanEntry): Promise<BoardResult> => {
    const started = Date.now();
    const existing = o.registry.getDevice(e.deviceId);
    if (o.skipProvisioned && existing && existing.status === 'active' && !o.rekey) {
      o.onStep?.(e, 'done', 7, 7);
      return { board: e.port, device: e.deviceId, result: 'already provisioned', seconds: 0, epoch: existing.epoch };
    }
    try {
      const r = await provisionBoard({
        ...o, port: e.port, deviceId: e.deviceId, interval: e.interval ?? o.interval, registry: o.registry,
        onStep: (s, done, total) => o.onStep?.(e, s, done, total),
      });
      o.onStep?.(e, 'done', 7, 7);
      return { board: e.port, device: e.deviceId, result: 'ok', seconds: r.seconds, epoch: r.epoch, firmware: r.firmware, crypto: r.crypto };
    } catch (err) {
      o.onStep?.(e, 'failed', 0, 7);
      const msg = err instanceof SealmqError ? err.message : String((err as Error)?.message ?? err);
      return { board: e.port, device: e.deviceId, result: 'failed', seconds: (Date.now() - started) / 1000, error: msg };
    }
  };
  const worker = async () => {
    while (next < o.plan.length) {
      const i = next++;
      results[i] = await one(o.plan[i]);
      o.onResult?.(results[i]);
    }
  };
  await Promise.all(Array.from({ length: limit }, worker));
  return results;
}

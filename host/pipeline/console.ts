// The pipeline's console helpers (pipeline.ts): the host's high-resolution wall clock, one line run on a
// board through its console, the NTP-style clock sync of a board over its console, and moving its readings' phase.
import { SealmqError } from '../errors.js';
import { connectRepl, type Repl } from '../link/repl.js';
import { openLink } from '../link/open-link.js';
import { smqCall } from '../board/smq.js';
import type { ClockSync, PipelineBoard } from './pipeline.js';

/** Milliseconds since the epoch with sub-millisecond resolution. */
export const hiresNow = (): number => performance.timeOrigin + performance.now();

/** Opens a board's console, runs f on its REPL, and closes it again whatever happens. */
export async function onConsole<T>(port: string, f: (repl: Repl) => Promise<T>): Promise<T> {
  const link = await openLink(port);
  const repl = await connectRepl(link);
  try {
    return await f(repl);
  } finally {
    repl.detach();
    await link.close().catch(() => {});
  }
}

/** Runs one line on a board through its console. */
export async function consoleRun(port: string, code: string): Promise<void> {
  await onConsole(port, (repl) => repl.run(code));
}

/** Moves a board's readings to atMs + k·interval (host clock; SEALMQ.align in the board's time, which is the host's or aligned to it). */
export async function alignReadings(b: Pick<PipelineBoard, 'name' | 'console'>, atMs: number): Promise<void> {
  const r = await onConsole(b.console, (repl) => smqCall<{ ok: boolean; error?: string }>(repl, `SEALMQ.align(${(atMs / 1000).toFixed(6)})`));
  if (!r.ok) throw new SealmqError('device', `the board ${b.name} did not move its readings: ${r.error ?? 'no answer'}`);
}

/**
 * NTP-style over the console: the board's getTime() against the host's clock at the midpoint of the round
 * trip, best (shortest) of `rounds`; then the board corrects itself by the offset in one step on the board
 * (setTime(getTime() - offset): no transit in it). The emulated board's clock is the host clock, so what
 * remains is the provisioning's setTime (sent over the console, late by its transit).
 */
export async function syncClock(b: Pick<PipelineBoard, 'name' | 'console'>, rounds: number, apply = true, biasPerRtt = 0): Promise<ClockSync> {
  return onConsole(b.console, async (repl) => {
    let best = { rtt: Infinity, offset: 0 };
    for (let i = 0; i < rounds; i++) {
      const t0 = hiresNow();
      const lines = await repl.run('print("SMQT "+getTime())');
      const t1 = hiresNow();
      const l = lines.find((x) => x.startsWith('SMQT '));
      if (!l) continue;
      const board = Number(l.slice(5)) * 1000;
      if (t1 - t0 < best.rtt) best = { rtt: t1 - t0, offset: board - (t0 + t1) / 2 };
    }
    if (!Number.isFinite(best.rtt)) throw new SealmqError('device', `the board ${b.name} did not tell its time`);
    const fix = best.offset - biasPerRtt * best.rtt;
    if (apply) await repl.run(`setTime(getTime()-(${(fix / 1000).toFixed(7)}))`);
    const r3 = (x: number) => Math.round(x * 1000) / 1000;
    return { board: b.name, offsetMs: r3(best.offset), rttMs: r3(best.rtt), correctedMs: apply ? r3(fix) : 0 };
  });
}

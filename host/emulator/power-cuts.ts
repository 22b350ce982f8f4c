// The power-cut campaign: the firmware on an emulated board, publishing as fast as it may, has its power
// cut at random moments — some of them in the middle of a Storage write (torn) — and is powered on again,
// N times. Every frame that reaches the broker is opened with the host's keys; the campaign reports
// counter reuse (DESIGN.md §4: must be zero), counters skipped (at most K per cut, by design) and Storage
// writes per frame ("save every K": about 1/K). The broker here is a bare capture broker on loopback: the
// campaign is about the board's counter, not about logins.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { toHex } from '../../core/bytes.js';
import { deriveKeys, open } from '../../core/frame.js';
import { buildFirmware } from '../build/bundle.js';
import { startCaptureBroker } from '../broker/capture.js';
import { smqCall } from '../board/smq.js';
import { EmulatedLink } from '../link/emulated-link.js';
import { connectRepl } from '../link/repl.js';
import { uploadFile } from '../link/storage-files.js';
import { nodePrimitives as P } from '../protocol/node-primitives.js';
import { repoRoot } from '../protocol/vectors.js';
import { EmulatedBoard } from './board.js';
import { loadProfile } from './profile.js';

export interface CampaignOptions {
  cuts: number;
  /** Counter block size K given to the board. */
  k?: number;
  /** Share of cuts made during a Storage write (0..1). */
  tornShare?: number;
  /** Longest time the board runs between two cuts (ms). */
  maxUpMs?: number;
  seed?: number;
  /** How long the board runs after the last cut (ms, default 300). */
  tailMs?: number;
  nativeCrypto?: boolean;
  onProgress?: (done: number, total: number) => void;
}

export interface CampaignResult {
  cuts: number;
  tornCuts: number;
  frames: number;
  /** Frames that did not open with the device's keys (must be 0). */
  badFrames: number;
  distinctCounters: number;
  /** Counter values seen more than once (must be 0). */
  reusedCounters: number;
  highestCounter: number;
  /** Counters never seen below the highest: the price of a cut, at most K each. */
  skippedCounters: number;
  storageWrites: number;
  storageWritesPerFrame: number;
  k: number;
  seed: number;
}

/** mulberry32: a small seeded PRNG, so a campaign can be replayed exactly. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function runPowerCutCampaign(o: CampaignOptions): Promise<CampaignResult> {
  const seed = o.seed ?? (randomBytes(4).readUInt32LE(0));
  const rnd = prng(seed);
  const k = o.k ?? 8;
  const dir = mkdtempSync(join(tmpdir(), 'sealmq-cuts-'));
  const broker = await startCaptureBroker();
  const frames = broker.frames;
  const port = broker.port;
  const board = new EmulatedBoard({
    name: 'cut-board', flashFile: join(dir, 'cut-board.flash'), banner: false,
    profile: loadProfile('emulated', repoRoot()), nativeCrypto: o.nativeCrypto,
  });
  const root = new Uint8Array(randomBytes(32));
  let tornCuts = 0;
  try {
    const fw = await buildFirmware({ board: 'emulated', outDir: join(dir, 'dist'), selftest: false });
    const link = new EmulatedLink(board);
    await link.open();
    const repl = await connectRepl(link);
    await uploadFile(repl, '.bootcde', fw.firmware.code);
    await repl.run('setTimeout(load,10)');
    await sleep(200);
    await repl.sync();
    const cfg = { id: 'cut-board', root: toHex(root), otp: randomBytes(20).toString('hex'), broker: { host: '127.0.0.1', port }, interval: 0.05, k, time: Date.now() / 1000 };
    const r = await smqCall<{ ok: boolean; error?: string }>(repl, `SEALMQ.provision(${JSON.stringify(cfg)})`);
    if (!r.ok) throw new Error('the board refused the campaign config: ' + r.error);
    repl.detach();
    const writesAtStart = board.flashWrites;
    const framesAtStart = frames.length;
    for (let i = 0; i < o.cuts; i++) {
      await sleep(20 + Math.floor(rnd() * (o.maxUpMs ?? 300)));
      if (rnd() < (o.tornShare ?? 0.3)) {
        const cut = board.powerCut({ torn: true });
        // A board that writes nothing for a while gets a plain cut instead.
        const t = await Promise.race([cut.then(() => true), sleep(1500).then(() => false)]);
        if (t) tornCuts++;
        else await board.powerCut();
      } else {
        await board.powerCut();
      }
      board.powerOn();
      o.onProgress?.(i + 1, o.cuts);
    }
    await sleep(o.tailMs ?? 300);
    await board.powerCut();
    const keys = deriveKeys(P, root, 'cut-board', 'up', 0);
    const seen = new Map<number, number>();
    let bad = 0;
    for (const f of frames) {
      const opened = open(P, keys, 'cut-board', 'up', f.payload);
      if (!opened.ok) { bad++; continue; }
      seen.set(opened.counter!, (seen.get(opened.counter!) ?? 0) + 1);
    }
    const highest = seen.size ? Math.max(...seen.keys()) : 0;
    const reused = [...seen.values()].filter((n) => n > 1).length;
    const measured = frames.length - framesAtStart;
    const writes = board.flashWrites - writesAtStart;
    return {
      cuts: o.cuts, tornCuts, frames: frames.length, badFrames: bad, distinctCounters: seen.size, reusedCounters: reused,
      highestCounter: highest, skippedCounters: highest - seen.size, storageWrites: writes,
      storageWritesPerFrame: measured ? Math.round((writes / measured) * 1000) / 1000 : 0, k, seed,
    };
  } finally {
    await board.powerCut().catch(() => {});
    await broker.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

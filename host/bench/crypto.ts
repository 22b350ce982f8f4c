// `sealmq bench crypto` as a library: builds the bench bundles (firmware/bench/bench.ts, and
// firmware/bench/nacl.ts for tweetnacl) with the firmware's own esbuild settings and Espruino checker,
// uploads them to a board's Storage through its console link, runs them there and collects their
// "BENCH {json}" lines: every time is the board's own clock (getTime()). Then the production firmware's
// footprint, on the same board: dist/firmware.js's bytes, the variables it holds once loaded, per seal
// and after N seals (its seal path reached through the console API, SEALMQ.challenge).
import { readFile } from 'node:fs/promises';
import type { Plugin } from 'esbuild';
import { buildFirmware, BuildRefusedError, bundleScript, formatViolation } from '../build/bundle.js';
import { deviceError } from '../errors.js';
import { openLink } from '../link/open-link.js';
import { connectRepl, type Repl } from '../link/repl.js';
import { unlockConsole } from '../link/console-lock.js';
import { eraseBenchFile, storeBenchFile } from './board-files.js';
import { firmwareFootprint, FW_FILE } from './footprint.js';
export { firmwareFootprint, PEAK_PROBE } from './footprint.js';
export { storeBenchFile } from './board-files.js';

export interface CryptoBenchOptions {
  port: string;
  /** A provisioned board's console password(s) from the registry: reset() locks it again each time (docs/FIELD.md). */
  consolePasswords?: readonly string[];
  device?: string;
  /** Payload sizes in bytes (default 16, 64, 256, 1024). */
  sizes?: number[];
  /** Timed batches per op (default 15). */
  reps?: number;
  /** Board profile the bundles are built for (default esp32). */
  board?: string;
  /** Seals for the firmware's growth check (default 10,000). */
  seals?: number;
  /**
   * The board runs under QEMU's `-icount shift=N` (sealmq emulate --target qemu --icount): its clock then
   * counts guest instructions, 2^N ns each, so every time is also reported in instructions (instrPerCall).
   */
  icountShift?: number;
  /** Leave out the tweetnacl ops (minutes each on an emulated MCU). */
  nacl?: boolean;
  /** Only these tweetnacl ops (and what they need: naclOpsToRun); default all of NACL_OPS. */
  naclOps?: string[];
  /** Progress lines (stderr in the CLI). */
  onProgress?: (line: string) => void;
}

/** Guest instructions per call (median, min, max over the batches), on a board under QEMU -icount. */
export interface InstructionFigures {
  median: number;
  min: number;
  max: number;
}

export interface BenchResult {
  op: string;
  impl: string;
  size: number | null;
  medianMs?: number;
  minMs?: number;
  maxMs?: number;
  reps?: number;
  inner?: number;
  vars?: number;
  /** With icountShift: the same times as guest instructions per call (instructionsFromMs). */
  instr?: InstructionFigures;
  /** Why there is no figure (the op could not run, or its bundle could not be built or loaded). */
  error?: string;
}

export interface Footprint {
  bundleBytes: number;
  bundleBudget: number;
  idleVars: number | null;
  varsPerSeal: number | null;
  /**
   * The transient peak of one seal (DESIGN.md §8: ≤ 300): the fewest free variables with which a seal still
   * completes without the board running out (see peakVarsProbe). null where the board's memory model cannot
   * show it (the emulated board), with the reason in peakNote.
   */
  peakVarsPerSeal?: number | null;
  peakNote?: string;
  seals: number;
  growthVars: number | null;
  sealMs: number | null;
  method: string;
  note?: string;
}

export interface CryptoBenchReport {
  bench: 'crypto';
  target: string;
  board: { BOARD: string; version: string; emulated: boolean };
  port: string;
  host: string;
  date: string;
  method: string;
  sizes: number[];
  reps: number;
  /** The QEMU -icount shift the times were converted with, or null when the board's clock is wall time. */
  icountShift?: number | null;
  results: BenchResult[];
  footprint: Footprint;
}

export const DEFAULT_SIZES = [16, 64, 256, 1024];
/** The ops the bench must report (each with at least one line, a figure or an error). */
export const CRYPTO_OPS = ['aes128-cbc-encrypt', 'aes128-cbc-decrypt', 'sha256', 'hmac-sha256', 'hkdf-derive-keys', 'seal', 'open', 'totp', 'x25519', 'ed25519-sign', 'ed25519-verify'];

export const METHOD =
  'board clock getTime(); per op one warm-up call, then one timed call sizing a batch of ~5 ms, then `reps` batches: ms per call = batch time / calls; median, min, max over the batches. ' +
  'vars = process.memory(false).usage right after one call (result still held) − process.memory(true).usage (after GC) before it. tweetnacl ops run once each.';

/**
 * Under `-icount shift=N` QEMU advances the guest's virtual clock by 2^N ns per instruction executed, and
 * the board's getTime() runs on that clock: t ms of board time are t·10^6 / 2^N instructions. The figure
 * counts every instruction of the call (the interpreter's included), the same run after run.
 */
export const instructionsFromMs = (ms: number, shift: number) => Math.round((ms * 1e6) / 2 ** shift);

const BENCH_FILE = 'smqbench.js';
const NACL_FILE = 'smqnacl.js';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * reset() on the board (deferred by Espruino to the end of the command), then a fresh sync. A board that
 * is still resetting when the next line arrives can drop it (seen on a QEMU board after the footprint's
 * memory-filling probes: only the banner came back): then, up to twice, a second later, one Ctrl-C to clear
 * whatever half line it kept and the sync again (more than 5 s after the last Ctrl-C, so the Linux build,
 * which exits on a second Ctrl-C within 5 s, never sees two).
 */
async function resetBoard(repl: Repl, unlock?: () => Promise<unknown>, p?: (l: string) => void): Promise<void> {
  await repl.run('reset();');
  await sleep(700);
  await unlock?.();
  for (let attempt = 0; ; attempt++) {
    try {
      await (attempt === 0 ? repl.run('', { timeoutMs: 5000 }) : repl.sync());
      return;
    } catch (e) {
      if (attempt >= 2 || /went away/.test((e as Error).message)) throw e;
      p?.(`the board did not answer after reset() (${(e as Error).message}); trying again`);
      await sleep(1000);
    }
  }
}

/** Runs a Storage file and collects BENCH lines until BENCH-END (or the deadline). */
async function runBundle(repl: Repl, logs: string[], file: string, timeoutMs: number, progress?: (l: string) => void, shift?: number): Promise<BenchResult[]> {
  logs.length = 0;
  const out: BenchResult[] = [];
  const lines = await repl.run(`eval(require("Storage").read(${JSON.stringify(file)}))`, { timeoutMs });
  const seen = new Set<number>();
  const take = () => {
    const all = lines.concat(logs);
    all.forEach((l, i) => {
      if (seen.has(i)) return;
      const m = /BENCH (\{.*\})\s*$/.exec(l);
      if (m) {
        seen.add(i);
        const r = JSON.parse(m[1]) as BenchResult;
        if (shift !== undefined && r.medianMs !== undefined) {
          r.instr = { median: instructionsFromMs(r.medianMs, shift), min: instructionsFromMs(r.minMs!, shift), max: instructionsFromMs(r.maxMs!, shift) };
        }
        out.push(r);
        const fig = r.instr ? `${r.instr.median} instructions` : r.medianMs?.toFixed(4) + ' ms';
        progress?.(`${r.op} ${r.impl}${r.size !== null ? ' ' + r.size + ' B' : ''}: ${r.error ?? fig}`);
      }
    });
    return all.some((l) => /BENCH-END/.test(l));
  };
  const deadline = Date.now() + timeoutMs;
  while (!take()) {
    if (Date.now() > deadline) throw deviceError(`the bench on ${repl.link.url} did not finish within ${timeoutMs / 1000} s (${out.length} ops done)`);
    await sleep(50);
  }
  return out;
}

function targetLabel(b: { BOARD: string; version: string; emulated: boolean }): string {
  if (b.emulated) return `emulated board (sealmq emulator ${b.version}, profile ${b.BOARD})`;
  if (b.BOARD === 'LINUX') return `Espruino Linux build ${b.version}`;
  if (/QEMU/i.test(b.BOARD)) return `QEMU Cortex-M4 (STM32F405, ${b.BOARD}), Espruino ${b.version}`;
  return `real board ${b.BOARD}, Espruino ${b.version}`;
}

/**
 * tweetnacl for the bench bundle only (never the firmware): its last lines look for a random source in the
 * browser's global `self` and in Node's `require("crypto")` (which esbuild turns into a Proxy-based shim);
 * Espruino has neither, and the Espruino checker rightly refuses both. The ops the bench times (X25519
 * scalarMult, Ed25519 key from seed, detached sign, verify) draw no randomness, so that lookup is cut out of
 * the source and tweetnacl keeps its default (any call that needs random bytes throws "no PRNG"). The
 * export no longer falls back to `self.nacl`: the plugin gives it a `module` and exports that as an ES module. Anything else in
 * tweetnacl still goes through the checker unchanged. Fails loudly if the package's text ever changes.
 */
export const tweetnaclForEspruino: Plugin = {
  name: 'tweetnacl-for-espruino',
  setup(b) {
    b.onLoad({ filter: /[\\/]tweetnacl[\\/]nacl(-fast)?\.js$/ }, async (args) => {
      let src = await readFile(args.path, 'utf8');
      const start = src.indexOf('(function() {\n  // Initialize PRNG if environment provides CSPRNG.');
      const end = start < 0 ? -1 : src.indexOf('\n})();\n', start);
      const exp = "})(typeof module !== 'undefined' && module.exports ? module.exports : (self.nacl = self.nacl || {}));";
      if (start < 0 || end < 0 || !src.includes(exp)) throw new Error(`${args.path}: not the tweetnacl text the bench knows (1.0.3); update tweetnaclForEspruino`);
      src = src.slice(0, start) + '/* sealmq bench: no PRNG lookup (no self, no require on Espruino); the timed ops need none */' + src.slice(end + '\n})();'.length);
      src = src.replace(exp, '})(module.exports);');
      // As an ES module of its own: esbuild's CommonJS interop helpers are not needed.
      return { contents: 'var module = { exports: {} };\n' + src + '\nexport default module.exports;\n', loader: 'js' };
    });
  },
};

/** The tweetnacl ops of firmware/bench/nacl.ts, in the order it runs them. */
export const NACL_OPS = ['x25519', 'x25519-shared', 'ed25519-keypair', 'ed25519-sign', 'ed25519-verify'] as const;
/** What each op needs run before it (its input: the public key, the key pair, the signature). */
const NACL_NEEDS: Record<string, string[]> = { 'x25519-shared': ['x25519'], 'ed25519-sign': ['ed25519-keypair'], 'ed25519-verify': ['ed25519-keypair', 'ed25519-sign'] };

/** The tweetnacl ops to run for a selection: it and what it needs, in run order (each is timed and reported). */
export function naclOpsToRun(selected: readonly string[]): string[] {
  const run = new Set<string>();
  for (const op of selected) for (const x of [...(NACL_NEEDS[op] ?? []), op]) run.add(x);
  return NACL_OPS.filter((op) => run.has(op));
}

/** Runs the crypto bench on the board at o.port. */
export async function benchCrypto(o: CryptoBenchOptions): Promise<CryptoBenchReport> {
  const sizes = o.sizes ?? DEFAULT_SIZES;
  const reps = o.reps ?? 15;
  const seals = o.seals ?? 10000;
  const p = o.onProgress ?? (() => undefined);
  const naclOps = [...NACL_OPS];
  const naclRun = naclOpsToRun(o.naclOps ?? naclOps);
  const fw = (await buildFirmware({ board: o.board, write: false, selftest: false })).firmware;

  const link = await openLink(o.port);
  const logs: string[] = [];
  try {
    const unlock = () => unlockConsole(link, o.consolePasswords, { device: o.device });
    await unlock();
    const repl = await connectRepl(link, { timeoutMs: 10_000, onLog: (l) => logs.push(l) });
    const b = await repl.eval<{ BOARD: string; version: string; emulated: boolean }>('{BOARD:""+process.env.BOARD,version:""+process.version,emulated:!!process.env.EMULATED}');
    const target = targetLabel(b);
    p(`target: ${target}`);
    // Under -icount (a QEMU Cortex-M board) timed stretches start clear of the SysTick interrupt
    // (firmware/bench/systick.ts); its registers exist only on a microcontroller.
    const systick = JSON.stringify(o.icountShift !== undefined && !b.emulated && b.BOARD !== 'LINUX');
    const bench = await bundleScript('firmware/bench/bench.ts', BENCH_FILE, { board: o.board, defines: { __BENCH__: JSON.stringify({ sizes, reps, batchMs: 5 }), __SYSTICK__: systick } });
    let nacl: { code: string; bytes: number } | undefined;
    let naclWhy = '';
    try {
      nacl = await bundleScript('firmware/bench/nacl.ts', NACL_FILE, { board: o.board, plugins: [tweetnaclForEspruino], minifyIdentifiers: false, defines: { __SYSTICK__: systick, __NACL_OPS__: JSON.stringify(naclRun) } });
    } catch (e) {
      if (!(e instanceof BuildRefusedError)) throw e;
      const v = e.violations;
      naclWhy = `tweetnacl does not pass the Espruino bundle checker (${v.length} constructs): ` + [...new Set(v.map((x) => x.construct))].join(', ') + '; first: ' + formatViolation(v[0]);
    }
    const before = await repl.eval<string[]>('require("Storage").list()');

    // 1. The bench bundle. Each stage's file is erased as soon as the stage is done (after a reset(): code
    // defined by eval from a Storage file runs from it), so the next one has the room: a QEMU board's
    // whole Storage is 64 KB, and the bench bundle, tweetnacl and the firmware are 9 + 41 + 16 KB.
    await resetBoard(repl, unlock, p);
    await storeBenchFile(repl, BENCH_FILE, bench.code);
    p(`bench bundle ${bench.bytes} bytes uploaded`);
    // reset() again, so the heap the bundle starts on does not depend on how the upload's bytes arrived
    // (under QEMU -icount the heap's layout is what still moves an instruction count).
    await resetBoard(repl, unlock, p);
    const results = await runBundle(repl, logs, BENCH_FILE, 30 * 60_000, p, o.icountShift);
    await resetBoard(repl, unlock, p);
    await eraseBenchFile(repl, BENCH_FILE);

    // 2. tweetnacl, if it could be built.
    if (o.nacl === false) {
      for (const op of naclOps) results.push({ op, impl: 'tweetnacl', size: null, error: 'not run (--no-nacl)' });
    } else if (!nacl) {
      for (const op of naclOps) results.push({ op, impl: 'tweetnacl', size: null, error: naclWhy });
    } else {
      try {
        await storeBenchFile(repl, NACL_FILE, nacl.code);
        p(`tweetnacl bundle ${nacl.bytes} bytes uploaded`);
        await resetBoard(repl, unlock, p);
        results.push(...(await runBundle(repl, logs, NACL_FILE, 30 * 60_000, p, o.icountShift)));
        for (const op of naclOps) if (!naclRun.includes(op)) results.push({ op, impl: 'tweetnacl', size: null, error: 'not run (--nacl-ops)' });
      } catch (e) {
        for (const op of naclOps) results.push({ op, impl: 'tweetnacl', size: null, error: `tweetnacl did not load or run on the board: ${(e as Error).message}` });
      }
      await resetBoard(repl, unlock, p);
      await eraseBenchFile(repl, NACL_FILE);
    }

    // 3. The production firmware's footprint (on a board just reset).
    let footprint: Footprint;
    try {
      footprint = await firmwareFootprint(repl, logs, fw.code, fw.bytes, fw.budget, seals, before, p, b.emulated);
    } finally {
      // Leave the board as found: the bench's own files (and the throwaway config) gone, RAM reset.
      await resetBoard(repl, unlock, p);
      const after = await repl.eval<string[]>('require("Storage").list()');
      for (const f of after.filter((x) => !before.includes(x) || [BENCH_FILE, NACL_FILE, FW_FILE].includes(x))) await repl.run(`require("Storage").erase(${JSON.stringify(f)})`);
      // Unlocked after each reset(): locked again (a no-op where no password is set).
      await repl.run('if(E.lockConsole)E.lockConsole()');
    }
    repl.detach();
    return {
      bench: 'crypto', target, board: b, port: o.port, host: hostLabel(), date: new Date().toISOString(),
      method: o.icountShift === undefined ? METHOD : METHOD + ` Under QEMU -icount shift=${o.icountShift}: instructions per call = ms × 10^6 / 2^${o.icountShift} (the board's clock is the instruction count).`,
      sizes, reps, icountShift: o.icountShift ?? null, results, footprint,
    };
  } finally {
    await link.close();
  }
}

export function hostLabel(): string {
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  return `${process.platform} ${process.arch}, Node ${process.version}`;
}

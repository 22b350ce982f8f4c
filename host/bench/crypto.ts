// `sealmq bench crypto` as a library: builds the bench bundles (firmware/bench/bench.ts, and
// firmware/bench/nacl.ts for tweetnacl) with the firmware's own esbuild settings and Espruino checker,
// uploads them to a board's Storage through its console link, runs them there and collects their
// "BENCH {json}" lines: every time is the board's own clock (getTime()). Then the production firmware's
// footprint, on the same board: dist/firmware.js's bytes, the variables it holds once loaded, per seal
// and after N seals (its seal path reached through the console API, SEALMQ.challenge).
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { Plugin } from 'esbuild';
import { buildFirmware, BuildRefusedError, bundleScript, formatViolation } from '../build/bundle.js';
import { deviceError } from '../errors.js';
import { openLink } from '../link/open-link.js';
import { connectRepl, type Repl } from '../link/repl.js';
import { unlockConsole } from '../link/console-lock.js';
import { readBackHash, sha256Hex, uploadFile } from '../link/storage-files.js';

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
const FW_FILE = 'smqbenchfw.js';
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

/** Espruino's Storage.getStats(): bytes in live files, free at the end, and in erased files a compaction gives back. */
interface StorageStats {
  totalBytes: number;
  freeBytes: number;
  fileBytes: number;
  fileCount: number;
  trashBytes: number;
  trashCount: number;
}

const storageStats = (repl: Repl) => repl.eval<StorageStats | null>('require("Storage").getStats?require("Storage").getStats():null');

/**
 * Writes one of the bench's files to the board's Storage and checks it is there, byte for byte. Espruino
 * stores a file as a 32-byte header and its bytes rounded up to 4; when that does not fit in the free space
 * at the end, the board compacts (drops erased files) or, if even that is not enough, prints "Unable to find
 * or create file" for every packet while the packet transfer itself still completes, so the upload alone
 * proves nothing (a QEMU board's whole Storage is 64 KB). Room is checked first and the result read back by
 * hash: no room, or a file that is not what was sent, is an error that says so.
 */
export async function storeBenchFile(repl: Repl, name: string, code: string): Promise<void> {
  const bytes = Buffer.byteLength(code, 'latin1');
  const need = 32 + ((bytes + 3) & ~3);
  const s0 = await storageStats(repl);
  const state = (s: StorageStats) => `${s.totalBytes} bytes of Storage: ${s.fileBytes} in ${s.fileCount} files, ${s.freeBytes} free, ${s.trashBytes} in erased files`;
  if (s0 && s0.freeBytes + s0.trashBytes < need) {
    const files = await repl.eval<string[]>('require("Storage").list()');
    throw deviceError(`the board on ${repl.link.url} has no room in its Storage for ${name} (${bytes} bytes, ${need} stored): ${state(s0)} (${files.join(', ')})`, 'erase files from the board (sealmq flash leaves only the firmware) and run the bench again');
  }
  if (s0 && s0.freeBytes < need) await repl.run('require("Storage").compact()', { timeoutMs: 60_000 });
  await uploadFile(repl, name, code);
  const got = await readBackHash(repl, name);
  if (!got || got.sha256 !== sha256Hex(code)) {
    const s1 = await storageStats(repl);
    throw deviceError(`the board on ${repl.link.url} did not store ${name} (${bytes} bytes): ${got ? `it holds ${got.size} bytes that differ` : 'no such file after the upload'}${s1 ? `; ${state(s1)}` : ''}`);
  }
}

/** Erases one of the bench's own files (after a reset(), so no function still runs from it). */
const eraseBenchFile = (repl: Repl, name: string) => repl.run(`require("Storage").erase(${JSON.stringify(name)})`);

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

/** Runs the crypto bench on the board at o.port. */
export async function benchCrypto(o: CryptoBenchOptions): Promise<CryptoBenchReport> {
  const sizes = o.sizes ?? DEFAULT_SIZES;
  const reps = o.reps ?? 15;
  const seals = o.seals ?? 10000;
  const p = o.onProgress ?? (() => undefined);
  const bench = await bundleScript('firmware/bench/bench.ts', BENCH_FILE, { board: o.board, defines: { __BENCH__: JSON.stringify({ sizes, reps, batchMs: 5 }) } });
  let nacl: { code: string; bytes: number } | undefined;
  let naclWhy = '';
  try {
    nacl = await bundleScript('firmware/bench/nacl.ts', NACL_FILE, { board: o.board, plugins: [tweetnaclForEspruino], minifyIdentifiers: false });
  } catch (e) {
    if (!(e instanceof BuildRefusedError)) throw e;
    const v = e.violations;
    naclWhy = `tweetnacl does not pass the Espruino bundle checker (${v.length} constructs): ` + [...new Set(v.map((x) => x.construct))].join(', ') + '; first: ' + formatViolation(v[0]);
  }
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
    const naclOps = ['x25519', 'x25519-shared', 'ed25519-keypair', 'ed25519-sign', 'ed25519-verify'];
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

/**
 * One probe, run on the board: fill memory with a filler array until exactly K variables are free (the
 * filler's elements are small integers, one variable each; process.memory()'s own answer object is
 * measured with E.getSizeOf and discounted), run one seal through the console API, and report whether it
 * completed within those K: the seal produced its frame, E.getErrorFlags() shows no MEMORY/LOW_MEMORY, and
 * the variable total did not grow (Espruino's Linux build has resizable variables: where a board would
 * run out, it garbage-collects, then doubles its store). The filler is dropped afterwards.
 *
 * The command only schedules it: the probe runs in one timer and a second timer prints "PEAK {json}". On a
 * board with fixed memory (a QEMU or real MCU) a seal that runs out stops with "Out of Memory" and
 * Espruino interrupts the whole task, catch and all: run as the console command itself, it never printed
 * its answer and every failing probe cost the host's whole timeout (a minute). The second timer runs
 * whatever happened to the first (with the filler freed), so a failed probe answers at once, as
 * {interrupted:true}, with print() given back.
 */
export const PEAK_PROBE = `(function(K){global.__pkP=print;global.__pk=null;
setTimeout(function(){var P=print,last="";global.print=function(s){last=s;};E.getErrorFlags();
var q=process.memory(),s=E.getSizeOf(process.memory(false)),T=q.total,F=[],f=process.memory(false).free+s;
while(f>K+400){for(var i=0;i<20;i++)F.push([0,1,2,3,4,5,6,7,8,9,0,1,2,3,4,5,6,7,8,9]);f=process.memory(false).free+s;}
var n=f-K;for(var j=0;j<n;j++)F.push(j);var at=process.memory(false).free+s;
var ok=true;try{SEALMQ.challenge("00");}catch(e){ok=false;}
var m=process.memory(false),fl=E.getErrorFlags();F=undefined;global.print=P;
global.__pk={at:at,grew:m.total!==T,flags:fl,ok:ok&&/"frame"/.test(last)&&fl.indexOf("MEMORY")<0&&fl.indexOf("LOW_MEMORY")<0&&m.total===T};},1);
setTimeout(function(){var P=global.__pkP,r=global.__pk;global.print=P;delete global.__pk;delete global.__pkP;
P("PEAK "+JSON.stringify(r||{ok:false,interrupted:true,flags:E.getErrorFlags()}));},2);})`;

/**
 * The transient peak of one seal through the console API (counter, JSON, seal, answer): a binary search for
 * the smallest free-variable count K at which a seal still completes (PEAK_PROBE). A seal that cannot
 * complete on a board with fixed memory stops with "Out of Memory" (reported by the probe's second timer:
 * counted as "not within K"). Resolution: the search's last step (a few variables) plus what
 * process.memory()'s own answer and the interpreter's bookkeeping move between the measurement and the seal.
 */
async function peakVarsPerSeal(repl: Repl, logs: string[], p: (l: string) => void): Promise<{ peakVarsPerSeal: number | null; peakNote?: string }> {
  const probe = async (k: number): Promise<{ ok: boolean; at: number }> => {
    logs.length = 0;
    try {
      await repl.run(`${PEAK_PROBE}(${k})`);
      const deadline = Date.now() + 120_000;
      for (;;) {
        const m = logs.map((l) => /PEAK (\{.*\})\s*$/.exec(l)).find((x) => x);
        if (m) {
          const r = JSON.parse(m[1]) as { ok: boolean; at?: number; interrupted?: boolean };
          return { ok: r.ok, at: r.at ?? k };
        }
        if (Date.now() > deadline) throw deviceError(`the peak probe with ${k} variables free did not answer within 120 s`);
        await sleep(50);
      }
    } catch {
      await repl.run('E.getErrorFlags();').catch(() => undefined);
      return { ok: false, at: k };
    }
  };
  let lo = 0;
  let hi = 1000;
  // The bracket: the seal must complete with `hi` free (else the peak is above what is probed).
  let top = await probe(hi);
  while (!top.ok && hi < 8000) {
    hi *= 2;
    top = await probe(hi);
  }
  if (!top.ok) return { peakVarsPerSeal: null, peakNote: `a seal did not complete even with ${hi} variables free` };
  let hiAt = top.at;
  while (hi - lo > 4) {
    const mid = (lo + hi) >> 1;
    const r = await probe(mid);
    if (r.ok) {
      hi = mid;
      hiAt = r.at;
    } else lo = mid;
  }
  p(`firmware: a seal completes with ${hiAt} variables free (not with ${lo})`);
  return { peakVarsPerSeal: hiAt };
}

/**
 * Loads dist/firmware.js (this build) from Storage as the board would and measures: idle = usage (after
 * GC) with the firmware loaded − usage before; per seal = usage right after one SEALMQ.challenge (no GC)
 * − usage before it; growth = usage after N seals − before them (both after GC). The seals need a
 * config: the firmware is provisioned with a throwaway one (broker 127.0.0.1:1, never reached; the
 * link stopped) unless the board already holds one, which is never overwritten.
 */
export async function firmwareFootprint(repl: Repl, logs: string[], code: string, bytes: number, budget: number, seals: number, before: string[], p: (l: string) => void, emulated: boolean): Promise<Footprint> {
  const method = 'dist/firmware.js (this build) uploaded to Storage and eval()ed; idle = process.memory().usage after load − before (both after GC); ' +
    'per seal = usage (no GC) right after SEALMQ.challenge() − usage (GC) before it, print() silenced; growth = usage after N seals − before them (GC). Seals via SEALMQ.challenge: a real counter, the firmware\'s sealUp path. ' +
    'peak per seal = the fewest free variables (memory filled with a filler array down to K free) with which one seal still completes with no LOW_MEMORY/MEMORY error flag and no growth of the variable store (binary search on K; not on the emulated board).';
  const base: Footprint = { bundleBytes: bytes, bundleBudget: budget, idleVars: null, varsPerSeal: null, seals, growthVars: null, sealMs: null, method };
  if (before.includes('smq.cfg')) {
    return { ...base, note: 'the board holds a sealmq config (smq.cfg): the firmware was not loaded, so as not to run or overwrite it; only the bundle size is reported' };
  }
  await storeBenchFile(repl, FW_FILE, code);
  const u0 = await repl.eval<number>('process.memory().usage');
  const said = await repl.run(`eval(require("Storage").read(${JSON.stringify(FW_FILE)}))`, { timeoutMs: 20_000 });
  await sleep(300);
  if (!(await repl.eval<boolean>('typeof SEALMQ==="object"'))) {
    throw deviceError(`the firmware (${FW_FILE}, ${bytes} bytes) did not load on the board on ${repl.link.url}: no SEALMQ after its eval (${said.join(' ').slice(0, 300) || 'it printed nothing'})`);
  }
  const u1 = await repl.eval<number>('process.memory().usage');
  const idleVars = u1 - u0;
  p(`firmware idle: ${idleVars} variables`);
  const cfg = { id: 'bench-01', root: randomBytes(32).toString('hex'), otp: randomBytes(20).toString('hex'), broker: { host: '127.0.0.1', port: 1 }, interval: 86400 };
  const prov = await repl.run(`SEALMQ.provision(${JSON.stringify(cfg)});SEALMQ.stop(true);`, { timeoutMs: 20_000 });
  if (!prov.some((l) => /"ok":true/.test(l))) return { ...base, idleVars, note: `the throwaway provisioning failed: ${prov.join(' ')}` };
  // One seal, variables held right after it; then N seals, timed on the board.
  const one = await repl.eval<number>('(function(){var P=print;global.print=function(){};var u=process.memory().usage;SEALMQ.challenge("00");var v=process.memory(false).usage;global.print=P;return v-u;})()');
  const n = await repl.eval<{ g: number; ms: number; last: string }>(
    `(function(){var P=print,last="";global.print=function(s){last=s;};var u=process.memory().usage;var t=getTime();for(var i=0;i<${seals};i++)SEALMQ.challenge("00");t=getTime()-t;var v=process.memory().usage;global.print=P;return {g:v-u,ms:t*1000/${seals},last:last};})()`,
    { timeoutMs: Math.max(60_000, seals * 50) },
  );
  if (!/"frame"/.test(n.last)) return { ...base, idleVars, varsPerSeal: one, note: `the seals failed: ${n.last}` };
  p(`firmware: ${one} variables per seal, ${n.g} growth over ${seals} seals, ${n.ms.toFixed(3)} ms per seal`);
  const peak = emulated
    ? { peakVarsPerSeal: null, peakNote: 'not measurable on the emulated board: its process.memory() is an estimate over globals that cannot see a call\'s temporaries (docs/EMULATOR.md)' }
    : await peakVarsPerSeal(repl, logs, p);
  await repl.run('SEALMQ.stop(true);');
  return { ...base, idleVars, varsPerSeal: one, growthVars: n.g, sealMs: n.ms, ...peak };
}

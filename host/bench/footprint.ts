// The production firmware's footprint on a board, for `sealmq bench crypto` (host/bench/crypto.ts): the
// variables dist/firmware.js holds once loaded, per seal and after N seals, and a seal's transient peak.
import { randomBytes } from 'node:crypto';
import { deviceError } from '../errors.js';
import type { Repl } from '../link/repl.js';
import { storeBenchFile } from './board-files.js';
import type { Footprint } from './crypto.js';

/** The firmware's copy the footprint loads (erased when the bench ends). */
export const FW_FILE = 'smqbenchfw.js';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

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

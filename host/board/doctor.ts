// `sealmq doctor`: a board's posture, read over its console: firmware and interpreter versions, crypto
// path, whether the console answered without a password, clock offset from the host, free variables and
// Storage, the counter block and key epoch from SEALMQ.status(), and the extra consoles the build has.
import { deviceError, SealmqError } from '../errors.js';
import { connectRepl, Repl } from '../link/repl.js';
import { linkFor, LinkOptions } from '../link/open-link.js';
import { firmwareVersion, smqCall } from './smq.js';

export interface DoctorReport {
  port: string;
  firmware: string | null;
  espruino: string | null;
  board: string | null;
  crypto: string | null;
  state: string | null;
  device: string | null;
  epoch: number | null;
  counter: number | null;
  blockEnd: number | null;
  /** The console ran our code without asking for a password (E.setPassword + E.lockConsole not in force). */
  consoleLocked: boolean;
  /** Board clock minus host clock, seconds (half the round trip is the uncertainty). */
  clockOffsetS: number | null;
  roundTripMs: number;
  freeVars: number | null;
  totalVars: number | null;
  storageFree: number | null;
  /** Consoles other than the one we are on that this build has (Telnet, Bluetooth). */
  extraConsoles: string[];
  warnings: string[];
}

// One expression, every part guarded: an old or stripped build just leaves fields null.
const PROBE = `(function(){var r={};function g(k,f){try{r[k]=f();}catch(e){r[k]=null;}}
g("v",function(){return process.version;});g("b",function(){return process.env.BOARD;});
g("m",function(){var m=process.memory(false);return [m.free,m.total];});
g("s",function(){return require("Storage").getFree();});
g("mods",function(){return process.env.MODULES||"";});
g("ble",function(){return typeof NRF!=="undefined"||(typeof ESP32!=="undefined"&&typeof ESP32.enableBLE==="function");});
g("t",function(){return getTime();});return r;})()`;

export async function doctorBoard(o: { port: string; link?: LinkOptions; now?: () => number }): Promise<DoctorReport> {
  const now = o.now ?? Date.now;
  const link = linkFor(o.port, o.link);
  let repl: Repl | undefined;
  try {
    await link.open();
    repl = await connectRepl(link);
    const version = await firmwareVersion(repl);
    const sent = now();
    const p = await repl.eval<{ v: string | null; b: string | null; m: [number, number] | null; s: number | null; mods: string | null; ble: boolean | null; t: number | null }>(PROBE.replace(/\n/g, ''));
    const back = now();
    const st = version ? await smqCall<Record<string, unknown>>(repl, 'SEALMQ.status()') : {};
    const mods = (p.mods ?? '').split(',').map((s) => s.trim());
    const extra: string[] = [];
    if (mods.includes('Telnet')) extra.push('telnet');
    if (p.ble) extra.push('bluetooth');
    const offset = p.t == null ? null : p.t - (sent + back) / 2000;
    const num = (v: unknown) => (typeof v === 'number' ? v : null);
    const r: DoctorReport = {
      port: o.port, firmware: version, espruino: p.v ?? null, board: (st.board as string) ?? p.b ?? null, crypto: (st.crypto as string) ?? null,
      state: (st.state as string) ?? null, device: (st.id as string) ?? null, epoch: num(st.epoch), counter: num(st.counter), blockEnd: num(st.end),
      consoleLocked: false, clockOffsetS: offset == null ? null : Math.round(offset * 1000) / 1000, roundTripMs: back - sent,
      freeVars: p.m ? p.m[0] : num(st.free), totalVars: p.m ? p.m[1] : null, storageFree: p.s ?? null, extraConsoles: extra, warnings: [],
    };
    if (!version) r.warnings.push('no sealmq firmware: run `sealmq flash`');
    else if (r.state !== 'ok') r.warnings.push(`firmware state: ${r.state}`);
    if (r.crypto === 'js') r.warnings.push('crypto runs in pure JS (no native AES/SHA in this build): slower, more variables');
    if (!r.consoleLocked) r.warnings.push('the console answers without a password (E.setPassword/E.lockConsole not set)');
    if (r.clockOffsetS !== null && Math.abs(r.clockOffsetS) > 15) r.warnings.push(`clock off by ${r.clockOffsetS.toFixed(1)} s: TOTP logins will fail beyond ±30 s`);
    if (extra.length) r.warnings.push(`extra consoles present: ${extra.join(', ')}`);
    return r;
  } catch (e) {
    if (e instanceof SealmqError) throw e;
    throw deviceError(`doctor on ${o.port} failed: ${(e as Error).message}`, undefined, e);
  } finally {
    repl?.detach();
    await link.close().catch(() => {});
  }
}

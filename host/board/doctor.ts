// `sealmq doctor`: a board's posture, read over its console: firmware and interpreter versions, crypto
// path, whether the console asked for a password, clock offset from the host, free variables and
// Storage, the counter block and key epoch from SEALMQ.status(), and the extra consoles (Telnet, Bluetooth).
// A locked console (docs/FIELD.md) says nothing but "password>": with the device's password(s) from the
// registry (--device) doctor unlocks it, reads the rest and locks it again; without them it reports the
// lock and nothing else. With --device the report is also kept as the device's posture (recordDoctor).
import { deviceError, SealmqError } from '../errors.js';
import { connectRepl, Repl } from '../link/repl.js';
import { linkFor, LinkOptions } from '../link/open-link.js';
import { consoleState, unlockConsole } from '../link/console-lock.js';
import { HARDEN_FILE } from './provision.js';
import type { PostureRecord, Registry } from '../registry/registry.js';
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
  /** The console asked for a password when doctor connected (E.setPassword + E.lockConsole in force). */
  consoleLocked: boolean;
  /** The boot file locks the console again at every boot (null: not read, the console stayed locked). */
  lockedAtBoot: boolean | null;
  /** The Telnet console: 'off' (turned off at every boot), 'on', 'absent' (not in this build), null: not read. */
  telnet: 'on' | 'off' | 'absent' | null;
  /** Bluetooth: ESP32.getState().BLE, 'absent' on builds without it, null: not read. */
  bluetooth: 'on' | 'off' | 'absent' | null;
  /** Board clock minus host clock, seconds (half the round trip is the uncertainty). */
  clockOffsetS: number | null;
  roundTripMs: number;
  freeVars: number | null;
  totalVars: number | null;
  storageFree: number | null;
  /** Consoles other than the one we are on that are (or may be) on: 'telnet', 'bluetooth'. */
  extraConsoles: string[];
  warnings: string[];
}

// One expression, every part guarded: an old or stripped build just leaves fields null.
const PROBE = `(function(){var r={};function g(k,f){try{r[k]=f();}catch(e){r[k]=null;}}
g("v",function(){return process.version;});g("b",function(){return process.env.BOARD;});
g("m",function(){var m=process.memory(false);return [m.free,m.total];});
g("s",function(){return require("Storage").getFree();});
g("mods",function(){return process.env.MODULES||"";});
g("ble",function(){return typeof NRF!=="undefined"?true:typeof ESP32!=="undefined"&&typeof ESP32.enableBLE==="function"?!!ESP32.getState().BLE:"absent";});
g("h",function(){var f=require("Storage").read(${JSON.stringify(HARDEN_FILE)})||"";return [f.indexOf("E.lockConsole()")>=0,f.indexOf('require("TelnetServer").setOptions({mode:"off"})')>=0];});
g("t",function(){return getTime();});return r;})()`;

/** What doctor says of a locked console it has no password for: the lock, and nothing it cannot know. */
function lockedOnly(port: string): DoctorReport {
  return {
    port, firmware: null, espruino: null, board: null, crypto: null, state: null, device: null, epoch: null, counter: null, blockEnd: null,
    consoleLocked: true, lockedAtBoot: null, telnet: null, bluetooth: null, clockOffsetS: null, roundTripMs: 0,
    freeVars: null, totalVars: null, storageFree: null, extraConsoles: [],
    warnings: ['the console is locked: to read the rest, name the board with --device ID (its console password is in the registry)'],
  };
}

export async function doctorBoard(o: { port: string; link?: LinkOptions; now?: () => number; device?: string; passwords?: readonly string[] }): Promise<DoctorReport> {
  const now = o.now ?? Date.now;
  const link = linkFor(o.port, o.link);
  let repl: Repl | undefined;
  let relock = false;
  try {
    await link.open();
    const was = await consoleState(link);
    if (was === 'locked') {
      if (!o.passwords) return lockedOnly(o.port);
      await unlockConsole(link, o.passwords, { device: o.device });
      relock = true;
    }
    repl = await connectRepl(link);
    const version = await firmwareVersion(repl);
    const sent = now();
    const p = await repl.eval<{ v: string | null; b: string | null; m: [number, number] | null; s: number | null; mods: string | null; ble: boolean | 'absent' | null; h: [boolean, boolean] | null; t: number | null }>(PROBE.replace(/\n/g, ''));
    const back = now();
    const st = version ? await smqCall<Record<string, unknown>>(repl, 'SEALMQ.status()') : {};
    if (relock) await repl.run('E.lockConsole()');
    const mods = (p.mods ?? '').split(',').map((s) => s.trim());
    // What the hardening boot file does at every boot (checked on the board: the password stays there).
    const [lockAtBoot, telnetOffAtBoot] = p.h ?? [false, false];
    const telnet = !mods.includes('TelnetServer') ? 'absent' : telnetOffAtBoot ? 'off' : 'on';
    const bluetooth = p.ble === 'absent' ? 'absent' : p.ble === null ? null : p.ble ? 'on' : 'off';
    const extra: string[] = [];
    if (telnet === 'on') extra.push('telnet');
    if (bluetooth === 'on') extra.push('bluetooth');
    const offset = p.t == null ? null : p.t - (sent + back) / 2000;
    const num = (v: unknown) => (typeof v === 'number' ? v : null);
    const r: DoctorReport = {
      port: o.port, firmware: version, espruino: p.v ?? null, board: (st.board as string) ?? p.b ?? null, crypto: (st.crypto as string) ?? null,
      state: (st.state as string) ?? null, device: (st.id as string) ?? null, epoch: num(st.epoch), counter: num(st.counter), blockEnd: num(st.end),
      consoleLocked: was === 'locked', lockedAtBoot: lockAtBoot, telnet, bluetooth, clockOffsetS: offset == null ? null : Math.round(offset * 1000) / 1000, roundTripMs: back - sent,
      freeVars: p.m ? p.m[0] : num(st.free), totalVars: p.m ? p.m[1] : null, storageFree: p.s ?? null, extraConsoles: extra, warnings: [],
    };
    if (!version) r.warnings.push('no sealmq firmware: run `sealmq flash`');
    else if (r.state !== 'ok') r.warnings.push(`firmware state: ${r.state}`);
    if (r.crypto === 'js') r.warnings.push('crypto runs in pure JS (no native AES/SHA in this build): slower, more variables');
    if (!r.consoleLocked) r.warnings.push('the console answers without a password: provision the board to lock it');
    else if (!r.lockedAtBoot) r.warnings.push(`the console is locked now but not at boot (no ${HARDEN_FILE}): it opens at the next reset`);
    if (r.clockOffsetS !== null && Math.abs(r.clockOffsetS) > 15) r.warnings.push(`clock off by ${r.clockOffsetS.toFixed(1)} s: TOTP logins will fail beyond ±30 s`);
    if (extra.length) r.warnings.push(`extra consoles on: ${extra.join(', ')}`);
    return r;
  } catch (e) {
    if (e instanceof SealmqError) throw e;
    throw deviceError(`doctor on ${o.port} failed: ${(e as Error).message}`, undefined, e);
  } finally {
    repl?.detach();
    await link.close().catch(() => {});
  }
}

/**
 * Keeps a doctor report as the device's posture in the registry (the fleet view shows the last one, with
 * its time). Only when the board said it is that device: a report read from another board (a wrong --port)
 * is not filed under this id. Returns the record, or null with the reason.
 */
export function recordDoctor(reg: Registry, deviceId: string, r: DoctorReport, actor: string): { recorded: PostureRecord | null; why?: string } {
  if (r.device !== deviceId) return { recorded: null, why: `the board says it is ${r.device ?? 'no provisioned device'}, not ${deviceId}` };
  return { recorded: reg.recordPosture(deviceId, { ...r } as unknown as Record<string, unknown>, actor) };
}

/**
 * The provisioned configuration, Storage file smq.cfg (JSON), and its validation. The host writes it
 * through SEALMQ.provision(); the board checks every field before storing it, and again at boot.
 * Problems are reported as "bad <field>"; docs/FIRMWARE.md says what each field must be.
 */
import { DEFAULT_PREFIX } from '../core/ids.js';

// Build flag (espruino.d.ts); declared here too for the Node compile of this file (tests set it as a global).
declare const __PLAIN__: boolean;

export const CFG = 'smq.cfg';

export interface Config {
  id: string;
  /** 32-byte root secret, hex (DESIGN.md §3). */
  root: string;
  /** 20-byte OTP seed, hex (TOTP login, RFC 6238). */
  otp: string;
  broker: { host: string; port: number };
  prefix: string;
  /** Seconds between readings, fractional allowed: 0.05..86400. */
  interval: number;
  /** K of "save every K" (RFC 8613 App. B.1.1): 1..65536. */
  k: number;
  /** Key epoch to start at: 0..255. */
  epoch: number;
  wifi?: { ssid: string; password: string };
}

/** A number lo..hi. */
export const numIn = (v: any, lo: number, hi: number) => typeof v === 'number' && v >= lo && v <= hi;

/** A whole number lo..hi. */
export const intIn = (v: any, lo: number, hi: number) => numIn(v, lo, hi) && v === Math.floor(v);

/**
 * A string of at most max chars matching re (RegExp.test would turn undefined into "undefined").
 * Espruino's RegExp has no {n,m} quantifiers and no quantified groups (src/jswrap_regexp.c), hence max.
 */
export const str = (v: any, re: RegExp, max: number) => typeof v === 'string' && v.length <= max && re.test(v);

/** Lower-case hex of exactly n bytes (lower case, so the same secret always compares equal). */
const hexOf = (v: any, n: number) => str(v, /^[\da-f]+$/, 2 * n) && v.length === 2 * n;

/** The normalised config, or "bad <field>" for the first field that is wrong. kDefault: the board's K. */
export const checkConfig = (o: any, kDefault: number): Config | string => {
  const b = (o && o.broker) || {};
  const w = o && o.wifi;
  const d = (v: any, x: any) => (v === undefined ? x : v);
  const c: Config = o && {
    id: o.id, root: o.root, otp: o.otp, broker: { host: b.host, port: b.port }, prefix: d(o.prefix, DEFAULT_PREFIX),
    interval: d(o.interval, 10), k: d(o.k, kDefault), epoch: d(o.epoch, 0),
  };
  const bad = !c ? 'config' : !str(c.id, /^[a-z0-9][a-z0-9-]*$/, 32) ? 'id' : !(__PLAIN__ || hexOf(c.root, 32)) ? 'root' : !(__PLAIN__ || hexOf(c.otp, 20)) ? 'otp' :
    !str(b.host, /^[\w.:-]+$/, 253) ? 'broker.host' : !intIn(b.port, 1, 65535) ? 'broker.port' :
    !(str(c.prefix, /^[\w-]+$/, 64) || str(c.prefix, /^[\w-][\w\/-]*[\w-]$/, 64) && c.prefix.indexOf('//') < 0) ? 'prefix' : !numIn(c.interval, 0.05, 86400) ? 'interval' :
    !intIn(c.k, 1, 65536) ? 'k' : !intIn(c.epoch, 0, 255) ? 'epoch' :
    w !== undefined && !(w && str(w.ssid, /^./, 32)) ? 'wifi' : '';
  if (bad) return 'bad ' + bad;
  if (w) c.wifi = { ssid: w.ssid, password: '' + d(w.password, '') };
  return c;
};

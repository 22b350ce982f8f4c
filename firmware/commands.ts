/**
 * Downlink commands (docs/FIRMWARE.md, docs/PROTOCOL.md): checks the arguments, then asks the device.
 * Only ever called for a frame whose tag passed and whose replay window was persisted first.
 */
import { intIn, numIn } from './config.js';

/** What a command may do to the device; interval and rotate return '' on success or an error reason. */
export interface Target {
  status(): any;
  interval(s: number): string;
  rotate(e: number): string;
}

/**
 * Runs command c with arguments a (default {}): ping, status, interval {s: 0.05..86400}, rotate {e: 0..255}.
 * Fills in the reply o ({"t","r","i","ok"}): ok, and "a" on success or "e" (the reason) on failure.
 */
export const runCommand = (c: any, a: any, x: Target, o: any) => {
  a = a === undefined ? {} : a;
  const e = !a || typeof a !== 'object' ? 0 : c === 'ping' || c === 'status' ? '' :
    c === 'interval' ? numIn(a.s, 0.05, 86400) && x.interval(a.s) :
    c === 'rotate' ? intIn(a.e, 0, 255) && x.rotate(a.e) : 'unknown-command';
  o.ok = e === '';
  if (e !== '') o.e = e || 'bad-args';
  else o.a = c === 'status' ? x.status() : c === 'interval' ? { s: a.s } : c === 'rotate' ? { e: a.e } : {};
  return o;
};

/**
 * The board's protocol state: configuration, keys, the uplink counter, the downlink replay window, and
 * what to do with readings, commands, provisioning and challenges. No Espruino globals: the platform
 * (Storage, crypto primitives, clock, memory) is injected by main.ts, so Node tests drive this file too.
 */
import { fromHex } from '../core/bytes.js';
import { deriveKeys, FrameKeys, MAX_COUNTER, ReceiveState, receive, seal } from '../core/frame.js';
import { emptyWindow } from '../core/replay.js';
import { DEVICE_TOTP_DIGITS, DEVICE_TOTP_STEP, totp } from '../core/otp.js';
import { CFG, checkConfig, Config, numIn, str } from './config.js';
import { Counter, CTR, ctrEpoch, ctrLoad, ctrNext, ctrReset } from './counter.js';
import { put, Rec, slotLoad, slotReset, slotSave, Store } from './slots.js';
import { CorePrimitives } from '../core/primitives.js';
import { sha1 } from './crypto-js.js';
import { runCommand } from './commands.js';

// Build flags (espruino.d.ts); declared here too for the Node compile of this file (tests set them as globals).
declare const __PLAIN__: boolean;
declare const __TS__: number;

/** The downlink replay window record {e: epoch, t: top, h: hi bits, l: lo bits} (files smq.dw0, smq.dw1). */
export const DW = 'smq.dw';
/** The interval set by the "interval" command (seconds, JSON); without it smq.cfg's applies. */
export const IVF = 'smq.iv';

export interface Platform {
  store: Store;
  /** The crypto the core runs on: native or pure JS. */
  suite: CorePrimitives;
  /** "native" or "js". */
  crypto: string;
  /** getTime(): seconds since 1970 (float). */
  now(): number;
  /** Free interpreter variables. */
  free(): number;
  /** K when the config gives none. */
  k: number;
  version: string;
  /** Prints a console line. */
  log(s: string): void;
  /** A string's characters as bytes (the board's ASCII JSON): E.toUint8Array on a board, one native call. */
  bytes(s: string): Uint8Array;
}

let pf: Platform;
let st: Store;
let cfg: Config | null = null;
let ctr: Counter | null = null;
let upKeys: FrameKeys;
let down: ReceiveState | null = null;
let downSeq = 0;
let dk: FrameKeys;
let dkEpoch = -1;
let every = 10;
let state = '';
let rejected = 0;
const EXHAUSTED = 'counter exhausted';

const bySeq = (r: Rec) => r.s;
const keysOf = (dir: string, e: number) => deriveKeys(pf.suite, fromHex((cfg as Config).root), (cfg as Config).id, dir, e);
const read = (name: string, dflt: string) => {
  try {
    return JSON.parse(st.read(name) || dflt);
  } catch (e) {
    return null;
  }
};

/**
 * Bytes as a binary string (one char per byte: what Espruino's sockets write). Only used for ASCII JSON
 * and frames: the board sends only ASCII JSON (numbers, hex, names it accepted), a subset of the UTF-8
 * JSON of DESIGN.md §4, and takes a command only if its name is ASCII.
 */
export const binary = (b: Uint8Array) => {
  let s = '';
  for (let i = 0; i < b.length; i++) s += String.fromCharCode(b[i]);
  return s;
};

/** The downlink keys for epoch e (one epoch cached). */
const keysFor = (e: number) => {
  if (e !== dkEpoch) dk = keysOf('down', (dkEpoch = e));
  return dk;
};

/** The sender's clock for "t": unix seconds to the millisecond (latency is measured from it), or null while unset (before 2001). */
export const stamp = () => {
  const t = pf.now();
  return t > 1e9 ? Math.round(t * __TS__) / __TS__ : null;
};

/** Persists the downlink window (RFC 4303 §3.4.3 state) before any command acts on it. */
const saveDown = (s: ReceiveState) => slotSave(st, DW, { e: s.epoch, t: s.window.top, h: s.window.hi, l: s.window.lo, s: 0 }, downSeq) && ++downSeq > 0;

const setState = (s: string) => {
  if (s !== state && s !== 'ok') pf.log('sealmq: ' + s);
  state = s;
};

/** (Re)loads configuration, counter and window from Storage; logs what keeps the board from working. */
export const devLoad = (p: Platform) => {
  pf = p;
  st = p.store;
  state = '';
  cfg = ctr = down = null;
  dkEpoch = -1;
  const raw = read(CFG, 'null');
  const c = raw ? checkConfig(raw, p.k) : 'not provisioned';
  if (typeof c === 'string') return setState(c);
  cfg = c;
  const iv = read(IVF, '0');
  every = numIn(iv, 0.05, 86400) ? iv : c.interval;
  if (__PLAIN__) return setState(PLAIN);
  ctr = ctrLoad(st);
  const w = slotLoad(st, DW, bySeq);
  if (w) {
    down = { epoch: w.e, window: { top: w.t, hi: w.h, lo: w.l } };
    downSeq = w.s;
  }
  if (ctr) upKeys = keysOf('up', ctr.e);
  setState(!ctr ? 'counter lost' : !down ? 'window lost' : ctr.c > MAX_COUNTER ? EXHAUSTED : 'ok');
};

export const devConfig = () => cfg;
export const devInterval = () => every;

/**
 * Seals an uplink message with the next counter; a string is why nothing could be sealed: the state
 * ("not provisioned", "counter lost", "counter exhausted", …) or "storage" (the counter record failed).
 */
export const sealUp = (msg: any): Uint8Array | string => {
  const n = ctr ? ctrNext(st, ctr, (cfg as Config).k) : -1;
  if (!n) setState(EXHAUSTED);
  return n > 0 ? seal(pf.suite, upKeys, (cfg as Config).id, 'up', 'up', (ctr as Counter).e, n, pf.bytes(JSON.stringify(msg))) : ctr && n ? 'storage' : state;
};

/**
 * Status: the "status" command's reply arguments (docs/PROTOCOL.md) and the console's status line.
 * 'state' and 'counter' are quoted: the bundler shortens those names inside the bundle, never quoted ones.
 */
export const devStatus = (): any => ({
  v: pf.version, id: cfg ? cfg.id : null, 'state': state, crypto: pf.crypto, epoch: ctr ? ctr.e : null,
  'counter': ctr ? ctr.c - 1 : null, end: ctr ? ctr.n : null, interval: every, free: pf.free(), rejected: rejected,
});

const setEvery = (s: number) => (put(st, IVF, JSON.stringify(s)) ? ((every = s), '') : 'storage');

/**
 * Moves to key epoch e: records the new epoch's first counter block, then the downlink window at e (so
 * old-epoch commands are refused from now on), then switches keys; the reply goes out under e. With the
 * counter state lost, e must be above the provisioned epoch and above every epoch used since (the host
 * knows: it asked for them).
 */
const rotate = (e: number) => {
  const c = cfg as Config;
  const x = ctr || { e: c.epoch, c: 0, n: 0, s: -1 };
  if (e <= x.e) return 'old-epoch';
  if (!ctrEpoch(st, x, e, c.k)) return 'storage';
  ctr = x;
  upKeys = keysOf('up', e);
  if (down && down.epoch < e) saveDown((down = { epoch: e, window: emptyWindow() }));
  setState(down ? 'ok' : state);
  return '';
};

const target = { status: devStatus, interval: setEvery, rotate: rotate };

/**
 * A frame from <prefix>/<id>/down: core receive() (DESIGN.md §4 order), the new window persisted BEFORE
 * acting, then the command and its sealed reply (null: nothing to send). Rejected frames (including an
 * authentic one that is not a command: not JSON, or "c" not an ASCII command name) are counted, never answered.
 */
export const onDown = (f: Uint8Array) => {
  if (__PLAIN__) return plainDown(f);
  const r = cfg && down ? receive(pf.suite, keysFor, cfg.id, 'down', 'down', down, f) : null;
  let m: any = null;
  if (r && r.ok && r.state && saveDown(r.state)) {
    down = r.state;
    try {
      m = JSON.parse(binary(r.plaintext as Uint8Array));
    } catch (e) {}
  }
  if (!r || !m || !str(m.c, /^[a-z0-9-]+$/, 32)) {
    rejected++;
    return null;
  }
  const s = sealUp(runCommand(m.c, m.a, target, { t: stamp(), r: m.c, i: r.counter, ok: false }));
  return typeof s === 'string' ? null : s;
};

/**
 * Stores a new configuration. With new secrets (another root or id) the counter and the downlink window
 * start over; with the same secrets, or an unreadable old config next to existing state, they are kept
 * and only move forward: re-running a provisioning must never reuse a counter. Returns '' or why not.
 */
export const devProvision = (o: any) => {
  const c = checkConfig(o, pf.k);
  if (typeof c === 'string') return c;
  if (__PLAIN__) return put(st, CFG, JSON.stringify(c)) ? (devLoad(pf), '') : 'storage';
  const old = read(CFG, 'null');
  const x = ctrLoad(st);
  const w = slotLoad(st, DW, bySeq);
  const keep = [CTR + 0, CTR + 1, DW + 0, DW + 1].some((n) => !!st.read(n)) && !(old && (old.root !== c.root || old.id !== c.id));
  if (keep && !(x && w)) return 'state lost';
  let ok = put(st, CFG, JSON.stringify(c));
  const fresh: Rec = { e: c.epoch, t: 0, h: 0, l: 0, s: 0 };
  if (ok && !keep) {
    ok = !!ctrReset(st, c.epoch) && slotReset(st, DW, fresh);
    st.erase(IVF);
  }
  if (ok && keep && x && w) {
    if (c.epoch > x.e) ok = slotSave(st, CTR, { e: c.epoch, n: 0, s: 0 }, x.s);
    if (ok && c.epoch > w.e) ok = slotSave(st, DW, fresh, w.s);
  }
  devLoad(pf);
  return ok ? '' : 'storage';
};

/** The current TOTP login code (RFC 6238: HMAC-SHA-1, 30 s, 8 digits; DESIGN.md §3). */
export const devTotp = () => (cfg && !__PLAIN__ ? totp(sha1, 64, fromHex(cfg.otp), pf.now(), DEVICE_TOTP_STEP, DEVICE_TOTP_DIGITS) : '');

/** Seals {"t","c":"challenge","a":{"n"}} with a real counter: proof to the host that the board holds the keys. */
export const devChallenge = (n: any) =>
  str(n, /^[0-9a-f]+$/, 128) && !(n.length & 1) ? sealUp({ t: stamp(), c: 'challenge', a: { n: n } }) : 'bad nonce';

// Research plain build only (tree-shaken from every other build; at the end so no var chain is split).
/** The research plain build's state: shown in every status and logged at boot. */
export const PLAIN = 'RESEARCH PLAIN / NOT SECURE';

/** Research plain build: a message in clear, marked "plain":true (docs/PROTOCOL.md, research plain mode). */
export const plainUp = (m: any) => {
  m.plain = true;
  return pf.bytes(JSON.stringify(m));
};

/** Research plain build: a command in clear ({"c","a"}), answered in clear; no counter, window or keys. */
const plainDown = (f: Uint8Array) => {
  let m: any = null;
  try {
    m = JSON.parse(binary(f));
  } catch (e) {}
  if (!m || !str(m.c, /^[a-z0-9-]+$/, 32) || m.c === 'rotate') {
    rejected++;
    return null;
  }
  return plainUp(runCommand(m.c, m.a, target, { t: stamp(), r: m.c, ok: false }));
};

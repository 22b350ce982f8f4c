/**
 * sealmq frame v1 (DESIGN.md §4, docs/PROTOCOL.md): encrypt-then-MAC with AES-128-CBC and HMAC-SHA256,
 * a derived IV, and a MAC that binds the frame to its device and channel. Pure functions over injected
 * primitives, in the Espruino-safe subset: the board and the host run this very file.
 */
import { ascii, constantTimeEqual } from './bytes.js';
import { hkdfExpand, hkdfExtract } from './hkdf.js';
import { hmac } from './hmac.js';
import { pad16, unpad16 } from './pkcs7.js';
import { CorePrimitives } from './primitives.js';
import { isStale, replayCheck, replayUpdate, ReplayWindow, emptyWindow } from './replay.js';

export const FRAME_VERSION = 1;
export const HEADER_LEN = 7;
export const TAG_LEN = 16;
/** Smallest frame: header + one cipher block + tag. */
export const MIN_FRAME_LEN = HEADER_LEN + 16 + TAG_LEN;
export const MAX_COUNTER = 4294967295;
/** DESIGN.md §3: HKDF salt. */
export const KDF_SALT = 'sealmq/1';

export interface FrameKeys {
  enc: Uint8Array;
  mac: Uint8Array;
  iv: Uint8Array;
}

/** 'up' = 0, 'down' = 1 in flags bit 0. */
export function directionBit(direction: string): number {
  if (direction === 'up') return 0;
  if (direction === 'down') return 1;
  throw new Error('direction must be "up" or "down"');
}

/** DESIGN.md §3: enc/mac/iv keys for (device, direction, epoch) from the 32-byte root secret. */
export function deriveKeys(p: CorePrimitives, root: Uint8Array, deviceId: string, direction: string, epoch: number): FrameKeys {
  directionBit(direction);
  if (!(epoch >= 0 && epoch <= 255 && epoch === Math.floor(epoch))) throw new Error('epoch must be 0..255');
  const prk = hkdfExtract(p.sha256, ascii(KDF_SALT), root, p.hmacSha256);
  const suffix = ':' + direction + ':' + epoch + ':' + deviceId;
  return {
    enc: hkdfExpand(p.sha256, prk, ascii('enc' + suffix), 16, p.hmacSha256),
    mac: hkdfExpand(p.sha256, prk, ascii('mac' + suffix), 32, p.hmacSha256),
    iv: hkdfExpand(p.sha256, prk, ascii('iv' + suffix), 16, p.hmacSha256),
  };
}

/** The 7-byte header. (A Uint8Array keeps the low 8 bits of what is stored: no masks, fewer steps on Espruino.) */
export function encodeHeader(direction: string, epoch: number, counter: number): Uint8Array {
  if (!(counter >= 1 && counter <= MAX_COUNTER && counter === Math.floor(counter))) throw new Error('counter must be 1..2^32-1');
  if (!(epoch >= 0 && epoch <= 255 && epoch === Math.floor(epoch))) throw new Error('epoch must be 0..255');
  const h = new Uint8Array(HEADER_LEN);
  h[0] = FRAME_VERSION;
  h[1] = directionBit(direction);
  h[2] = epoch;
  h[3] = counter >>> 24;
  h[4] = counter >>> 16;
  h[5] = counter >>> 8;
  h[6] = counter;
  return h;
}

/** The all-zero IV of frameIv's one-block CBC call (no primitive writes to its iv argument). */
const ZERO_IV = new Uint8Array(16);

/**
 * IV = AES-128-ECB(K_iv, header ‖ 9 zero bytes): unique per (key, counter), unpredictable (SP 800-38A App. C).
 * header: the frame's 7 header bytes.
 */
export function frameIv(p: CorePrimitives, ivKey: Uint8Array, header: Uint8Array): Uint8Array {
  const block = new Uint8Array(16);
  block.set(header);
  return p.cbcEncrypt(ivKey, ZERO_IV, block);
}

// The bytes len(id) ‖ id ‖ len(channel) ‖ channel of the last macInput call: a board seals for one device id
// and channel, so its id is not copied char by char into every frame's MAC input.
let midId = '';
let midChannel = '';
let mid = new Uint8Array([0, 0]);

/**
 * M = header ‖ len(id) ‖ id ‖ len(channel) ‖ channel ‖ ciphertext, built in one allocation. Each interpreted
 * statement costs on Espruino, and this runs on every seal and open: see docs/FIRMWARE.md "The seal's cost".
 */
export function macInput(header: Uint8Array, deviceId: string, channel: string, ciphertext: Uint8Array): Uint8Array {
  if (deviceId !== midId || channel !== midChannel) {
    const n = deviceId.length;
    const c = channel.length;
    if (n > 255 || c > 255) throw new Error('device id or channel too long');
    const b = new Uint8Array(2 + n + c);
    b[0] = n;
    for (let i = 0; i < n; i++) b[1 + i] = deviceId.charCodeAt(i);
    b[1 + n] = c;
    for (let i = 0; i < c; i++) b[2 + n + i] = channel.charCodeAt(i);
    mid = b;
    midId = deviceId;
    midChannel = channel;
  }
  const m = new Uint8Array(HEADER_LEN + mid.length + ciphertext.length);
  m.set(header);
  m.set(mid, HEADER_LEN);
  m.set(ciphertext, HEADER_LEN + mid.length);
  return m;
}

export function frameTag(p: CorePrimitives, macKey: Uint8Array, m: Uint8Array): Uint8Array {
  const full = p.hmacSha256 ? p.hmacSha256(macKey, m) : hmac(p.sha256, 64, macKey, m);
  return full.subarray(0, TAG_LEN);
}

/** Seals plaintext bytes into one frame. The caller owns counter uniqueness (see firmware/counter.ts). */
export function seal(p: CorePrimitives, keys: FrameKeys, deviceId: string, channel: string, direction: string,
  epoch: number, counter: number, plaintext: Uint8Array): Uint8Array {
  const header = encodeHeader(direction, epoch, counter);
  const iv = frameIv(p, keys.iv, header);
  const ct = p.cbcEncrypt(keys.enc, iv, pad16(plaintext));
  const tag = frameTag(p, keys.mac, macInput(header, deviceId, channel, ct));
  const out = new Uint8Array(HEADER_LEN + ct.length + TAG_LEN);
  out.set(header);
  out.set(ct, HEADER_LEN);
  out.set(tag, HEADER_LEN + ct.length);
  return out;
}

export interface ParsedFrame {
  direction: string;
  epoch: number;
  counter: number;
  header: Uint8Array;
  ciphertext: Uint8Array;
  tag: Uint8Array;
}

/** Step 1 of the receiver order: length, version, flags, counter ≠ 0. Returns the reason string on failure. */
export function parseFrame(frame: Uint8Array): ParsedFrame | string {
  if (frame.length < MIN_FRAME_LEN || (frame.length - HEADER_LEN - TAG_LEN) % 16 !== 0) return 'malformed';
  if (frame[0] !== FRAME_VERSION) return 'malformed';
  if ((frame[1] & 0xfe) !== 0) return 'malformed';
  const counter = ((frame[3] << 24) >>> 0) + (frame[4] << 16) + (frame[5] << 8) + frame[6];
  if (counter === 0) return 'malformed';
  return {
    direction: frame[1] & 1 ? 'down' : 'up',
    epoch: frame[2],
    counter: counter,
    header: frame.subarray(0, HEADER_LEN),
    ciphertext: frame.subarray(HEADER_LEN, frame.length - TAG_LEN),
    tag: frame.subarray(frame.length - TAG_LEN),
  };
}

export interface OpenResult {
  ok: boolean;
  /** Set when ok is false: malformed, wrong-direction, old-epoch, stale, bad-tag, replay, bad-padding. */
  reason?: string;
  direction?: string;
  epoch?: number;
  counter?: number;
  plaintext?: Uint8Array;
}

/** Tag check (constant time) then IV, decrypt, padding. No replay logic: see receive(). */
export function openParsed(p: CorePrimitives, keys: FrameKeys, deviceId: string, channel: string, f: ParsedFrame): OpenResult {
  const tag = frameTag(p, keys.mac, macInput(f.header, deviceId, channel, f.ciphertext));
  if (!constantTimeEqual(tag, f.tag)) return { ok: false, reason: 'bad-tag' };
  return decryptParsed(p, keys, f);
}

function decryptParsed(p: CorePrimitives, keys: FrameKeys, f: ParsedFrame): OpenResult {
  const iv = frameIv(p, keys.iv, f.header);
  const pt = unpad16(p.cbcDecrypt(keys.enc, iv, f.ciphertext));
  if (!pt) return { ok: false, reason: 'bad-padding' };
  return { ok: true, direction: f.direction, epoch: f.epoch, counter: f.counter, plaintext: pt };
}

/** Opens one frame with no replay state (the `sealmq frame open` debugging tool). */
export function open(p: CorePrimitives, keys: FrameKeys, deviceId: string, channel: string, frame: Uint8Array): OpenResult {
  const f = parseFrame(frame);
  if (typeof f === 'string') return { ok: false, reason: f };
  return openParsed(p, keys, deviceId, channel, f);
}

/** Per (device, direction) receive state: current key epoch and its replay window. */
export interface ReceiveState {
  epoch: number;
  window: ReplayWindow;
}

export function initialReceiveState(epoch: number): ReceiveState {
  return { epoch: epoch, window: emptyWindow() };
}

export interface ReceiveResult extends OpenResult {
  /** The state to persist BEFORE delivering the plaintext; set whenever the tag passed. */
  state?: ReceiveState;
}

/**
 * The receiver order of DESIGN.md §4, each step failing closed with its own reason:
 * length/version/flags → epoch not below current → counter not left of window → tag (constant time)
 * → replay check-and-update → IV, decrypt, padding. The caller decodes JSON after persisting `state`.
 * keysFor(epoch) returns the keys for that epoch, or null when the epoch is unknown or revoked.
 */
export function receive(p: CorePrimitives, keysFor: (epoch: number) => FrameKeys | null, deviceId: string,
  channel: string, expectDirection: string, st: ReceiveState, frame: Uint8Array): ReceiveResult {
  const f = parseFrame(frame);
  if (typeof f === 'string') return { ok: false, reason: f };
  if (f.direction !== expectDirection) return { ok: false, reason: 'wrong-direction' };
  if (f.epoch < st.epoch) return { ok: false, reason: 'old-epoch' };
  const sameEpoch = f.epoch === st.epoch;
  const w = sameEpoch ? st.window : emptyWindow();
  if (isStale(w, f.counter)) return { ok: false, reason: 'stale' };
  const keys = keysFor(f.epoch);
  if (!keys) return { ok: false, reason: 'unknown-epoch' };
  const tag = frameTag(p, keys.mac, macInput(f.header, deviceId, channel, f.ciphertext));
  if (!constantTimeEqual(tag, f.tag)) return { ok: false, reason: 'bad-tag' };
  if (replayCheck(w, f.counter) !== 'ok') return { ok: false, reason: 'replay' };
  const next: ReceiveState = { epoch: f.epoch, window: replayUpdate(w, f.counter) };
  const r: ReceiveResult = decryptParsed(p, keys, f);
  r.state = next;
  return r;
}

// Device secrets (unlocked registry only): each epoch's root secret and OTP seed, sealed under the registry
// key with the device id and epoch bound inside the box, decrypted once and cached until lock().
import { toHex, utf8Decode, utf8Encode } from '../../core/bytes.js';
import { inputError, SealmqError } from '../errors.js';
import { audit } from './audit.js';
import { openBox, wipe } from './crypto.js';
import { epochs, getDevice } from './devices.js';
import type { RegistryStore } from './store.js';
import { checkDeviceId, DeviceRecord, DeviceSecrets, OTP_SEED_LEN, ROOT_LEN, u8 } from './types.js';

const RECORD_VERSION = 1;

/** Secret record plaintext: version, epoch, root(32), otp seed(20), device id. Binding id and epoch stops row swaps. */
export function encodeSecretRecord(s: DeviceSecrets): Uint8Array {
  const id = utf8Encode(s.id);
  const out = new Uint8Array(2 + ROOT_LEN + OTP_SEED_LEN + id.length);
  out[0] = RECORD_VERSION;
  out[1] = s.epoch;
  out.set(s.root, 2);
  out.set(s.otpSeed, 2 + ROOT_LEN);
  out.set(id, 2 + ROOT_LEN + OTP_SEED_LEN);
  return out;
}

function decodeSecretRecord(b: Uint8Array, id: string, epoch: number): DeviceSecrets | null {
  if (b.length < 2 + ROOT_LEN + OTP_SEED_LEN + 1 || b[0] !== RECORD_VERSION || b[1] !== epoch) return null;
  if (utf8Decode(b.subarray(2 + ROOT_LEN + OTP_SEED_LEN)) !== id) return null;
  return {
    id, epoch,
    root: b.slice(2, 2 + ROOT_LEN),
    otpSeed: b.slice(2 + ROOT_LEN, 2 + ROOT_LEN + OTP_SEED_LEN),
  };
}


const copySecrets = (s: DeviceSecrets): DeviceSecrets => ({ id: s.id, epoch: s.epoch, root: s.root.slice(), otpSeed: s.otpSeed.slice() });

/** The decrypted secrets of an epoch (default: the current one), or null for an unknown device/epoch. */
export function secrets(store: RegistryStore, id: string, epoch?: number): DeviceSecrets | null {
  const key = store.requireKey();
  checkDeviceId(id);
  if (epoch === undefined) {
    const d = store.sql('SELECT epoch FROM devices WHERE id = ?').get(id) as { epoch: number } | undefined;
    if (!d) return null;
    epoch = d.epoch;
  }
  const ck = id + ':' + epoch;
  const hit = store.cache.get(ck);
  if (hit) return copySecrets(hit);
  const row = store.sql('SELECT nonce, box FROM device_secrets WHERE device_id = ? AND epoch = ?').get(id, epoch) as
    { nonce: Buffer; box: Buffer } | undefined;
  if (!row) return null;
  const pt = openBox(key, { nonce: u8(row.nonce), box: u8(row.box) });
  const s = pt ? decodeSecretRecord(pt, id, epoch) : null;
  wipe(pt);
  if (!s) throw new SealmqError('internal', `the secrets of ${id} epoch ${epoch} do not open: the registry was altered`);
  store.cache.set(ck, s);
  return copySecrets(s);
}

/**
 * The current OTP seed of a device alone (what the broker needs): the record's root secret is zeroed at
 * once and only the seed is cached. null for an unknown device.
 */
export function otpSeed(store: RegistryStore, id: string): { epoch: number; seed: Uint8Array } | null {
  const key = store.requireKey();
  checkDeviceId(id);
  const d = store.sql('SELECT epoch FROM devices WHERE id = ?').get(id) as { epoch: number } | undefined;
  if (!d) return null;
  const ck = id + ':' + d.epoch;
  const full = store.cache.get(ck);
  if (full) return { epoch: d.epoch, seed: full.otpSeed.slice() };
  const hit = store.seedCache.get(ck);
  if (hit) return { epoch: d.epoch, seed: hit.slice() };
  const row = store.sql('SELECT nonce, box FROM device_secrets WHERE device_id = ? AND epoch = ?').get(id, d.epoch) as
    { nonce: Buffer; box: Buffer } | undefined;
  if (!row) return null;
  const pt = openBox(key, { nonce: u8(row.nonce), box: u8(row.box) });
  const s = pt ? decodeSecretRecord(pt, id, d.epoch) : null;
  wipe(pt);
  if (!s) throw new SealmqError('internal', `the secrets of ${id} epoch ${d.epoch} do not open: the registry was altered`);
  wipe(s.root);
  store.seedCache.set(ck, s.otpSeed);
  return { epoch: d.epoch, seed: s.otpSeed.slice() };
}

/** What host/verifier needs: status, current epoch and its root, and the epochs never to accept again. */
export function deviceRecord(store: RegistryStore, id: string): DeviceRecord | null {
  const d = getDevice(store, id);
  if (!d) return null;
  const s = secrets(store, id, d.epoch);
  if (!s) return null;
  wipe(s.otpSeed);
  const retired = epochs(store, id).filter((e) => e.status !== 'current').map((e) => e.epoch);
  const pendingEpoch = typeof d.info.rotateTo === 'number' ? d.info.rotateTo : null;
  return { id, status: d.status, epoch: d.epoch, root: s.root, retiredEpochs: retired, pendingEpoch };
}

// A device record's stamp: everything deviceRecord() is made of (status, epoch, info with any rotation asked
// for, every epoch's status, the current secret's nonce: a secret is never sealed twice under one nonce).
const STAMP = `SELECT d.id, d.status || '|' || d.epoch || '|' || d.info || '|' || ifnull(hex(s.nonce), '-') || '|' ||
  ifnull((SELECT group_concat(x, ',') FROM (SELECT k.epoch || k.status AS x FROM key_epochs k WHERE k.device_id = d.id ORDER BY k.epoch)), '')
  FROM devices d LEFT JOIN device_secrets s ON s.device_id = d.id AND s.epoch = d.epoch`;

/** Every device's stamp, by id (one query: ~1 ms for 1,000 devices). */
export function deviceStamps(store: RegistryStore): Map<string, string> {
  return new Map(store.sql(STAMP).raw().all() as [string, string][]);
}

function deviceStamp(store: RegistryStore, id: string): string | null {
  const r = store.sql(STAMP + ' WHERE d.id = ?').raw().get(id) as [string, string] | undefined;
  return r ? r[1] : null;
}

/** store.checkOtherWriters() with the device stamps (what the verifier calls once per I/O turn). */
export function checkOtherWriters(store: RegistryStore, afterIo = false): void {
  store.checkOtherWriters(deviceStamps, afterIo);
}

/**
 * deviceRecord() kept in memory for the verifier's per-frame path: read again once its stamp changed in a
 * commit of another process (a revoke, a rotation: store.checkOtherWriters) or this one changed a device. The
 * record is shared: callers must not change or wipe it. checkOthers false: the caller ran
 * checkOtherWriters() itself for the frames at hand (once per I/O turn, verifier/run.ts).
 */
export function cachedDeviceRecord(store: RegistryStore, id: string, checkOthers = true): DeviceRecord | null {
  if (checkOthers) checkOtherWriters(store);
  let d = store.deviceRecords.get(id);
  if (d === undefined) {
    // The stamp is read before the record: a commit between the two makes them differ at the next check,
    // which then reads the record again (never the other way round, which could keep a stale record).
    const stamp = deviceStamp(store, id);
    d = deviceRecord(store, id);
    // Unknown ids are not kept: the topic that named them may be hostile.
    if (d && stamp !== null) {
      store.deviceRecords.set(id, d);
      store.deviceStamps.set(id, stamp);
    }
  }
  return d;
}

/** The current secrets as hex, for `sealmq devices export`; the export is audited first. */
export function exportSecrets(store: RegistryStore, id: string, actor: string): { id: string; epoch: number; root: string; otpSeed: string; brokerUrl: string | null; interval: number | null } {
  store.requireKey();
  const d = getDevice(store, id);
  if (!d) throw inputError(`no device ${id} in the registry`);
  const s = secrets(store, id, d.epoch);
  if (!s) throw new SealmqError('internal', `device ${id} has no secrets for epoch ${d.epoch}`);
  audit(store, { actor, action: 'device.export', device: id, detail: { epoch: d.epoch } });
  const out = { id, epoch: d.epoch, root: toHex(s.root), otpSeed: toHex(s.otpSeed), brokerUrl: d.brokerUrl, interval: d.interval };
  wipe(s.root);
  wipe(s.otpSeed);
  return out;
}

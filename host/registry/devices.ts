// Devices (docs/REGISTRY.md): their rows, key epochs and provisioning, revocation and rotation requests.
// Secrets are sealed under the registry key (secrets.ts); every change is audited in its own transaction.
import { inputError } from '../errors.js';
import { insertAudit } from './audit.js';
import { sealBox } from './crypto.js';
import { encodeSecretRecord, secrets } from './secrets.js';
import type { RegistryStore } from './store.js';
import {
  checkAuditDetail, checkBytes, checkDeviceId, DeviceInfo, DeviceStatus, EpochInfo, EpochStatus, OTP_SEED_LEN, ProvisionRecord, ROOT_LEN,
} from './types.js';

export interface DeviceRow {
  id: string; status: DeviceStatus; epoch: number; created_at: number; updated_at: number; last_seen_at: number | null;
  broker_url: string | null; interval_s: number | null; board: string | null; info: string;
}

export function deviceFromRow(r: DeviceRow): DeviceInfo {
  return {
    id: r.id, status: r.status, epoch: r.epoch, createdAt: r.created_at, updatedAt: r.updated_at, lastSeenAt: r.last_seen_at,
    brokerUrl: r.broker_url, interval: r.interval_s, board: r.board, info: JSON.parse(r.info),
  };
}

export function listDevices(store: RegistryStore): DeviceInfo[] {
  return (store.sql('SELECT * FROM devices ORDER BY id').all() as DeviceRow[]).map(deviceFromRow);
}

export function getDevice(store: RegistryStore, id: string): DeviceInfo | null {
  checkDeviceId(id);
  const r = store.sql('SELECT * FROM devices WHERE id = ?').get(id) as DeviceRow | undefined;
  return r ? deviceFromRow(r) : null;
}

export function epochs(store: RegistryStore, id: string): EpochInfo[] {
  checkDeviceId(id);
  return (store.sql('SELECT epoch, status, created_at FROM key_epochs WHERE device_id = ? ORDER BY epoch').all(id) as
    { epoch: number; status: EpochStatus; created_at: number }[]).map((r) => ({ epoch: r.epoch, status: r.status, createdAt: r.created_at }));
}

/**
 * Records a provisioned device: the device row, its encrypted secrets, its key epoch and the audit entry,
 * in ONE transaction: a failure anywhere leaves nothing written. With rekey, an existing active device
 * moves to epoch + 1 (its old epoch becomes 'old') under the new secrets.
 */
export function recordProvisioned(store: RegistryStore, p: ProvisionRecord): DeviceInfo {
  store.forgetDevices();
  const key = store.requireKey();
  const id = checkDeviceId(p.id);
  checkBytes('root secret', p.root, ROOT_LEN);
  checkBytes('OTP seed', p.otpSeed, OTP_SEED_LEN);
  if (typeof p.actor !== 'string' || p.actor === '') throw inputError('actor is required');
  if (p.interval != null && !(Number.isFinite(p.interval) && p.interval > 0)) throw inputError('interval must be a positive number of seconds');
  const info = p.info ?? {};
  checkAuditDetail(info, 'info');
  checkAuditDetail(p.detail ?? {});
  const now = store.clock();
  return store.tx((): DeviceInfo => {
    if (store.sql('SELECT 1 FROM operators WHERE name = ?').get(id)) {
      throw inputError(`${id} is already an operator's name`, 'device ids and operator names must differ');
    }
    const existing = store.sql('SELECT * FROM devices WHERE id = ?').get(id) as DeviceRow | undefined;
    let epoch: number;
    if (!existing) {
      epoch = p.epoch ?? 0;
      if (!(Number.isInteger(epoch) && epoch >= 0 && epoch <= 255)) throw inputError('epoch must be 0..255');
      store.sql(`INSERT INTO devices(id, status, epoch, created_at, updated_at, broker_url, interval_s, board, info)
        VALUES (?, 'active', ?, ?, ?, ?, ?, ?, ?)`).run(id, epoch, now, now, p.brokerUrl ?? null, p.interval ?? null, p.board ?? null, JSON.stringify(info));
    } else {
      if (!p.rekey) {
        throw inputError(`device ${id} is already in the registry (epoch ${existing.epoch})`,
          're-provisioning a known device needs a new key epoch (rekey)');
      }
      if (existing.status === 'revoked') throw inputError(`device ${id} is revoked; revoked ids are not reused`);
      if (existing.epoch >= 255) throw inputError(`device ${id} has used all 256 key epochs`);
      epoch = existing.epoch + 1;
      // A new OTP seed: the steps used under the old one say nothing about it (a replacement board logs in now).
      store.sql('DELETE FROM totp_used WHERE device_id = ?').run(id);
      store.sql(`UPDATE key_epochs SET status = 'old' WHERE device_id = ? AND status = 'current'`).run(id);
      store.sql(`UPDATE devices SET epoch = ?, updated_at = ?, broker_url = coalesce(?, broker_url),
        interval_s = coalesce(?, interval_s), board = coalesce(?, board), info = ? WHERE id = ?`)
        .run(epoch, now, p.brokerUrl ?? null, p.interval ?? null, p.board ?? null, JSON.stringify({ ...JSON.parse(existing.info), ...info }), id);
    }
    store.sql(`INSERT INTO key_epochs(device_id, epoch, status, created_at) VALUES (?, ?, 'current', ?)`).run(id, epoch, now);
    const sealed = sealBox(key, encodeSecretRecord({ id, epoch, root: p.root, otpSeed: p.otpSeed }));
    store.sql('INSERT INTO device_secrets(device_id, epoch, nonce, box) VALUES (?, ?, ?, ?)')
      .run(id, epoch, Buffer.from(sealed.nonce), Buffer.from(sealed.box));
    insertAudit(store, {
      actor: p.actor, action: existing ? 'device.rekey' : 'device.provision', device: id,
      detail: { epoch, brokerUrl: p.brokerUrl ?? null, interval: p.interval ?? null, board: p.board ?? null, ...(p.detail ?? {}) },
    }, now);
    return deviceFromRow(store.sql('SELECT * FROM devices WHERE id = ?').get(id) as DeviceRow);
  });
}

/** Revokes a device: it can no longer log in; every epoch is 'revoked'. Audited. */
export function revokeDevice(store: RegistryStore, id: string, actor: string, reason?: string): DeviceInfo {
  store.forgetDevices();
  checkDeviceId(id);
  const now = store.clock();
  return store.tx((): DeviceInfo => {
    const r = store.sql(`UPDATE devices SET status = 'revoked', updated_at = ? WHERE id = ?`).run(now, id);
    if (r.changes === 0) throw inputError(`no device ${id} in the registry`);
    store.sql(`UPDATE key_epochs SET status = 'revoked' WHERE device_id = ?`).run(id);
    insertAudit(store, { actor, action: 'device.revoke', device: id, detail: reason ? { reason } : {} }, now);
    return deviceFromRow(store.sql('SELECT * FROM devices WHERE id = ?').get(id) as DeviceRow);
  });
}

/**
 * Asks for a device's next key epoch (`sealmq devices rotate`): above every epoch it ever had or was asked
 * for. Nothing changes for the verifier yet: the epoch becomes current only when a frame under it verifies
 * (putReceiveState), i.e. when the board confirmed it. Audited.
 */
export function requestRotation(store: RegistryStore, id: string, actor: string): { from: number; to: number } {
  store.forgetDevices();
  checkDeviceId(id);
  const now = store.clock();
  return store.tx(() => {
    const d = store.sql('SELECT status, epoch, info FROM devices WHERE id = ?').get(id) as { status: DeviceStatus; epoch: number; info: string } | undefined;
    if (!d) throw inputError(`no device ${id} in the registry`);
    if (d.status !== 'active') throw inputError(`device ${id} is revoked`);
    const info = JSON.parse(d.info) as Record<string, unknown>;
    const max = (store.sql('SELECT max(epoch) AS m FROM key_epochs WHERE device_id = ?').get(id) as { m: number }).m;
    const to = Math.max(max, typeof info.rotateTo === 'number' ? info.rotateTo : -1) + 1;
    if (to > 255) throw inputError(`device ${id} has used all 256 key epochs`, 'replace it: sealmq provision --replace');
    store.sql('UPDATE devices SET info = ?, updated_at = ? WHERE id = ?').run(JSON.stringify({ ...info, rotateTo: to }), now, id);
    insertAudit(store, { actor, action: 'device.rotate.request', device: id, detail: { from: d.epoch, to } }, now);
    return { from: d.epoch, to };
  });
}

/** The epoch a verified frame moved to, if it is the one a rotation asked for: its row, with the same secrets. */
export function adoptRotation(store: RegistryStore, id: string, from: number, to: number, now: number): { status: EpochStatus } | undefined {
  store.forgetDevices();
  const d = store.sql('SELECT info FROM devices WHERE id = ?').get(id) as { info: string };
  const info = JSON.parse(d.info) as Record<string, unknown>;
  if (info.rotateTo !== to) return undefined;
  const s = secrets(store, id, from);
  if (!s) return undefined;
  store.sql(`INSERT INTO key_epochs(device_id, epoch, status, created_at) VALUES (?, ?, 'old', ?)`).run(id, to, now);
  const sealed = sealBox(store.requireKey(), encodeSecretRecord({ id, epoch: to, root: s.root, otpSeed: s.otpSeed }));
  store.sql('INSERT INTO device_secrets(device_id, epoch, nonce, box) VALUES (?, ?, ?, ?)').run(id, to, Buffer.from(sealed.nonce), Buffer.from(sealed.box));
  delete info.rotateTo;
  store.sql('UPDATE devices SET info = ? WHERE id = ?').run(JSON.stringify(info), id);
  insertAudit(store, { actor: 'registry', action: 'device.rotate.confirmed', device: id, detail: { from, to } }, now);
  return { status: 'old' };
}

/** Notes that a device was heard from (a broker login, a verified frame). */
export function touchDevice(store: RegistryStore, id: string, at: number = store.clock()): void {
  checkDeviceId(id);
  store.sql('UPDATE devices SET last_seen_at = max(coalesce(last_seen_at, 0), ?) WHERE id = ?').run(at, id);
}

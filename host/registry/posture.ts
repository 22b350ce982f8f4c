// Device posture (`sealmq doctor --device`): the last doctor report of each device, kept so the fleet view
// can show it with its time. One row per device, replaced by the next doctor run; each recording audited.
// The report is what doctor read over the console: versions, lock state, clock offset, warnings — no secret
// (checked like an audit detail), bounded in size.
import { inputError } from '../errors.js';
import { insertAudit } from './audit.js';
import type { RegistryStore } from './store.js';
import { checkAuditDetail, checkDeviceId } from './types.js';

export interface PostureRecord {
  device: string;
  /** When doctor read it (ms). */
  at: number;
  /** Who ran doctor (operator:NAME, or the CLI's actor). */
  actor: string;
  warnings: string[];
  /** The doctor report as recorded (host/board/doctor.ts DoctorReport). */
  report: Record<string, unknown>;
}

/** Largest report kept (a doctor report is about 1 KB). */
const MAX_REPORT = 16 * 1024;

export function recordPosture(store: RegistryStore, id: string, report: Record<string, unknown>, actor: string): PostureRecord {
  checkDeviceId(id);
  if (typeof actor !== 'string' || actor === '') throw inputError('actor is required');
  if (!report || typeof report !== 'object' || Array.isArray(report)) throw inputError('a posture report is a JSON object');
  checkAuditDetail(report, 'posture');
  const json = JSON.stringify(report);
  if (json.length > MAX_REPORT) throw inputError(`a posture report of ${json.length} bytes is over ${MAX_REPORT}`);
  const warnings = Array.isArray(report.warnings) ? report.warnings.map(String) : [];
  const now = store.clock();
  store.tx(() => {
    if (!store.sql('SELECT 1 FROM devices WHERE id = ?').get(id)) throw inputError(`no device ${id} in the registry`);
    store.sql(`INSERT INTO device_posture(device_id, at, actor, report) VALUES (?, ?, ?, ?)
      ON CONFLICT(device_id) DO UPDATE SET at = excluded.at, actor = excluded.actor, report = excluded.report`).run(id, now, actor, json);
    insertAudit(store, { actor, action: 'device.doctor', device: id, detail: { warnings: warnings.length, firmware: report.firmware ?? null, consoleLocked: report.consoleLocked ?? null } }, now);
  });
  return { device: id, at: now, actor, warnings, report };
}

interface PostureRow { device_id: string; at: number; actor: string; report: string }

const fromRow = (r: PostureRow): PostureRecord => {
  const report = JSON.parse(r.report) as Record<string, unknown>;
  return { device: r.device_id, at: r.at, actor: r.actor, warnings: Array.isArray(report.warnings) ? report.warnings.map(String) : [], report };
};

export function getPosture(store: RegistryStore, id: string): PostureRecord | null {
  checkDeviceId(id);
  const r = store.sql('SELECT * FROM device_posture WHERE device_id = ?').get(id) as PostureRow | undefined;
  return r ? fromRow(r) : null;
}

/** Every device's last posture, by device id (the fleet view). */
export function listPostures(store: RegistryStore): Map<string, PostureRecord> {
  return new Map((store.sql('SELECT * FROM device_posture').all() as PostureRow[]).map((r) => [r.device_id, fromRow(r)]));
}

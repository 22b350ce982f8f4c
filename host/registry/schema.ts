// The registry schema, versioned with SQLite's user_version. Each migration runs in one transaction;
// add a new entry at the end, never edit one that has shipped. docs/REGISTRY.md describes every table.
import type Database from 'better-sqlite3';
import { SealmqError } from '../errors.js';

const V1 = `
CREATE TABLE meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
) STRICT;

CREATE TABLE devices (
  id           TEXT PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 32),
  status       TEXT NOT NULL CHECK (status IN ('active', 'revoked')),
  epoch        INTEGER NOT NULL CHECK (epoch BETWEEN 0 AND 255),
  created_at   INTEGER NOT NULL,
  updated_at   INTEGER NOT NULL,
  last_seen_at INTEGER,
  broker_url   TEXT,
  interval_s   REAL,
  board        TEXT,
  info         TEXT NOT NULL DEFAULT '{}'
) STRICT;

CREATE TABLE key_epochs (
  device_id  TEXT NOT NULL REFERENCES devices(id),
  epoch      INTEGER NOT NULL CHECK (epoch BETWEEN 0 AND 255),
  status     TEXT NOT NULL CHECK (status IN ('current', 'old', 'revoked')),
  created_at INTEGER NOT NULL,
  PRIMARY KEY (device_id, epoch)
) STRICT;
CREATE UNIQUE INDEX key_epochs_one_current ON key_epochs(device_id) WHERE status = 'current';

CREATE TABLE device_secrets (
  device_id TEXT NOT NULL,
  epoch     INTEGER NOT NULL,
  nonce     BLOB NOT NULL CHECK (length(nonce) = 24),
  box       BLOB NOT NULL,
  PRIMARY KEY (device_id, epoch),
  FOREIGN KEY (device_id, epoch) REFERENCES key_epochs(device_id, epoch)
) STRICT;

CREATE TABLE replay_state (
  device_id  TEXT NOT NULL REFERENCES devices(id),
  direction  TEXT NOT NULL CHECK (direction IN ('up', 'down')),
  epoch      INTEGER NOT NULL CHECK (epoch BETWEEN 0 AND 255),
  top        INTEGER NOT NULL CHECK (top BETWEEN 0 AND 4294967295),
  hi         INTEGER NOT NULL CHECK (hi BETWEEN 0 AND 4294967295),
  lo         INTEGER NOT NULL CHECK (lo BETWEEN 0 AND 4294967295),
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (device_id, direction)
) STRICT;

CREATE TABLE totp_used (
  device_id TEXT PRIMARY KEY REFERENCES devices(id),
  last_step INTEGER NOT NULL,
  used_at   INTEGER NOT NULL
) STRICT;

CREATE TABLE operators (
  name       TEXT PRIMARY KEY,
  role       TEXT NOT NULL CHECK (role IN ('admin', 'viewer')),
  pw_hash    BLOB NOT NULL,
  pw_salt    BLOB NOT NULL,
  pw_kdf     TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
) STRICT;

CREATE TABLE audit (
  seq       INTEGER PRIMARY KEY AUTOINCREMENT,
  at        INTEGER NOT NULL,
  actor     TEXT NOT NULL,
  action    TEXT NOT NULL,
  device_id TEXT,
  detail    TEXT NOT NULL DEFAULT '{}'
) STRICT;
CREATE INDEX audit_device ON audit(device_id, seq);
CREATE INDEX audit_action ON audit(action, seq);
`;

/** V2: the host's own send counters (commands down), one per (device, direction, epoch); never reused. */
const V2 = `
CREATE TABLE send_counters (
  device_id  TEXT NOT NULL REFERENCES devices(id),
  direction  TEXT NOT NULL CHECK (direction IN ('up', 'down')),
  epoch      INTEGER NOT NULL CHECK (epoch BETWEEN 0 AND 255),
  counter    INTEGER NOT NULL CHECK (counter BETWEEN 0 AND 4294967295),
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (device_id, direction)
) STRICT;
`;

/**
 * V3: the tamper-evident audit log (docs/SECURITY.md) and the static broker passwords Mosquitto needs.
 * audit.prev / audit.hash: SHA-256 chain (hex); audit.sig: Ed25519 over the hash (hex), NULL until the
 * registry is next unlocked. broker_passwords: one sealed record per principal ('device:<id>' or
 * 'operator:<name>'), the principal bound inside the box.
 */
const V3 = `
ALTER TABLE audit ADD COLUMN prev TEXT;
ALTER TABLE audit ADD COLUMN hash TEXT;
ALTER TABLE audit ADD COLUMN sig  TEXT;

CREATE TABLE broker_passwords (
  principal  TEXT PRIMARY KEY,
  nonce      BLOB NOT NULL CHECK (length(nonce) = 24),
  box        BLOB NOT NULL,
  created_at INTEGER NOT NULL
) STRICT;
`;

/**
 * V4: operators with TOTP and sessions (docs/OPERATORS.md). SQLite cannot change a CHECK, so the
 * operators table is rebuilt to admit the technician role and to hold the sealed TOTP seed, the last
 * accepted TOTP step, the account status and the back-off state. Existing operators stay active without
 * an authenticator (`sealmq users recover NAME` enrols one). sessions: SHA-256 of each session token only.
 */
const V4 = `
CREATE TABLE operators_v4 (
  name           TEXT PRIMARY KEY,
  role           TEXT NOT NULL CHECK (role IN ('admin', 'technician', 'viewer')),
  status         TEXT NOT NULL CHECK (status IN ('pending', 'active', 'locked')),
  pw_hash        BLOB NOT NULL,
  pw_salt        BLOB NOT NULL,
  pw_kdf         TEXT NOT NULL,
  totp_nonce     BLOB CHECK (totp_nonce IS NULL OR length(totp_nonce) = 24),
  totp_box       BLOB,
  totp_last_step INTEGER,
  failures       INTEGER NOT NULL DEFAULT 0 CHECK (failures >= 0),
  next_try_at    INTEGER NOT NULL DEFAULT 0,
  created_at     INTEGER NOT NULL,
  updated_at     INTEGER NOT NULL
) STRICT;
INSERT INTO operators_v4(name, role, status, pw_hash, pw_salt, pw_kdf, created_at, updated_at)
  SELECT name, role, 'active', pw_hash, pw_salt, pw_kdf, created_at, updated_at FROM operators;
DROP TABLE operators;
ALTER TABLE operators_v4 RENAME TO operators;

CREATE TABLE sessions (
  token_hash TEXT PRIMARY KEY CHECK (length(token_hash) = 64),
  operator   TEXT NOT NULL REFERENCES operators(name) ON DELETE CASCADE,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
) STRICT;
CREATE INDEX sessions_operator ON sessions(operator);
`;

/**
 * V5: each device's posture from its last `sealmq doctor --device` (host/registry/posture.ts): the report as
 * JSON (no secret in it), when and by whom; replaced by the next run. The fleet view shows it.
 */
const V5 = `
CREATE TABLE device_posture (
  device_id TEXT PRIMARY KEY REFERENCES devices(id),
  at        INTEGER NOT NULL,
  actor     TEXT NOT NULL,
  report    TEXT NOT NULL
) STRICT;
`;

/** migrations[i] takes the schema from version i to i + 1. */
export const MIGRATIONS: readonly string[] = [V1, V2, V3, V4, V5];
export const SCHEMA_VERSION = MIGRATIONS.length;

/** Brings the database to SCHEMA_VERSION; refuses one written by a newer sealmq. */
export function migrate(db: Database.Database): void {
  const step = db.transaction(() => {
    const v = db.pragma('user_version', { simple: true }) as number;
    if (v > SCHEMA_VERSION) {
      throw new SealmqError('input', `the registry has schema version ${v}; this sealmq knows up to ${SCHEMA_VERSION}`, {
        hint: 'upgrade sealmq; never open a registry with an older one',
      });
    }
    if (v === SCHEMA_VERSION) return false;
    db.exec(MIGRATIONS[v]);
    db.pragma(`user_version = ${v + 1}`);
    return true;
  });
  while (step.immediate()) { /* one migration per transaction */ }
}

// Passwords the registry keeps for others (docs/BROKER.md, docs/FIELD.md): static MQTT passwords for a
// broker that cannot check a TOTP (Mosquitto), and each device's Espruino console password(s). Sealed under
// the registry key with their owner bound inside the box.
import { randomBytes } from 'node:crypto';
import { toHex, utf8Decode, utf8Encode } from '../../core/bytes.js';
import { inputError, SealmqError } from '../errors.js';
import { insertAudit } from './audit.js';
import { openBox, sealBox, wipe } from './crypto.js';
import type { RegistryStore } from './store.js';
import { checkDeviceId, u8 } from './types.js';

const BROKER_PW_TEXT = 'sealmq broker password v1\0';
const CONSOLE_PW_TEXT = 'sealmq console password v1\0';

/**
 * The static MQTT password of a principal ('device:<id>' or 'operator:<name>') for a broker that cannot
 * check a TOTP: created on first use (24 bytes from the CSPRNG, base64url), sealed under the registry
 * key with the principal bound inside the box. Unlocked only. Audited when created.
 */
/**
 * A device's Espruino console password(s) (docs/FIELD.md), newest first: normally one; two while a
 * provisioning that wrote a new one has not finished (the board may hold either). Sealed under the
 * registry key in meta, the device id bound inside the box. Empty when the device was never locked.
 */
export function consolePasswords(store: RegistryStore, id: string): string[] {
  const key = store.requireKey();
  checkDeviceId(id);
  const raw = store.meta('console_password:' + id);
  if (!raw) return [];
  const v = JSON.parse(raw) as { nonce: string; box: string };
  const pt = openBox(key, { nonce: u8(Buffer.from(v.nonce, 'hex')), box: u8(Buffer.from(v.box, 'hex')) });
  const text = pt ? utf8Decode(pt) : null;
  if (pt) wipe(pt);
  const tag = CONSOLE_PW_TEXT + id + '\0';
  if (text == null || !text.startsWith(tag)) throw new SealmqError('internal', `the console password of ${id} does not open: the registry was altered`);
  return JSON.parse(text.slice(tag.length)) as string[];
}

/** Puts `password` first in the device's console passwords; keep: how many older ones stay (0: only this). */
export function setConsolePassword(store: RegistryStore, id: string, password: string, keep: number): void {
  const key = store.requireKey();
  checkDeviceId(id);
  const list = [password, ...consolePasswords(store, id).filter((p) => p !== password).slice(0, keep)];
  const sealed = sealBox(key, utf8Encode(CONSOLE_PW_TEXT + id + '\0' + JSON.stringify(list)));
  store.sql('INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)')
    .run('console_password:' + id, JSON.stringify({ nonce: toHex(sealed.nonce), box: toHex(sealed.box) }));
}

export function brokerPassword(store: RegistryStore, principal: string, actor: string): { password: string; created: boolean } {
  const key = store.requireKey();
  if (!/^(device|operator):[a-z0-9][a-z0-9._-]{0,31}$/.test(principal)) throw inputError(`bad principal ${JSON.stringify(principal)}`);
  return store.tx(() => {
    const row = store.sql('SELECT nonce, box FROM broker_passwords WHERE principal = ?').get(principal) as { nonce: Buffer; box: Buffer } | undefined;
    const tag = BROKER_PW_TEXT + principal + '\0';
    if (row) {
      const pt = openBox(key, { nonce: u8(row.nonce), box: u8(row.box) });
      const text = pt ? Buffer.from(pt).toString('utf8') : null;
      wipe(pt);
      if (text === null || !text.startsWith(tag)) throw new SealmqError('internal', `the broker password of ${principal} does not open: the registry was altered`);
      return { password: text.slice(tag.length), created: false };
    }
    const password = randomBytes(24).toString('base64url');
    const sealed = sealBox(key, utf8Encode(tag + password));
    const now = store.clock();
    store.sql('INSERT INTO broker_passwords(principal, nonce, box, created_at) VALUES (?, ?, ?, ?)')
      .run(principal, Buffer.from(sealed.nonce), Buffer.from(sealed.box), now);
    const [kind, name] = principal.split(':');
    insertAudit(store, { actor, action: 'broker.password.create', device: kind === 'device' ? name : null, detail: { principal } }, now);
    return { password, created: true };
  });
}

// Who may do what (docs/OPERATORS.md): the ONE table. Commands ask requireSession(action) (session.ts),
// which looks the action up here; nothing else decides. Deny by default: an action not in the table, or
// a role not in its row, is refused.
import type { Role } from '../registry/registry.js';

export type { Role };

/** Every action a session is checked for, with the roles allowed to do it. */
export const PERMISSIONS = {
  /** Add, remove, unlock operators (`sealmq users add|remove|unlock`). */
  'users.manage': ['admin'],
  /** Upload the firmware (`sealmq flash`). */
  'flash': ['admin', 'technician'],
  /** Give new boards new identities (`sealmq provision`, one board or many; re-runs finish what is missing). */
  'provision': ['admin', 'technician'],
  /** Change who an existing identity is: `provision --rekey` and `provision --replace OLD` (the latter revokes OLD). */
  'provision.replace': ['admin'],
  /** Move a device to a new key epoch (`sealmq devices rotate`). */
  'devices.rotate': ['admin'],
  /** Revoke a device (`sealmq devices revoke`). */
  'devices.revoke': ['admin'],
  /** Print a device's secrets (`sealmq devices export`). */
  'devices.export': ['admin'],
  /** Seal a command down to a device (`sealmq send`). */
  'send': ['admin'],
} as const satisfies Record<string, readonly Role[]>;

export type Action = keyof typeof PERMISSIONS;

/**
 * Read-only commands (devices list/show, audit tail/verify, users list, verify, doctor) ask for no
 * session: they show nothing secret and change nothing, and anyone who can read the registry file can
 * read the same. Listed so docs/OPERATORS.md and `sealmq whoami` can show the whole picture.
 */
export const OPEN_TO_ALL = ['devices list', 'devices show', 'audit tail', 'audit verify', 'users list', 'verify', 'doctor', 'ports', 'whoami'] as const;

/** At the broker (host/broker/policy.ts, mosquitto.ts): admin reads telemetry and writes commands; technician and viewer read telemetry. */
export const BROKER_RIGHTS: Record<Role, string> = {
  admin: 'reads <prefix>/+/up, writes <prefix>/<id>/down',
  technician: 'reads <prefix>/+/up',
  viewer: 'reads <prefix>/+/up',
};

export function isAction(a: string): a is Action {
  return Object.prototype.hasOwnProperty.call(PERMISSIONS, a);
}

/** Deny by default: only a role listed for a known action is allowed. */
export function allowed(role: string, action: string): boolean {
  if (!isAction(action)) return false;
  return (PERMISSIONS[action] as readonly string[]).includes(role);
}

/** The actions a role may do, in table order (for whoami). */
export function actionsOf(role: string): Action[] {
  return (Object.keys(PERMISSIONS) as Action[]).filter((a) => allowed(role, a));
}

// The broker's topic policy (DESIGN.md §5, docs/BROKER.md), as pure functions of (principal, topic):
// the embedded broker calls them, and anything that writes an ACL for another broker can read them.
// Deny by default: every function returns a reason for each "no", and only exact forms are allowed.
import { isDeviceId } from '../../core/ids.js';

export type Principal =
  | { kind: 'device'; id: string }
  | { kind: 'operator'; name: string; role: 'admin' | 'technician' | 'viewer' };

export interface Decision {
  allow: boolean;
  /** Why not (for the audit log); 'ok' when allowed. */
  reason: string;
}

const ALLOW: Decision = { allow: true, reason: 'ok' };
const deny = (reason: string): Decision => ({ allow: false, reason });

/** A prefix is one or more plain levels: no wildcard, no '$', no empty level. */
export const PREFIX_PATTERN = /^[A-Za-z0-9_-]+(\/[A-Za-z0-9_-]+)*$/;

export function isPrefix(p: unknown): p is string {
  return typeof p === 'string' && p.length <= 64 && PREFIX_PATTERN.test(p);
}

/** Splits `<prefix>/<id>/<channel>`; null unless the topic has exactly that shape. `+` is kept as the id. */
export function parseTopic(prefix: string, topic: string): { id: string; channel: string } | null {
  // Twice per forwarded frame (publish and forward decisions): index arithmetic, no split or concatenation.
  if (typeof topic !== 'string') return null;
  const p = prefix.length;
  if (topic.length <= p || topic.charCodeAt(p) !== 47 || !topic.startsWith(prefix)) return null;
  const slash = topic.indexOf('/', p + 1);
  if (slash < 0 || topic.indexOf('/', slash + 1) >= 0) return null;
  return { id: topic.slice(p + 1, slash), channel: topic.slice(slash + 1) };
}

function isSys(topic: string): boolean {
  // MQTT-4.7.2-1: '$' topics are the server's. aedes uses $SYS as its internal bus (publishing to
  // $SYS/<broker>/new/clients closes a client), so nobody touches it, admin included.
  return topic.startsWith('$');
}

/** May this principal PUBLISH to this (concrete) topic? */
export function publishDecision(p: Principal, prefix: string, topic: string): Decision {
  if (isSys(topic)) return deny('sys-topic');
  const t = parseTopic(prefix, topic);
  if (!t || !isDeviceId(t.id)) return deny('topic-not-allowed');
  if (p.kind === 'device') {
    if (t.id !== p.id) return deny('other-device-topic');
    return t.channel === 'up' ? ALLOW : deny('device-publishes-only-up');
  }
  if (p.role === 'admin') return t.channel === 'down' ? ALLOW : deny('admin-publishes-only-down');
  // A technician reads telemetry like a viewer (to see a new board report) and commands nothing (docs/OPERATORS.md).
  return deny(p.role === 'technician' ? 'technician-publishes-nothing' : 'viewer-publishes-nothing');
}

/** May this principal SUBSCRIBE with this filter? Wildcards only where the policy names them. */
export function subscribeDecision(p: Principal, prefix: string, filter: string): Decision {
  if (isSys(filter)) return deny('sys-topic');
  const t = parseTopic(prefix, filter);
  if (!t) return deny('topic-not-allowed');
  if (p.kind === 'device') {
    if (t.id !== p.id) return deny(t.id === '+' || t.id === '#' ? 'wildcard' : 'other-device-topic');
    return t.channel === 'down' ? ALLOW : deny('device-reads-only-down');
  }
  // viewer, technician and admin: telemetry, <prefix>/+/up or one device's up topic.
  if (t.channel !== 'up') return deny('operator-reads-only-up');
  return t.id === '+' || isDeviceId(t.id) ? ALLOW : deny('topic-not-allowed');
}

/** May a message on this concrete topic be delivered to this principal? (authorizeForward, defence in depth.) */
export function readDecision(p: Principal, prefix: string, topic: string): Decision {
  if (isSys(topic)) return deny('sys-topic');
  const t = parseTopic(prefix, topic);
  if (!t || !isDeviceId(t.id)) return deny('topic-not-allowed');
  if (p.kind === 'device') return t.id === p.id && t.channel === 'down' ? ALLOW : deny('not-own-down');
  return t.channel === 'up' ? ALLOW : deny('operator-reads-only-up');
}

export function principalName(p: Principal): string {
  return p.kind === 'device' ? 'device:' + p.id : p.role + ':' + p.name;
}

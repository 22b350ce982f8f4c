/**
 * DESIGN.md §4: a device id is [a-z0-9][a-z0-9-]{0,31}. Anything else is refused everywhere, so an id can
 * never smuggle '/', '+', '#' or NUL into a topic or an ACL pattern.
 */
export const DEVICE_ID_PATTERN = /^[a-z0-9][a-z0-9-]*$/;
export const DEVICE_ID_MAX = 32;

/** The pattern has no {m,n} quantifier because Espruino's RegExp has none: the length is checked apart. */
export function isDeviceId(id: unknown): boolean {
  return typeof id === 'string' && id.length <= DEVICE_ID_MAX && DEVICE_ID_PATTERN.test(id);
}

/** Default topic prefix; topics are <prefix>/<deviceId>/up and <prefix>/<deviceId>/down. */
export const DEFAULT_PREFIX = 'sealmq';

export function topicFor(prefix: string, deviceId: string, channel: string): string {
  return prefix + '/' + deviceId + '/' + channel;
}

// Commands down to a board: sealed under the device's downlink keys with a host counter that is committed
// before use, published as an admin, and answered by a sealed reply on the uplink that must carry the
// command's own counter (so an old reply replayed by anyone cannot pass for this one).
import mqtt from 'mqtt';
import { randomBytes } from 'node:crypto';
import { utf8Decode, utf8Encode } from '../../core/bytes.js';
import { deriveKeys, open, seal } from '../../core/frame.js';
import { DEFAULT_PREFIX, isDeviceId, topicFor } from '../../core/ids.js';
import { deviceError, inputError, SealmqError } from '../errors.js';
import { nodePrimitives as P } from '../protocol/node-primitives.js';
import type { Registry } from '../registry/registry.js';

export interface SendOptions {
  registry: Registry;
  brokerUrl: string;
  username: string;
  password: string;
  deviceId: string;
  command: string;
  args?: Record<string, unknown>;
  prefix?: string;
  timeoutMs?: number;
  actor: string;
  now?: () => number;
}

export interface SendResult {
  device: string;
  command: string;
  counter: number;
  epoch: number;
  reply: Record<string, unknown>;
  replyEpoch: number;
  roundTripMs: number;
  /** The sealed reply as it arrived (hex), e.g. to pass it through the registry's verifier. */
  replyFrame: string;
  replyTopic: string;
}

export const COMMAND_PATTERN = /^[a-z][a-z0-9-]{0,31}$/;

export async function sendCommand(o: SendOptions): Promise<SendResult> {
  const now = o.now ?? Date.now;
  const prefix = o.prefix ?? DEFAULT_PREFIX;
  if (!isDeviceId(o.deviceId)) throw inputError(`device id ${JSON.stringify(o.deviceId)} is not valid`, 'device ids match [a-z0-9][a-z0-9-]{0,31}');
  if (!COMMAND_PATTERN.test(o.command)) throw inputError(`command ${JSON.stringify(o.command)} is not valid`, 'commands: ping, status, interval, rotate');
  const dev = o.registry.deviceRecord(o.deviceId);
  if (!dev) throw inputError(`no device ${o.deviceId} in the registry`);
  if (dev.status !== 'active') throw inputError(`device ${o.deviceId} is revoked`);
  const epoch = dev.epoch;
  const client = await mqtt.connectAsync(o.brokerUrl, {
    username: o.username, password: o.password, clientId: 'sealmq-send-' + randomBytes(4).toString('hex'),
    protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 5000,
  }).catch((e: Error) => {
    throw new SealmqError('auth', `cannot log in to ${o.brokerUrl} as ${o.username}: ${e.message}`, { hint: 'an admin operator is needed to send commands' });
  });
  try {
    const up = topicFor(prefix, o.deviceId, 'up');
    const granted = await client.subscribeAsync(up, { qos: 0 });
    if (granted.some((g) => g.qos === 128)) throw new SealmqError('auth', `${o.username} may not read ${up}`);
    const counter = o.registry.nextSendCounter(o.deviceId, 'down', epoch);
    const body = { t: Math.round(now()) / 1000, c: o.command, a: o.args ?? {} };
    const frame = seal(P, deriveKeys(P, dev.root, o.deviceId, 'down', epoch), o.deviceId, 'down', 'down', epoch, counter, utf8Encode(JSON.stringify(body)));
    // Replies may come under this epoch or, after a rotate, under a higher one.
    const upKeys = [epoch, epoch + 1, epoch + 2].filter((e) => e <= 255).map((e) => ({ e, k: deriveKeys(P, dev.root, o.deviceId, 'up', e) }));
    const sent = now();
    const reply = new Promise<SendResult>((resolve, reject) => {
      const timer = setTimeout(() => reject(deviceError(`no reply from ${o.deviceId} to ${o.command} within ${(o.timeoutMs ?? 10000) / 1000} s`,
        'is the board online? `sealmq verify` shows what it sends')), o.timeoutMs ?? 10000);
      client.on('message', (topic, payload) => {
        if (topic !== up) return;
        for (const { e, k } of upKeys) {
          const r = open(P, k, o.deviceId, 'up', new Uint8Array(payload));
          if (!r.ok) continue;
          let m: any = null;
          try { m = JSON.parse(utf8Decode(r.plaintext!) ?? 'null'); } catch { /* not a reply */ }
          if (m && m.r === o.command && m.i === counter) {
            clearTimeout(timer);
            resolve({ device: o.deviceId, command: o.command, counter, epoch, reply: m, replyEpoch: e, roundTripMs: now() - sent, replyFrame: Buffer.from(payload).toString('hex'), replyTopic: topic });
          }
          return;
        }
      });
    });
    await client.publishAsync(topicFor(prefix, o.deviceId, 'down'), Buffer.from(frame), { qos: 0 });
    o.registry.audit({ actor: o.actor, action: 'command.sent', device: o.deviceId, detail: { command: o.command, counter, epoch } });
    const r = await reply;
    o.registry.audit({ actor: o.actor, action: 'command.reply', device: o.deviceId, detail: { command: o.command, counter, ok: r.reply.ok === true } });
    return r;
  } finally {
    await client.endAsync().catch(() => {});
  }
}

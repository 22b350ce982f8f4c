// Key rotation over the air (`sealmq devices rotate`): the registry notes the epoch it asks for, a sealed
// `rotate` command carries it down, and the board answers under the new epoch. That reply, passed through
// the registry's verifier, is what makes the new epoch current: until then the verifier accepts the old
// epoch, from then on never again (its epoch is retired). Every step is audited.
import { fromHex } from '../../core/bytes.js';
import { deviceError } from '../errors.js';
import type { Registry } from '../registry/registry.js';
import { registryVerifier } from '../verifier/run.js';
import { sendCommand, SendOptions } from './send.js';

export interface RotateResult {
  device: string;
  from: number;
  to: number;
  roundTripMs: number;
}

export async function rotateDevice(o: Omit<SendOptions, 'command' | 'args'> & { registry: Registry }): Promise<RotateResult> {
  const { from, to } = o.registry.requestRotation(o.deviceId, o.actor);
  const r = await sendCommand({ ...o, command: 'rotate', args: { e: to } });
  if (r.reply.ok !== true || r.replyEpoch !== to) {
    o.registry.audit({ actor: o.actor, action: 'device.rotate.failed', device: o.deviceId, detail: { from, to, reply: JSON.stringify(r.reply).slice(0, 200) } });
    throw deviceError(`${o.deviceId} did not move to epoch ${to}: it replied ${JSON.stringify(r.reply)} under epoch ${r.replyEpoch}`,
      'the registry still uses the old epoch; run `sealmq devices rotate` again');
  }
  // The reply under the new epoch, verified like any uplink: this is where the registry moves. A running
  // verifier (`sealmq verify`, the dashboard's) may have done it first: the registry is then at the new
  // epoch already (only a verified frame under it moves it), and opening the reply again would only be
  // refused and audited as a replay.
  if (o.registry.getDevice(o.deviceId)?.epoch !== to) {
    const { verifier, replay } = registryVerifier(o.registry, { prefix: o.prefix });
    verifier.handle(r.replyTopic, fromHex(r.replyFrame));
    // The exact window back (no counters held in reserve by a verifier that stops here).
    replay.flush();
  }
  const now = o.registry.getDevice(o.deviceId);
  if (!now || now.epoch !== to) throw deviceError(`${o.deviceId} answered under epoch ${to} but the registry did not move (it is at ${now?.epoch})`);
  return { device: o.deviceId, from, to, roundTripMs: r.roundTripMs };
}

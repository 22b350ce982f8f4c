// The RESEARCH PLAIN pipeline's parts (pipeline.ts, mode 'plain'): its verifier on an anonymous client, the
// plain board's setup (no secrets) and commands in clear. Never the product.
import type mqtt from 'mqtt';
import { connectMqtt, subscribeOrFail } from '../mqtt/connect.js';
import type { OnPublish } from '../mqtt/publish-tap.js';
import { parseBrokerUrl } from '../board/provision.js';
import { smqCall } from '../board/smq.js';
import { PLAIN_VERSION_SUFFIX } from '../build/bundle.js';
import { SealmqError } from '../errors.js';
import { connectRepl } from '../link/repl.js';
import { openLink } from '../link/open-link.js';
import { PlainVerifier } from '../verifier/plain.js';
import { hiresNow } from './console.js';
import type { CommandReply, Credentials, PipelineEvent, VerifierHandle } from './pipeline.js';

/** The research plain verifier on an anonymous MQTT client, timed per message. */
export async function plainVerifierOn(url: string, prefix: string, now: () => number, emit: (e: PipelineEvent) => void): Promise<VerifierHandle> {
  let receivedAt = 0;
  const verifier = new PlainVerifier({ prefix, now, onResult: (result) => emit({ type: 'frame', mode: 'plain', result, timing: { receivedAt, doneAt: now(), durableMs: 0 } }) });
  const handle = (topic: string, payload: Buffer) => {
    receivedAt = now();
    verifier.handle(topic, new Uint8Array(payload.buffer, payload.byteOffset, payload.length));
  };
  // As the sealed verifier's client: frames handed over as they are read (host/mqtt/publish-tap.ts).
  const client = await mqttClient(url, null, 'sealmq-plain-verify-', handle);
  await subscribeOrFail(client, `${prefix}/+/up`);
  client.on('message', handle);
  return { stats: verifier.stats, close: () => new Promise<void>((r) => client.end(false, {}, () => r())) };
}

/** An mqtt.js client (MQTT 3.1.1) with TCP_NODELAY on its socket, connected or rejected. */
export const mqttClient = (url: string, who: Credentials | null, idPrefix: string, onPublish?: OnPublish): Promise<mqtt.MqttClient> =>
  connectMqtt(url, { ...(who ? { username: who.username, password: who.password } : {}), idPrefix, onPublish });


/** Sets up a board running the research plain firmware: device id, broker, interval, clock. No secrets. */
export async function plainSetup(port: string, deviceId: string, brokerUrl: string, prefix: string, interval: number, setClock = true): Promise<{ state: string }> {
  const link = await openLink(port);
  const repl = await connectRepl(link);
  try {
    const v = await smqCall<{ v?: string; state?: string }>(repl, 'SEALMQ.status()');
    if (!String(v.v ?? '').endsWith(PLAIN_VERSION_SUFFIX)) {
      throw new SealmqError('device', `the board on ${port} does not run the research plain firmware (it says ${v.v})`, { hint: 'flash dist/firmware-plain.js first' });
    }
    const cfg = { id: deviceId, broker: parseBrokerUrl(brokerUrl), prefix, interval, ...(setClock ? { time: Date.now() / 1000 } : {}) };
    const r = await smqCall<{ ok: boolean; error?: string }>(repl, `SEALMQ.provision(${JSON.stringify(cfg)})`, 15000);
    if (!r.ok) throw new SealmqError('device', `the plain board on ${port} refused its setup: ${r.error}`);
    const s = await smqCall<{ state?: string }>(repl, 'SEALMQ.status()');
    return { state: String(s.state) };
  } finally {
    repl.detach();
    await link.close().catch(() => {});
  }
}

/** A command in clear to a plain board ({"c","a"} on <prefix>/<id>/down) and its reply in clear on .../up. */
export async function plainCommand(brokerUrl: string, prefix: string, deviceId: string, command: string, args: Record<string, unknown> | undefined, timeoutMs: number): Promise<CommandReply> {
  const client = await mqttClient(brokerUrl, null, 'sealmq-plain-cmd-');
  try {
    await subscribeOrFail(client, `${prefix}/${deviceId}/up`);
    const t0 = hiresNow();
    const reply = await new Promise<Record<string, unknown>>((resolve, reject) => {
      const timer = setTimeout(() => reject(new SealmqError('device', `no plain reply from ${deviceId} to ${command} within ${timeoutMs} ms`)), timeoutMs);
      client.on('message', (_t, payload) => {
        try {
          const m = JSON.parse(payload.toString('utf8'));
          if (m && m.plain === true && m.r === command) {
            clearTimeout(timer);
            resolve(m);
          }
        } catch { /* not for us */ }
      });
      client.publish(`${prefix}/${deviceId}/down`, JSON.stringify(args === undefined ? { c: command } : { c: command, a: args }), { qos: 0 });
    });
    return { device: deviceId, command, reply, roundTripMs: hiresNow() - t0 };
  } finally {
    await new Promise<void>((r) => client.end(false, {}, () => r()));
  }
}


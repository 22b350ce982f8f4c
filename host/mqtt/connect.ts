// The host tools' own MQTT clients (verifiers, pipelines): one way to log in and subscribe, so every one of
// them gets TCP_NODELAY (mqtt.js leaves Nagle on, which would put readings at ~40 ms behind a delayed ACK)
// and fails with one clear error instead of retrying forever against a broker that said no.
import { randomBytes } from 'node:crypto';
import mqtt from 'mqtt';
import type { Duplex } from 'node:stream';
import { SealmqError } from '../errors.js';
import { OnPublish, PublishTap } from './publish-tap.js';

export interface ConnectOptions {
  /** Omitted: an anonymous login (research insecure brokers only). */
  username?: string;
  password?: string;
  /** Client id prefix; 4 random bytes follow, so two tools never take each other's session. */
  idPrefix: string;
  /** Who is connecting, for the error ("verifier", "plain verifier"…). */
  what?: string;
  hint?: string;
  /**
   * Every plain QoS 0 PUBLISH (no DUP, no RETAIN) handed here as it is read, instead of mqtt.js' 'message'
   * event (publish-tap.ts); 'message' still fires for any other PUBLISH.
   */
  onPublish?: OnPublish;
}

/** Connects and waits for the CONNACK; a refused or unreachable broker is an 'auth' error. */
export async function connectMqtt(url: string, o: ConnectOptions): Promise<mqtt.MqttClient> {
  const client = mqtt.connect(url, {
    ...(o.username !== undefined ? { username: o.username, password: o.password } : {}),
    clientId: o.idPrefix + randomBytes(4).toString('hex'), protocolVersion: 4, reconnectPeriod: 1000, connectTimeout: 5000,
    // With a tap, the client connects once its stream builder is wrapped (below).
    ...(o.onPublish ? { manualConnect: true } : {}),
  });
  const onPublish = o.onPublish;
  if (onPublish) {
    // Every (re)connection's stream goes through the tap.
    // streamBuilder is private in mqtt.js' typings, public in its code (MqttClient.connect() calls it).
    const c = client as unknown as { streamBuilder: (c: unknown) => Duplex };
    const build = c.streamBuilder;
    c.streamBuilder = (cl) => new PublishTap(build(cl), onPublish);
    client.connect();
  }
  // On every (re)connection's socket.
  client.on('connect', () => (client.stream as unknown as { setNoDelay?: (b: boolean) => void } | undefined)?.setNoDelay?.(true));
  await new Promise<void>((resolve, reject) => {
    const fail = (e: Error) => {
      client.end(true);
      const who = o.username !== undefined ? ' as ' + o.username : ' anonymously';
      reject(new SealmqError('auth', `${o.what ? o.what + ': ' : ''}cannot log in to ${url}${who}: ${e.message}`, o.hint ? { hint: o.hint } : {}));
    };
    client.once('error', fail);
    client.once('connect', () => {
      client.off('error', fail);
      resolve();
    });
  });
  return client;
}

/** Subscribes at QoS 0; a refused subscription (return code 128) closes the client and is an 'auth' error. */
export function subscribeOrFail(client: mqtt.MqttClient, filter: string, what?: string): Promise<void> {
  return new Promise((resolve, reject) => client.subscribe(filter, { qos: 0 }, (err, granted) => {
    if (err || !granted || granted.some((g) => g.qos === 128)) {
      client.end(true);
      reject(new SealmqError('auth', `${what ? what + ': ' : ''}the broker refused the subscription to ${filter}`));
    } else resolve();
  }));
}

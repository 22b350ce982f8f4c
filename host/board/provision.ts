// Provisioning one board over its console (issue: "sealmq provision"): fresh per-device secrets from the
// host's CSPRNG, written to the board, PROVEN on the board (it seals a challenge the host opens, and shows
// the TOTP the broker will expect), and only then recorded in the registry in one transaction. A cable
// pulled at any step before the last leaves no record, and re-running simply starts over.
import { randomBytes } from 'node:crypto';
import { fromHex, toHex, utf8Decode } from '../../core/bytes.js';
import { deriveKeys, open } from '../../core/frame.js';
import { DEFAULT_PREFIX, isDeviceId } from '../../core/ids.js';
import { DEVICE_TOTP_DIGITS, DEVICE_TOTP_STEP, totp } from '../../core/otp.js';
import { deviceError, inputError, SealmqError } from '../errors.js';
import { connectRepl, Repl } from '../link/repl.js';
import { linkFor, LinkOptions } from '../link/open-link.js';
import { nodePrimitives, sha1 } from '../protocol/node-primitives.js';
import type { Registry } from '../registry/registry.js';
import { firmwareVersion, smqCall } from './smq.js';

export interface ProvisionOptions {
  port: string;
  deviceId: string;
  /** Where the board's MQTT client connects: mqtt://host:port. */
  broker: string;
  interval?: number;
  prefix?: string;
  /** Counter block size K; default: the board profile's. */
  k?: number;
  wifi?: { ssid: string; password: string };
  registry: Registry;
  actor: string;
  /** Give an already provisioned device fresh secrets under the next epoch. */
  rekey?: boolean;
  link?: LinkOptions;
  onStep?: (step: ProvisionStep, done: number, total: number) => void;
  now?: () => number;
}

export type ProvisionStep = 'connect' | 'firmware' | 'write' | 'challenge' | 'totp' | 'record';
const STEPS: ProvisionStep[] = ['connect', 'firmware', 'write', 'challenge', 'totp', 'record'];

export interface ProvisionResult {
  deviceId: string;
  epoch: number;
  firmware: string;
  crypto: string;
  seconds: number;
}

export function parseBrokerUrl(url: string): { host: string; port: number } {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw inputError(`--broker: not a URL: ${JSON.stringify(url)}`, 'e.g. mqtt://192.168.1.10:1883');
  }
  if (u.protocol !== 'mqtt:' && u.protocol !== 'tcp:') throw inputError(`--broker: ${u.protocol} is not supported by the firmware`, 'use mqtt://HOST:PORT');
  const port = u.port ? Number(u.port) : 1883;
  return { host: u.hostname.replace(/^\[|\]$/g, ''), port };
}

/** Validates what can be validated before touching the board or the registry. */
export function checkProvisionInput(o: Pick<ProvisionOptions, 'deviceId' | 'broker' | 'interval'>): void {
  if (!isDeviceId(o.deviceId)) throw inputError(`device id ${JSON.stringify(o.deviceId)} is not valid`, 'device ids match [a-z0-9][a-z0-9-]{0,31}');
  parseBrokerUrl(o.broker);
  if (o.interval !== undefined && !(o.interval >= 0.05 && o.interval <= 86400)) throw inputError('--interval: must be 0.05..86400 seconds');
}

export async function provisionBoard(o: ProvisionOptions): Promise<ProvisionResult> {
  const started = Date.now();
  const now = o.now ?? Date.now;
  checkProvisionInput(o);
  const broker = parseBrokerUrl(o.broker);
  const existing = o.registry.getDevice(o.deviceId);
  if (existing && existing.status === 'revoked') throw inputError(`device ${o.deviceId} is revoked; a revoked id is never reused`, 'choose a new device id');
  if (existing && !o.rekey) {
    throw inputError(`device ${o.deviceId} is already provisioned (epoch ${existing.epoch})`, 'to give it fresh secrets, re-run with --rekey');
  }
  const epoch = existing ? existing.epoch + 1 : 0;
  if (epoch > 255) throw inputError(`device ${o.deviceId} has used every key epoch`);
  let step = 0;
  const next = (s: ProvisionStep) => o.onStep?.(s, step++, STEPS.length);

  next('connect');
  const link = linkFor(o.port, o.link);
  let repl: Repl | undefined;
  const root = new Uint8Array(randomBytes(32));
  const seed = new Uint8Array(randomBytes(20));
  try {
    await link.open();
    repl = await connectRepl(link);
    next('firmware');
    const version = await firmwareVersion(repl);
    if (!version) throw deviceError(`no sealmq firmware answers on ${o.port}`, `flash it first: sealmq flash --port ${o.port}`);

    next('write');
    const cfg: Record<string, unknown> = {
      id: o.deviceId, root: toHex(root), otp: toHex(seed), broker, prefix: o.prefix ?? DEFAULT_PREFIX,
      interval: o.interval ?? 10, epoch, time: now() / 1000,
    };
    if (o.k !== undefined) cfg.k = o.k;
    if (o.wifi) cfg.wifi = o.wifi;
    // The secrets travel once, in an echo-off line (the Repl never logs commands).
    const wrote = await smqCall<{ ok: boolean; error?: string }>(repl, `SEALMQ.provision(${JSON.stringify(cfg)})`, 15000);
    if (!wrote.ok) throw deviceError(`the board on ${o.port} refused the configuration: ${wrote.error}`);

    next('challenge');
    const nonce = randomBytes(16).toString('hex');
    const ch = await smqCall<{ frame?: string; error?: string }>(repl, `SEALMQ.challenge(${JSON.stringify(nonce)})`);
    if (!ch.frame) throw deviceError(`the board on ${o.port} could not seal a challenge: ${ch.error}`);
    const keys = deriveKeys(nodePrimitives, root, o.deviceId, 'up', epoch);
    const opened = open(nodePrimitives, keys, o.deviceId, 'up', fromHex(ch.frame));
    const msg = opened.ok ? JSON.parse(utf8Decode(opened.plaintext!) ?? 'null') : null;
    if (!opened.ok || opened.epoch !== epoch || !msg || msg.c !== 'challenge' || !msg.a || msg.a.n !== nonce) {
      throw deviceError(`the board on ${o.port} does not hold the keys just written (challenge ${opened.ok ? 'answered wrongly' : opened.reason})`,
        'nothing was recorded; re-run provisioning');
    }

    next('totp');
    const code = await smqCall<{ totp?: string }>(repl, 'SEALMQ.totp()');
    const t = now() / 1000;
    const expect = [-1, 0, 1].map((d) => totp(sha1, 64, seed, t + d * DEVICE_TOTP_STEP, DEVICE_TOTP_STEP, DEVICE_TOTP_DIGITS));
    if (!code.totp || !expect.includes(code.totp)) {
      throw deviceError(`the board on ${o.port} computes a different TOTP than the host (its clock or its seed is wrong)`, 'nothing was recorded; re-run provisioning');
    }
    const status = await smqCall<{ crypto?: string; board?: string }>(repl, 'SEALMQ.status()');

    next('record');
    o.registry.recordProvisioned({
      id: o.deviceId, root, otpSeed: seed, actor: o.actor, brokerUrl: o.broker, interval: o.interval ?? 10,
      board: status.board ?? null, rekey: !!existing, detail: { port: o.port, firmware: version, crypto: status.crypto ?? null },
    });
    o.onStep?.('record', STEPS.length, STEPS.length);
    return { deviceId: o.deviceId, epoch, firmware: version, crypto: String(status.crypto ?? '?'), seconds: (Date.now() - started) / 1000 };
  } catch (e) {
    if (e instanceof SealmqError) throw e;
    throw deviceError(`provisioning ${o.deviceId} on ${o.port} failed: ${(e as Error).message}`, 'nothing was recorded; check the board and re-run', e);
  } finally {
    root.fill(0);
    seed.fill(0);
    repl?.detach();
    await link.close().catch(() => {});
  }
}

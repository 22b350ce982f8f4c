// Provisioning one board over its console (issue: "sealmq provision"): fresh per-device secrets from the
// host's CSPRNG, written to the board, PROVEN on the board (it seals a challenge the host opens, and shows
// the TOTP the broker will expect), and only then recorded in the registry in one transaction. A cable
// pulled at any step before the last leaves no record, and re-running simply starts over.
//
// Hardening (docs/FIELD.md): the board's clock is set from the host; Bluetooth is turned off where the
// build has it (ESP32.enableBLE(false) erases the boot code and restarts, so the firmware is put back and
// checked by hash); a boot file (.boot0, run at every boot before the firmware) turns the Telnet console off
// and sets and locks Espruino's console password, a fresh random one per device kept sealed in the
// registry. The password is sealed in the registry before it reaches the board, so an interrupted run can
// always unlock the board again; every host tool unlocks it with unlockConsole (host/link/console-lock.ts).
import { randomBytes } from 'node:crypto';
import { fromHex, toHex, utf8Decode } from '../../core/bytes.js';
import { deriveKeys, open } from '../../core/frame.js';
import { DEFAULT_PREFIX, isDeviceId } from '../../core/ids.js';
import { DEVICE_TOTP_DIGITS, DEVICE_TOTP_STEP, totp } from '../../core/otp.js';
import { deviceError, inputError, SealmqError } from '../errors.js';
import { connectRepl, Repl } from '../link/repl.js';
import { newConsolePassword, unlockConsole } from '../link/console-lock.js';
import { readBackHash, sha256Hex, uploadFile } from '../link/storage-files.js';
import type { ConsoleLink } from '../link/console-link.js';
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
  /** Lock the console with a fresh password (default true); false leaves it open (throw-away demo boards). */
  lockConsole?: boolean;
  /** --replace OLD: the board may be OLD's own (locked with OLD's password), re-used under a new id. */
  replacing?: string;
  link?: LinkOptions;
  onStep?: (step: ProvisionStep, done: number, total: number) => void;
  now?: () => number;
}

export type ProvisionStep = 'connect' | 'firmware' | 'write' | 'challenge' | 'totp' | 'harden' | 'record';
const STEPS: ProvisionStep[] = ['connect', 'firmware', 'write', 'challenge', 'totp', 'harden', 'record'];

/** The Storage file that hardens the board at every boot, before the firmware (jsfLoadBootCodeFromFlash). */
export const HARDEN_FILE = '.boot0';

/** What the board's build has besides the console we are on. */
interface Extras { telnet: boolean; ble: boolean | null }
const EXTRAS = '(function(){var m=(process.env.MODULES||"").split(","),b=null;try{if(typeof ESP32!=="undefined"&&ESP32.enableBLE)b=!!ESP32.getState().BLE;}catch(e){}' +
  'return {telnet:m.indexOf("TelnetServer")>=0,ble:b};})()';

/** The boot file's code: Telnet off (its mode is on again at every boot), then the console password and lock. */
export function hardenCode(o: { telnet: boolean; password?: string }): string {
  let c = '';
  if (o.telnet) c += 'require("TelnetServer").setOptions({mode:"off"});';
  if (o.password) c += `E.setPassword(${JSON.stringify(o.password)});E.lockConsole();`;
  return c;
}

/** Reads a Storage file's bytes over the REPL (undefined if absent). */
async function readStorageFile(repl: Repl, name: string): Promise<Uint8Array | undefined> {
  const n = JSON.stringify(name);
  const [size] = await repl.run(`var __f=require("Storage").read(${n});print(__f===undefined?-1:__f.length);delete __f;`);
  if (Number(size) < 0) return undefined;
  const parts: Buffer[] = [];
  for (let off = 0; off < Number(size); off += 768) {
    const [b64] = await repl.run(`print(btoa(require("Storage").read(${n},${off},${Math.min(768, Number(size) - off)})))`);
    parts.push(Buffer.from(b64 ?? '', 'base64'));
  }
  return new Uint8Array(Buffer.concat(parts));
}

/**
 * ESP32.enableBLE(false): Espruino saves the flag in NVS, ERASES .bootcde/.bootrst and restarts
 * (targets/esp32/jswrap_esp32.c). So the firmware is read first, put back after the restart, checked by
 * hash and started again; the config and secrets files are not touched by the erase.
 */
async function bluetoothOff(link: ConsoleLink, repl: Repl, passwords: string[], device: string): Promise<void> {
  const code = await readStorageFile(repl, '.bootcde');
  repl.detach();
  // The command never finishes (the board restarts inside it): sent raw, not through the Repl.
  await link.write('\x10ESP32.enableBLE(false)\n');
  await new Promise((r) => setTimeout(r, 1500));
  await unlockConsole(link, passwords, { device });
  const r = await connectRepl(link);
  try {
    const still = await r.eval<Extras>(EXTRAS);
    if (still.ble) throw deviceError(`Bluetooth on ${link.url} is still on after ESP32.enableBLE(false)`);
    if (code) {
      await uploadFile(r, '.bootcde', code);
      const got = await readBackHash(r, '.bootcde');
      if (!got || got.sha256 !== sha256Hex(code)) throw deviceError(`the firmware put back on ${link.url} after turning Bluetooth off does not match`, `run \`sealmq flash --port ${link.url}\` and provision again`);
      await r.run('setTimeout(load,50)');
      await new Promise((res) => setTimeout(res, 500));
    }
  } finally {
    r.detach();
  }
}

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
    // A board provisioned before (or by an interrupted run) is locked: its password(s) are in the registry.
    const known = [...o.registry.consolePasswords(o.deviceId), ...(o.replacing && o.replacing !== o.deviceId ? o.registry.consolePasswords(o.replacing) : [])];
    await unlockConsole(link, known, { device: o.deviceId });
    repl = await connectRepl(link);
    next('firmware');
    let version = await firmwareVersion(repl);
    if (!version) throw deviceError(`no sealmq firmware answers on ${o.port}`, `flash it first: sealmq flash --port ${o.port}`);
    // The board's clock from the host (the TOTP check below and every frame's time depend on it).
    await repl.run(`setTime(${now() / 1000})`);
    const extras = await repl.eval<Extras>(EXTRAS);
    if (extras.ble) {
      await bluetoothOff(link, repl, known, o.deviceId);
      repl = await connectRepl(link);
      version = await firmwareVersion(repl);
      if (!version) throw deviceError(`the firmware did not come back on ${o.port} after turning Bluetooth off`, `run \`sealmq flash --port ${o.port}\` and provision again`);
      await repl.run(`setTime(${now() / 1000})`);
    }

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

    next('harden');
    const lock = o.lockConsole !== false;
    const password = lock ? newConsolePassword() : undefined;
    // Sealed in the registry (next to any older one) BEFORE the board can hold it.
    if (password) o.registry.setConsolePassword(o.deviceId, password, 1);
    const harden = hardenCode({ telnet: extras.telnet, password });
    if (harden) {
      await uploadFile(repl, HARDEN_FILE, harden);
      const got = await readBackHash(repl, HARDEN_FILE);
      if (!got || got.sha256 !== sha256Hex(harden)) throw deviceError(`the hardening boot file on ${o.port} does not match what was sent`, 'nothing was recorded; re-run provisioning');
    } else await repl.run(`require("Storage").erase(${JSON.stringify(HARDEN_FILE)})`);
    if (extras.telnet) await repl.run('require("TelnetServer").setOptions({mode:"off"})');

    next('record');
    o.registry.recordProvisioned({
      id: o.deviceId, root, otpSeed: seed, actor: o.actor, brokerUrl: o.broker, interval: o.interval ?? 10,
      board: status.board ?? null, rekey: !!existing,
      detail: { port: o.port, firmware: version, crypto: status.crypto ?? null, consoleLocked: lock, telnet: extras.telnet ? 'off' : 'absent', bluetooth: extras.ble === null ? 'absent' : 'off' },
    });
    if (password) {
      o.registry.setConsolePassword(o.deviceId, password, 0);
      // Locked now, not only from the next boot: the last thing said on an open console. The device is
      // recorded already, so a board gone at this instant is no failure: .boot0 locks it when it is back.
      await repl.run(`E.setPassword(${JSON.stringify(password)});E.lockConsole();`).catch(() => undefined);
    }
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

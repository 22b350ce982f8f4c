/**
 * The MQTT 3.1.1 session over Espruino's require("net") (data events and writes are binary strings):
 * CONNECT with a fresh TOTP as password, CONNACK check, SUBSCRIBE to <prefix>/<id>/down, PINGREQ keep
 * alive, QoS 0 PUBLISH, incoming PUBLISH reassembled across TCP segments, and reconnection with jittered
 * exponential back-off (Math.random is fine for jitter, never for secrets). On "wifi" boards the Wifi
 * association comes first, then SNTP sets the clock the TOTP needs.
 */
import { connackCode, connect, DISCONNECT, Packet, PINGREQ, publish, readPublish, split, subscribe } from './mqtt.js';
import { espruinoRequire } from './modules.js';
import { Config } from './config.js';
import { binary, devTotp } from './device.js';

/** Keep alive (s): the broker drops a client silent for 1.5 × this (MQTT-3.1.2-24); pings go every half. */
const KEEPALIVE = 60;
/** The biggest packet the board accepts (a command frame is ~150 bytes). */
const MAX_PACKET = 2048;

let cfg: Config | null = null;
let onMsg: (topic: string, payload: string) => void;
let sock: NetSocket | null = null;
let gen = 0;
let up = false;
let tries = 0;
let buf = '';
let heard = 0;
let timer: number | undefined;
let ping: number | undefined;
let wifiUp = false;

/** <prefix>/<id>/<channel> of the running configuration (only called while there is one). */
export const topic = (ch: string) => (cfg as Config).prefix + '/' + (cfg as Config).id + '/' + ch;

/** True while a session is established (CONNACK 0 received). */
export const linkUp = () => up;

/** Sends a sealed frame as a QoS 0 PUBLISH on <prefix>/<id>/up; false when there is no session. */
export const publishUp = (f: Uint8Array) => {
  if (up && sock) sock.write(publish(topic('up'), binary(f)));
  return up;
};

/** Forgets the socket and timers (Espruino's clearTimeout(undefined) throws, clearTimeout() clears all). */
const reset = () => {
  const s = sock;
  gen++;
  if (timer !== undefined) clearTimeout(timer);
  if (ping !== undefined) clearInterval(ping);
  timer = ping = undefined;
  up = false;
  sock = null;
  buf = '';
  return s;
};

/** Runs f after the back-off: 0.5·2^n s, at most 30 s, times a jitter in [0.5, 1). */
const later = (f: () => void) => {
  timer = setTimeout(f, Math.min(30, 0.5 * Math.pow(2, tries++)) * (500 + Math.random() * 500));
};

/** Drops the session and, unless stopped, dials again after the back-off. */
const drop = (why: string) => {
  const s = reset();
  print('mqtt: ' + why);
  try {
    if (s) s.end();
  } catch (e) {}
  if (cfg) later(dial);
};

/** CONNACK (§3.2): 0 starts the session, anything else drops it; PUBLISH (§3.3) goes to the device. */
const onPacket = (k: Packet) => {
  if (k.t === 2) {
    const rc = connackCode(k);
    if (rc) return drop('refused ' + rc);
    if (timer !== undefined) clearTimeout(timer);
    up = true;
    tries = 0;
    timer = undefined;
    (sock as NetSocket).write(subscribe(1, topic('down')));
    ping = setInterval(() => {
      if (getTime() - heard > KEEPALIVE * 1.5) drop('silent');
      else if (sock) sock.write(PINGREQ);
    }, KEEPALIVE * 500);
    print('mqtt: up');
  } else if (k.t === 3 && up) {
    const m = readPublish(k);
    if (m) onMsg(m.topic, m.payload);
  }
};

/** Opens the TCP connection and sends CONNECT; gives up on it after 10 s without CONNACK. */
function dial(): void {
  reset();
  const c = cfg as Config;
  const g = gen;
  let s: NetSocket;
  try {
    s = espruinoRequire('net').connect({ host: c.broker.host, port: c.broker.port }, () => {
      if (g === gen) s.write(connect(c.id, c.id, devTotp(), KEEPALIVE));
    });
  } catch (e) {
    return drop('' + e);
  }
  sock = s;
  heard = getTime();
  timer = setTimeout(() => drop('no CONNACK'), 10000);
  s.on('data', (d: string) => {
    if (g !== gen) return;
    heard = getTime();
    const r = split(buf + d, MAX_PACKET);
    if (typeof r === 'string') return drop(r);
    buf = r.r;
    for (let i = 0; i < r.p.length && g === gen; i++) onPacket(r.p[i]);
  });
  s.on('close', () => {
    if (g === gen) drop('closed');
  });
}

/** Associates with the access point (ESP32), retrying with back-off, then sets SNTP (if offered) and dials. */
const join = (w: { ssid: string; password: string }) => {
  const W = espruinoRequire('Wifi');
  W.connect(w.ssid, { password: w.password }, (err) => {
    if (!cfg) return;
    if (err) {
      print('wifi: ' + err);
      return later(() => join(w));
    }
    wifiUp = true;
    if (W.setSNTP) W.setSNTP('pool.ntp.org', 0);
    dial();
  });
};

/** Starts (or restarts) the session for configuration c; onMessage gets each PUBLISH (topic, payload). */
export const linkStart = (c: Config, onMessage: (topic: string, payload: string) => void) => {
  linkStop();
  cfg = c;
  onMsg = onMessage;
  tries = 0;
  if (__BOARD__.network === 'wifi' && c.wifi && !wifiUp) join(c.wifi);
  else dial();
};

/** Ends the session (DISCONNECT, §3.14) and stops dialling. */
export const linkStop = () => {
  const s = reset();
  cfg = null;
  try {
    if (s) s.end(DISCONNECT);
  } catch (e) {}
};

/**
 * The MQTT 3.1.1 session over Espruino's require("net") (data events and writes are binary strings):
 * CONNECT with a fresh TOTP as password, CONNACK check, SUBSCRIBE to <prefix>/<id>/down, PINGREQ keep
 * alive, QoS 0 PUBLISH, incoming PUBLISH reassembled across TCP segments, and reconnection with jittered
 * exponential back-off (Math.random is fine for jitter, never for secrets). On "wifi" boards the Wifi
 * association comes first, then SNTP sets the clock the TOTP needs. On "uart" boards the same byte stream
 * goes over the board's UART (__UART__, e.g. Serial2) to `sealmq gateway`: the UART stands in for the
 * socket (same write, same 'data' strings), a CONNECT starts a session, and a 0x00 byte (no MQTT packet
 * starts with it) ends one, either way (docs/PROTOCOL.md, "MQTT over a UART"). Each network kind's code is
 * only in its boards' bundles (__NETWORK__ is a build constant).
 */
import { connackCode, connect, connectAnon, Packet, PINGREQ, publish, readPublish, split, subscribe } from './mqtt.js';
import { espruinoRequire } from './modules.js';
import { Config } from './config.js';
import { devTotp } from './device.js';

/**
 * Keep alive: 60 s in CONNECT; the broker drops a client silent for 1.5 × that (MQTT-3.1.2-24). The board
 * pings every 30 s and drops a broker silent for 90 s.
 */
const KEEPALIVE = 60;
/** The biggest packet the board accepts (a command frame is ~150 bytes). */
const MAX_PACKET = 2048;

let cfg: Config | null = null;
let onMsg: (payload: string) => void;
let sock: NetSocket | null = null;
let gen = 0;
let up = false;
let tries = 0;
let buf = '';
let heard = 0;
let timer: number | undefined;
let ping: number | undefined;

/** <prefix>/<id>/<channel> of the running configuration (only called while there is one). */
export const topic = (ch: string) => (cfg as Config).prefix + '/' + (cfg as Config).id + '/' + ch;

/** True while a session is established (CONNACK 0 received). */
export const linkUp = () => up;

/** Sends a sealed frame as a QoS 0 PUBLISH on <prefix>/<id>/up; false when there is no session. */
/** Frames handed to the broker connection since boot (SEALMQ.status().sent). */
export let sent = 0;

export const publishUp = (f: Uint8Array) => {
  // E.toString: the frame as a binary string in one native call, not a loop the interpreter runs byte by
  // byte (device.ts binary(), which Node tests also run); since 2v18 it never returns undefined.
  if (up && sock) sock.write(publish(topic('up'), E.toString(f))), sent++;
  return up;
};

/** Clears the dial/back-off timer (Espruino's clearTimeout(undefined) throws, clearTimeout() clears all). */
const untime = () => {
  if (timer !== undefined) clearTimeout(timer);
  timer = undefined;
};

/** Forgets the socket and timers. */
const reset = () => {
  const s = sock;
  gen++;
  untime();
  if (ping !== undefined) clearInterval(ping);
  ping = undefined;
  up = false;
  sock = null;
  buf = '';
  return s;
};

/** Runs f after the back-off: 0.5·2^n s, at most 30 s, times a jitter in [0.5, 1). */
const later = (f: () => void) => {
  timer = setTimeout(f, Math.min(30, 0.5 * Math.pow(2, tries++)) * (500 + Math.random() * 500));
};

/** Ends a connection: a socket's end() (never throws on Espruino), or 0x00 down the UART (the gateway closes). */
const bye = (s: NetSocket | null) => {
  if (s) __NETWORK__ === 'uart' ? s.write('\0') : s.end();
};

/** Drops the session and, unless stopped, dials again after the back-off. */
const drop = (why: string) => {
  const s = reset();
  print('mqtt: ' + why);
  bye(s);
  if (cfg) later(dial);
};

/** CONNACK (§3.2): 0 starts the session, anything else drops it; a PUBLISH (§3.3) on the downlink topic goes to onMsg. */
const onPacket = (k: Packet) => {
  if (k.t === 2) {
    const rc = connackCode(k);
    if (rc) return drop('refused ' + rc);
    untime();
    up = true;
    tries = 0;
    (sock as NetSocket).write(subscribe(1, topic('down')));
    ping = setInterval(() => {
      if (getTime() - heard > 90) drop('silent');
      else if (sock) sock.write(PINGREQ);
    }, 30000);
    print('mqtt: up');
  } else if (k.t === 3 && up) {
    const m = readPublish(k);
    if (m && m.topic === topic('down')) onMsg(m.payload);
  }
};

/** Opens the TCP connection (or takes the UART) and sends CONNECT; gives up on it after 10 s without CONNACK. */
function dial(): void {
  reset();
  const c = cfg as Config;
  const g = gen;
  let s: NetSocket;
  const hello = () => {
    if (g === gen) s.write(__PLAIN__ ? connectAnon(c.id, KEEPALIVE) : connect(c.id, c.id, devTotp(), KEEPALIVE));
  };
  if (__NETWORK__ === 'uart') {
    // The UART is always "connected": its one 'data' listener is this session's; CONNECT goes out at once.
    s = __UART__ as unknown as NetSocket;
    s.removeAllListeners('data');
    hello();
  } else
    try {
      s = espruinoRequire('net').connect({ host: c.broker.host, port: c.broker.port }, hello);
    } catch (e) {
      return drop('' + e);
    }
  sock = s;
  heard = getTime();
  timer = setTimeout(() => drop('timeout'), 10000);
  s.on('data', (d: string) => {
    if (g !== gen) return;
    heard = getTime();
    const r = split(buf + d, MAX_PACKET);
    if (typeof r === 'string') return drop(r);
    buf = r.r;
    for (let i = 0; i < r.p.length && g === gen; i++) onPacket(r.p[i]);
  });
  if (__NETWORK__ !== 'uart')
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
    if (W.setSNTP) W.setSNTP('pool.ntp.org', 0);
    dial();
  });
};

/** Starts (or restarts) the session for configuration c; onMessage gets the payload of each downlink PUBLISH. */
export const linkStart = (c: Config, onMessage: (payload: string) => void) => {
  linkStop();
  cfg = c;
  onMsg = onMessage;
  tries = 0;
  if (__NETWORK__ === 'uart') __UART__.setup(__UART_BAUD__);
  if (__NETWORK__ === 'wifi' && c.wifi) join(c.wifi);
  else dial();
};

/** Ends the session (closing the connection: the broker sees an abrupt end, with no will to publish) and stops dialling. */
export const linkStop = () => {
  const s = reset();
  cfg = null;
  bye(s);
};

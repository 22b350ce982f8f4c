/**
 * sealmq firmware entry (bundled by `sealmq build` into dist/firmware.js): wires Espruino's Storage,
 * crypto, clock and network to the device state (device.ts), samples the board's sensors every interval
 * and publishes each reading sealed on <prefix>/<id>/up, opens commands from <prefix>/<id>/down, and
 * offers the console API (api.ts).
 */
import { devConfig, devInterval, devLoad, onDown, plainUp, sealUp, stamp } from './device.js';
import { jsSuite } from './crypto-js.js';
import { NativeCrypto, nativeSuite } from './crypto-native.js';
import { linkStart, linkStop, linkUp, publishUp } from './net-link.js';
import { freeVars, sample } from './sensors.js';
import { installApi } from './api.js';
import { espruinoRequire } from './modules.js';

const S = espruinoRequire('Storage');
let mod: NativeCrypto | undefined;
try {
  mod = espruinoRequire('crypto');
} catch (e) {}
const native = nativeSuite(mod);
const crypto = native ? 'native' : 'js';
let tick: number | undefined;
let every = 0;

/** Every interval: sample, seal, publish, only with a session (an unsent reading must not burn a counter). */
const report = () => {
  const f = linkUp() ? (__PLAIN__ ? plainUp({ t: stamp(), d: sample(__BOARD__.sensors) }) : sealUp({ t: stamp(), d: sample(__BOARD__.sensors) })) : '';
  if (typeof f !== 'string') publishUp(f);
};

/** Stops the reading timer (Espruino's clearInterval(undefined) throws, and clearInterval() clears all). */
const unschedule = () => {
  if (tick !== undefined) clearInterval(tick);
  tick = undefined;
};

/** (Re)arms the reading timer when the interval changed. */
const schedule = () => {
  if (tick === undefined || every !== devInterval()) {
    unschedule();
    tick = setInterval(report, (every = devInterval()) * 1000);
  }
};

const stop = () => {
  linkStop();
  unschedule();
};

/**
 * Readings at t + k·interval (t: board time, s) from now on, if reporting: lets a host spread many boards'
 * readings over the interval (bench latency) or line them up. Until t the timer is a timeout (stop() clears it).
 */
const align = (t: number) => {
  if (tick === undefined) return false;
  unschedule();
  tick = setTimeout(() => {
    tick = undefined;
    schedule();
  }, Math.max(0, (t - getTime()) * 1000));
  return true;
};

const start = () => {
  const c = devConfig();
  stop();
  if (!c) return;
  linkStart(c, (p) => {
    const r = onDown(E.toUint8Array(p));
    if (r) publishUp(r);
    schedule();
  });
  schedule();
};

print((__PLAIN__ ? 'sealmq RESEARCH PLAIN / NOT SECURE ' : 'sealmq ') + __VERSION__ + ' on ' + __BOARD__.name + '\ncrypto: ' + crypto);
installApi(start, stop, align);
devLoad({
  store: S,
  suite: native || jsSuite,
  crypto: crypto,
  now: getTime,
  free: freeVars,
  k: __BOARD__.counterBlock,
  version: __VERSION__,
  log: (s) => print(s),
  bytes: E.toUint8Array,
});
start();

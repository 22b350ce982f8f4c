// The sandbox offers Espruino's globals and withholds what Espruino lacks (DESIGN.md §6), so firmware that
// leans on Node or modern ES fails on the emulated board as it would on a real one.
import test from 'ava';
import { consoleBoard } from './emulator-helpers.js';
import { profileFrom, DEFAULT_PROFILE } from '../host/emulator/profile.js';

const evalOn = (c: ReturnType<typeof consoleBoard>, expr: string): string => {
  const out = c.type(`\x10print(JSON.stringify(${expr}))\n`);
  return out.replace(/\r\n>?$/, '');
};

test('withholds Map, Set, Symbol, Array.from, Number.isInteger, Math.imul, Buffer, process.exit and other non-Espruino globals', (t) => {
  const c = consoleBoard();
  for (const name of ['Map', 'Set', 'WeakMap', 'WeakSet', 'Symbol', 'Proxy', 'Reflect', 'BigInt', 'Array.from', 'Array.of', 'Uint8Array.from',
    'Int32Array.of', 'Number.isInteger', 'Math.imul', 'queueMicrotask', 'structuredClone', 'Buffer', 'TextEncoder', 'TextDecoder',
    'process.exit', 'process.argv', 'globalThis', 'WebAssembly', 'Intl', 'setImmediate', 'require("fs")']) {
    const expr = name.startsWith('require') ? `(function(){try{${name};return "defined"}catch(e){return "undefined"}})()` : `typeof ${name}`;
    t.is(evalOn(c, expr), '"undefined"', name);
  }
  c.board.close();
});

test('offers the built-ins and Espruino globals firmware relies on', (t) => {
  const c = consoleBoard();
  for (const name of ['Object', 'Array', 'JSON', 'Math', 'Date', 'RegExp', 'Promise', 'ArrayBuffer', 'Uint8Array', 'DataView', 'Error',
    'TypeError', 'parseInt', 'parseFloat', 'isNaN', 'isFinite', 'btoa', 'atob', 'E', 'E.toUint8Array', 'E.toString', 'E.getTemperature',
    'E.hwRand', 'E.reboot', 'E.getSizeOf', 'E.setBootCode', 'process.memory', 'getTime', 'setTime', 'setTimeout', 'setInterval',
    'clearTimeout', 'clearInterval', 'console.log', 'print', 'save', 'load', 'reset', 'analogRead', 'digitalRead', 'global', 'require']) {
    t.not(evalOn(c, `typeof ${name}`), '"undefined"', name);
  }
  c.board.close();
});

test('require of an unknown module throws Espruino\'s "Module … not found"', (t) => {
  const c = consoleBoard();
  t.is(c.type('\x10require("fs")\n'), 'Uncaught Error: Module "fs" not found\r\n>');
  c.board.close();
});

test('getTime() is float seconds of the host clock; setTime() moves it', (t) => {
  const c = consoleBoard({ clock: () => 1700000000.25 });
  t.is(evalOn(c, 'getTime()'), '1700000000.25');
  c.type('\x10setTime(1000)\n');
  t.is(evalOn(c, 'Math.round(getTime())'), '1000');
  c.board.close();
});

test('process.memory() reports the board profile\'s total and an estimated usage', (t) => {
  const c = consoleBoard({ profile: { board: 'TEST', totalVars: 2000, storageBytes: 65536, nativeCrypto: true, consoleBaud: 115200, baseVars: 100 } });
  const m = JSON.parse(evalOn(c, 'process.memory()'));
  t.is(m.total, 2000);
  t.is(m.free + m.usage, 2000);
  c.type('\x10var big = []; for (var i = 0; i < 200; i++) big.push("item number " + i);\n');
  const m2 = JSON.parse(evalOn(c, 'process.memory()'));
  t.true(m2.usage > m.usage + 200);
  // Every way a global appears or goes is seen (the count walks node:vm's context object, not the global).
  c.type('\x10function longName() { return "a string that takes several blocks of twelve characters"; }\n');
  c.type('\x10this.viaThis = [1.5, 2.5, 3.5, 4.5];\n');
  const m3 = JSON.parse(evalOn(c, 'process.memory()'));
  t.true(m3.usage > m2.usage + 10);
  c.type('\x10big = undefined; delete this.viaThis;\n');
  const m4 = JSON.parse(evalOn(c, 'process.memory()'));
  t.true(m4.usage < m3.usage - 200);
  t.is(evalOn(c, 'process.env.BOARD'), '"TEST"');
  c.board.close();
});

test('E.toUint8Array / E.toString convert between bytes and binary strings', (t) => {
  const c = consoleBoard();
  t.is(evalOn(c, 'Array.prototype.slice.call(E.toUint8Array("A\\xff", [1, 2], 3))'), '[65,255,1,2,3]');
  t.is(evalOn(c, 'E.toString(new Uint8Array([104, 105]))'), '"hi"');
  t.is(evalOn(c, 'btoa("\\xff\\x00")'), '"/wA="');
  c.board.close();
});

test('sensors give plausible readings', (t) => {
  const c = consoleBoard();
  const temp = Number(evalOn(c, 'E.getTemperature()'));
  t.true(temp > 15 && temp < 27);
  const a = Number(evalOn(c, 'analogRead(D34)'));
  t.true(a >= 0 && a <= 1);
  t.true(['0', '1'].includes(evalOn(c, 'digitalRead(D0)')));
  c.board.close();
});

test('Math.random and E.hwRand restart from a fixed seed at every boot (never a source of secrets)', (t) => {
  const c = consoleBoard();
  const first = evalOn(c, '[Math.random(), E.hwRand()]');
  c.board.powerCut();
  c.board.powerOn();
  t.is(evalOn(c, '[Math.random(), E.hwRand()]'), first);
  c.board.close();
});

test('every object has Espruino\'s on/emit', (t) => {
  const c = consoleBoard();
  t.is(evalOn(c, '(function(){var o={}, got=[]; o.on("x", function(a){got.push(a)}); o.emit("x", 7); return got})()'), '[7]');
  c.board.close();
});

test('timers: ids, clearTimeout(undefined) refused, clearTimeout() clears all', async (t) => {
  const c = consoleBoard();
  t.is(c.type('\x10clearTimeout(undefined)\n'), 'Uncaught Error: clearTimeout(undefined) not allowed. Use clearTimeout() instead\r\n>');
  c.type('\x10var n = 0; var id = setInterval(function(){ n++; }, 1); clearInterval();\n');
  await new Promise((r) => setTimeout(r, 20));
  t.is(evalOn(c, 'n'), '0');
  c.board.close();
});

test('timers: an interval keeps its phase when its calls come late (next time = last due time + period, as Espruino)', async (t) => {
  const c = consoleBoard();
  // Another timer keeps the board busy 30 ms in every 37: most calls of the 50 ms interval come late.
  // Rescheduled from when each call ran (Node's setInterval), that lateness would add up call after call.
  c.type('\x10var ts = []; var id = setInterval(function(){ ts.push(getTime()); if (ts.length == 12) { clearInterval(id); clearInterval(busy); } }, 50);' +
    ' var busy = setInterval(function(){ var e = getTime() + 0.03; while (getTime() < e); }, 37);\n');
  for (let i = 0; i < 100 && evalOn(c, 'ts.length') !== '12'; i++) await new Promise((r) => setTimeout(r, 50));
  const ts = JSON.parse(evalOn(c, 'ts')) as number[];
  t.is(ts.length, 12);
  const late = ts.map((x, k) => (x - ts[0] - k * 0.05) * 1000);
  t.true(Math.max(...late) < 100, `calls late by ${late.map((x) => x.toFixed(0)).join(', ')} ms`);
  c.board.close();
});

test('an unhandled promise rejection is reported on the console, not in the host process', async (t) => {
  const c = consoleBoard();
  c.type('\x10Promise.reject(new Error("nobody"))\n');
  await new Promise((r) => setImmediate(r));
  t.regex(c.text(), /Uncaught Error: Unhandled promise rejection: Error: nobody/);
  c.type('\x10Promise.reject(new Error("handled")).catch(function(){})\n');
  await new Promise((r) => setImmediate(r));
  t.notRegex(c.text(), /handled/);
  c.board.close();
});

test('E.reboot() starts a fresh interpreter: RAM gone, flash kept, boot code run', async (t) => {
  const c = consoleBoard();
  c.type('\x10var inRam = 1; require("Storage").write(".bootcde", "var booted = (typeof booted) + 1;")\n');
  c.type('\x10E.reboot()\n');
  await new Promise((r) => setImmediate(r));
  t.is(evalOn(c, 'typeof inRam'), '"undefined"');
  t.is(evalOn(c, 'booted'), '"undefined1"');
  c.board.close();
});

test('load() returns, the rest of the line runs, then the board reloads from flash; reset() skips .bootcde', async (t) => {
  const c = consoleBoard();
  c.type('\x10require("Storage").write(".bootcde", "var fromBoot = 1;"); require("Storage").write("app.js", "var fromApp = 1;")\n');
  t.is(c.type('\x10var before = 1; load(); print("after load")\n'), 'after load\r\n>');
  await new Promise((r) => setImmediate(r));
  await new Promise((r) => setImmediate(r));
  t.is(evalOn(c, '[typeof before, typeof fromBoot]'), '["undefined","number"]');
  c.type('\x10reset()\n');
  await new Promise((r) => setImmediate(r));
  await new Promise((r) => setImmediate(r));
  t.is(evalOn(c, 'typeof fromBoot'), '"undefined"');
  c.type('\x10load("app.js")\n');
  await new Promise((r) => setImmediate(r));
  await new Promise((r) => setImmediate(r));
  t.is(evalOn(c, '[typeof fromApp, typeof fromBoot]'), '["number","undefined"]');
  t.is(c.type('\x10reset(true)\n'), 'Erasing saved code.\r\n>');
  t.is(evalOn(c, 'require("Storage").list().join()'), '"app.js"');
  c.board.close();
});

test('board profiles: boards/<name>.json fields, defaults for the rest', (t) => {
  const p = profileFrom({ name: 'x', board: 'ESP32', consoleBaud: 115200, crypto: { native: false }, totalVars: 9000, storageBytes: 65536 });
  t.deepEqual(p, { board: 'ESP32', totalVars: 9000, storageBytes: 65536, nativeCrypto: false, consoleBaud: 115200, baseVars: DEFAULT_PROFILE.baseVars });
  t.is(profileFrom({}).totalVars, 16383);
  const c = consoleBoard({ profile: p });
  t.is(evalOn(c, '(function(){try{require("crypto");return 1}catch(e){return 0}})()'), '0');
  c.board.close();
});

// `sealmq build`: the firmware bundles for every board, within budget, and the bundle checker refuses what
// Espruino 2v29 lacks (DESIGN.md §6) with the construct and its source position, writing nothing.
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BuildRefusedError, buildFirmware, FIRMWARE_BUDGET } from '../host/build/bundle.js';
import { checkEspruino, regexProblems } from '../host/build/check.js';
import { listBoards, loadBoard, validateBoard } from '../host/build/boards.js';
import { SealmqError } from '../host/errors.js';
import { repoRoot } from '../host/protocol/vectors.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'sealmq-build-'));
const constructs = (code: string) => checkEspruino(code).map((v) => v.construct);

for (const board of ['esp32', 'linux', 'emulated', 'emulated-uart']) {
  test(`builds dist/firmware.js and dist/selftest.js for ${board} within the 16 KB budget (DESIGN.md §8)`, async (t) => {
    const out = tmp();
    try {
      const r = await buildFirmware({ board, outDir: out });
      t.true(r.firmware.bytes <= FIRMWARE_BUDGET, `${r.firmware.bytes} bytes`);
      t.is(readFileSync(join(out, 'firmware.js'), 'utf8'), r.firmware.code);
      t.true(existsSync(join(out, 'selftest.js')));
      t.deepEqual(checkEspruino(r.firmware.code), []);
      t.deepEqual(checkEspruino(r.selftest!.code), []);
      t.true(r.firmware.code.includes(`"${loadBoard(board).name}"`), 'the board profile is injected');
      t.false(/\bProxy\b|\bSymbol\b|\bMap\b/.test(r.firmware.code));
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
}

test('each bundle carries only its own network kind\'s code: Wifi join on wifi boards, the UART on uart boards (__NETWORK__ folds)', async (t) => {
  const code = async (board: string) => (await buildFirmware({ board, write: false, selftest: false })).firmware.code;
  const [esp32, emulated, uart] = await Promise.all([code('esp32'), code('emulated'), code('emulated-uart')]);
  t.true(esp32.includes('"Wifi"') && esp32.includes('"net"'));
  t.false(esp32.includes('Serial2'));
  t.false(emulated.includes('"Wifi"'), 'no Wifi join on a native board');
  t.true(emulated.includes('"net"'));
  t.false(emulated.includes('Serial2'));
  t.false(uart.includes('"Wifi"'));
  t.false(uart.includes('"net"'), 'no TCP socket on a uart board');
  t.regex(uart, /Serial2\.setup\(115200\)/);
  t.false(/__NETWORK__|__UART__/.test(esp32 + emulated + uart));
  const plain = (await buildFirmware({ board: 'emulated-uart', write: false, plain: true })).firmware;
  t.true(plain.bytes <= FIRMWARE_BUDGET);
  t.regex(plain.code, /Serial2/);
});

const refusals: [string, string, RegExp][] = [
  ['firmware-map.ts', 'global Map', /test\/fixtures\/firmware-map\.ts:4:/],
  ['firmware-spread.ts', 'spread (...)', /test\/fixtures\/firmware-spread\.ts:5:/],
  ['firmware-async.ts', 'async function', /test\/fixtures\/firmware-async\.ts:5:/],
];
for (const [fixture, construct, where] of refusals) {
  test(`refuses ${fixture}: ${construct}, named with its source position, and writes nothing`, async (t) => {
    const out = tmp();
    try {
      const e = await t.throwsAsync(buildFirmware({ entry: `test/fixtures/${fixture}`, outDir: out }), { instanceOf: BuildRefusedError });
      t.true(e!.violations.some((v) => v.construct === construct), JSON.stringify(e!.violations));
      t.regex(e!.message, where);
      t.regex(e!.message, /Espruino lacks/);
      t.false(existsSync(join(out, 'firmware.js')));
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
}

test('accepts a fixture in the Espruino subset (same library entry)', async (t) => {
  const out = tmp();
  try {
    const r = await buildFirmware({ entry: 'test/fixtures/firmware-ok.ts', outDir: out });
    t.falsy(r.selftest);
    t.true(existsSync(join(out, 'firmware.js')));
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test('the CLI refuses with a non-zero exit and one clear message', (t) => {
  const out = tmp();
  try {
    const err = t.throws(() => execFileSync(process.execPath, [join(repoRoot(), 'bin', 'sealmq.js'), 'build', '--entry', 'test/fixtures/firmware-map.ts', '--out', out], {
      cwd: repoRoot(), stdio: 'pipe',
    })) as Error & { status: number; stderr: Buffer };
    t.is(err.status, 3);
    t.regex(err.stderr.toString(), /build refused: .*global Map/s);
    t.false(existsSync(join(out, 'firmware.js')));
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test('a bundle over its budget is refused and not written', async (t) => {
  const out = tmp();
  try {
    const e = await t.throwsAsync(buildFirmware({ outDir: out, budget: 1000, selftest: false }), { instanceOf: SealmqError });
    t.regex(e!.message, /over its budget of 1000/);
    t.false(existsSync(join(out, 'firmware.js')));
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test('checker: syntax Espruino lacks', (t) => {
  const cases: [string, string][] = [
    ['var {a} = o;', 'destructuring'],
    ['var [a] = o;', 'destructuring'],
    ['f(...a);', 'spread (...)'],
    ['function f(...a) {}', 'rest element (...)'],
    ['function f(a = 1) {}', 'default parameter'],
    ['async function f() { await 1; }', 'async function'],
    ['function* g() { yield 1; }', 'generator function'],
    ['var x = o?.a;', 'optional chaining (?.)'],
    ['var x = a ?? b;', 'nullish coalescing (??)'],
    ['var x = 2 ** 8;', 'exponent operator (**)'],
    ['a ||= 1;', 'logical assignment (||=)'],
    ['class A { x = 1; }', 'class field'],
    ['class A { #x() {} }', 'private name (#x)'],
    ['var o = { get a() { return 1; } };', 'getter'],
    ['class A { set a(v) {} }', 'setter'],
    ['var b = 10n;', 'BigInt literal'],
    ['var r = /a/s;', "regular expression flag 's'"],
    ['var r = /^[a-z]{0,31}$/;', 'regular expression quantifier {n,m}'],
    ['var r = /(ab)+/;', 'regular expression quantified group ()+'],
    ['var r = /ab?/;', 'regular expression quantifier ?'],
    ['var r = new RegExp("a", "y");', "regular expression flag 'y'"],
    ['t`x`;', 'tagged template'],
    ['a: for (;;) break a;', 'label'],
  ];
  for (const [code, want] of cases) t.true(constructs(code).includes(want), `${code} → ${JSON.stringify(constructs(code))}`);
});

test('checker: globals and members Espruino lacks', (t) => {
  const cases: [string, string][] = [
    ['new Map();', 'global Map'],
    ['new Set();', 'global Set'],
    ['new WeakMap();', 'global WeakMap'],
    ['Symbol("x");', 'global Symbol'],
    ['new Proxy({}, {});', 'global Proxy'],
    ['Reflect.ownKeys({});', 'global Reflect'],
    ['new TextEncoder();', 'global TextEncoder'],
    ['Buffer.from("a");', 'global Buffer'],
    ['Array.from([1]);', 'Array.from'],
    ['Uint8Array.from([1]);', 'Uint8Array.from'],
    ['Int32Array.of(1);', 'Int32Array.of'],
    ['Number.isInteger(1);', 'Number.isInteger'],
    ['Math.imul(1, 2);', 'Math.imul'],
    ['process.exit(1);', 'process.exit'],
    ['globalThis.fetch("x");', 'globalThis.fetch'],
    ['"abc".at(0);', 'method .at()'],
    ['[1, [2]].flat();', 'method .flat()'],
    ['fooBar();', 'unknown global fooBar'],
  ];
  for (const [code, want] of cases) t.true(constructs(code).includes(want), `${code} → ${JSON.stringify(constructs(code))}`);
});

test('checker: what Espruino has passes, scopes are respected', (t) => {
  const ok = [
    'var a = new Uint8Array(4); a.set([1], 0); a.subarray(1); a.fill(0); print(process.memory().free, process.version, process.env.BOARD);',
    'let x = E.toUint8Array("ab"); E.toString(x); getTime(); setTimeout(function () {}, 1); analogRead(D36); digitalRead("D5");',
    'const f = (a, b) => a + b; class A extends Object { constructor() { super(); } m() { return this; } static s() {} }',
    'for (const k of [1, 2]) print(`v ${k}`); JSON.stringify({ a: 1 }); Math.pow(2, 8); Object.keys({});',
    'function Map() {} new Map(); var Set = 1; print(Set);',
    'var o = { hmac: 1 }; o.h = function () {}; o.h(); var p = {}; if (p.maybe) p.maybe();',
    'var r = /^[a-z0-9][a-z0-9-]*$/i; r.test("x"); var s = /\\d+\\.\\w*/g;',
    'try { require("Storage").write("a", "b"); } catch (e) { print(e.message); }',
    'global.SEALMQ = { x: 1 }; global.SEALMQ.x; global.require("net").connect({ host: "h", port: 1 }, function () {});',
  ];
  for (const code of ok) t.deepEqual(checkEspruino(code), [], code);
});

test('checker: a variable holding a global (the bundle\'s aliases, firmware/globals.ts) is checked as that global', async (t) => {
  t.deepEqual(checkEspruino('var M = Math, J = JSON, U = Uint8Array; M.floor(M.pow(2, 3)); J.stringify({}); new U(4).fill(0);'), []);
  t.true(constructs('var M = Math; M.imul(1, 2);').includes('Math.imul'));
  t.true(constructs('(function () { var N = Number; N.isInteger(1); })();').includes('Number.isInteger'));
  // A local of the same name that is not the alias is not checked as the global.
  t.deepEqual(checkEspruino('var M = Math; function f(M) { return M.whatever; } f({ whatever: 1 });'), []);
  // The bundle itself: no Math, JSON or Uint8Array named more than once, in its alias.
  const { code } = (await buildFirmware({ write: false })).firmware;
  for (const g of ['Uint8Array', 'Math', 'JSON']) t.is(code.split(new RegExp(`\\b${g}\\b`)).length - 1, 1, g);
});

test('checker: positions are 1-based lines, 0-based columns; syntax errors are reported, not thrown', (t) => {
  const [v] = checkEspruino('var a = 1;\n  new Map();');
  t.is(v.construct, 'global Map');
  t.is(v.line, 2);
  t.is(v.column, 6);
  t.is(checkEspruino('var = ;')[0].construct, 'syntax error');
});

test('regexProblems: only what Espruino\'s matcher lacks', (t) => {
  t.deepEqual(regexProblems('^[\\da-f]+$'), []);
  t.deepEqual(regexProblems('^[a-z?{}]*$'), [], 'inside a class ? and { are plain characters');
  t.deepEqual(regexProblems('^a|b$'), [], 'top-level alternation is supported');
  t.true(regexProblems('\\bword').length > 0);
  t.true(regexProblems('(a|b)').includes('| inside a group'));
  t.true(regexProblems('(?:a)').includes('group syntax (?…)'));
  t.true(regexProblems('(a)\\1').includes('backreference \\1'));
});

test('board profiles: every boards/*.json validates; bad ones name the field', (t) => {
  t.deepEqual(listBoards(), ['emulated', 'emulated-uart', 'esp32', 'linux', 'qemu-stm32f4']);
  for (const b of listBoards()) t.is(loadBoard(b).name, b);
  const good = JSON.parse(readFileSync(join(repoRoot(), 'boards', 'esp32.json'), 'utf8'));
  t.throws(() => validateBoard({ ...good, network: 'lora' }, 'x'), { message: /network/ });
  t.throws(() => validateBoard({ ...good, network: 'uart' }, 'x'), { message: /uart is required/ });
  t.throws(() => validateBoard({ ...good, network: 'uart', uart: { port: 'Serial9', baud: 115200 } }, 'x'), { message: /uart\.port/ });
  t.throws(() => validateBoard({ ...good, network: 'uart', uart: { port: 'Serial2', baud: 0 } }, 'x'), { message: /uart\.baud/ });
  t.throws(() => validateBoard({ ...good, uart: { port: 'Serial2', baud: 115200 } }, 'x'), { message: /only for network "uart"/ });
  t.is(validateBoard({ ...good, network: 'uart', uart: { port: 'Serial2', baud: 115200 } }, 'x').uart!.port, 'Serial2');
  t.throws(() => validateBoard({ ...good, sensors: [{ name: 'a', kind: 'analog' }] }, 'x'), { message: /sensors\[0\]\.pin/ });
  t.throws(() => validateBoard({ ...good, crypto: {} }, 'x'), { message: /crypto\.native/ });
  t.throws(() => loadBoard('nope'), { message: /no board profile/ });
});

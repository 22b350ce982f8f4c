// require("crypto") on the emulated board has Espruino's own semantics (libs/crypto/jswrap_crypto.c):
// ArrayBuffer results, a silent all-zero IV, no padding, an error and undefined for a partial block.
// Known answers: NIST SP 800-38A F.2.1/F.2.2 and FIPS-197 C.1 (shared/vectors/known-answers.json).
import test from 'ava';
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { loadVectors } from '../host/protocol/vectors.js';
import { consoleBoard } from './emulator-helpers.js';
import { encryptBlock128, expandKey128 } from '../host/emulator/aes128.js';
import { espruinoAes } from '../host/emulator/espruino-crypto.js';
import { binaryString, bytesOf } from '../host/emulator/realm.js';
import { runInNewContext } from 'node:vm';

const ka = loadVectors('known-answers.json');
const hexArr = (h: string) => '[' + (h.match(/../g) ?? []).map((x) => parseInt(x, 16)).join(',') + ']';
const HEX = 'function hex(b){var u=new Uint8Array(b),s="";for(var i=0;i<u.length;i++)s+=(u[i]<16?"0":"")+u[i].toString(16);return s}';

function run(c: ReturnType<typeof consoleBoard>, code: string): string {
  return c.type(`\x10${HEX};${code}\n`).replace(/\r\n>?$/, '');
}

for (const v of ka.aes128_cbc_nopad) {
  test(`AES CBC ${v.name} both ways, results are ArrayBuffers`, (t) => {
    const c = consoleBoard();
    const enc = `require("crypto").AES.encrypt(${hexArr(v.plaintext)}, new Uint8Array(${hexArr(v.key)}), {iv: ${hexArr(v.iv)}, mode: "CBC"})`;
    t.is(run(c, `var r=${enc};print(r instanceof ArrayBuffer, hex(r))`), `true ${v.ciphertext}`);
    const dec = `require("crypto").AES.decrypt(new Uint8Array(${hexArr(v.ciphertext)}).buffer, ${hexArr(v.key)}, {iv: new Uint8Array(${hexArr(v.iv)})})`;
    t.is(run(c, `print(hex(${dec}))`), v.plaintext);
    c.board.close();
  });
}

for (const v of ka.aes128_block) {
  test(`AES ${v.name}: ECB, and CBC with no iv given uses an all-zero IV silently`, (t) => {
    const c = consoleBoard();
    t.is(run(c, `print(hex(require("crypto").AES.encrypt(${hexArr(v.plaintext)}, ${hexArr(v.key)}, {mode:"ECB"})))`), v.ciphertext);
    t.is(run(c, `print(hex(require("crypto").AES.encrypt(${hexArr(v.plaintext)}, ${hexArr(v.key)})))`), v.ciphertext);
    c.board.close();
  });
}

test('AES CBC of 17 bytes prints an error and returns undefined (no padding)', (t) => {
  const c = consoleBoard();
  t.is(run(c, 'var r=require("crypto").AES.encrypt(new Uint8Array(17), new Uint8Array(16));print(typeof r)'), 'ERROR: Invalid input length\r\nundefined');
  c.board.close();
});

test('AES ECB of 17 bytes encrypts the whole block and leaves the tail zero, silently (mbedtls loop)', (t) => {
  const r = espruinoAes(true, new Uint8Array(17), new Uint8Array(16), new Uint8Array(16), 'ECB');
  t.true(r instanceof Uint8Array);
  t.is((r as Uint8Array).length, 17);
  t.is((r as Uint8Array)[16], 0);
});

test('strings are taken as bytes; SHA1/SHA256 return ArrayBuffers', (t) => {
  const c = consoleBoard();
  const s = 'abc\xff';
  const sha256 = createHash('sha256').update(Buffer.from(s, 'latin1')).digest('hex');
  const sha1 = createHash('sha1').update(Buffer.from(s, 'latin1')).digest('hex');
  t.is(run(c, 'var h=require("crypto").SHA256("abc\\xff");print(h instanceof ArrayBuffer, h.byteLength, hex(h))'), `true 32 ${sha256}`);
  t.is(run(c, 'print(hex(require("crypto").SHA1("abc\\xff")))'), sha1);
  c.board.close();
});

test('an unknown mode throws', (t) => {
  const c = consoleBoard();
  t.is(run(c, 'require("crypto").AES.encrypt(new Uint8Array(16), new Uint8Array(16), {mode:"XTS"})'), 'Uncaught Error: Unknown Crypto mode "XTS"');
  c.board.close();
});

test('--no-native-crypto: require("crypto") is not found', (t) => {
  const c = consoleBoard({ nativeCrypto: false });
  t.is(run(c, 'require("crypto")'), 'Uncaught Error: Module "crypto" not found');
  c.board.close();
});

test('AES-CBC with kept key schedules (aes-js): the same bytes as one-shot node:crypto for 128/192/256-bit keys, many keys (more than are kept), lengths and IVs, keys reused in any order and overwritten in place', (t) => {
  const oneShot = (enc: boolean, k: Uint8Array, iv: Uint8Array, d: Uint8Array) => {
    const c = enc ? createCipheriv(`aes-${k.length * 8}-cbc`, k, iv) : createDecipheriv(`aes-${k.length * 8}-cbc`, k, iv);
    c.setAutoPadding(false);
    return new Uint8Array(Buffer.concat([c.update(d), c.final()]));
  };
  const keys = Array.from({ length: 20 }, (_, i) => new Uint8Array(randomBytes(i % 5 === 4 ? 32 : i % 5 === 3 ? 24 : 16)));
  const inPlace = new Uint8Array(16);
  for (let i = 0; i < 600; i++) {
    let k = keys[(i * 7) % keys.length];
    if (i % 11 === 0) {
      inPlace.set(randomBytes(16)); // the same array, new bytes: never the old schedule
      k = inPlace;
    }
    const iv = new Uint8Array(randomBytes(16));
    const d = new Uint8Array(randomBytes(16 * (1 + (i % 9))));
    const copy = d.slice();
    const enc = espruinoAes(true, d, k, iv, 'CBC') as Uint8Array;
    t.deepEqual(enc, oneShot(true, k, iv, d), `encrypt ${i}`);
    t.deepEqual(espruinoAes(false, enc, k, iv, 'CBC'), d, `decrypt ${i}`);
    t.deepEqual(d, copy, 'input untouched');
  }
});

test('bytesOf: a lone string or buffer, or a list of one, gives the same bytes as the general walk (chars over 255 keep their low byte)', (t) => {
  const other = runInNewContext('({ ab: new Uint8Array([1, 2, 250]).buffer, u16: new Uint16Array([0x1234, 0xffff]) })') as { ab: ArrayBuffer; u16: Uint16Array };
  const base = new Uint8Array([9, 8, 7, 6, 5, 4, 3, 2]);
  const cases: unknown[] = ['', 'abc', '\u0141\u00ff\u0100\u2603x', 'x'.repeat(300), base, base.subarray(2, 5), new DataView(base.buffer, 1, 3), base.buffer, other.ab, other.u16];
  for (const v of cases) {
    const fast = bytesOf(v)!;
    // [v, ''] takes the general walk ('' adds no byte); [v] is a native's argument list of one.
    t.deepEqual([...fast], [...bytesOf([v, ''])!], String(v));
    t.deepEqual([...bytesOf([v])!], [...fast], `[${String(v)}]`);
    t.is(Object.getPrototypeOf(fast), Uint8Array.prototype);
  }
  t.deepEqual([...bytesOf([[1, 2], 'a'])!], [1, 2, 97]);
  t.deepEqual([...bytesOf([{ data: [7], count: 3 }])!], [7, 7, 7]);
  t.is(bytesOf([{}]), undefined);
  t.is(bytesOf([undefined]), undefined);
  // A copy: the board changing its buffer afterwards does not change bytes already taken.
  const b = bytesOf(base)!;
  base[0] = 0;
  t.is(b[0], 9);
});

test('binaryString: byte n is char code n, for every byte, at any offset and length', (t) => {
  const all = new Uint8Array(600);
  for (let i = 0; i < all.length; i++) all[i] = (i * 7) & 255;
  for (const b of [all, all.subarray(3, 259), all.subarray(0, 0), Buffer.from(all.buffer, 5, 20)]) {
    const s = binaryString(b);
    t.is(s.length, b.length);
    t.deepEqual([...s].map((c) => c.charCodeAt(0)), [...b]);
  }
});

test('the one-table AES-128 (a seal\'s encryptions): FIPS-197 C.1 and A.1, and 2,000 random blocks as node:crypto, in place too', (t) => {
  const hex = (h: string) => new Uint8Array(Buffer.from(h, 'hex'));
  for (const v of ka.aes128_block) {
    const out = new Uint8Array(16);
    encryptBlock128(expandKey128(hex(v.key)), hex(v.plaintext), 0, out, 0);
    t.is(Buffer.from(out).toString('hex'), v.ciphertext, v.name);
  }
  // FIPS-197 A.1: the last word of the expansion of 2b7e1516 28aed2a6 abf71588 09cf4f3c.
  t.is(expandKey128(hex('2b7e151628aed2a6abf7158809cf4f3c'))[43], 0xb6630ca6);
  for (let i = 0; i < 2000; i++) {
    const key = new Uint8Array(randomBytes(16));
    const block = new Uint8Array(randomBytes(48));
    const c = createCipheriv('aes-128-ecb', key, null).setAutoPadding(false);
    const want = new Uint8Array(c.update(block.subarray(16, 32)));
    encryptBlock128(expandKey128(key), block, 16, block, 16);
    t.deepEqual(block.subarray(16, 32), want, `block ${i}`);
  }
  t.throws(() => expandKey128(new Uint8Array(24)), { message: /16-byte key/ });
});

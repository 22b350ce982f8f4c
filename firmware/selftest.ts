/**
 * dist/selftest.js: the firmware's own crypto path checked on the board against the published known
 * answers and the frame-v1 vectors (../shared/vectors, embedded at build time by host/build/bundle.ts):
 * AES-128 (SP 800-38A F.2.1 CBC, FIPS-197 C.1 block), HMAC-SHA256 (RFC 4231), HKDF (RFC 5869 A.1/A.3),
 * HOTP (RFC 4226 App. D), TOTP (RFC 6238 App. B) and every frames-v1.json frame (keys, seal, open).
 * The native primitives run when the build has require("crypto"), the pure-JS ones always (SHA-1 is
 * always the pure-JS one, as in the firmware). One case per
 * timer tick, so the console stays live and garbage is freed between cases. Prints "PASS name" or
 * "FAIL name: why" per case, then "N passed, M failed".
 */
import { fromHex, toHex, utf8Decode, utf8Encode } from '../core/bytes.js';
import { hmac } from '../core/hmac.js';
import { hkdf } from '../core/hkdf.js';
import { hotp, totp } from '../core/otp.js';
import { deriveKeys, open, seal } from '../core/frame.js';
import { jsSuite, sha1 } from './crypto-js.js';
import { NativeCrypto, nativeSuite } from './crypto-native.js';
import { CorePrimitives } from '../core/primitives.js';
import { espruinoRequire } from './modules.js';

/** Vectors as arrays (host/build/vectors.ts documents the layout). */
declare const __VECTORS__: {
  aes: string[][];
  blk: string[][];
  hmac: string[][];
  hkdf: any[][];
  hotp: any[];
  totp: any[][];
  frames: any[][];
};

const V = __VECTORS__;
const cases: any[] = [];
let passed = 0;
let failed = 0;

/** expect(what, got, want): '' when equal, else the reason. */
function diff(what: string, got: string, want: string): string {
  return got === want ? '' : what + ' ' + got + ' != ' + want;
}

function add(name: string, f: () => string): void {
  cases.push(name, f);
}

/** The cases of one set of primitives, tagged [native] or [js]; HOTP/TOTP-SHA1 always run the pure-JS SHA-1, as the firmware does. */
function suiteCases(tag: string, P: CorePrimitives): void {
  V.aes.forEach(function (v) {
    add('AES-128-CBC ' + v[0] + tag, function () {
      return diff('enc', toHex(P.cbcEncrypt(fromHex(v[1]), fromHex(v[2]), fromHex(v[3]))), v[4]) ||
        diff('dec', toHex(P.cbcDecrypt(fromHex(v[1]), fromHex(v[2]), fromHex(v[4]))), v[3]);
    });
  });
  V.blk.forEach(function (v) {
    add('AES-128 block ' + v[0] + tag, function () {
      return diff('enc', toHex(P.cbcEncrypt(fromHex(v[1]), new Uint8Array(16), fromHex(v[2]))), v[3]);
    });
  });
  V.hmac.forEach(function (v) {
    add('HMAC-SHA256 ' + v[0] + tag, function () {
      return diff('mac', toHex(hmac(P.sha256, 64, fromHex(v[1]), fromHex(v[2]))).substr(0, v[3].length), v[3]);
    });
  });
  V.hkdf.forEach(function (v) {
    add('HKDF-SHA256 ' + v[0] + tag, function () {
      return diff('okm', toHex(hkdf(P.sha256, fromHex(v[1]), fromHex(v[2]), fromHex(v[3]), v[4])), v[5]);
    });
  });
  add('HOTP RFC 4226 App. D' + tag, function () {
    const h = V.hotp;
    let r = '';
    for (let i = 0; i < h[2].length && !r; i++) r = diff('counter ' + i, hotp(sha1, 64, fromHex(h[0]), i, h[1]), h[2][i]);
    return r;
  });
  V.totp.forEach(function (v) {
    add('TOTP RFC 6238 ' + v[0] + ' t=' + v[2] + tag, function () {
      return diff('code', totp(v[0] === 'sha1' ? sha1 : P.sha256, 64, fromHex(v[1]), v[2], v[3], v[4]), v[5]);
    });
  });
  V.frames.forEach(function (v) {
    add('frame v1 ' + v[1] + '/' + v[2] + ' epoch ' + v[4] + ' counter ' + v[5] + tag, function () {
      const k = deriveKeys(P, fromHex(v[0]), v[1], v[3], v[4]);
      const f = seal(P, k, v[1], v[2], v[3], v[4], v[5], utf8Encode(v[6]));
      const o = open(P, k, v[1], v[2], fromHex(v[10]));
      return diff('enc key', toHex(k.enc), v[7]) || diff('mac key', toHex(k.mac), v[8]) || diff('iv key', toHex(k.iv), v[9]) ||
        diff('frame', toHex(f), v[10]) || (o.ok ? diff('plaintext', utf8Decode(o.plaintext as Uint8Array) || '', v[6]) : 'open: ' + o.reason);
    });
  });
}

/** Runs case i, prints its line, schedules the next; prints the totals after the last. */
function run(i: number): void {
  if (i >= cases.length) {
    print(passed + ' passed, ' + failed + ' failed');
    return;
  }
  let why;
  try {
    why = cases[i + 1]();
  } catch (e) {
    why = 'threw ' + e;
  }
  if (why) {
    failed++;
    print('FAIL ' + cases[i] + ': ' + why);
  } else {
    passed++;
    print('PASS ' + cases[i]);
  }
  setTimeout(function () { run(i + 2); }, 1);
}

let mod: NativeCrypto | undefined;
try {
  mod = espruinoRequire('crypto') as NativeCrypto;
} catch (e) {
  mod = undefined;
}
const native = nativeSuite(mod);
print('selftest: sealmq ' + __VERSION__ + ' on ' + __BOARD__.name + ', crypto ' + (native ? 'native + js' : 'js only'));
if (native) suiteCases(' [native]', native);
suiteCases(' [js]', jsSuite);
run(0);

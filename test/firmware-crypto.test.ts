// The firmware's crypto in Node: the pure-JS AES-128/SHA-256/SHA-1 (firmware/crypto-js.ts) against the
// published vectors (../shared/vectors: SP 800-38A F.2.1, FIPS-197 C.1, RFC 4231, RFC 5869, RFC 4226,
// RFC 6238, frames-v1.json) and node:crypto; the native wrapper (firmware/crypto-native.ts) over a module
// that behaves like Espruino's require("crypto"), traps included (DESIGN.md §6).
import test from 'ava';
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { ascii, fromHex, toHex, utf8Decode, utf8Encode } from '../core/bytes.js';
import { hmac } from '../core/hmac.js';
import { hkdf } from '../core/hkdf.js';
import { hotp, totp } from '../core/otp.js';
import { deriveKeys, open, seal } from '../core/frame.js';
import type { CorePrimitives } from '../core/primitives.js';
import { jsSuite, sha1, sha256 } from '../firmware/crypto-js.js';
import { NativeCrypto, nativeSuite } from '../firmware/crypto-native.js';
import { loadVectors } from '../host/protocol/vectors.js';

const ka = loadVectors('known-answers.json');
const fv = loadVectors('frames-v1.json');

/** Espruino's crypto module as libs/crypto/jswrap_crypto.c behaves: ArrayBuffer out; a CBC length that
 * is not a multiple of 16 prints an error and gives undefined; no iv = zero iv. */
function fakeEspruinoCrypto(log: string[]): NativeCrypto {
  const aes = (enc: boolean) => (data: Uint8Array, key: Uint8Array, o: { iv?: Uint8Array; mode?: string }) => {
    log.push(`${enc ? 'encrypt' : 'decrypt'} ${o.mode} ${data.length}`);
    if (data.length % 16) return undefined;
    const c = enc ? createCipheriv('aes-128-cbc', key, o.iv ?? new Uint8Array(16)) : createDecipheriv('aes-128-cbc', key, o.iv ?? new Uint8Array(16));
    c.setAutoPadding(false);
    const out = Buffer.concat([c.update(data), c.final()]);
    return out.buffer.slice(out.byteOffset, out.byteOffset + out.length);
  };
  return {
    SHA256: (d: Uint8Array) => { const h = createHash('sha256').update(d).digest(); return h.buffer.slice(h.byteOffset, h.byteOffset + 32); },
    AES: { encrypt: aes(true), decrypt: aes(false) },
  };
}

const log: string[] = [];
const suites: [string, CorePrimitives][] = [['js', jsSuite], ['native', nativeSuite(fakeEspruinoCrypto(log))!]];

for (const [name, P] of suites) {
  for (const v of ka.aes128_cbc_nopad) {
    test(`[${name}] AES-128-CBC ${v.name}`, (t) => {
      t.is(toHex(P.cbcEncrypt(fromHex(v.key), fromHex(v.iv), fromHex(v.plaintext))), v.ciphertext);
      t.is(toHex(P.cbcDecrypt(fromHex(v.key), fromHex(v.iv), fromHex(v.ciphertext))), v.plaintext);
    });
  }
  for (const v of ka.aes128_block) {
    test(`[${name}] AES-128 block ${v.name}`, (t) => {
      t.is(toHex(P.cbcEncrypt(fromHex(v.key), new Uint8Array(16), fromHex(v.plaintext))), v.ciphertext);
      t.is(toHex(P.cbcDecrypt(fromHex(v.key), new Uint8Array(16), fromHex(v.ciphertext))), v.plaintext);
    });
  }
  for (const v of ka.hmac_sha256) {
    test(`[${name}] HMAC-SHA256 ${v.name} (core hmac on this SHA-256)`, (t) => {
      t.is(toHex(hmac(P.sha256, 64, fromHex(v.key), fromHex(v.message))).slice(0, v.mac.length), v.mac);
    });
  }
  for (const v of ka.hkdf_sha256) {
    test(`[${name}] HKDF-SHA256 ${v.name}`, (t) => {
      t.is(toHex(hkdf(P.sha256, fromHex(v.ikm), fromHex(v.salt), fromHex(v.info), v.length)), v.okm);
    });
  }
  for (const v of fv.frames) {
    test(`[${name}] frame v1 ${v.device}/${v.channel} epoch ${v.epoch} counter ${v.counter}: keys, seal, open`, (t) => {
      const k = deriveKeys(P, fromHex(v.root), v.device, v.direction, v.epoch);
      t.is(toHex(k.enc), v.keys.enc);
      t.is(toHex(k.mac), v.keys.mac);
      t.is(toHex(k.iv), v.keys.iv);
      t.is(toHex(seal(P, k, v.device, v.channel, v.direction, v.epoch, v.counter, utf8Encode(v.plaintext_utf8))), v.frame);
      const r = open(P, k, v.device, v.channel, fromHex(v.frame));
      t.true(r.ok);
      t.is(utf8Decode(r.plaintext!), v.plaintext_utf8);
    });
  }
  test(`[${name}] the suite's HMAC-SHA256 (the last key's pads kept) on RFC 4231, keys changing from call to call and back, keys over 64 bytes`, (t) => {
    // Twice over, so each vector's key comes back after others: a kept pad must never outlive its key.
    for (const v of [...ka.hmac_sha256, ...ka.hmac_sha256]) {
      t.is(toHex(P.hmacSha256!(fromHex(v.key), fromHex(v.message))).slice(0, v.mac.length), v.mac, v.name);
    }
    t.true(ka.hmac_sha256.some((v: { key: string }) => v.key.length > 128), 'a key longer than the block');
  });
  test(`[${name}] the primitive contract: wrong key/IV/data lengths throw, never return junk`, (t) => {
    const k = new Uint8Array(16);
    for (const [key, iv, d] of [[new Uint8Array(15), k, k], [k, new Uint8Array(8), k], [k, k, new Uint8Array(0)], [k, k, new Uint8Array(17)]]) {
      t.throws(() => P.cbcEncrypt(key, iv, d));
      t.throws(() => P.cbcDecrypt(key, iv, d));
    }
  });
}

test('HOTP RFC 4226 App. D with the pure-JS SHA-1 (the firmware\'s only TOTP path)', (t) => {
  const v = ka.hotp_sha1;
  v.codes_by_counter.forEach((code: string, i: number) => t.is(hotp(sha1, 64, ascii(v.secret_ascii), i, v.digits), code));
});

for (const v of ka.totp.filter((x: any) => x.algorithm !== 'sha512')) {
  test(`TOTP RFC 6238 App. B ${v.algorithm} t=${v.unix_time} with the pure-JS hashes`, (t) => {
    t.is(totp(v.algorithm === 'sha1' ? sha1 : sha256, 64, ascii(v.secret_ascii), v.unix_time, v.step_seconds, v.digits), v.code);
  });
}

test('pure-JS SHA-256 and SHA-1 equal node:crypto at every padding boundary and on random input', (t) => {
  for (const n of [0, 1, 55, 56, 57, 63, 64, 65, 119, 120, 128, 1000]) {
    const d = randomBytes(n);
    t.is(toHex(sha256(d)), createHash('sha256').update(d).digest('hex'), `sha256 n=${n}`);
    t.is(toHex(sha1(d)), createHash('sha1').update(d).digest('hex'), `sha1 n=${n}`);
  }
});

test('pure-JS AES-128-CBC equals node:crypto on random keys, IVs and lengths, both ways', (t) => {
  for (let i = 0; i < 50; i++) {
    const k = randomBytes(16);
    const iv = randomBytes(16);
    const d = randomBytes(16 * (1 + (i % 5)));
    const c = createCipheriv('aes-128-cbc', k, iv).setAutoPadding(false);
    const want = Buffer.concat([c.update(d), c.final()]);
    t.is(toHex(jsSuite.cbcEncrypt(k, iv, d)), want.toString('hex'));
    t.is(toHex(jsSuite.cbcDecrypt(k, iv, want)), d.toString('hex'));
  }
});

test('native wrapper: lengths are checked before Espruino is called (no error print), undefined results throw', (t) => {
  const calls: string[] = [];
  const P = nativeSuite(fakeEspruinoCrypto(calls))!;
  t.throws(() => P.cbcEncrypt(new Uint8Array(16), new Uint8Array(16), new Uint8Array(20)));
  t.deepEqual(calls, [], 'a bad length never reaches the native call');
  const broken = nativeSuite({ SHA256: () => new ArrayBuffer(32), AES: { encrypt: () => undefined, decrypt: () => new ArrayBuffer(3) } })!;
  t.throws(() => broken.cbcEncrypt(new Uint8Array(16), new Uint8Array(16), new Uint8Array(16)), { message: 'aes' });
  t.throws(() => broken.cbcDecrypt(new Uint8Array(16), new Uint8Array(16), new Uint8Array(16)), { message: 'aes' });
  P.cbcEncrypt(new Uint8Array(16), new Uint8Array(16), new Uint8Array(32));
  t.deepEqual(calls, ['encrypt CBC 32'], 'CBC mode and an IV are always passed');
});

test('native wrapper: a build without AES or SHA256 gives null (the firmware then runs the pure JS)', (t) => {
  t.is(nativeSuite(undefined), null);
  t.is(nativeSuite({ SHA256: () => new ArrayBuffer(32) }), null);
  t.is(nativeSuite({ AES: { encrypt: () => undefined, decrypt: () => undefined } }), null);
});

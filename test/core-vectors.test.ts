// Published known answers (NIST SP 800-38A, FIPS-197, RFC 4231/4226/6238/5869) and the independent
// frame-v1 vectors, reproduced by the protocol core over node:crypto.
import test from 'ava';
import { fromHex, toHex, ascii, utf8Encode, utf8Decode } from '../core/bytes.js';
import { hmac } from '../core/hmac.js';
import { hkdf } from '../core/hkdf.js';
import { hotp, totp } from '../core/otp.js';
import { deriveKeys, frameIv, open, seal, parseFrame } from '../core/frame.js';
import { nodePrimitives as P, sha1, sha256, sha512 } from '../host/protocol/node-primitives.js';
import { loadVectors } from '../host/protocol/vectors.js';

const ka = loadVectors('known-answers.json');
const fv = loadVectors('frames-v1.json');

for (const v of ka.aes128_cbc_nopad) {
  test(`AES-128-CBC ${v.name}`, (t) => {
    t.is(toHex(P.cbcEncrypt(fromHex(v.key), fromHex(v.iv), fromHex(v.plaintext))), v.ciphertext);
    t.is(toHex(P.cbcDecrypt(fromHex(v.key), fromHex(v.iv), fromHex(v.ciphertext))), v.plaintext);
  });
}
for (const v of ka.aes128_block) {
  test(`AES-128 block ${v.name}`, (t) => {
    t.is(toHex(P.cbcEncrypt(fromHex(v.key), new Uint8Array(16), fromHex(v.plaintext))), v.ciphertext);
  });
}
for (const v of ka.hmac_sha256) {
  test(`HMAC-SHA256 ${v.name} (core hmac on an injected SHA-256)`, (t) => {
    const mac = toHex(hmac(sha256, 64, fromHex(v.key), fromHex(v.message)));
    t.is(mac.slice(0, v.mac.length), v.mac);
  });
}
test('HOTP RFC 4226 App. D', (t) => {
  const v = ka.hotp_sha1;
  v.codes_by_counter.forEach((code: string, i: number) => t.is(hotp(sha1, 64, ascii(v.secret_ascii), i, v.digits), code));
});
for (const v of ka.totp) {
  test(`TOTP RFC 6238 App. B ${v.algorithm} t=${v.unix_time}`, (t) => {
    const [h, bs] = v.algorithm === 'sha1' ? [sha1, 64] : v.algorithm === 'sha256' ? [sha256, 64] : [sha512, 128];
    t.is(totp(h as any, bs as number, ascii(v.secret_ascii), v.unix_time, v.step_seconds, v.digits), v.code);
  });
}
for (const v of ka.hkdf_sha256) {
  test(`HKDF-SHA256 ${v.name}`, (t) => {
    t.is(toHex(hkdf(sha256, fromHex(v.ikm), fromHex(v.salt), fromHex(v.info), v.length)), v.okm);
    t.is(toHex(hkdf(sha256, fromHex(v.ikm), fromHex(v.salt), fromHex(v.info), v.length, P.hmacSha256)), v.okm);
  });
}

for (const v of fv.frames) {
  const name = `frame v1 ${v.device}/${v.channel} epoch ${v.epoch} counter ${v.counter}`;
  test(`${name}: keys, IV, seal and open`, (t) => {
    const keys = deriveKeys(P, fromHex(v.root), v.device, v.direction, v.epoch);
    t.is(toHex(keys.enc), v.keys.enc);
    t.is(toHex(keys.mac), v.keys.mac);
    t.is(toHex(keys.iv), v.keys.iv);
    const frame = seal(P, keys, v.device, v.channel, v.direction, v.epoch, v.counter, utf8Encode(v.plaintext_utf8));
    t.is(toHex(frame), v.frame);
    const f = parseFrame(frame);
    if (typeof f === 'string') return t.fail(f);
    t.is(toHex(frameIv(P, keys.iv, f.header)), v.iv);
    t.is(toHex(f.ciphertext), v.ciphertext);
    t.is(toHex(f.tag), v.tag);
    const r = open(P, keys, v.device, v.channel, fromHex(v.frame));
    t.true(r.ok);
    t.is(utf8Decode(r.plaintext!), v.plaintext_utf8);
    t.is(r.counter, v.counter);
    t.is(r.epoch, v.epoch);
    t.is(r.direction, v.direction);
  });
  test(`${name}: the same keys built on the core HMAC (as on the board)`, (t) => {
    const slow = { sha256, cbcEncrypt: P.cbcEncrypt, cbcDecrypt: P.cbcDecrypt };
    const keys = deriveKeys(slow, fromHex(v.root), v.device, v.direction, v.epoch);
    t.is(toHex(seal(slow, keys, v.device, v.channel, v.direction, v.epoch, v.counter, utf8Encode(v.plaintext_utf8))), v.frame);
  });
}

// The known answers dist/selftest.js embeds (firmware/selftest.ts __VECTORS__), as compact arrays taken
// from ../shared/vectors at build time. Layout, per list:
//   aes:    [name, key, iv, plaintext, ciphertext]            SP 800-38A F.2.1 (CBC, no padding)
//   blk:    [name, key, plaintext, ciphertext]                FIPS-197 C.1 (one block)
//   hmac:   [name, key, message, mac (maybe truncated)]       RFC 4231
//   hkdf:   [name, ikm, salt, info, length, okm]              RFC 5869 A.1, A.3
//   hotp:   [secret, digits, [codes by counter]]              RFC 4226 App. D
//   totp:   [algorithm, secret, unix time, step, digits, code] RFC 6238 App. B (SHA-1 and SHA-256 rows)
//   frames: [root, device, channel, direction, epoch, counter, plaintext, enc key, mac key, iv key, frame]
// Secrets given as ASCII in the vector files are turned into hex.
import { loadVectors } from '../protocol/vectors.js';

export interface SelftestVectors {
  aes: string[][];
  blk: string[][];
  hmac: string[][];
  hkdf: (string | number)[][];
  hotp: [string, number, string[]];
  totp: (string | number)[][];
  frames: (string | number)[][];
}

const hexOfAscii = (s: string) => Buffer.from(s, 'ascii').toString('hex');

export function selftestVectors(): SelftestVectors {
  const ka = loadVectors('known-answers.json');
  const fv = loadVectors('frames-v1.json');
  return {
    aes: ka.aes128_cbc_nopad.map((v: any) => [v.name, v.key, v.iv, v.plaintext, v.ciphertext]),
    blk: ka.aes128_block.map((v: any) => [v.name, v.key, v.plaintext, v.ciphertext]),
    hmac: ka.hmac_sha256.map((v: any) => [v.name, v.key, v.message, v.mac]),
    hkdf: ka.hkdf_sha256.map((v: any) => [v.name, v.ikm, v.salt, v.info, v.length, v.okm]),
    hotp: [hexOfAscii(ka.hotp_sha1.secret_ascii), ka.hotp_sha1.digits, ka.hotp_sha1.codes_by_counter],
    totp: ka.totp.filter((v: any) => v.algorithm === 'sha1' || v.algorithm === 'sha256')
      .map((v: any) => [v.algorithm, hexOfAscii(v.secret_ascii), v.unix_time, v.step_seconds, v.digits, v.code]),
    frames: fv.frames.map((v: any) => [v.root, v.device, v.channel, v.direction, v.epoch, v.counter, v.plaintext_utf8, v.keys.enc, v.keys.mac, v.keys.iv, v.frame]),
  };
}

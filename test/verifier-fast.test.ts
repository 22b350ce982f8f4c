// The verifier's fast path keeps the meaning of the slow one: key-schedule-caching AES equals one-shot
// node:crypto (SP 800-38A vectors, random inputs, keys overwritten in place), the native strict UTF-8
// decoder agrees with core utf8Decode, and the topic check agrees with the split-on-'/' rule.
import test from 'ava';
import { createCipheriv, createDecipheriv, createHash, createHmac, randomBytes } from 'node:crypto';
import { fromHex, toHex, utf8Decode, utf8Encode } from '../core/bytes.js';
import { deriveKeys, encodeHeader, frameIv, MAX_COUNTER, open, seal } from '../core/frame.js';
import { isDeviceId } from '../core/ids.js';
import { cachingNodePrimitives, nodePrimitives as P } from '../host/protocol/node-primitives.js';
import { loadVectors } from '../host/protocol/vectors.js';
import { cachingHmacSha256 } from '../host/verifier/hmac-sha256.js';
import { sha256 } from '../host/protocol/sha256.js';
import { ivAhead } from '../host/verifier/iv-ahead.js';
import { DeviceRecord, MemoryReplayStore, strictUtf8, Verifier, verifierPrimitives } from '../host/verifier/verifier.js';
import { Prng } from '../host/fuzz/prng.js';

const ka = loadVectors('known-answers.json');
const fv = loadVectors('frames-v1.json');

function oneShot(decrypt: boolean, key: Uint8Array, iv: Uint8Array, d: Uint8Array): string {
  const c = decrypt ? createDecipheriv('aes-128-cbc', key, iv) : createCipheriv('aes-128-cbc', key, iv);
  c.setAutoPadding(false);
  return Buffer.concat([c.update(d), c.final()]).toString('hex');
}

test('caching AES-128-CBC: SP 800-38A F.2.1/F.2.2 and FIPS-197 blocks, repeated on one key object', (t) => {
  const C = cachingNodePrimitives();
  for (const v of ka.aes128_cbc_nopad) {
    const key = fromHex(v.key);
    for (let i = 0; i < 3; i++) {
      t.is(toHex(C.cbcEncrypt(key, fromHex(v.iv), fromHex(v.plaintext))), v.ciphertext, v.name);
      t.is(toHex(C.cbcDecrypt(key, fromHex(v.iv), fromHex(v.ciphertext))), v.plaintext, v.name);
    }
  }
  for (const v of ka.aes128_block) t.is(toHex(C.cbcEncrypt(fromHex(v.key), new Uint8Array(16), fromHex(v.plaintext))), v.ciphertext, v.name);
});

test('caching AES-128-CBC equals one-shot node:crypto on random keys, IVs and 1..8 blocks, interleaved', (t) => {
  const C = cachingNodePrimitives();
  const keys = Array.from({ length: 5 }, () => new Uint8Array(randomBytes(16)));
  for (let i = 0; i < 400; i++) {
    const key = keys[i % keys.length];
    const iv = randomBytes(16);
    const d = randomBytes(16 * (1 + (i % 8)));
    const ct = oneShot(false, key, iv, d);
    t.is(toHex(C.cbcEncrypt(key, iv, d)), ct);
    t.is(toHex(C.cbcDecrypt(key, iv, Buffer.from(ct, 'hex'))), d.toString('hex'));
    t.is(toHex(C.cbcDecrypt(key, iv, d)), oneShot(true, key, iv, d), 'decrypting junk is still exactly CBC');
  }
});

test('caching AES: a key overwritten in place gets a new schedule, never the old one', (t) => {
  const C = cachingNodePrimitives();
  const key = new Uint8Array(randomBytes(16));
  const iv = randomBytes(16);
  const d = randomBytes(48);
  t.is(toHex(C.cbcEncrypt(key, iv, d)), oneShot(false, key, iv, d));
  key.set(randomBytes(16));
  t.is(toHex(C.cbcEncrypt(key, iv, d)), oneShot(false, key, iv, d));
  t.is(toHex(C.cbcDecrypt(key, iv, d)), oneShot(true, key, iv, d));
  key.fill(0);
  t.is(toHex(C.cbcDecrypt(key, iv, d)), oneShot(true, key, iv, d));
});

test('caching AES keeps the primitive contract: wrong key/IV/data lengths throw', (t) => {
  const C = cachingNodePrimitives();
  const k = new Uint8Array(16);
  for (const [key, iv, d] of [[new Uint8Array(15), k, k], [k, new Uint8Array(8), k], [k, k, new Uint8Array(0)], [k, k, new Uint8Array(17)]]) {
    t.throws(() => C.cbcEncrypt(key, iv, d));
    t.throws(() => C.cbcDecrypt(key, iv, d));
  }
  t.is(toHex(C.cbcEncrypt(k, k, k)), oneShot(false, k, k, k), 'still usable after the refusals');
});

for (const v of fv.frames) {
  test(`frame v1 ${v.device}/${v.channel} e${v.epoch} c${v.counter} with the caching primitives: IV, seal, open`, (t) => {
    const C = cachingNodePrimitives();
    const keys = deriveKeys(C, fromHex(v.root), v.device, v.direction, v.epoch);
    t.is(toHex(keys.mac), v.keys.mac);
    for (let i = 0; i < 2; i++) {
      const frame = seal(C, keys, v.device, v.channel, v.direction, v.epoch, v.counter, utf8Encode(v.plaintext_utf8));
      t.is(toHex(frame), v.frame);
      t.is(toHex(frameIv(C, keys.iv, frame.subarray(0, 7))), v.iv);
      const r = open(C, keys, v.device, v.channel, frame);
      t.true(r.ok);
      t.is(utf8Decode(r.plaintext!), v.plaintext_utf8);
    }
  });
}

// RFC 4231 §4.2, §4.3, §4.7 (a 131-byte key, hashed first) and §4.8.
const RFC4231 = [
  { key: '0b'.repeat(20), data: '4869205468657265', mac: 'b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7' },
  { key: '4a656665', data: '7768617420646f2079612077616e7420666f72206e6f7468696e673f', mac: '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843' },
  { key: 'aa'.repeat(131), data: toHex(utf8Encode('Test Using Larger Than Block-Size Key - Hash Key First')), mac: '60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54' },
  { key: 'aa'.repeat(131), data: toHex(utf8Encode('This is a test using a larger than block-size key and a larger than block-size data. The key needs to be hashed before being used by the HMAC algorithm.')), mac: '9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2' },
];

// FIPS 180-4 / NIST CSHA examples (also in RFC 6234 §8.5).
const SHA256_KAT = [
  { m: '', d: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855' },
  { m: 'abc', d: 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad' },
  { m: 'abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq', d: '248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1' },
];

test('SHA-256 in JavaScript: FIPS 180-4 examples, and node:crypto on 0..600 bytes (every block boundary, views too)', (t) => {
  for (const v of SHA256_KAT) t.is(toHex(sha256(utf8Encode(v.m))), v.d, JSON.stringify(v.m));
  let bad = 0;
  for (let n = 0; n <= 600; n++) {
    const m = new Uint8Array(randomBytes(n));
    const want = createHash('sha256').update(m).digest('hex');
    if (toHex(sha256(m)) !== want) bad++;
    const big = new Uint8Array(n + 40);
    big.set(m, 9);
    if (toHex(sha256(big.subarray(9, 9 + n))) !== want) bad++;
  }
  t.is(bad, 0);
});

test('caching ECB (the IVs ahead use it) equals one-shot AES-128-ECB on 1..32 blocks; bad lengths throw', (t) => {
  const C = cachingNodePrimitives();
  const key = new Uint8Array(randomBytes(16));
  for (let b = 1; b <= 32; b++) {
    const d = randomBytes(16 * b);
    const c = createCipheriv('aes-128-ecb', key, null);
    c.setAutoPadding(false);
    t.is(toHex(C.ecbEncrypt(key, d)), Buffer.concat([c.update(d), c.final()]).toString('hex'));
  }
  t.throws(() => C.ecbEncrypt(key, new Uint8Array(15)));
  t.throws(() => C.ecbEncrypt(key, new Uint8Array(0)));
  t.throws(() => C.ecbEncrypt(new Uint8Array(15), new Uint8Array(16)));
});

test('IVs ahead: every frame IV equals AES(K_iv, header block) — counters in order, gaps, going back, epochs, directions, 2^32−1, keys changed in place', (t) => {
  const base = cachingNodePrimitives();
  const A = ivAhead(cachingNodePrimitives());
  const keys = Array.from({ length: 3 }, () => new Uint8Array(randomBytes(16)));
  const rng = new Prng(7);
  let counter = 1;
  let checked = 0;
  for (let i = 0; i < 3000; i++) {
    const key = keys[rng.below(keys.length)];
    const step = rng.below(10);
    // Mostly the next counter (what a device sends), sometimes a gap, a step back or a far jump.
    counter = step < 7 ? counter + 1 : step === 7 ? counter + 1 + rng.below(40) : step === 8 ? Math.max(1, counter - rng.below(20)) : 1 + rng.below(MAX_COUNTER);
    if (i % 500 === 0) counter = MAX_COUNTER - rng.below(20);
    if (counter > MAX_COUNTER) counter = 1;
    const header = encodeHeader(rng.below(2) ? 'up' : 'down', rng.below(3), counter);
    t.is(toHex(frameIv(A, key, header)), toHex(frameIv(base, key, header)));
    checked++;
    if (i % 700 === 0) key.set(randomBytes(16));
  }
  t.is(checked, 3000);
  // The IV handed out is the caller's to change: the next ask still gets the right one.
  const key = keys[0];
  const h = encodeHeader('up', 0, 41);
  frameIv(A, key, h).fill(0);
  t.is(toHex(frameIv(A, key, h)), toHex(frameIv(base, key, h)));
});

test('IVs ahead: any other encryption goes to the primitives as it is (non-zero IV, longer data, a block not shaped as a header)', (t) => {
  const base = cachingNodePrimitives();
  const A = ivAhead(cachingNodePrimitives());
  const key = new Uint8Array(randomBytes(16));
  for (let i = 0; i < 200; i++) {
    const iv = i % 2 ? new Uint8Array(randomBytes(16)) : new Uint8Array(16);
    const header = encodeHeader('up', 0, 1 + i);
    const block = new Uint8Array(16);
    block.set(header);
    if (i % 4 < 2) block[7 + (i % 9)] = 1 + (i % 250);
    const d = i % 3 === 0 ? new Uint8Array(randomBytes(16 * (1 + (i % 5)))) : block;
    t.is(toHex(A.cbcEncrypt(key, iv, d)), toHex(base.cbcEncrypt(key, iv, d)));
  }
  t.throws(() => A.cbcEncrypt(key, new Uint8Array(16), new Uint8Array(15)));
});

test('midstate HMAC-SHA256: RFC 4231 vectors, repeated on one key object', (t) => {
  const h = cachingHmacSha256();
  for (const v of RFC4231) {
    const key = fromHex(v.key);
    for (let i = 0; i < 3; i++) t.is(toHex(h(key, fromHex(v.data))), v.mac);
  }
});

test('midstate HMAC-SHA256 equals node:crypto on random keys (0..200 bytes) and messages (0..600 bytes, every block boundary)', (t) => {
  const h = cachingHmacSha256();
  const keys = Array.from({ length: 7 }, (_, i) => new Uint8Array(randomBytes([0, 1, 16, 32, 63, 64, 65, 200][i] ?? 32)));
  let bad = 0;
  for (let n = 0; n <= 600; n++) {
    const key = keys[n % keys.length];
    const m = new Uint8Array(randomBytes(n));
    const want = createHmac('sha256', key).update(m).digest('hex');
    if (toHex(h(key, m)) !== want) bad++;
    // A view into a bigger buffer (as MQTT hands frames) hashes only its own bytes.
    const big = new Uint8Array(n + 40);
    big.set(m, 17);
    if (toHex(h(key, big.subarray(17, 17 + n))) !== want) bad++;
  }
  t.is(bad, 0);
});

test('midstate HMAC-SHA256: a key overwritten in place gets new midstates, never the old ones', (t) => {
  const h = cachingHmacSha256();
  const key = new Uint8Array(randomBytes(32));
  const m = new Uint8Array(randomBytes(85));
  for (let i = 0; i < 50; i++) {
    t.is(toHex(h(key, m)), createHmac('sha256', key).update(m).digest('hex'));
    key[i % 32] ^= 1 << (i % 8);
  }
  const out = h(key, m);
  out.fill(0);
  t.is(toHex(h(key, m)), createHmac('sha256', key).update(m).digest('hex'), 'the caller may keep or change what it got');
});

test('the verifier primitives: known-answer HMACs, and every frame-v1 vector (keys, seal, open)', (t) => {
  const V = verifierPrimitives();
  for (const v of ka.hmac_sha256) t.is(toHex(V.hmacSha256!(fromHex(v.key), fromHex(v.message))).slice(0, v.mac.length), v.mac, v.name); // TC5 is truncated
  for (const v of fv.frames) {
    const keys = deriveKeys(V, fromHex(v.root), v.device, v.direction, v.epoch);
    t.deepEqual({ enc: toHex(keys.enc), mac: toHex(keys.mac), iv: toHex(keys.iv) }, v.keys);
    const frame = seal(V, keys, v.device, v.channel, v.direction, v.epoch, v.counter, utf8Encode(v.plaintext_utf8));
    t.is(toHex(frame), v.frame);
    const r = open(V, keys, v.device, v.channel, frame);
    t.true(r.ok);
    t.is(utf8Decode(r.plaintext!), v.plaintext_utf8);
  }
});

test('strictUtf8 (TextDecoder, fatal) agrees with core utf8Decode on edge cases and random bytes', (t) => {
  const cases = ['', '00', '7f', 'c280', 'c0af', 'c1bf', 'e08080', 'e0a080', 'eda080', 'edbfbf', 'ee8080', 'f0908080', 'f08f8080',
    'f48fbfbf', 'f4908080', 'f5808080', 'ff', 'c2', 'e282', 'f09f98', 'efbbbf7b7d', '80', 'c2c2', '7b2274223a317d'];
  for (const h of cases) t.is(strictUtf8(fromHex(h)), utf8Decode(fromHex(h)), h);
  const rng = new Prng(2024);
  for (let i = 0; i < 20000; i++) {
    const b = rng.bytes(rng.int(0, 12));
    // Bias towards the interesting region: lead bytes and continuation bytes.
    for (let k = 0; k < b.length; k++) if (rng.chance(0.6)) b[k] = 0x80 | (b[k] & 0x7f);
    t.is(strictUtf8(b), utf8Decode(b), toHex(b));
  }
  t.is(strictUtf8(utf8Encode('\ufeff{"t":1} ✓ 😀')), '\ufeff{"t":1} ✓ 😀', 'a BOM is kept, as the core keeps it');
});

test('the topic check equals "three levels: prefix / valid id / up", for any prefix', (t) => {
  const ROOT = fromHex('33'.repeat(32));
  const splitRule = (prefix: string, topic: string) => {
    const p = topic.split('/');
    return p.length === 3 && p[0] === prefix && isDeviceId(p[1]) && p[2] === 'up';
  };
  const topics = (prefix: string) => [`${prefix}/node-a/up`, `${prefix}/node-a/down`, `${prefix}/node-a/up/x`, `${prefix}/node-a`,
    `${prefix}//up`, `${prefix}/+/up`, `${prefix}/#`, `x${prefix}/node-a/up`, `${prefix}x/node-a/up`, `${prefix}/NODE-A/up`, `${prefix}/node-a/UP`,
    `/${prefix}/node-a/up`, `${prefix}/a/b/up`, `${prefix}/node-a/upup`, `${prefix}/node-a\u0000/up`, `${prefix}/${'a'.repeat(33)}/up`, '', '/', '//up', '/node-a/up', 'node-a/up'];
  for (const prefix of ['sealmq', 'x', '', 'a/b', 'plant+1']) {
    const dev: DeviceRecord = { id: 'node-a', status: 'active', epoch: 0, root: ROOT };
    const v = new Verifier({ prefix, devices: { device: (id) => (id === 'node-a' ? dev : null) }, replay: new MemoryReplayStore() });
    const k = deriveKeys(P, ROOT, 'node-a', 'up', 0);
    let counter = 1;
    for (const topic of topics(prefix)) {
      const r = v.handle(topic, seal(P, k, 'node-a', 'up', 'up', 0, counter++, utf8Encode('{"d":{}}')));
      const want = splitRule(prefix, topic);
      t.is(r.ok || r.reason !== 'bad-topic', want, `prefix ${JSON.stringify(prefix)} topic ${JSON.stringify(topic)}`);
      if (want) t.true(r.ok, topic);
    }
  }
});

test('a device root changed in place (same array) gets new keys: old-root frames rejected, new-root frames accepted', (t) => {
  const root = new Uint8Array(randomBytes(32));
  const first = new Uint8Array(root);
  const dev: DeviceRecord = { id: 'node-a', status: 'active', epoch: 0, root };
  const v = new Verifier({ devices: { device: () => dev }, replay: new MemoryReplayStore() });
  const f = (r: Uint8Array, n: number) => seal(P, deriveKeys(P, r, 'node-a', 'up', 0), 'node-a', 'up', 'up', 0, n, utf8Encode('{"d":{}}'));
  t.true(v.handle('sealmq/node-a/up', f(first, 1)).ok);
  root.set(randomBytes(32));
  t.is((v.handle('sealmq/node-a/up', f(first, 2)) as any).reason, 'bad-tag');
  t.true(v.handle('sealmq/node-a/up', f(root, 3)).ok);
});

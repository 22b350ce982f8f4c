/**
 * The crypto bench bundle (built by host/bench/crypto.ts, never part of dist/firmware.js): the firmware's
 * own native and pure-JS suites and the protocol core, timed on the board with the board's clock
 * (getTime(), seconds as a float). Per op: one warm-up call; the variables it holds (process.memory(true)
 * usage, i.e. after a garbage collection, before the call; process.memory(false) usage, no collection,
 * right after it with the result still referenced: the difference); then one call timed to size a batch
 * of `inner` calls lasting about __BENCH__.batchMs; then `reps` batches, each giving ms per call. Prints
 * one "BENCH {json}" line per op (median, min, max), one op per timer tick, then "BENCH-END". On a QEMU
 * Cortex-M board under -icount each timed stretch starts clear of the SysTick interrupt (systick.ts).
 */
import { fromHex } from '../../core/bytes.js';
import { deriveKeys, open, seal } from '../../core/frame.js';
import { totp } from '../../core/otp.js';
import { CorePrimitives } from '../../core/primitives.js';
import { jsSuite, sha1 } from '../crypto-js.js';
import { NativeCrypto, nativeSuite } from '../crypto-native.js';
import { espruinoRequire } from '../modules.js';
import { SYSTICK, sysTickAlign } from './systick.js';

declare const __BENCH__: { sizes: number[]; reps: number; batchMs: number };

const B = __BENCH__;
const tasks: any[] = [];
const ROOT = fromHex('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f');
const OTP = fromHex('3132333435363738393031323334353637383930');
const K16 = fromHex('2b7e151628aed2a6abf7158809cf4f3c');
const IV = fromHex('000102030405060708090a0b0c0d0e0f');

/** Deterministic bytes of length n. */
const bytes = (n: number) => {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + 7) & 255;
  return b;
};

const add = (op: string, impl: string, size: number | null, f: () => any) => tasks.push([op, impl, size, f]);

/** The ops of one suite. */
const suiteTasks = (impl: string, P: CorePrimitives) => {
  const keys = deriveKeys(P, ROOT, 'bench-01', 'up', 0);
  let n = 1;
  B.sizes.forEach((s) => {
    const blocks = bytes(((s + 15) >> 4) << 4);
    const ct = P.cbcEncrypt(K16, IV, blocks);
    const pt = bytes(s);
    const frame = seal(P, keys, 'bench-01', 'up', 'up', 0, 1, pt);
    add('aes128-cbc-encrypt', impl, s, () => P.cbcEncrypt(K16, IV, blocks));
    add('aes128-cbc-decrypt', impl, s, () => P.cbcDecrypt(K16, IV, ct));
    add('sha256', impl, s, () => P.sha256(pt));
    add('hmac-sha256', impl, s, () => (P.hmacSha256 as any)(ROOT, pt));
    add('seal', impl, s, () => seal(P, keys, 'bench-01', 'up', 'up', 0, ++n, pt));
    add('open', impl, s, () => {
      const o = open(P, keys, 'bench-01', 'up', frame);
      if (!o.ok) throw new Error('open ' + o.reason);
      return o;
    });
  });
  add('hkdf-derive-keys', impl, null, () => deriveKeys(P, ROOT, 'bench-01', 'up', 0));
};

const median = (xs: number[]) => {
  const m = xs.length >> 1;
  return xs.length & 1 ? xs[m] : (xs[m - 1] + xs[m]) / 2;
};

const ms = (t0: number) => (getTime() - t0) * 1000;

/** Measures one op and prints its line. */
const measure = (op: string, impl: string, size: number | null, f: () => any) => {
  f();
  const u0 = process.memory(true).usage;
  let r = f();
  const vars = process.memory(false).usage - u0;
  r = undefined;
  // Under QEMU -icount: no SysTick interrupt inside a timed stretch (systick.ts).
  if (SYSTICK) sysTickAlign(B.batchMs);
  let t0 = getTime();
  f();
  const once = ms(t0);
  const inner = once > 0 ? Math.max(1, Math.min(1000, Math.floor(B.batchMs / once))) : 1000;
  const xs: number[] = [];
  // A garbage collection right before the timed batches: it also rebuilds the free list in address order,
  // so what allocation finds does not depend on whether the board collected while idle between ops (which
  // follows the host's clock, even under QEMU -icount).
  process.memory(true);
  if (E.defrag) E.defrag();
  for (let i = 0; i < B.reps; i++) {
    if (SYSTICK) sysTickAlign(once * inner);
    t0 = getTime();
    for (let j = 0; j < inner; j++) f();
    xs.push(ms(t0) / inner);
  }
  xs.sort((a, b) => a - b);
  print('BENCH ' + JSON.stringify({ op: op, impl: impl, size: size, medianMs: median(xs), minMs: xs[0], maxMs: xs[xs.length - 1], reps: xs.length, inner: inner, vars: vars }));
};

const run = (i: number) => {
  if (i >= tasks.length) return print('BENCH-END');
  const t = tasks[i];
  try {
    measure(t[0], t[1], t[2], t[3]);
  } catch (e) {
    print('BENCH ' + JSON.stringify({ op: t[0], impl: t[1], size: t[2], error: '' + e }));
  }
  setTimeout(() => run(i + 1), 1);
};

let mod: NativeCrypto | undefined;
try {
  mod = espruinoRequire('crypto') as NativeCrypto;
} catch (e) {
  mod = undefined;
}
const native = nativeSuite(mod);
if (native) suiteTasks('native', native);
else print('BENCH ' + JSON.stringify({ op: 'aes128-cbc-encrypt', impl: 'native', size: null, error: 'this build has no require("crypto") AES/SHA256' }));
suiteTasks('js', jsSuite);
add('totp', 'js', null, () => totp(sha1, 64, OTP, 1700000000, 30, 8));
print('BENCH-START ' + tasks.length);
run(0);

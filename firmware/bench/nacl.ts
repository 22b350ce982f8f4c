/**
 * The tweetnacl part of the crypto bench (a bundle of its own: tweetnacl is ~30 KB and may not load on a
 * board): X25519 (scalarMult), Ed25519 key from seed, sign and verify, ONCE each (they take seconds on an
 * interpreter), timed with getTime(); only those in __NACL_OPS__ (the host adds what a selected op needs:
 * host/bench/crypto.ts naclOpsToRun). Prints "BENCH {json}" per op, then "BENCH-END". Built with
 * host/bench/crypto.ts's tweetnaclForEspruino transform (no PRNG lookup: these ops need none).
 */
// The package's main file, named: esbuild's neutral platform reads no "main" field.
import nacl from 'tweetnacl/nacl-fast.js';
import { SYSTICK, sysTickAlign } from './systick.js';

const seed = new Uint8Array(32);
for (let i = 0; i < 32; i++) seed[i] = i + 1;
const msg = new Uint8Array(64);
const once = (op: string, f: () => any) => {
  const u0 = process.memory(true).usage;
  // Seconds on an interpreter: many SysTick periods, so always start just after a reload (systick.ts).
  if (SYSTICK) sysTickAlign(1e9);
  const t0 = getTime();
  let r;
  let err = '';
  try {
    r = f();
  } catch (e) {
    err = '' + e;
  }
  const t = (getTime() - t0) * 1000;
  const vars = process.memory(false).usage - u0;
  print('BENCH ' + JSON.stringify(err ? { op: op, impl: 'tweetnacl', size: null, error: err } : { op: op, impl: 'tweetnacl', size: null, medianMs: t, minMs: t, maxMs: t, reps: 1, inner: 1, vars: vars }));
  return r;
};
// One op per timer tick, so the console stays live between them (each can take seconds on an interpreter).
let pub: Uint8Array;
let kp: { publicKey: Uint8Array; secretKey: Uint8Array };
let sig: Uint8Array;
declare const __NACL_OPS__: string[];
const run = (op: string) => __NACL_OPS__.indexOf(op) >= 0;
const steps: (() => void)[] = [];
if (run('x25519')) steps.push(() => { pub = once('x25519', () => nacl.scalarMult.base(seed)); });
if (run('x25519-shared')) steps.push(() => { once('x25519-shared', () => nacl.scalarMult(seed, pub)); });
if (run('ed25519-keypair')) steps.push(() => { kp = once('ed25519-keypair', () => nacl.sign.keyPair.fromSeed(seed)); });
if (run('ed25519-sign')) steps.push(() => { sig = once('ed25519-sign', () => nacl.sign.detached(msg, kp.secretKey)); });
if (run('ed25519-verify')) {
  steps.push(() => {
    once('ed25519-verify', () => {
      if (!nacl.sign.detached.verify(msg, sig, kp.publicKey)) throw new Error('signature did not verify');
      return true;
    });
  });
}
let step = 0;
const next = () => {
  if (step < steps.length) {
    steps[step++]();
    setTimeout(next, 10);
  } else print('BENCH-END');
};
setTimeout(next, 10);

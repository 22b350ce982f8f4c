// sealmq's Mosquitto auth plugin (mosquitto-plugin/sealmq_totp_auth.c) in a REAL Mosquitto (the OS
// package) on a free loopback port, with the files of `sealmq broker --emit-mosquitto`: device logins are
// TOTP checked as the embedded broker checks them (each step once, never an older one, across restarts),
// the devices file is re-read without a restart, operators go through the password file, and nobody takes
// a device's client id. The refusal reasons are read from Mosquitto's log (the plugin logs them at notice).
import test, { ExecutionContext } from 'ava';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { connect as connectTcp } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { MqttClient } from 'mqtt';
import { hotp } from '../core/otp.js';
import { emitMosquitto, EmitResult } from '../host/broker/mosquitto.js';
import { buildPlugin } from '../host/broker/mosquitto-plugin.js';
import { freePort, haveMosquitto, RunningMosquitto, startMosquitto } from '../host/pipeline/mosquitto.js';
import { sha1 } from '../host/protocol/node-primitives.js';
import { openRegistry, Registry } from '../host/registry/registry.js';

const PASS = 'mosquitto plugin test passphrase';
const A = 'node-01';
const B = 'node-02';
const C = 'node-03';
const HAVE = haveMosquitto() && spawnSync('mosquitto_passwd', []).error === undefined;
const mtest = HAVE ? test.serial : test.skip;

function tmp(t: ExecutionContext, prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  t.teardown(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

const nowStep = () => Math.floor(Date.now() / 30_000);
const code = (seed: Uint8Array, step: number) => hotp(sha1, 64, seed, step, 8);

interface Setup {
  reg: Registry;
  seeds: Map<string, Uint8Array>;
  r: EmitResult;
  port: number;
  dir: string;
  log: string[];
  start(): Promise<RunningMosquitto>;
  login(o: { username?: string; password?: string; clientId?: string }): Promise<MqttClient | string>;
  /** The plugin's refusal reasons for a user since log index `from`. */
  reasons(user: string, from: number): string[];
}

async function setup(t: ExecutionContext): Promise<Setup> {
  const home = tmp(t, 'sealmq-mqp-');
  const reg = openRegistry({ home });
  t.teardown(() => reg.close());
  await reg.unlock(PASS);
  const seeds = new Map<string, Uint8Array>();
  for (const id of [A, B, C]) {
    const seed = new Uint8Array(randomBytes(20));
    seeds.set(id, seed);
    reg.recordProvisioned({ id, root: new Uint8Array(randomBytes(32)), otpSeed: seed.slice(), actor: 'test' });
  }
  // 'vera' is shaped like a device id too: the plugin must defer it to the password file, not refuse it.
  await reg.addOperator({ name: 'vera', role: 'viewer', password: 'viewer password, long enough', actor: 'test' });
  await reg.addOperator({ name: 'adam', role: 'admin', password: 'admin password, long enough', actor: 'test' });
  const port = await freePort();
  const dir = join(home, 'mq');
  const r = await emitMosquitto({ registry: reg, dir, host: '127.0.0.1', port, prefix: 'sealmq', actor: 'test' });
  const log: string[] = [];
  const running: RunningMosquitto[] = [];
  t.teardown(async () => { for (const m of running) await m.close(); });
  const clients: MqttClient[] = [];
  t.teardown(() => { for (const c of clients) c.end(true); });
  return {
    reg, seeds, r, port, dir, log,
    async start() {
      const m = await startMosquitto({ conf: r.files.conf, port, onLog: (l) => log.push(l) });
      running.push(m);
      return m;
    },
    login(o) {
      return mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { reconnectPeriod: 0, connectTimeout: 5000, protocolVersion: 4, clean: true, ...o })
        .then((c) => { clients.push(c); return c; }, (e: Error) => e.message);
    },
    reasons(user, from) {
      const re = new RegExp(`sealmq_totp_auth: refused ${user} from \\S+: (\\S+)`);
      return log.slice(from).map((l) => re.exec(l)?.[1]).filter((x): x is string => !!x);
    },
  };
}

/** Logs in and expects a refusal for `why` (the plugin's reason in Mosquitto's log). */
async function refused(t: ExecutionContext, s: Setup, o: { username?: string; password?: string; clientId?: string }, why: string | null, what: string): Promise<void> {
  const from = s.log.length;
  const c = await s.login(o);
  t.is(typeof c, 'string', `${what}: must be refused`);
  if (typeof c !== 'string') c.end(true);
  if (why !== null) {
    for (let i = 0; i < 40 && s.reasons(o.username ?? '', from).length === 0; i++) await new Promise((r) => setTimeout(r, 25));
    t.deepEqual(s.reasons(o.username ?? '', from), [why], `${what}: refused as ${why}`);
  }
}

/** A login from another loopback address (127.0.0.2): a stranger elsewhere on the network. */
function loginFrom(port: number, localAddress: string, o: { username: string; password: string }): Promise<string | null> {
  return new Promise((resolve) => {
    const c = new mqtt.MqttClient(() => connectTcp({ host: '127.0.0.1', port, localAddress }),
      { reconnectPeriod: 0, connectTimeout: 5000, protocolVersion: 4, clean: true, ...o, clientId: o.username });
    c.once('connect', () => { c.end(true); resolve(null); });
    c.once('error', (e) => { c.end(true); resolve(e.message); });
  });
}

mtest('failed logins are limited per device id and address: a stranger past the limit is refused, the device at its own address is not', async (t) => {
  t.timeout(90_000);
  const s = await setup(t);
  await s.start();
  const seedB = s.seeds.get(B)!;
  const from = s.log.length;
  for (let i = 0; i < 10; i++) t.not(await loginFrom(s.port, '127.0.0.2', { username: B, password: '00000000' }), null, `wrong code ${i + 1} refused`);
  t.not(await loginFrom(s.port, '127.0.0.2', { username: B, password: code(seedB, nowStep()) }), null, 'the right code from the stranger\'s address is refused unchecked');
  for (let i = 0; i < 40 && !s.reasons(B, from).includes('rate-limited'); i++) await new Promise((r) => setTimeout(r, 25));
  const reasons = s.reasons(B, from);
  t.deepEqual(reasons.filter((r) => r === 'bad-totp').length, 10);
  t.deepEqual(reasons.filter((r) => r === 'rate-limited').length, 1, 'the limit is logged once');
  // The device, from its own address, logs in with its next code at once.
  const ok = await s.login({ username: B, password: code(seedB, nowStep() + 1) });
  t.not(typeof ok, 'string', `the device at its own address must log in: ${ok}`);
});

mtest('a device logs in with its current TOTP once; a reused, wrong or older code, an unknown or revoked device are refused', async (t) => {
  t.timeout(90_000);
  const s = await setup(t);
  const mode = statSync(s.r.files.devices).mode & 0o777;
  t.is(mode, 0o600, 'the devices file holds OTP seeds: 0600');
  const devText = readFileSync(s.r.files.devices, 'utf8');
  t.true(devText.includes(Buffer.from(s.seeds.get(A)!).toString('hex')));
  t.regex(devText, /^vera operator - -$/m);
  t.regex(readFileSync(s.r.files.conf, 'utf8'), /^plugin .*sealmq_totp_auth\.so$/m);
  t.false(readFileSync(s.r.files.passwords, 'utf8').includes(A), 'devices get no static password');
  await s.start();
  const seedA = s.seeds.get(A)!;
  // Steps t-1, t, t+1 are accepted; t+1 stays in the window longest (60 to 90 s), so the test uses it.
  const step = nowStep() + 1;
  const good = await s.login({ username: A, password: code(seedA, step) });
  t.not(typeof good, 'string', `the current code must be accepted: ${good}`);
  await refused(t, s, { username: A, password: code(seedA, step) }, 'totp-reused', 'the same code again');
  await refused(t, s, { username: A, password: code(seedA, step - 1) }, 'totp-reused', 'an older step than the last accepted');
  await refused(t, s, { username: A, password: code(s.seeds.get(B)!, nowStep()) }, 'bad-totp', "another device's code");
  await refused(t, s, { username: A, password: '1234567' }, 'bad-totp', 'seven digits');
  await refused(t, s, { username: A, password: 'abcdefgh' }, 'bad-totp', 'not digits');
  await refused(t, s, { username: A }, null, 'no password');
  await refused(t, s, { username: 'node-99', password: code(seedA, nowStep()) }, 'unknown-device', 'a device id the registry does not know');
  await refused(t, s, {}, null, 'anonymous');
  for (const l of s.log) {
    t.false(l.includes(code(seedA, step)), 'a code reached the log');
    t.false(l.includes(Buffer.from(seedA).toString('hex')), 'a seed reached the log');
  }

  // Revoked and re-emitted while Mosquitto runs: the plugin re-reads the devices file, no restart.
  const seedC = s.seeds.get(C)!;
  const c1 = await s.login({ username: C, password: code(seedC, nowStep() - 1) });
  t.not(typeof c1, 'string', 'C logs in before its revocation');
  s.reg.revokeDevice(C, 'test', 'stolen');
  await emitMosquitto({ registry: s.reg, dir: s.dir, host: '127.0.0.1', port: s.port, prefix: 'sealmq', actor: 'test' });
  t.regex(readFileSync(s.r.files.devices, 'utf8'), new RegExp(`^${C} revoked 0 -$`, 'm'));
  t.false(readFileSync(s.r.files.devices, 'utf8').includes(Buffer.from(seedC).toString('hex')), "a revoked device's seed is not written");
  await refused(t, s, { username: C, password: code(seedC, nowStep() + 1) }, 'revoked', 'a revoked device with a fresh code');

  // A devices file that cannot be trusted refuses every device, and recovers when re-emitted.
  writeFileSync(s.r.files.devices, 'node-02 active 0 not-a-seed\n', { mode: 0o600 });
  await refused(t, s, { username: B, password: code(s.seeds.get(B)!, nowStep() - 1) }, 'devices-file-unusable', 'a malformed devices file');
  await emitMosquitto({ registry: s.reg, dir: s.dir, host: '127.0.0.1', port: s.port, prefix: 'sealmq', actor: 'test' });
  chmodSync(s.r.files.devices, 0o644);
  await refused(t, s, { username: B, password: code(s.seeds.get(B)!, nowStep() - 1) }, 'devices-file-unusable', 'a devices file readable by others');
  chmodSync(s.r.files.devices, 0o600);
  const b = await s.login({ username: B, password: code(s.seeds.get(B)!, nowStep() - 1) });
  t.not(typeof b, 'string', `B logs in once the file is good again: ${b}`);
});

mtest('a step used before a broker restart is still refused after it', async (t) => {
  t.timeout(90_000);
  const s = await setup(t);
  const m = await s.start();
  const seedA = s.seeds.get(A)!;
  const step = nowStep() + 1;
  const c = await s.login({ username: A, password: code(seedA, step) });
  t.not(typeof c, 'string', `first login: ${c}`);
  if (typeof c !== 'string') c.end(true);
  t.regex(readFileSync(s.r.files.state, 'utf8'), new RegExp(`^${A} 0 ${step}$`, 'm'), 'the step is in the state file');
  await m.close();
  const m2 = await s.start();
  await refused(t, s, { username: A, password: code(seedA, step) }, 'totp-reused', 'the same code after a restart');
  await refused(t, s, { username: A, password: code(seedA, step - 1) }, 'totp-reused', 'an older code after a restart');
  // The state file is not a denial of everything: another device is unaffected.
  const b = await s.login({ username: B, password: code(s.seeds.get(B)!, nowStep()) });
  t.not(typeof b, 'string', `another device after the restart: ${b}`);
  // A state file that cannot be read keeps Mosquitto from starting (used steps would be accepted again).
  await m2.close();
  const from = s.log.length;
  writeFileSync(s.r.files.state, 'garbage\n');
  await s.start().then(() => t.fail('mosquitto started with a malformed state file'), () => t.pass());
  t.true(s.log.slice(from).some((l) => /totp-state cannot be read or is malformed/.test(l)), 'the log says why');
});

mtest('operators log in through the password file; nobody takes a device\'s client id', async (t) => {
  t.timeout(90_000);
  const s = await setup(t);
  await s.start();
  const vera = await s.login({ username: 'vera', password: s.r.credentials.get('vera') });
  t.not(typeof vera, 'string', `the verifier's account logs in with its password: ${vera}`);
  await refused(t, s, { username: 'vera', password: 'viewer password, long enough' }, null, "an operator's embedded-broker password");
  await refused(t, s, { username: 'vera', password: s.r.credentials.get('adam') }, null, "another operator's password");
  t.deepEqual(s.reasons('vera', 0), [], 'operators are not decided by the plugin');

  const seedA = s.seeds.get(A)!;
  const step = nowStep() + 1;
  const board = await s.login({ username: A, password: code(seedA, step), clientId: A });
  if (typeof board === 'string') return t.fail(`the board's login: ${board}`);
  let kicked = false;
  board.on('close', () => { kicked = true; });
  // The sniffed code (already used), no credentials, an operator's own login naming the board's client id.
  await refused(t, s, { username: A, password: code(seedA, step), clientId: A }, 'totp-reused', "the board's sniffed code");
  await refused(t, s, { clientId: A }, null, 'anonymous with the client id');
  const adam = await s.login({ username: 'adam', password: s.r.credentials.get('adam'), clientId: A });
  t.not(typeof adam, 'string', 'the admin logs in (its client id becomes its user name)');
  await new Promise((r) => setTimeout(r, 500));
  t.false(kicked, "the board's session must survive every attempt to take its client id");
  t.true(board.connected);
});

test.serial('the plugin builds from its source and is cached by hash; without it nothing is emitted', async (t) => {
  const cache = tmp(t, 'sealmq-mqp-cache-');
  const built = await buildPlugin({ cacheDir: cache }).catch((e: Error) => e);
  if (built instanceof Error) {
    // No compiler or headers here: the error must say what to install, never fall back.
    t.regex(built.message, /cannot build the Mosquitto TOTP plugin/);
    t.regex((built as { hint?: string }).hint ?? '', /mosquitto-dev libssl-dev gcc/);
    return;
  }
  t.true(existsSync(built));
  t.is(await buildPlugin({ cacheDir: cache }), built, 'the second call reuses the cached build');
  const e = await buildPlugin({ cacheDir: tmp(t, 'sealmq-mqp-cache2-'), cc: '/nonexistent/cc' }).then(() => null, (x: Error & { hint?: string }) => x);
  t.truthy(e);
  t.regex(e!.hint ?? '', /apt-get install mosquitto-dev libssl-dev gcc/);

  // emit with no compiler and an empty cache: an error naming the packages, and no config at all.
  const reg = openRegistry({ home: tmp(t, 'sealmq-mqp-nocc-') });
  t.teardown(() => reg.close());
  await reg.unlock(PASS);
  reg.recordProvisioned({ id: A, root: new Uint8Array(randomBytes(32)), otpSeed: new Uint8Array(randomBytes(20)), actor: 'test' });
  const saved = { cc: process.env.CC, cache: process.env.SEALMQ_CACHE };
  process.env.CC = '/nonexistent/cc';
  process.env.SEALMQ_CACHE = tmp(t, 'sealmq-mqp-cache3-');
  const dir = join(tmp(t, 'sealmq-mqp-out-'), 'conf');
  try {
    const err = await emitMosquitto({ registry: reg, dir, host: '127.0.0.1', port: 18832, prefix: 'sealmq', actor: 'test' }).then(() => null, (x: Error & { hint?: string }) => x);
    t.regex(err?.message ?? '', /cannot build the Mosquitto TOTP plugin/);
    t.regex(err?.hint ?? '', /mosquitto-dev/);
    t.false(existsSync(dir), 'nothing is written without the plugin');
  } finally {
    if (saved.cc === undefined) delete process.env.CC; else process.env.CC = saved.cc;
    if (saved.cache === undefined) delete process.env.SEALMQ_CACHE; else process.env.SEALMQ_CACHE = saved.cache;
  }
});

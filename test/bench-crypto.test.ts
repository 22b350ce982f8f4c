// `sealmq bench crypto --port` on a board, through the CLI as a researcher runs it: the JSON's shape,
// every primitive present with a figure (tweetnacl included), the firmware footprint (the seal's transient
// peak on Espruino's Linux build),
// and the JSON, CSV and SVG written under --out; then `sealmq report` gathers them into one HTML page.
// No speed is asserted (DESIGN.md §8: budgets are measured by benchmarks, not by timed tests). On the
// emulated board always; on Espruino's Linux build (ESPRUINO_BIN or the recipe's build) through
// `sealmq emulate --target espruino --pty` (skipped, with the reason in the title, without one).
import test, { type ExecutionContext } from 'ava';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CRYPTO_OPS, instructionsFromMs, NACL_OPS, naclOpsToRun } from '../host/bench/crypto.js';
import { spawnEmulator } from '../host/emulator/process.js';
import { espruinoBin, ESPRUINO_SKIP } from '../host/espruino/process.js';
import { openRegistry } from '../host/registry/registry.js';
import { loginAs, sealmq, tmpHome } from './cli-helpers.js';
import { startEmulator } from './emulator-helpers.js';

const BIN = espruinoBin();
const SKIP = ESPRUINO_SKIP;
const PASS = 'bench crypto passphrase';

/** naclTimed: the tweetnacl ops expected with a figure (the others must say they were not run). */
async function benchOn(t: ExecutionContext, port: string, board: string, emulated: boolean, extra: string[] = [], env: Record<string, string> = {}, naclTimed: readonly string[] = NACL_OPS): Promise<void> {
  const out = join(tmpHome('sealmq-benchc-'), 'out');
  const run = await sealmq(['bench', 'crypto', '--port', port, '--board', board, '--reps', '3', '--sizes', '16,64', '--seals', '300', '--json', '--out', out, ...extra], env, 600_000);
  t.is(run.code, 0, run.stderr);
  const j = JSON.parse(run.stdout);
  t.regex(j.target, emulated ? /^emulated board/ : /^Espruino Linux build 2v\d+/);
  t.deepEqual(j.sizes, [16, 64]);
  for (const r of j.results) {
    t.is(typeof r.op, 'string');
    t.true(['native', 'js', 'tweetnacl'].includes(r.impl), r.impl);
    if (r.error === undefined) {
      for (const k of ['medianMs', 'minMs', 'maxMs', 'vars']) t.is(typeof r[k], 'number', `${r.op} ${r.impl} ${r.size}: ${k}`);
      t.true(r.minMs <= r.medianMs && r.medianMs <= r.maxMs, `${r.op} ${r.impl}: min ≤ median ≤ max`);
    } else if (!(r.impl === 'tweetnacl' && !naclTimed.includes(r.op) && r.error === 'not run (--nacl-ops)')) t.fail(`${r.op} ${r.impl} ${r.size}: no figure: ${r.error}`);
  }
  // tweetnacl passes the checker in the bench bundle (tweetnaclForEspruino) and runs on the board, once per op.
  for (const op of NACL_OPS) {
    t.is(j.results.filter((r: any) => r.op === op && r.impl === 'tweetnacl').length, 1, `tweetnacl ${op} reported once`);
    if (naclTimed.includes(op)) t.true(j.results.some((r: any) => r.op === op && r.impl === 'tweetnacl' && r.error === undefined && r.reps === 1), `tweetnacl ${op} timed`);
  }
  for (const op of CRYPTO_OPS) t.true(j.results.some((r: any) => r.op === op), `${op} is reported`);
  // Native and pure JS, every size, for the sized ops.
  for (const op of ['aes128-cbc-encrypt', 'aes128-cbc-decrypt', 'sha256', 'hmac-sha256', 'seal', 'open']) {
    for (const impl of ['native', 'js']) for (const size of [16, 64]) t.true(j.results.some((r: any) => r.op === op && r.impl === impl && r.size === size && r.error === undefined), `${op} ${impl} ${size}`);
  }
  const f = j.footprint;
  t.true(f.bundleBytes > 0 && f.bundleBytes <= 16 * 1024);
  for (const k of ['idleVars', 'varsPerSeal', 'growthVars', 'sealMs']) t.is(typeof f[k], 'number', `footprint.${k} (${f.note ?? ''})`);
  t.is(f.seals, 300);
  if (emulated) {
    t.is(f.peakVarsPerSeal, null);
    t.regex(f.peakNote, /emulated board/);
  } else {
    t.is(typeof f.peakVarsPerSeal, 'number', `footprint.peakVarsPerSeal (${f.peakNote ?? ''})`);
    t.true(f.peakVarsPerSeal > f.varsPerSeal, 'the transient peak is above what a seal leaves allocated');
  }
  const files = readdirSync(out);
  for (const ext of ['.json', '.csv', '.svg']) t.true(files.some((n) => n.startsWith('crypto-') && n.endsWith(ext)), `${ext} written: ${files}`);
  const svg = readFileSync(join(out, files.find((n) => n.endsWith('.svg'))!), 'utf8');
  t.regex(svg, /^<svg/);
  t.regex(svg, /native/);
  const csv = readFileSync(join(out, files.find((n) => n.endsWith('.csv'))!), 'utf8').trim().split('\n');
  t.is(csv[0], 'target,op,impl,size,medianMs,minMs,maxMs,instrMedian,instrMin,instrMax,reps,inner,vars,error');
  t.true(csv.length >= 1 + j.results.length);
  // One self-contained page from the folder.
  const rep = await sealmq(['report', out]);
  t.is(rep.code, 0, rep.stderr);
  const html = readFileSync(join(out, 'report.html'), 'utf8');
  t.regex(html, /<svg/);
  t.regex(html, /aes128-cbc-encrypt/);
  t.false(/<script|src="http|href="http/.test(html), 'no script, no external resource');
  t.log(`${j.target}: seal native 64 B ${j.results.find((r: any) => r.op === 'seal' && r.impl === 'native' && r.size === 64).medianMs.toFixed(4)} ms; firmware ${f.bundleBytes} bytes, idle ${f.idleVars} vars`);
}

test('under QEMU -icount shift=N a board millisecond is 10^6 / 2^N guest instructions', (t) => {
  t.is(instructionsFromMs(2.95453571, 0), 2_954_536);
  t.is(instructionsFromMs(1, 1), 500_000);
  t.is(instructionsFromMs(0, 3), 0);
});

test('sealmq bench crypto on an emulated board: every primitive, footprint, JSON/CSV/SVG, report', async (t) => {
  const dir = tmpHome('sealmq-benchc-');
  const emu = await spawnEmulator({ name: 'bench-01', flashFile: join(dir, 'b.flash'), board: 'emulated' });
  t.teardown(() => emu.stop());
  await benchOn(t, emu.console, 'emulated', true);
  t.true(existsSync(join(dir, 'b.flash')));
});

// As a researcher runs it on the real interpreter: `sealmq emulate --target espruino --pty`, the firmware
// flashed, and the bench through that PTY. (On a provisioned board, --device unlocks the console, but the
// footprint is then only the bundle's size: the bench does not run over a board's config.)
(BIN ? test.serial : test.skip)(`sealmq bench crypto on Espruino's Linux build (sealmq emulate --target espruino --pty, the firmware flashed): every primitive, footprint, JSON/CSV/SVG${BIN ? '' : ` — ${SKIP}`}`, async (t) => {
  t.timeout(600_000);
  const home = tmpHome('sealmq-benchc-esp-');
  const env = { SEALMQ_HOME: home, SEALMQ_PASSPHRASE: PASS };
  const reg = openRegistry({ home });
  await reg.unlock(PASS);
  reg.close();
  await loginAs(home, PASS);
  const pty = join(home, 'ttyBENCH');
  const emu = await startEmulator(['--target', 'espruino', '--name', 'bench-esp', '--pty', pty, '--flash', join(home, 'b.espruino.flash')]);
  t.teardown(async () => { emu.child.kill('SIGTERM'); await emu.exited; });
  t.is((await sealmq(['flash', '--port', pty, '--board', 'linux'], env)).code, 0);
  // tweetnacl's X25519 pair only (what the shared secret needs runs first): each op is 10–40 s on this
  // interpreter; the emulated board's test runs all five, and the bundle is the same.
  await benchOn(t, pty, 'linux', false, ['--nacl-ops', 'x25519-shared'], env, ['x25519', 'x25519-shared']);
});

test('--nacl-ops: an op and what it needs run, in order; an unknown op is a bad value (exit 3) naming the ops', async (t) => {
  t.deepEqual(naclOpsToRun(['ed25519-verify']), ['ed25519-keypair', 'ed25519-sign', 'ed25519-verify']);
  t.deepEqual(naclOpsToRun(['x25519-shared', 'ed25519-keypair']), ['x25519', 'x25519-shared', 'ed25519-keypair']);
  t.deepEqual(naclOpsToRun([...NACL_OPS]), [...NACL_OPS]);
  const r = await sealmq(['bench', 'crypto', '--port', 'tcp://127.0.0.1:1', '--nacl-ops', 'x25519,rsa']);
  t.is(r.code, 3, r.stderr);
  t.regex(r.stderr, /no tweetnacl op "rsa".*x25519, x25519-shared, ed25519-keypair, ed25519-sign, ed25519-verify/);
  // Every option value out of its range is exit 3, as in the other commands (docs/ARCHITECTURE.md).
  for (const bad of [['--reps', '0'], ['--sizes', '16,x'], ['--icount', '11']]) {
    const b = await sealmq(['bench', 'crypto', '--port', 'tcp://127.0.0.1:1', ...bad]);
    t.is(b.code, 3, `${bad.join(' ')}: ${b.stderr}`);
    t.true(b.stderr.includes(bad[0]), b.stderr);
  }
  t.is((await sealmq(['bench', 'crypto', '--port', 'tcp://127.0.0.1:1', '--no-such-option'])).code, 2, 'an unknown option is usage');
});

test('sealmq report: a folder without bench output is refused (exit 3)', async (t) => {
  const r = await sealmq(['report', tmpHome('sealmq-empty-')]);
  t.is(r.code, 3, r.stderr);
  t.regex(r.stderr, /no bench output/);
});

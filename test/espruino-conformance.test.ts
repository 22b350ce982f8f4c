// Conformance on Espruino's own interpreter: with ESPRUINO_BIN pointing at Espruino's Linux build, the
// self-test bundle passes every known answer on it, and the firmware bundle is flashed, provisioned and
// verified on it over a real pseudo-terminal with the same CLI commands as a real board. Without
// ESPRUINO_BIN these are reported as skipped, with the reason in the title.
import test from 'ava';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { buildFirmware } from '../host/build/bundle.js';
import { startBroker } from '../host/broker/broker.js';
import { espruinoBin, ESPRUINO_SKIP, startEspruinoBoard } from '../host/espruino/process.js';
import { openRegistry } from '../host/registry/registry.js';
import { loginAs, sealmq, tmpHome } from './cli-helpers.js';

const BIN = espruinoBin();
const SKIP = ESPRUINO_SKIP;
const maybe = BIN ? test.serial : test.skip;
const PASS = 'conformance passphrase';
const VIEWER = 'viewer password, long enough';

maybe(`Espruino Linux build: dist/selftest.js passes every known answer${BIN ? '' : ` — ${SKIP}`}`, async (t) => {
  const dir = tmpHome('sealmq-esp-');
  const r = await buildFirmware({ board: 'linux', outDir: join(dir, 'dist') });
  const out = await new Promise<string>((resolve) => {
    const c = execFile(BIN!, [r.selftest!.file], { cwd: dir, timeout: 120_000 }, (_e, stdout) => resolve(stdout));
    c.stdin?.end();
  });
  const m = /(\d+) passed, (\d+) failed/.exec(out);
  t.truthy(m, out.slice(-500));
  t.log(m![0]);
  t.is(Number(m![2]), 0, out.split('\n').filter((l) => l.includes('FAIL')).join('\n'));
  t.true(Number(m![1]) >= 40);
});

maybe(`Espruino Linux build: the firmware is flashed, provisioned and verified over a PTY${BIN ? '' : ` — ${SKIP}`}`, async (t) => {
  const home = tmpHome('sealmq-esp-');
  const env = { SEALMQ_HOME: home, SEALMQ_PASSPHRASE: PASS };
  const reg = openRegistry({ home });
  await reg.unlock(PASS);
  await reg.addOperator({ name: 'vera', role: 'viewer', password: VIEWER, actor: 'test' });
  await loginAs(home, PASS); // flash and provision need an operator session (docs/OPERATORS.md)
  const broker = await startBroker({ registry: reg, listen: 'mqtt://127.0.0.1:0' });
  const esp = await startEspruinoBoard(BIN!, home, join(home, 'ttyESP0'));
  t.teardown(async () => { await esp.stop(); await broker.close(); reg.close(); });

  const flash = await sealmq(['flash', '--port', esp.pty!, '--board', 'linux', '--json'], env);
  t.is(flash.code, 0, flash.stderr);
  t.is(JSON.parse(flash.stdout).hashMethod, 'board-crypto', 'hashed by Espruino\'s own crypto');
  const prov = await sealmq(['provision', '--port', esp.pty!, '--device', 'esp-linux', '--broker', broker.url, '--interval', '0.3', '--json'], env);
  t.is(prov.code, 0, prov.stderr);
  t.is(JSON.parse(prov.stdout).crypto, 'native');
  const v = await sealmq(['verify', '--broker', broker.url, '--user', 'vera', '--count', '5', '--seconds', '40', '--json'], { ...env, SEALMQ_PASSWORD: VIEWER });
  t.is(v.code, 0, v.stderr);
  const rs = v.stdout.trim().split('\n').map((l) => JSON.parse(l));
  t.is(rs.length, 5);
  t.true(rs.every((r) => r.ok && r.device === 'esp-linux'));
  const c = rs.map((r) => r.counter);
  t.true(c.every((x, i) => i === 0 || x > c[i - 1]), `strictly increasing: ${c}`);
});

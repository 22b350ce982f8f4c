// Finding boards and provisioning a box of them (issue 4): the USB id classifier, device patterns and
// manifests validated before any board is touched, and 8 emulated boards over real PTYs at a throttled
// 115200 baud provisioned at once through the CLI; one board losing power mid-way fails only that board,
// and the re-run completes it with exactly one registry record per device.
import test from 'ava';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { firmwareBundle } from '../host/board/firmware-bundle.js';
import { flashBoard } from '../host/board/flash.js';
import { classifyPort, KNOWN_USB_IDS, listPortsSysfs } from '../host/board/ports.js';
import { expandDevices, parseManifest, validatePlan } from '../host/board/provision-many.js';
import { EmulatorProcess, spawnEmulator, spawnEmulators } from '../host/emulator/process.js';
import { openRegistry } from '../host/registry/registry.js';
import { BIN, loginAs, sealmq, tmpHome } from './cli-helpers.js';

const port = (vendorId: string | null, productId: string | null, manufacturer: string | null = null) =>
  classifyPort({ path: '/dev/ttyUSB0', vendorId, productId, manufacturer, product: null, serialNumber: null });

test('ports: USB ids of ESP32 bridges and Espruino boards are recognised; others are not', (t) => {
  t.is(port('10c4', 'ea60').likely, 'esp32');
  t.is(port('10C4', 'EA60').likely, 'esp32', 'case does not matter');
  t.is(port('0x1a86', '0x7523').likely, 'esp32', '0x prefixes (macOS, Windows) are accepted');
  t.is(port('0403', '6001').likely, 'esp32');
  t.is(port('0403', '6015').likely, 'esp32');
  t.is(port('303a', '1001').likely, 'esp32', 'every Espressif product');
  t.is(port('303a', '0002').likely, 'esp32');
  t.is(port('0483', '5740').likely, 'espruino');
  t.regex(port('0483', '5740').chip!, /STM32/);
  t.is(port('0483', '3748').likely, null, 'an ST-LINK is not a board console');
  t.is(port('046d', 'c52b').likely, null);
  t.is(port(null, null).likely, null, 'an on-board UART has no USB ids');
  t.is(port('1234', '5678', 'Espruino').likely, 'espruino', 'a bridge that calls itself Espruino');
  for (const k of KNOWN_USB_IDS) {
    t.regex(k.vendorId, /^[0-9a-f]{4}$/);
    t.regex(k.productId, /^([0-9a-f]{4}|\*)$/);
    t.true(k.source.length > 10, 'every id says where it comes from');
  }
  t.deepEqual(listPortsSysfs(join(tmpHome(), 'no-sysfs')), [], 'no sysfs: no ports, no crash');
});

test('ports: the command works on this machine (possibly an empty list)', async (t) => {
  const r = await sealmq(['ports', '--json']);
  t.is(r.code, 0, r.stderr);
  const list = JSON.parse(r.stdout);
  t.true(Array.isArray(list));
  for (const p of list) t.is(typeof p.path, 'string');
  const plain = await sealmq(['ports']);
  t.is(plain.code, 0, plain.stderr);
});

test('many boards: device patterns and lists, manifests, and the whole plan validated first', (t) => {
  t.deepEqual(expandDevices('field-{nn}', 3), ['field-01', 'field-02', 'field-03']);
  t.deepEqual(expandDevices('n{n}', 2), ['n1', 'n2']);
  t.deepEqual(expandDevices('a,b', 2), ['a', 'b']);
  t.throws(() => expandDevices('a,b', 3), { message: /2 ids for 3 ports/ });
  t.throws(() => expandDevices('a', 2), { message: /1 id for 2 ports/ });
  const m = parseManifest('# box 7\nport,device,interval\n/dev/ttyUSB0,f-01,5\n\n/dev/ttyUSB1, f-02\n');
  t.deepEqual(m, [{ port: '/dev/ttyUSB0', deviceId: 'f-01', interval: 5, line: 3 }, { port: '/dev/ttyUSB1', deviceId: 'f-02', line: 5 }]);
  t.throws(() => parseManifest('a,b,c,d\n'), { message: /expected port,device/ });
  t.throws(() => parseManifest('# nothing\n'), { message: /no boards/ });
  const touched: string[] = [];
  const e = t.throws(() => validatePlan(parseManifest('p1,ok-1\np2,BAD\np1,ok-2\np3,ok-1\np4,ok-4,0\np5,ok-5'), (p) => {
    touched.push(p);
    if (p === 'p5') throw new Error('no such port: p5');
  }));
  t.regex(e!.message, /5 problems; no board was touched/);
  t.regex(e!.message, /line 2: device id "BAD"/);
  t.regex(e!.message, /line 3: port p1 is listed twice \(also line 1\)/);
  t.regex(e!.message, /line 4: device ok-1 is listed twice/);
  t.regex(e!.message, /line 5: interval/);
  t.regex(e!.message, /line 6: no such port: p5/);
});

test('many boards: a manifest with a bad line touches no board and records nothing', async (t) => {
  const home = tmpHome();
  const env = { SEALMQ_HOME: home, SEALMQ_PASSPHRASE: 'many boards passphrase' };
  const manifest = join(home, 'box.csv');
  writeFileSync(manifest, 'tcp://127.0.0.1:9,good-1\ntcp://127.0.0.1:9,good-2\n/dev/ttyNOPE7,Bad_Id\n');
  const r = await sealmq(['provision', '--manifest', manifest, '--json'], env);
  t.is(r.code, 3, r.stderr);
  t.regex(r.stderr, /no board was touched/);
  t.regex(r.stderr, /port tcp:\/\/127\.0\.0\.1:9 is listed twice/);
  t.regex(r.stderr, /Bad_Id/);
  t.regex(r.stderr, /no such port: \/dev\/ttyNOPE7/);
  t.is(r.stdout, '');
});

const N = 8;
const PASS = 'eight boards passphrase';

/** Runs the CLI, calling onStderrLine for each stderr line as it comes (to act mid-way). */
function runCli(args: string[], env: Record<string, string>, onStderrLine?: (l: string) => void): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, SEALMQ_PASSWORD: undefined, ...env } as NodeJS.ProcessEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let part = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
      const lines = (part + d).split('\n');
      part = lines.pop()!;
      for (const l of lines) onStderrLine?.(l);
    });
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

test(`${N} emulated boards over PTYs at 115200 baud, provisioned at once; one loses power mid-way; the re-run completes it`, async (t) => {
  t.timeout(180_000);
  const home = tmpHome();
  const env = { SEALMQ_HOME: home, SEALMQ_PASSPHRASE: PASS };
  const reg = openRegistry({ home });
  await reg.unlock(PASS);
  reg.close();
  await loginAs(home, PASS); // provision needs an operator session (docs/OPERATORS.md)
  const fw = await firmwareBundle('emulated', join(home, 'dist'));
  const boards: EmulatorProcess[] = [];
  t.teardown(async () => { await Promise.all(boards.map((b) => b.stop())); });
  const boardOptions = (i: number) => ({
    name: `box-${i}`, flashFile: join(home, `box-${i}.flash`), board: 'emulated', pty: join(home, `ttyBOX${i}`), baud: 115200,
  });
  const t0 = Date.now();
  boards.push(...await spawnEmulators(Array.from({ length: N }, (_, i) => boardOptions(i))));
  const flashed = await Promise.all(boards.map((b) => flashBoard({ port: b.pty!, bundle: fw.bundle, version: fw.version })));
  t.log(`flashed ${N} boards (${fw.bundle.length} bytes each) concurrently at 115200 baud in ${((Date.now() - t0) / 1000).toFixed(1)} s; per board ${flashed.map((f) => f.seconds.toFixed(1)).join(', ')} s`);

  const manifest = join(home, 'box.csv');
  writeFileSync(manifest, 'port,device,interval\n' + boards.map((b, i) => `${b.pty},box-${String(i + 1).padStart(2, '0')},5`).join('\n') + '\n');
  const victim = 5;
  const victimId = `box-${String(victim + 1).padStart(2, '0')}`;
  let cutAt = 0;
  const t1 = Date.now();
  const first = await runCli(['provision', '--manifest', manifest, '--broker', 'mqtt://127.0.0.1:1', '--json', '--verbose'], env, (l) => {
    if (!cutAt && l.startsWith(`${victimId} `) && /: challenge /.test(l)) {
      cutAt = Date.now();
      void boards[victim].cut();
    }
  });
  const wall1 = (Date.now() - t1) / 1000;
  t.true(cutAt > 0, 'the victim reached the challenge step');
  t.is(first.code, 4, first.stderr);
  t.regex(first.stderr, new RegExp(`1 of ${N} boards failed: ${boards[victim].pty!.replace(/[/.]/g, '\\$&')} \\(${victimId}\\)`));
  const lines = first.stdout.trim().split('\n').map((l) => JSON.parse(l));
  t.is(lines.length, N + 1);
  const per = lines.slice(0, N);
  const summary = lines[N].summary;
  t.like(summary, { boards: N, ok: N - 1, failed: 1, failedBoards: [boards[victim].pty], alreadyProvisioned: 0 });
  for (const r of per) {
    t.is(typeof r.seconds, 'number');
    t.is(r.result, r.device === victimId ? 'failed' : 'ok', JSON.stringify(r));
  }
  t.log(`first run (${N} boards, one cut at the challenge step): ${wall1.toFixed(1)} s wall; per board: ${per.map((r) => `${r.device} ${r.result} ${r.seconds.toFixed(1)} s`).join(', ')}`);

  boards[victim] = await spawnEmulator(boardOptions(victim));
  const t2 = Date.now();
  const again = await runCli(['provision', '--manifest', manifest, '--broker', 'mqtt://127.0.0.1:1', '--json'], env);
  t.is(again.code, 0, again.stderr);
  t.is(again.stderr, '', 'nothing extra on stderr with --json');
  const per2 = again.stdout.trim().split('\n').map((l) => JSON.parse(l));
  t.like(per2[N].summary, { boards: N, ok: 1, alreadyProvisioned: N - 1, failed: 0, failedBoards: [] });
  for (const r of per2.slice(0, N)) t.is(r.result, r.device === victimId ? 'ok' : 'already provisioned', JSON.stringify(r));
  t.log(`re-run: ${((Date.now() - t2) / 1000).toFixed(1)} s wall; ${victimId} ${per2[victim].seconds.toFixed(1)} s`);

  const after = openRegistry({ home });
  await after.unlock(PASS);
  t.teardown(() => after.close());
  const devs = after.listDevices();
  t.deepEqual(devs.map((d) => d.id).sort(), Array.from({ length: N }, (_, i) => `box-${String(i + 1).padStart(2, '0')}`));
  t.true(devs.every((d) => d.status === 'active' && d.epoch === 0 && d.interval === 5));
  for (const d of devs) t.is(after.auditLog({ device: d.id }).filter((a) => a.action.startsWith('device.provision')).length, 1, d.id);

  const plain = await sealmq(['provision', '--manifest', manifest, '--broker', 'mqtt://127.0.0.1:1'], env);
  t.is(plain.code, 0, plain.stderr);
  t.regex(plain.stdout, /^BOARD +DEVICE +RESULT +SECONDS\n/);
  t.regex(plain.stdout, new RegExp(`0 provisioned, ${N} already provisioned, 0 failed`));
});

test('several --port with a {nn} pattern (plain table), then --replace OLD --device NEW revokes OLD; doctor as text', async (t) => {
  t.timeout(120_000);
  const home = tmpHome();
  const env = { SEALMQ_HOME: home, SEALMQ_PASSPHRASE: PASS };
  const reg = openRegistry({ home });
  await reg.unlock(PASS);
  reg.close();
  await loginAs(home, PASS); // provision needs an operator session (docs/OPERATORS.md)
  const fw = await firmwareBundle('emulated', join(home, 'dist'));
  const boards = await spawnEmulators([0, 1, 2].map((i) => ({ name: `p-${i}`, flashFile: join(home, `p-${i}.flash`), board: 'emulated' })));
  t.teardown(async () => { await Promise.all(boards.map((b) => b.stop())); });
  await Promise.all(boards.map((b) => flashBoard({ port: b.console, bundle: fw.bundle, version: fw.version })));

  const r = await sealmq(['provision', '--port', boards[0].console, '--port', boards[1].console, '--device', 'lot-{nn}', '--broker', 'mqtt://127.0.0.1:1'], env);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /lot-01 +ok/);
  t.regex(r.stdout, /lot-02 +ok/);
  t.regex(r.stdout, /2 provisioned, 0 already provisioned, 0 failed/);

  const rep = await sealmq(['provision', '--port', boards[2].console, '--replace', 'lot-02', '--device', 'lot-03', '--broker', 'mqtt://127.0.0.1:1', '--json'], env);
  t.is(rep.code, 0, rep.stderr);
  t.like(JSON.parse(rep.stdout), { ok: true, deviceId: 'lot-03', epoch: 0, replaced: 'lot-02' });
  const after = openRegistry({ home });
  t.teardown(() => after.close());
  t.is(after.getDevice('lot-02')!.status, 'revoked');
  t.is(after.getDevice('lot-03')!.status, 'active');
  t.true(after.auditLog({ device: 'lot-03' }).some((a) => a.action === 'device.replace'));
  const revoked = await sealmq(['provision', '--port', boards[2].console, '--replace', 'lot-02', '--broker', 'mqtt://127.0.0.1:1'], env);
  t.is(revoked.code, 3);
  t.regex(revoked.stderr, /revoked/);

  // Provisioning locked its console (docs/FIELD.md): doctor unlocks it with lot-03's password from the registry.
  const doc = await sealmq(['doctor', '--port', boards[2].console, '--device', 'lot-03'], env);
  t.is(doc.code, 0, doc.stderr);
  t.regex(doc.stdout, /^firmware +sealmq \d/m);
  t.regex(doc.stdout, /^state +ok, device lot-03/m);
  t.regex(doc.stdout, /^console lock +locked, at every boot/m);
});

// The dashboard's admin side in Chromium (playwright-core, headless) against a real embedded broker and
// an emulated board flashed and provisioned through its console (its console locked, as in the field):
// - posture: `sealmq doctor --device` (the CLI, its own process) records the board's posture in the
//   registry, and the fleet view shows it with its time;
// - enrolment: an admin adds an operator in the page, the QR code is shown (checked in the screenshot's
//   pixels: the three finder patterns of a QR code), the first code confirms it, the new operator logs in;
// - commands: `interval` and `rotate` sent from the page, the sealed replies and round trips shown; rotate
//   moves the key epoch (registry, fleet view, and the readings that follow arrive under the new epoch);
// - TLS: `sealmq dashboard --tls-cert --tls-key` (the CLI) with a throw-away self-signed certificate made
//   here by the openssl CLI: login works over https and the session cookie is Secure.
import test from 'ava';
import { execFileSync, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { PNG } from 'pngjs';
import { firmwareBundle } from '../host/board/firmware-bundle.js';
import { flashBoard } from '../host/board/flash.js';
import { provisionBoard } from '../host/board/provision.js';
import { startBroker } from '../host/broker/broker.js';
import { LiveHub } from '../host/dashboard/live.js';
import { startDashboard } from '../host/dashboard/server.js';
import { spawnEmulator } from '../host/emulator/process.js';
import { base32Decode } from '../host/operators/totp.js';
import { openRegistry } from '../host/registry/registry.js';
import { runVerifier } from '../host/verifier/run.js';
import { boxOf, browser, haveChromium, loginAs, noChromium, until } from './browser-helpers.js';
import { BIN, enrolOperator, nextCode, sealmq, TestOperator, tmpHome } from './cli-helpers.js';

const t_ = haveChromium ? test.serial : test.skip;
const PASS = 'dashboard admin test passphrase';
const ADMIN_PW = 'first admin password, long enough';
const DEV = 'adm-01';
const home = tmpHome('sealmq-dashboard-admin-');
const env = { SEALMQ_HOME: home, SEALMQ_PASSPHRASE: PASS };
const ctx: Record<string, any> = {};
/** Where the screenshots go (kept for a look with SEALMQ_DASHBOARD_SHOT_DIR). */
const shots = process.env.SEALMQ_DASHBOARD_SHOT_DIR ?? home;

test.before(async () => {
  if (!haveChromium) return;
  const reg = openRegistry({ home });
  await reg.unlock(PASS);
  const adam: TestOperator = await enrolOperator(reg, 'adam', 'admin', ADMIN_PW);
  const broker = await startBroker({ registry: reg, listen: 'mqtt://127.0.0.1:0' });
  const fw = await firmwareBundle('emulated', join(home, 'dist'));
  const board = await spawnEmulator({ name: DEV, flashFile: join(home, DEV + '.flash'), board: 'emulated' });
  Object.assign(ctx, { reg, broker, board });
  await flashBoard({ port: board.console, bundle: fw.bundle, version: fw.version });
  await provisionBoard({ port: board.console, deviceId: DEV, broker: broker.url, interval: 0.3, registry: reg, actor: 'test' });
  const live = new LiveHub();
  const verifier = await runVerifier({ registry: reg, brokerUrl: broker.url, username: 'adam', password: ADMIN_PW, onResult: (r) => live.push(r) });
  const d = await startDashboard({ registry: reg, live, listen: 'http://127.0.0.1:0', commands: { brokerUrl: broker.url, username: 'adam', password: ADMIN_PW } });
  Object.assign(ctx, { adam, live, verifier, d, url: d.url });
});

test.after.always(async () => {
  await ctx.d?.close();
  await ctx.verifier?.close();
  ctx.live?.close();
  await ctx.board?.stop();
  await ctx.broker?.close();
  ctx.reg?.close();
});

async function adminPage(t: { teardown(f: () => Promise<void>): void }): Promise<Page> {
  const b = await browser(home);
  t.teardown(() => b.close());
  const page = b.pages()[0] ?? (await b.newPage());
  await page.goto(ctx.url);
  await loginAs(page, 'adam', ADMIN_PW, await nextCode(ctx.adam.seed));
  await page.waitForSelector('#nav:not([hidden])');
  return page;
}

const fleetRow = (id: string) => `[...document.querySelectorAll('#fleet-table tbody tr')].find((r) => r.cells[0].textContent === ${JSON.stringify(id)})`;

t_('posture: sealmq doctor --device records it in the registry and the fleet view shows it with its time' + noChromium, async (t) => {
  t.timeout(120_000);
  const page = await adminPage(t);
  await until(page, `${fleetRow(DEV)}?.cells[9].textContent === 'not recorded'`);
  const before = Date.now();
  const doc = await sealmq(['doctor', '--port', ctx.board.console, '--device', DEV, '--json'], env);
  t.is(doc.code, 0, doc.stderr);
  const r = JSON.parse(doc.stdout);
  t.like(r, { device: DEV, consoleLocked: true, state: 'ok' });
  t.true(r.recorded?.at >= before, 'the JSON says it was recorded');
  const p = ctx.reg.getPosture(DEV);
  t.like(p, { device: DEV, actor: 'cli:doctor' });
  t.is(p.report.firmware, r.firmware);
  t.true(ctx.reg.auditLog({ device: DEV }).some((e: { action: string }) => e.action === 'device.doctor'), 'audited');
  // The fleet view polls every 2 s: the posture appears with the time doctor ran.
  const stamp = new Date(p.at).toISOString().slice(0, 19).replace('T', ' ');
  await until(page, `${fleetRow(DEV)}?.cells[9].textContent.includes(${JSON.stringify(stamp)})`, 10_000);
  const cell = await page.evaluate(`${fleetRow(DEV)}.cells[9].textContent`) as string;
  t.log(`fleet posture cell: ${cell}`);
  t.regex(cell, /^doctor \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC \(.*\): console locked; clock [+-][0-9.]+ s; /);
  writeFileSync(join(shots, 'posture.png'), await page.screenshot({ fullPage: true }));

  // A run that names another device than the board is refused by the unlock (exit 5) and records nothing.
  ctx.reg.recordProvisioned({ id: 'adm-99', root: new Uint8Array(32).fill(7), otpSeed: new Uint8Array(20).fill(9), actor: 'test' });
  const wrong = await sealmq(['doctor', '--port', ctx.board.console, '--device', 'adm-99', '--json'], env);
  t.is(wrong.code, 5, wrong.stderr);
  t.is(ctx.reg.getPosture('adm-99'), null);
});

/** The QR code's finder patterns (7×7 modules: dark ring, light ring, dark 3×3 core) in the screenshot. */
function qrFinders(png: PNG, box: { x: number; y: number; width: number; height: number }, module: number, margin: number): { modules: number; finders: number; darkShare: number } {
  const dark = (x: number, y: number) => {
    const i = (Math.round(y) * png.width + Math.round(x)) * 4;
    return png.data[i] + png.data[i + 1] + png.data[i + 2] < 3 * 128;
  };
  const modules = Math.round(box.width / module) - 2 * margin;
  const at = (ox: number, oy: number, i: number, j: number) => dark(box.x + (margin + ox + i + 0.5) * module, box.y + (margin + oy + j + 0.5) * module);
  const finderAt = (ox: number, oy: number) => {
    for (let j = 0; j < 7; j++) {
      for (let i = 0; i < 7; i++) {
        const ring = Math.max(Math.abs(i - 3), Math.abs(j - 3));
        if (at(ox, oy, i, j) !== (ring !== 2)) return false;
      }
    }
    return true;
  };
  let finders = 0;
  for (const [ox, oy] of [[0, 0], [modules - 7, 0], [0, modules - 7]]) if (finderAt(ox, oy)) finders++;
  let n = 0;
  for (let j = 0; j < modules; j++) for (let i = 0; i < modules; i++) if (at(0, 0, i, j)) n++;
  return { modules, finders, darkShare: n / (modules * modules) };
}

t_('enrolment in the page: an admin adds an operator, the QR code is shown, the first code confirms it, the new operator logs in' + noChromium, async (t) => {
  t.timeout(120_000);
  const page = await adminPage(t);
  await page.click('button[data-tab=operators]');
  await page.fill('#operator-name', 'olga');
  await page.selectOption('#operator-role', 'viewer');
  await page.fill('#operator-password', 'the viewer password, long enough');
  await page.click('#operator-form button[type=submit]');
  await page.waitForSelector('#operator-enrol:not([hidden])');
  await until(page, `document.querySelector('#operator-qr').complete && document.querySelector('#operator-qr').naturalWidth > 0`);
  t.is(ctx.reg.getOperator('olga')?.status, 'pending');
  const shot = await page.screenshot({ fullPage: true });
  writeFileSync(join(shots, 'enrol.png'), shot);
  const box = await boxOf(page, '#operator-qr');
  // host/dashboard/routes-auth.ts draws it at 5 pixels a module with a 2-module quiet zone.
  const q = qrFinders(PNG.sync.read(shot), box, 5, 2);
  t.log(`QR ${box.width}x${box.height} px: ${q.modules} modules, ${q.finders} finder patterns, ${(q.darkShare * 100).toFixed(0)} % dark`);
  t.true(q.modules >= 21 && (q.modules - 21) % 4 === 0, `a QR code's size (${q.modules} modules)`);
  t.is(q.finders, 3, 'the three finder patterns are on the screenshot');
  t.true(q.darkShare > 0.3 && q.darkShare < 0.7, 'a dark/light mix');

  // The authenticator: the seed of the otpauth URI shown with the QR code.
  const uri = await page.textContent('#operator-uri') ?? '';
  const secret = /[?&]secret=([A-Z2-7]+)/.exec(uri)?.[1];
  t.truthy(secret, uri);
  const seed = base32Decode(secret!);
  await page.fill('#operator-code', await nextCode(seed));
  await page.click('#operator-confirm button[type=submit]');
  await until(page, `document.querySelector('#operator-message').textContent.includes('olga (viewer) is active')`);
  t.is(ctx.reg.getOperator('olga')?.status, 'active');

  // olga, in a browser of her own, with the next code.
  const b2 = await browser(home);
  t.teardown(() => b2.close());
  const p2 = b2.pages()[0] ?? (await b2.newPage());
  await p2.goto(ctx.url);
  await loginAs(p2, 'olga', 'the viewer password, long enough', await nextCode(seed));
  await p2.waitForSelector('#nav:not([hidden])');
  t.is(await p2.textContent('#who'), 'olga (viewer)');
  t.true(await p2.isHidden('button[data-tab=commands]'));
});

t_('commands from the page: interval and rotate, sealed replies and round trips shown; rotate moves the key epoch' + noChromium, async (t) => {
  t.timeout(120_000);
  const page = await adminPage(t);
  await page.click('button[data-tab=commands]');
  await until(page, `[...document.querySelectorAll('#command-device option')].some((o) => o.value === ${JSON.stringify(DEV)})`);
  await page.selectOption('#command-device', DEV);
  await page.selectOption('#command-name', 'interval');
  await page.fill('#command-seconds', '0.5');
  await page.click('#command-send');
  await until(page, `document.querySelector('#command-message').textContent.includes('sealed reply')`, 15_000);
  t.regex(await page.textContent('#command-message') ?? '', new RegExp(`sealed reply from ${DEV} to interval in [0-9.]+ ms \\(epoch 0, command counter \\d+\\)`));
  const iv = JSON.parse(await page.textContent('#command-reply') ?? '{}');
  t.like(iv, { ok: true, a: { s: 0.5 } });

  t.is(ctx.reg.getDevice(DEV).epoch, 0);
  await page.selectOption('#command-name', 'rotate');
  await page.click('#command-send');
  await until(page, `document.querySelector('#command-message').textContent.includes('sealed reply')`, 15_000);
  const msg = await page.textContent('#command-message') ?? '';
  t.log(msg);
  t.regex(msg, new RegExp(`sealed reply from ${DEV} to rotate in [0-9.]+ ms \\(key epoch 0 → 1,`));
  t.deepEqual(JSON.parse(await page.textContent('#command-reply') ?? '{}'), { ok: true, from: 0, to: 1 });
  t.is(ctx.reg.getDevice(DEV).epoch, 1, 'the registry moved to epoch 1');
  t.true(ctx.reg.auditLog({ device: DEV }).some((e: { action: string; actor: string }) => e.action === 'device.rotate.confirmed'));

  // The fleet shows epoch 1, and the readings that follow arrive (verified) under epoch 1.
  await page.click('button[data-tab=fleet]');
  await until(page, `${fleetRow(DEV)}?.cells[2].textContent === '1'`);
  await page.click('button[data-tab=live]');
  await page.selectOption('#live-device', DEV);
  await until(page, `[...document.querySelectorAll('#readings-table tbody tr')].filter((r) => r.cells[2].textContent === '1').length >= 2`, 15_000);
  writeFileSync(join(shots, 'commands.png'), await page.screenshot({ fullPage: true }));
  // No reading refused around the rotation. The board's reply to rotate (counter 1 under epoch 1) reaches
  // both the dashboard's verifier (it came up the uplink topic) and rotate's own check (host/board/rotate.ts):
  // when the dashboard's moved the registry first, rotate does not open it again; in the other order the
  // dashboard's refuses that one frame as already seen. Nothing else may be refused.
  const rejected = ctx.reg.auditLog({ device: DEV }).filter((e: { action: string }) => e.action === 'verify.rejected').map((e: { detail: unknown }) => e.detail);
  t.log(`refused around the rotation: ${JSON.stringify(rejected)}`);
  t.true(rejected.every((d: { counter: number; epoch: number; reason: string }) => d.epoch === 1 && d.counter === 1 && /replay|stale/.test(d.reason)), JSON.stringify(rejected));
});

t_('TLS: sealmq dashboard --tls-cert --tls-key serves https; login works and the session cookie is Secure' + noChromium, async (t) => {
  t.timeout(120_000);
  const cert = join(home, 'cert.pem');
  const key = join(home, 'key.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1',
    '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
  // Its own verifier would compete with this file's for the same registry (every frame a replay to one of
  // them): this dashboard's verifier runs, but nothing here reads readings through it.
  const child = spawn(process.execPath, [BIN, 'dashboard', '--broker', ctx.broker.url, '--user', 'adam', '--listen', 'https://127.0.0.1:0', '--tls-cert', cert, '--tls-key', key], {
    env: { ...process.env, ...env, SEALMQ_PASSWORD: ADMIN_PW }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.teardown(() => { child.kill('SIGTERM'); });
  let out = '';
  let err = '';
  child.stderr.on('data', (b) => { err += b; });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no URL from sealmq dashboard: ' + out + err)), 60_000);
    child.stdout.on('data', (b) => {
      out += b;
      const m = /dashboard on (https:\/\/\S+)/.exec(out);
      if (m) { clearTimeout(timer); resolve(m[1]); }
    });
    child.once('exit', (c) => reject(new Error(`sealmq dashboard exited (${c}): ${err}`)));
  });
  t.regex(url, /^https:\/\/127\.0\.0\.1:\d+\/$/);
  const b = await browser(home, { ignoreHTTPSErrors: true });
  t.teardown(() => b.close());
  const page = b.pages()[0] ?? (await b.newPage());
  const resp = await page.goto(url);
  t.regex(resp?.headers()['strict-transport-security'] ?? '', /max-age=/);
  await loginAs(page, 'adam', ADMIN_PW, await nextCode(ctx.adam.seed));
  await page.waitForSelector('#nav:not([hidden])');
  t.is(await page.textContent('#who'), 'adam (admin)');
  const cookies = await b.cookies();
  const session = cookies.find((c) => c.name === 'smq_session');
  t.truthy(session);
  t.true(session!.secure, 'the session cookie is Secure');
  t.true(session!.httpOnly);
  t.is(session!.sameSite, 'Strict');
  t.true(cookies.find((c) => c.name === 'smq_csrf')!.secure, 'so is the CSRF cookie');
  await until(page, `document.querySelectorAll('#fleet-table tbody tr').length >= 1`);
});

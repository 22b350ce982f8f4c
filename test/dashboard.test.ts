// `sealmq dashboard` in Debian's Chromium (playwright-core, headless, nothing downloaded) against the
// sealed pipeline: a real embedded broker, emulated boards flashed and provisioned through their
// consoles, the pipeline's verifier feeding the dashboard. One extra device (node-x) is published by the
// test itself, so a hostile reading and a replayed frame can be injected at the broker.
import test from 'ava';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { PNG } from 'pngjs';
import { utf8Encode } from '../core/bytes.js';
import { deriveKeys, seal } from '../core/frame.js';
import { DEVICE_TOTP_DIGITS, DEVICE_TOTP_STEP, totp } from '../core/otp.js';
import { dashboardOnPipeline } from '../host/dashboard/demo.js';
import { startPipeline } from '../host/pipeline/pipeline.js';
import { nodePrimitives as P, sha1 } from '../host/protocol/node-primitives.js';
import { Box, browser, colourPixels, haveChromium, loginAs, noChromium, until } from './browser-helpers.js';

const have = haveChromium;
const t_ = have ? test.serial : test.skip;
const why = noChromium;
const code = (seed: Uint8Array) => totp(sha1, 64, seed, Date.now() / 1000, 30, 6);
const PW = { alice: 'correct horse battery A1', victor: 'correct horse battery V2' };
const strokePixels = (png: PNG, box: Box) => colourPixels(png, box, [0x2a, 0x7a, 0xb0]);

const dir = mkdtempSync(join(tmpdir(), 'sealmq-dashboard-test-'));
const ctx: Record<string, any> = {};

test.before(async () => {
  if (!have) return;
  const pipe = await startPipeline({ mode: 'sealed', boards: 2, interval: 0.5 });
  const reg = pipe.registry!;
  const seeds: Record<string, Uint8Array> = {};
  for (const [name, role] of [['alice', 'admin'], ['victor', 'viewer']] as const) {
    seeds[name] = new Uint8Array(randomBytes(20));
    await reg.addOperator({ name, role, password: PW[name], actor: 'test', otpSeed: seeds[name] });
    reg.activateOperator(name, 0, 'test');
  }
  const x = { root: new Uint8Array(randomBytes(32)), seed: new Uint8Array(randomBytes(20)) };
  reg.recordProvisioned({ id: 'node-x', root: x.root, otpSeed: x.seed, actor: 'test' });
  const reports = join(dir, 'reports');
  rmSync(reports, { recursive: true, force: true });
  mkdirSync(reports, { recursive: true });
  writeFileSync(join(reports, 'report.html'), '<!doctype html><title>bench</title><h1>bench report</h1>');
  const d = await dashboardOnPipeline(pipe, { listen: 'http://127.0.0.1:0', reportsDir: reports });
  const nodeX = await mqtt.connectAsync(pipe.brokerUrl, {
    username: 'node-x', clientId: 'node-x', protocolVersion: 4, reconnectPeriod: 0,
    password: totp(sha1, 64, x.seed, Date.now() / 1000, DEVICE_TOTP_STEP, DEVICE_TOTP_DIGITS),
  });
  const frameX = (counter: number, d: Record<string, unknown>) =>
    Buffer.from(seal(P, deriveKeys(P, x.root, 'node-x', 'up', 0), 'node-x', 'up', 'up', 0, counter, utf8Encode(JSON.stringify({ t: Date.now() / 1000, d }))));
  Object.assign(ctx, { pipe, d, seeds, nodeX, frameX, url: d.dashboard.url });
});

test.after.always(async () => {
  ctx.nodeX?.end(true);
  await ctx.d?.close();
  await ctx.pipe?.stop();
  rmSync(dir, { recursive: true, force: true });
});

t_('admin: password + TOTP login with back-off, fleet, live readings and a drawn chart, rejections (replay), hostile text inert, sealed ping, CSRF, logout' + why, async (t) => {
  const b = await browser(dir);
  t.teardown(() => b.close());
  const page = b.pages()[0] ?? (await b.newPage());
  const outside: string[] = [];
  page.on('request', (r) => { if (!r.url().startsWith(ctx.url)) outside.push(r.url()); });
  await page.goto(ctx.url);
  // A wrong code fails and starts the account's back-off: even the right code is refused at once.
  await loginAs(page, 'alice', PW.alice, '000000');
  await until(page, `document.querySelector('#login-message').textContent.includes('wrong')`);
  t.regex(await page.textContent('#login-message') ?? '', /failure 1 of 10; next attempt in 1 s/);
  // Inside a back-off even the right code is refused, unchecked. The 1 s one above can be over before a loaded
  // machine's next click reaches the server, so a second failure with a long delay is recorded the way any
  // client's is (the registry's attempt API), and an admin's unlock clears it afterwards. (The back-off's own
  // timing, 1 s, 2 s, 4 s …, is test/operators.test.ts's.)
  await new Promise((r) => setTimeout(r, 1200));
  const reg = ctx.pipe.registry;
  t.is(reg.beginOperatorAttempt('alice', () => 600_000).kind, 'go');
  reg.operatorAttemptFailed('alice', { maxFailures: 10, actor: 'operator:alice', action: 'operator.login.failure', detail: { reason: 'bad-code', from: 'test' } });
  await loginAs(page, 'alice', PW.alice, code(ctx.seeds.alice));
  await until(page, `document.querySelector('#login-message').textContent.includes('try again in')`);
  t.regex(await page.textContent('#login-message') ?? '', /try again in (5\d\d|600) s/);
  reg.unlockOperator('alice', 'test');
  await loginAs(page, 'alice', PW.alice, code(ctx.seeds.alice));
  await page.waitForSelector('#nav:not([hidden])');
  t.is(await page.textContent('#who'), 'alice (admin)');
  const cookie = (await b.cookies()).find((c) => c.name === 'smq_session')!;
  t.true(cookie.httpOnly);
  t.is(cookie.sameSite, 'Strict');
  // The registry keeps the token's hash only.
  t.is(ctx.pipe.registry.getSession(cookie.value), null);

  // Fleet: the boards and node-x.
  await until(page, `[...document.querySelectorAll('#fleet-table tbody tr')].length >= 3`);
  const fleet = await page.textContent('#fleet-table tbody') ?? '';
  for (const id of ['node-01', 'node-02', 'node-x']) t.true(fleet.includes(id), id);

  // Hostile reading, then a replayed frame (the same bytes again), injected at the broker as node-x.
  const hostile = '<img src=x onerror="window.__pwned=1">';
  const f1 = ctx.frameX(1, { temp: 21.5, note: hostile });
  await ctx.nodeX.publishAsync('sealmq/node-x/up', f1);
  for (let i = 2; i <= 6; i++) await ctx.nodeX.publishAsync('sealmq/node-x/up', ctx.frameX(i, { temp: 20 + i }));
  await ctx.nodeX.publishAsync('sealmq/node-x/up', f1);

  await page.click('button[data-tab=live]');
  await until(page, `document.querySelectorAll('#live-device option').length >= 3`);
  await page.selectOption('#live-device', 'node-01');
  await until(page, `document.querySelectorAll('#readings-table tbody tr').length >= 3 && document.querySelectorAll('#charts canvas').length >= 1`);
  await until(page, `[...document.querySelectorAll('#rejections-table tbody tr')].some((r) => r.textContent.includes('node-x') && r.textContent.includes('replay'))`);
  t.pass('the replayed frame shows in the rejection stream with reason replay');
  await new Promise((r) => setTimeout(r, 600));
  const shot = await page.screenshot({ fullPage: true });
  writeFileSync(join(process.env.SEALMQ_DASHBOARD_SHOT_DIR ?? dir, 'dashboard.png'), shot);
  const png = PNG.sync.read(shot);
  const box = await page.evaluate(`(() => { const c = document.querySelector('#charts canvas'); const r = c.getBoundingClientRect(); return { x: r.x + scrollX, y: r.y + scrollY, width: r.width, height: r.height }; })()`) as { x: number; y: number; width: number; height: number };
  const drawn = strokePixels(png, box);
  t.log(`chart ${box.width}x${box.height} px: ${drawn} pixels of the line colour`);
  t.true(drawn > 50, `the chart's line is on the screenshot (${drawn} pixels)`);

  await page.selectOption('#live-device', 'node-x');
  await until(page, `document.querySelector('#readings-table tbody').textContent.includes('onerror')`);
  t.true((await page.textContent('#readings-table tbody'))!.includes(hostile.replace(/"/g, '\\"')), 'the markup shows as text');
  t.is(await page.evaluate(`document.querySelectorAll('#readings-table img, #charts img').length`), 0);
  t.is(await page.evaluate(`window.__pwned`), undefined);

  // A sealed ping and its sealed reply.
  await page.click('button[data-tab=commands]');
  await page.selectOption('#command-device', 'node-01');
  await page.selectOption('#command-name', 'ping');
  await page.click('#command-send');
  await until(page, `document.querySelector('#command-message').textContent.includes('sealed reply')`, 15000);
  t.regex(await page.textContent('#command-message') ?? '', /sealed reply from node-01 to ping in [0-9.]+ ms/);
  t.regex(await page.textContent('#command-reply') ?? '', /"ok": true/);

  // No state change without the CSRF token: a command and a logout by hand, with the session cookie.
  const noCsrf = await page.evaluate(`Promise.all([
    fetch('/api/command', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ device: 'node-01', command: 'ping' }) }).then((r) => r.status),
    fetch('/api/logout', { method: 'POST', headers: { 'content-type': 'application/json', 'x-csrf-token': 'forged' }, body: '{}' }).then((r) => r.status),
    fetch('/api/operators', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'mallory', role: 'admin', password: 'mallory password long' }) }).then((r) => r.status),
    fetch('/api/devices').then((r) => r.status),
  ])`);
  t.deepEqual(noCsrf, [403, 403, 403, 200], 'refused without the token; the session still works');
  t.is(ctx.pipe.registry.getOperator('mallory'), null);

  // Audit: the ping is there under alice, the chain verifies.
  await page.click('button[data-tab=audit]');
  await page.fill('#audit-operator', 'alice');
  await page.click('#audit-form button[type=submit]');
  await until(page, `document.querySelector('#audit-table tbody').textContent.includes('command.sent')`);
  await page.click('#audit-verify');
  await until(page, `document.querySelector('#audit-status').textContent.includes('intact')`, 20000);

  // Reports are listed.
  await page.click('button[data-tab=reports]');
  await page.waitForSelector('#reports-list a');
  t.is(await page.textContent('#reports-list a'), 'report.html');

  // Log out: the old cookie no longer opens anything.
  await page.click('#logout');
  await page.waitForSelector('#login:not([hidden])');
  const after = await fetch(ctx.url + 'api/devices', { headers: { cookie: 'smq_session=' + cookie.value } });
  t.is(after.status, 401);
  t.deepEqual(outside, [], 'the page loads nothing from elsewhere');
});

t_('viewer: readings but no command control, and a command by hand is 403' + why, async (t) => {
  const b = await browser(dir);
  t.teardown(() => b.close());
  const page = b.pages()[0] ?? (await b.newPage());
  await page.goto(ctx.url);
  await loginAs(page, 'victor', PW.victor, code(ctx.seeds.victor));
  await page.waitForSelector('#nav:not([hidden])');
  t.true(await page.isHidden('button[data-tab=commands]'));
  await page.click('button[data-tab=live]');
  await until(page, `document.querySelectorAll('#readings-table tbody tr').length >= 1`);
  const r = await page.evaluate(`(async () => {
    const s = await (await fetch('/api/session')).json();
    const r = await fetch('/api/command', { method: 'POST', headers: { 'content-type': 'application/json', 'x-csrf-token': s.csrf }, body: JSON.stringify({ device: 'node-01', command: 'ping' }) });
    return [r.status, (await r.json()).error];
  })()`) as [number, string];
  t.is(r[0], 403);
  t.regex(r[1], /victor \(viewer\) may not send/);
});

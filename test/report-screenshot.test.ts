// `sealmq report` produces one HTML file that opens in headless Chromium with every plot visible (issue 6):
// small bench outputs (a crypto report written by the bench's own writer, a real `bench verifier` run) go
// through `sealmq report`; Chromium (Debian's, driven by playwright-core; nothing is downloaded) opens the
// page from disk with the network closed; each SVG must have a size and drawn marks, and its region of the
// screenshot (saved as report.png in the test's folder) must not be blank.
import test from 'ava';
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import { PNG } from 'pngjs';
import type { CryptoBenchReport } from '../host/bench/crypto.js';
import { writeCryptoOutputs } from '../host/bench/output.js';
import { sealmq, tmpHome } from './cli-helpers.js';

const CHROMIUM = process.env.CHROMIUM_BIN ?? '/usr/bin/chromium';
const have = existsSync(CHROMIUM);
const t_ = have ? test : test.skip;
const title = 'sealmq report opens in headless Chromium with every plot drawn (screenshot checked)'
  + (have ? '' : ` — SKIPPED: no Chromium at ${CHROMIUM} (apt-get install chromium; .ci/run installs it)`);

/** A small crypto report in the bench's own shape: two sizes, native and pure JS, a footprint. */
function cryptoFixture(): CryptoBenchReport {
  const results: CryptoBenchReport['results'] = [];
  for (const op of ['aes128-cbc-encrypt', 'sha256', 'seal', 'open']) {
    for (const [impl, k] of [['native', 0.1], ['js', 20]] as const) {
      for (const size of [16, 64, 256]) results.push({ op, impl, size, medianMs: k * (1 + size / 64), minMs: k, maxMs: k * 3, reps: 3, inner: 10, vars: 5 });
    }
  }
  results.push({ op: 'x25519', impl: 'tweetnacl', size: null, medianMs: 900, reps: 1, inner: 1 });
  return {
    bench: 'crypto', target: 'fixture board (test)', board: { BOARD: 'TEST', version: '0', emulated: true }, port: 'emulated:test', host: 'test',
    date: new Date(0).toISOString(), method: 'fixture', sizes: [16, 64, 256], reps: 3, results,
    footprint: { bundleBytes: 16000, bundleBudget: 16384, idleVars: 1000, varsPerSeal: 6, seals: 10, growthVars: 0, sealMs: 1, method: 'fixture' },
  };
}

t_(title, async (t) => {
  const dir = tmpHome('sealmq-report-shot-');
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const out = join(dir, 'bench-out');
  mkdirSync(out, { recursive: true });
  await writeCryptoOutputs(cryptoFixture(), out);
  const v = await sealmq(['bench', 'verifier', '--frames', '400', '--runs', '1', '--json', '--out', out]);
  t.is(v.code, 0, v.stderr);
  const rep = await sealmq(['report', out]);
  t.is(rep.code, 0, rep.stderr);
  const html = join(out, 'report.html');
  const expectedPlots = (readFileSync(html, 'utf8').match(/<svg[\s>]/g) ?? []).length;
  t.true(expectedPlots >= 2, `the page inlines both plots (found ${expectedPlots})`);

  const profile = join(dir, 'chromium-profile');
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    // The machine's network is closed and nothing may be fetched: no sandbox (root in CI), no GPU, no
    // background services; the page itself has no external resource.
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
    viewport: { width: 1280, height: 900 },
    offline: true,
  });
  t.teardown(() => ctx.close());
  const page = ctx.pages()[0] ?? (await ctx.newPage());
  const requests: string[] = [];
  page.on('request', (r) => requests.push(r.url()));
  await page.goto(pathToFileURL(html).href, { waitUntil: 'load' });
  t.deepEqual(requests.filter((u) => !u.startsWith('file:')), [], 'the page loads nothing from outside');

  // Each top-level plot: its box on the page, and the marks vega drew in it.
  // (A string: this project compiles without the DOM library.)
  const plots = await page.evaluate(`[...document.querySelectorAll('svg')].filter((s) => !s.parentElement || !s.parentElement.closest('svg')).map((s) => {
    const r = s.getBoundingClientRect();
    const marks = s.querySelectorAll('path, rect, line, circle, text');
    const drawn = [...s.querySelectorAll('.role-mark path, .role-mark rect, .role-mark line, .role-mark circle')]
      .filter((m) => { const b = m.getBBox(); return b.width > 0 || b.height > 0; }).length;
    const t = s.querySelector('.role-title text, text');
    return { x: r.x + window.scrollX, y: r.y + window.scrollY, width: r.width, height: r.height, elements: marks.length, drawn, title: t ? t.textContent : '' };
  })`) as { x: number; y: number; width: number; height: number; elements: number; drawn: number; title: string }[];
  t.is(plots.length, expectedPlots);
  for (const p of plots) {
    t.true(p.width > 100 && p.height > 50, `plot "${p.title}" has a size (${p.width}×${p.height})`);
    t.true(p.drawn > 0, `plot "${p.title}" has drawn marks (${p.drawn} of ${p.elements} elements)`);
  }

  const shot = join(dir, 'report.png');
  await page.screenshot({ path: shot, fullPage: true });
  t.log(`screenshot: ${shot}`);
  if (process.env.SEALMQ_KEEP_SCREENSHOT) copyFileSync(shot, process.env.SEALMQ_KEEP_SCREENSHOT);
  const png = PNG.sync.read(readFileSync(shot));
  for (const p of plots) {
    // Pixels in the plot's box that are not the page background: axes, labels, lines and bars.
    const x0 = Math.max(0, Math.floor(p.x)), y0 = Math.max(0, Math.floor(p.y));
    const x1 = Math.min(png.width, Math.ceil(p.x + p.width)), y1 = Math.min(png.height, Math.ceil(p.y + p.height));
    let ink = 0;
    let colored = 0;
    for (let y = y0; y < y1; y++) {
      for (let x = x0; x < x1; x++) {
        const i = (y * png.width + x) * 4;
        const [r, g, b] = [png.data[i], png.data[i + 1], png.data[i + 2]];
        if (r < 235 || g < 235 || b < 235) ink++;
        if (Math.max(r, g, b) - Math.min(r, g, b) > 60) colored++;
      }
    }
    const area = (x1 - x0) * (y1 - y0);
    t.true(area > 0, `plot "${p.title}" is inside the screenshot`);
    t.true(ink / area > 0.01, `plot "${p.title}": ${ink} of ${area} pixels drawn`);
    t.true(colored > 50, `plot "${p.title}": ${colored} coloured pixels (the data marks)`);
  }
});

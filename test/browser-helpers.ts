// Driving the dashboard in Debian's Chromium (playwright-core, headless, nothing downloaded): shared by the
// dashboard tests. The page's CSP forbids eval, so waits poll page.evaluate instead of waitForFunction.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, Page } from 'playwright-core';
import { PNG } from 'pngjs';

export const CHROMIUM = process.env.CHROMIUM_BIN ?? '/usr/bin/chromium';
export const haveChromium = existsSync(CHROMIUM);
/** Appended to a test's title when Chromium is absent (the test is then skipped, saying why). */
export const noChromium = haveChromium ? '' : ` — SKIPPED: no Chromium at ${CHROMIUM} (apt-get install chromium; .ci/run installs it)`;

export async function browser(dir: string, o: { ignoreHTTPSErrors?: boolean } = {}) {
  return chromium.launchPersistentContext(join(dir, 'profile-' + randomBytes(3).toString('hex')), {
    executablePath: CHROMIUM, headless: true, viewport: { width: 1280, height: 1000 }, ignoreHTTPSErrors: o.ignoreHTTPSErrors,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/** Polls an expression in the page (waitForFunction evaluates by eval(), which the page's CSP forbids, as it should). */
export async function until(page: Page, expr: string, timeoutMs = 10000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await page.evaluate(expr))) {
    if (Date.now() > end) throw new Error('timed out waiting for: ' + expr);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function loginAs(page: Page, name: string, password: string, c: string) {
  await page.fill('#login-name', name);
  await page.fill('#login-password', password);
  await page.fill('#login-code', c);
  await page.click('#login-submit');
}

export interface Box { x: number; y: number; width: number; height: number }

/** An element's box in page coordinates (for a full-page screenshot). */
export async function boxOf(page: Page, selector: string): Promise<Box> {
  return await page.evaluate(`(() => { const r = document.querySelector(${JSON.stringify(selector)}).getBoundingClientRect(); return { x: r.x + scrollX, y: r.y + scrollY, width: r.width, height: r.height }; })()`) as Box;
}

/** Pixels of a colour (within a tolerance) inside a box of the screenshot. */
export function colourPixels(png: PNG, box: Box, rgb: [number, number, number], tolerance = 40): number {
  let n = 0;
  for (let y = Math.max(0, Math.floor(box.y)); y < Math.min(png.height, box.y + box.height); y++) {
    for (let x = Math.max(0, Math.floor(box.x)); x < Math.min(png.width, box.x + box.width); x++) {
      const i = (y * png.width + x) * 4;
      if (Math.abs(png.data[i] - rgb[0]) < tolerance && Math.abs(png.data[i + 1] - rgb[1]) < tolerance && Math.abs(png.data[i + 2] - rgb[2]) < tolerance) n++;
    }
  }
  return n;
}

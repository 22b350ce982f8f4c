// `sealmq bench dashboard` (issue 13 item 9): many devices' readings through the real path to a real page.
// N synthetic devices (each provisioned in a throw-away registry, logged in to the embedded broker as itself
// with its TOTP) publish sealed frames at R readings/s each; the registry verifier (host/verifier/run.ts, the
// same code and order as `sealmq verify`, replay windows made durable by reservation) feeds the dashboard's
// live hub, which pushes batches over server-sent events to the page, open in headless Chromium on its Live
// tab and logged in as an operator with password + TOTP. The page counts what it got and keeps each
// reading's lag; the server counts what it held unsent per page (host/dashboard/sse.ts, bounded).
//
// Everything runs in this process (publishers, broker, verifier, dashboard) except the browser, so the
// figures include their competition for the CPU. Chromium is Debian's (CHROMIUM_BIN, default
// /usr/bin/chromium), driven by playwright-core, loaded only here (a development dependency).
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import mqtt from 'mqtt';
import { toHex, utf8Encode } from '../../core/bytes.js';
import { deriveKeys, seal } from '../../core/frame.js';
import { DEFAULT_PREFIX } from '../../core/ids.js';
import { DEVICE_TOTP_DIGITS, DEVICE_TOTP_STEP, totp } from '../../core/otp.js';
import { startBroker } from '../broker/broker.js';
import { LiveHub } from '../dashboard/live.js';
import { startDashboard } from '../dashboard/server.js';
import type { StreamStats } from '../dashboard/sse.js';
import { SealmqError } from '../errors.js';
import { operatorCode } from '../operators/totp.js';
import { cachingNodePrimitives, sha1 } from '../protocol/node-primitives.js';
import { openRegistry } from '../registry/registry.js';
import { runVerifier } from '../verifier/run.js';
import { percentiles, Percentiles } from './latency.js';

export interface DashboardBenchOptions {
  devices: number;
  /** Readings per second per device. */
  rate: number;
  seconds: number;
  /** Chromium's executable (default $CHROMIUM_BIN or /usr/bin/chromium). */
  chromium?: string;
  /** How long to wait for the last readings to reach the page after publishing stops (ms, default 30,000). */
  drainMs?: number;
  /** Bytes held unsent for one page before its stream is ended as too slow (default sse.ts's). */
  streamLimitBytes?: number;
  onProgress?: (label: string, done: number, total: number) => void;
}

export interface DashboardBenchReport {
  devices: number;
  ratePerDevice: number;
  seconds: number;
  /** Frames published, accepted and rejected by the verifier, readings that reached the page. */
  sent: number;
  accepted: number;
  rejected: number;
  delivered: number;
  /** delivered ÷ sent. */
  deliveredShare: number;
  /** Readings per second offered (sent ÷ publishing time) and delivered to the page over the same time. */
  offeredPerSecond: number;
  /** Hub receive → page receive; reading's t (publisher's clock, the same host) → page receive; data waiting for a render. */
  serverToPage: Percentiles;
  readingToPage: Percentiles;
  renderWait: Percentiles;
  /** Server-sent batches (events) the page got, and page renders. */
  batches: number;
  renders: number;
  /** The server's streams: the most bytes held unsent for the page, the bound, streams ended as too slow. */
  streams: StreamStats;
  /** Event-loop delay of the server process while publishing (ms). */
  serverLoopDelay: { p50Ms: number; p99Ms: number; maxMs: number };
  platform: { node: string; cpu: string; cores: number; loadavgStart: number[]; loadavgEnd: number[] };
  method: string;
}

const wallMs = () => performance.timeOrigin + performance.now();
const r3 = (x: number) => Math.round(x * 1000) / 1000;

function connect(url: string, username: string, password: string): Promise<mqtt.MqttClient> {
  return new Promise((resolve, reject) => {
    const c = mqtt.connect(url, { username, password, clientId: username, protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 10_000 });
    c.once('connect', () => resolve(c));
    c.once('error', (e) => { c.end(true); reject(new Error(`bench: ${username} cannot log in to the broker: ${e.message}`)); });
  });
}

async function loadChromium(): Promise<typeof import('playwright-core')> {
  try {
    return await import('playwright-core');
  } catch {
    throw new SealmqError('usage', 'bench dashboard drives a real page and needs playwright-core (a development dependency)', {
      hint: 'run it from a checkout with the development dependencies installed (npm install)',
    });
  }
}

export async function runDashboardBench(o: DashboardBenchOptions): Promise<DashboardBenchReport> {
  const chromiumBin = o.chromium ?? process.env.CHROMIUM_BIN ?? '/usr/bin/chromium';
  if (!existsSync(chromiumBin)) throw new SealmqError('usage', `no Chromium at ${chromiumBin}`, { hint: 'apt-get install chromium, or --chromium PATH (or CHROMIUM_BIN)' });
  const { chromium } = await loadChromium();
  const loadavgStart = loadavg();
  const home = mkdtempSync(join(tmpdir(), 'sealmq-bench-dashboard-'));
  const cleanup: (() => Promise<unknown> | unknown)[] = [() => rmSync(home, { recursive: true, force: true })];
  const P = cachingNodePrimitives();
  try {
    o.onProgress?.('provisioning synthetic devices', 0, o.devices);
    const reg = openRegistry({ home });
    cleanup.unshift(() => reg.close());
    await reg.unlock(toHex(new Uint8Array(randomBytes(24))));
    const devices: { id: string; keys: ReturnType<typeof deriveKeys>; otpSeed: Uint8Array; counter: number; client?: mqtt.MqttClient }[] = [];
    for (let d = 0; d < o.devices; d++) {
      const id = 'dash-' + String(d).padStart(4, '0');
      const root = new Uint8Array(randomBytes(32));
      const otpSeed = new Uint8Array(randomBytes(20));
      reg.recordProvisioned({ id, root, otpSeed, actor: 'bench' });
      devices.push({ id, keys: deriveKeys(P, root, id, 'up', 0), otpSeed, counter: 0 });
    }
    // The verifier's broker login, and the page's operator (password + TOTP, as a person logs in).
    const verifierLogin = { username: 'bench-verifier', password: toHex(new Uint8Array(randomBytes(18))) };
    await reg.addOperator({ name: verifierLogin.username, role: 'viewer', password: verifierLogin.password, actor: 'bench' });
    const page = { name: 'bench-viewer', password: toHex(new Uint8Array(randomBytes(18))), seed: new Uint8Array(randomBytes(20)) };
    await reg.addOperator({ name: page.name, role: 'viewer', password: page.password, actor: 'bench', otpSeed: page.seed });
    reg.activateOperator(page.name, 0, 'bench');

    const broker = await startBroker({ registry: reg, listen: 'mqtt://127.0.0.1:0', maxConnections: o.devices + 50, maxFailures: 1000 });
    cleanup.unshift(() => broker.close());
    const live = new LiveHub();
    cleanup.unshift(() => live.close());
    const verifier = await runVerifier({ registry: reg, brokerUrl: broker.url, ...verifierLogin, onResult: (r) => live.push(r) });
    cleanup.unshift(() => verifier.close());
    const dash = await startDashboard({ registry: reg, live, listen: 'http://127.0.0.1:0', streamLimitBytes: o.streamLimitBytes });
    cleanup.unshift(() => dash.close());

    o.onProgress?.('opening the page in Chromium', 0, 1);
    const browser = await chromium.launch({
      executablePath: chromiumBin, headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    cleanup.unshift(() => browser.close());
    const tab = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    await tab.goto(dash.url);
    await tab.fill('#login-name', page.name);
    await tab.fill('#login-password', page.password);
    await tab.fill('#login-code', operatorCode(page.seed, Date.now()));
    await tab.click('#login-submit');
    await tab.waitForSelector('#nav:not([hidden])', { timeout: 15_000 });
    await tab.click('button[data-tab=live]');
    const pageStats = async () => await tab.evaluate('window.__sealmq') as { readings: number; batches: number; renders: number; opened: number; ended: number };
    const until = async (f: () => Promise<boolean>, ms: number) => {
      const end = Date.now() + ms;
      while (!(await f())) {
        if (Date.now() > end) return false;
        await new Promise((r) => setTimeout(r, 200));
      }
      return true;
    };
    if (!(await until(async () => (await pageStats()).opened >= 1, 15_000))) throw new Error('bench: the page never opened its event stream');

    o.onProgress?.('devices logging in', 0, o.devices);
    const now = Math.floor(Date.now() / 1000);
    for (let i = 0; i < devices.length; i += 20) {
      await Promise.all(devices.slice(i, i + 20).map(async (d) => {
        d.client = await connect(broker.url, d.id, totp(sha1, 64, d.otpSeed, now, DEVICE_TOTP_STEP, DEVICE_TOTP_DIGITS));
      }));
      o.onProgress?.('devices logging in', Math.min(i + 20, devices.length), o.devices);
    }
    cleanup.unshift(() => devices.forEach((d) => d.client?.end(true)));

    // Publishing: device k sends its n-th reading at t0 + (n + k / N) / R seconds (spread evenly), QoS 0 as
    // the firmware does; one 5 ms tick sends whatever is due, so a late tick catches up instead of drifting.
    const total = Math.round(o.devices * o.rate * o.seconds);
    const perDevice = Math.round(o.rate * o.seconds);
    const loop = monitorEventLoopDelay({ resolution: 1 });
    let sent = 0;
    let reported = 0;
    const t0 = wallMs() + 50;
    loop.enable();
    await new Promise<void>((resolve) => {
      const tick = setInterval(() => {
        const at = wallMs();
        for (let k = 0; k < devices.length; k++) {
          const d = devices[k];
          while (d.counter < perDevice && t0 + ((d.counter + k / devices.length) / o.rate) * 1000 <= at) {
            const c = ++d.counter;
            const body = utf8Encode(JSON.stringify({ t: wallMs() / 1000, d: { temp: r3(20 + Math.sin(c / 10) * 2), hum: 40 + (c % 20), n: c } }));
            const f = seal(P, d.keys, d.id, 'up', 'up', 0, c, body);
            d.client!.publish(`${DEFAULT_PREFIX}/${d.id}/up`, Buffer.from(f.buffer, f.byteOffset, f.length), { qos: 0 });
            sent++;
          }
        }
        if (sent - reported >= 500) o.onProgress?.('publishing', (reported = sent), total);
        if (sent >= total) { clearInterval(tick); resolve(); }
      }, 5);
    });
    const publishSeconds = (wallMs() - t0) / 1000;
    loop.disable();
    o.onProgress?.('waiting for the page', 0, total);
    await until(async () => (await pageStats()).readings >= sent, o.drainMs ?? 30_000);
    const ps = await pageStats();
    const lags = await tab.evaluate('window.__sealmqLags()') as { server: number[]; sent: (number | null)[]; render: number[] };
    o.onProgress?.('waiting for the page', ps.readings, total);
    const ms = (ns: number) => r3(ns / 1e6);
    return {
      devices: o.devices, ratePerDevice: o.rate, seconds: o.seconds,
      sent, accepted: verifier.stats.accepted, rejected: verifier.stats.rejected, delivered: ps.readings,
      deliveredShare: r3(ps.readings / Math.max(1, sent)),
      offeredPerSecond: Math.round(sent / publishSeconds),
      serverToPage: percentiles(lags.server), readingToPage: percentiles(lags.sent.filter((x): x is number => typeof x === 'number' && Number.isFinite(x))),
      renderWait: percentiles(lags.render),
      batches: ps.batches, renders: ps.renders,
      streams: { ...dash.streams },
      serverLoopDelay: { p50Ms: ms(loop.percentile(50)), p99Ms: ms(loop.percentile(99)), maxMs: ms(loop.max) },
      platform: { node: process.version, cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, loadavgStart: loadavgStart.map(r3), loadavgEnd: loadavg().map(r3) },
      method: `${o.devices} synthetic devices, each provisioned in a throw-away registry and logged in to the embedded broker as itself (TOTP), publish sealed frames `
        + `(QoS 0, counter order, spread evenly) at ${o.rate} readings/s each for ${o.seconds} s; the registry verifier (durable replay windows by reservation) `
        + 'feeds the dashboard\'s live hub (one server-sent event per 200 ms flush); the page runs in headless Chromium, logged in with password + TOTP, on its Live tab '
        + '(table, rejection stream and charts of one device redrawn as data comes). delivered: readings counted by the page. serverToPage: hub receive → page receive; '
        + 'readingToPage: the reading\'s t (set by the publisher on this host) → page receive; renderWait: the oldest data not yet shown → the render that shows it. '
        + 'Publishers, broker, verifier and dashboard share this process; Chromium is its own.',
    };
  } finally {
    for (const c of cleanup) {
      try { await c(); } catch { /* best effort */ }
    }
  }
}

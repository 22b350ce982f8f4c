// `sealmq bench dashboard`: N devices × R readings/s through the broker and the verifier to the dashboard's
// page in headless Chromium (host/bench/dashboard.ts): delivered ÷ sent, lags to the page, what the server
// held unsent; dashboard.json under --out. Joins the `bench` group.
import { Command } from 'commander';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { runDashboardBench, DashboardBenchReport } from '../bench/dashboard.js';
import type { Percentiles } from '../bench/latency.js';
import { inputError, usageError } from '../errors.js';
import { grouped, intOption, numberOption } from './int-option.js';
import { table } from './passphrase.js';
import { progress } from './progress.js';

const ms = (x: number | null) => (x === null ? '-' : x.toFixed(1));
const row = (name: string, p: Percentiles) => [name, ms(p.p50Ms), ms(p.p95Ms), ms(p.p99Ms), ms(p.maxMs), grouped(p.n)];

function render(r: DashboardBenchReport, file: string): string {
  const kb = (b: number) => (b / 1024).toFixed(0) + ' KB';
  const out = [
    `dashboard: ${r.devices} devices × ${r.ratePerDevice} readings/s for ${r.seconds} s, sealed, through the embedded broker and the registry verifier, to the page in headless Chromium`,
    `platform: node ${r.platform.node}, ${r.platform.cpu}, ${r.platform.cores} cores, load ${r.platform.loadavgStart.join(' ')} → ${r.platform.loadavgEnd.join(' ')}`,
    '',
    `delivered to the page: ${grouped(r.delivered)} of ${grouped(r.sent)} sent (${(r.deliveredShare * 100).toFixed(1)} %); verifier accepted ${grouped(r.accepted)}, rejected ${grouped(r.rejected)}; offered ${grouped(r.offeredPerSecond)} readings/s`,
    table(['LAG', 'P50 MS', 'P95 MS', 'P99 MS', 'MAX MS', 'N'], [
      row('server → page (hub receive → page receive)', r.serverToPage),
      row('reading → page (its t → page receive)', r.readingToPage),
      row('data waiting for a page render', r.renderWait),
    ]),
    `${grouped(r.batches)} batches (server-sent events), ${grouped(r.renders)} renders; server event-loop delay p50 ${r.serverLoopDelay.p50Ms} ms, p99 ${r.serverLoopDelay.p99Ms} ms, max ${r.serverLoopDelay.maxMs} ms`,
    `held unsent for the page at most ${kb(r.streams.maxQueuedBytes)} (bound ${kb(r.streams.limitBytes)}); streams ended as too slow: ${r.streams.endedSlow}`,
    `file: ${file}`,
  ];
  return out.join('\n') + '\n';
}

export function registerBenchDashboard(bench: Command): void {
  bench.command('dashboard')
    .description('N devices × R readings/s, sealed, through the embedded broker and the registry verifier to the dashboard page in headless Chromium: delivered ÷ sent, lag to the page (p50/p95/p99), what the server held unsent')
    .option('--devices <n>', 'synthetic devices', intOption('devices', 1, 1000), 100)
    .option('--rate <r>', 'readings per second per device', numberOption('rate', 0.1, 100), 10)
    .option('--seconds <s>', 'seconds of publishing', numberOption('seconds', 1, 3600), 20)
    .option('--chromium <path>', 'Chromium executable (default $CHROMIUM_BIN or /usr/bin/chromium)')
    .option('--out <dir>', 'directory for dashboard.json', 'bench-out')
    .option('--json', 'one JSON object on stdout instead of a table')
    .addHelpText('after', '\nEverything runs in a throw-away registry; the page logs in as a throw-away operator. Needs Chromium and\nplaywright-core (a development dependency). Method and figures: docs/BENCHMARKS.md, docs/DASHBOARD.md.\nExit code: 0 when every reading sent reached the page; 1 otherwise.')
    .action(async (o: { devices: number; rate: number; seconds: number; chromium?: string; out: string; json?: boolean }) => {
      const bar = progress(!o.json, 'bench dashboard');
      let r: DashboardBenchReport;
      try {
        r = await runDashboardBench({ devices: o.devices, rate: o.rate, seconds: o.seconds, chromium: o.chromium, onProgress: (l, d, t) => bar.update(l, d, t) });
      } finally {
        bar.stop();
      }
      const dir = resolve(o.out);
      const file = join(dir, 'dashboard.json');
      try {
        mkdirSync(dir, { recursive: true });
        writeFileSync(file, JSON.stringify(r, null, 2) + '\n');
      } catch (e) {
        throw inputError(`--out: cannot write to ${dir}: ${(e as Error).message}`);
      }
      process.stdout.write(o.json ? JSON.stringify(r) + '\n' : render(r, file));
      process.exitCode = r.delivered === r.sent && r.sent > 0 ? 0 : 1;
    });
}

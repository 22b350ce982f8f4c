// `sealmq bench latency`: the sealed pipeline and the research plain pipeline side by side on emulated
// boards (host/bench/latency.ts), percentiles per pipeline and the overhead of sealing; JSON, CSV and an
// SVG under --out for `sealmq report`. Joins the `bench` group.
import { Command, Option } from 'commander';
import { BOARD_TARGETS, type BoardTarget } from '../emulator/process.js';
import { resolve } from 'node:path';
import { usageError } from '../errors.js';
import { runLatencyBench, writeLatencyOutputs, LatencyReport, Percentiles } from '../bench/latency.js';
import { PLAIN_LABEL } from '../verifier/plain.js';
import { intOption, numberOption } from './int-option.js';
import { table } from './passphrase.js';
import { progress } from './progress.js';

const ms = (x: number | null) => (x === null ? '-' : x.toFixed(3));
const row = (name: string, p: Percentiles) => [name, ms(p.p50Ms), ms(p.p95Ms), ms(p.p99Ms), ms(p.maxMs), String(p.n)];

function render(r: LatencyReport, files: string[]): string {
  const o = r.overhead;
  const out: string[] = [];
  out.push(`end-to-end latency, board reading → verifier output: ${r.boards} sealed + ${r.boards} plain boards at once: ${r.target}; ${r.seconds} s, a reading every ${r.intervalS} s per board`);
  out.push(`sealed verifier store: ${r.verifierStore}${r.verifierStore === 'memory' ? ' (NO durable write before output: not what sealmq verify does)' : ' (replay window durable before output, as sealmq verify)'}`);
  out.push(`plain = the ${PLAIN_LABEL} pipeline (no sealing, anonymous broker), run here for comparison only`);
  out.push(`platform: node ${r.platform.node}, ${r.platform.cpu}, ${r.platform.cores} cores, load ${r.platform.loadavgStart.join(' ')} → ${r.platform.loadavgEnd.join(' ')}`);
  out.push('');
  out.push(table(['PIPELINE', 'P50 MS', 'P95 MS', 'P99 MS', 'MAX MS', 'N'], [
    row('plain', r.plain), row('sealed', r.sealed),
    row('  plain: wire (reading → verifier input)', r.plain.wire), row('  sealed: wire', r.sealed.wire),
    row('  plain: verifier (input → output)', r.plain.verify), row('  sealed: verifier (input → output)', r.sealed.verify),
    row('  sealed: of which durable writes (fsync)', r.sealed.durable),
    row('  plain: without durable writes', r.plain.withoutDurable), row('  sealed: without durable writes', r.sealed.withoutDurable),
  ]));
  out.push(`overhead of sealing: p50 +${ms(o.p50Ms)} ms (×${o.p50Ratio ?? '-'}), p95 +${ms(o.p95Ms)} ms (×${o.p95Ratio ?? '-'}), p99 +${ms(o.p99Ms)} ms (×${o.p99Ratio ?? '-'})`);
  out.push(`without the verifier's durable writes (subtracted per reading${r.verifierStore === 'memory' ? '; none here' : '; --verifier-store memory leaves them out instead'}): p50 +${ms(o.withoutDurable.p50Ms)} ms (×${o.withoutDurable.p50Ratio ?? '-'}), p95 +${ms(o.withoutDurable.p95Ms)} ms, p99 +${ms(o.withoutDurable.p99Ms)} ms`);
  out.push(`target (issue 6): sealed p50 within 0.2 ms of plain p50 — ${r.target02.met ? 'met' : `NOT met (by ${ms(r.target02.p50DifferenceMs === null ? null : r.target02.p50DifferenceMs - 0.2)} ms)`}; ` +
    `without the durable writes ${r.target02.withoutDurableMet ? 'met' : 'not met'}`);
  out.push(`readings at 35–45 ms (where a Nagle stall would show): plain ${r.plain.near40Ms}, sealed ${r.sealed.near40Ms}; rejected: plain ${r.plain.rejected}, sealed ${r.sealed.rejected}`);
  out.push(`files: ${files.join(', ')}`);
  return out.join('\n') + '\n';
}

export function registerBenchLatency(bench: Command): void {
  bench.command('latency')
    .description(`end-to-end latency, board reading → verifier output, of the sealed pipeline and the research plain pipeline (${PLAIN_LABEL}) in one run on emulated boards or Espruino's Linux interpreter: p50/p95/p99/max and the overhead of sealing`)
    .option('--boards <n>', 'boards per pipeline', intOption('boards', 1, 16), 3)
    .addOption(new Option('--target <target>', 'what runs the boards: emulated, espruino (Espruino\'s own Linux interpreter; its clock is the host\'s too) or qemu (Espruino\'s STM32 firmware on QEMU, MQTT through a gateway each; its clock is aligned over the console first)').choices([...BOARD_TARGETS]).default('emulated'))
    .option('--seconds <s>', 'measured seconds (after a warm-up)', numberOption('seconds', 1, 3600), 20)
    .option('--broker <kind>', 'embedded, or mosquitto (the OS package: the sealed pipeline on the emitted deny-by-default config with the TOTP plugin, the plain one anonymous)', 'embedded')
    .option('--interval <s>', 'seconds between readings on each board', numberOption('interval', 0.05, 60), 0.1)
    .option('--verifier-store <store>', 'registry (durable before output, as sealmq verify) or memory (no fsync: to separate storage from the protocol; not the product)', 'registry')
    .option('--warmup <s>', 'seconds of readings discarded first', numberOption('warmup', 0, 600), 2)
    .option('--out <dir>', 'directory for latency.json, latency.csv (one row per reading) and latency.svg', 'bench-out')
    .option('--json', 'one JSON object on stdout instead of a table')
    .addHelpText('after', '\nBoth pipelines run at the same time, so the machine\'s load falls on both alike. The plain pipeline is\nstarted for this comparison only (RESEARCH PLAIN / NOT SECURE). Method and figures: docs/BENCHMARKS.md.\nExit code: 0 when both pipelines delivered readings; 1 otherwise.')
    .action(async (o: { boards: number; seconds: number; broker: string; interval: number; warmup: number; verifierStore: string; out: string; json?: boolean; target: BoardTarget }) => {
      if (o.broker !== 'embedded' && o.broker !== 'mosquitto') throw usageError(`--broker: embedded or mosquitto, got ${JSON.stringify(o.broker)}`);
      if (o.verifierStore !== 'registry' && o.verifierStore !== 'memory') throw usageError(`--verifier-store: registry or memory, got ${JSON.stringify(o.verifierStore)}`);
      const bar = progress(!o.json, 'bench latency');
      let res;
      try {
        res = await runLatencyBench({ boards: o.boards, seconds: o.seconds, broker: o.broker, interval: o.interval, warmupSeconds: o.warmup, verifierStore: o.verifierStore as 'registry' | 'memory', target: o.target, onProgress: (l, d, t) => bar.update(l, d, t) });
      } finally {
        bar.stop();
      }
      const f = await writeLatencyOutputs(res.report, res.samples, resolve(o.out));
      const r = res.report;
      if (o.json) {
        // The issue's shape first ({"plain":{"p50Ms",…,"n"},"sealed":{…},"overhead":{…}}), then the detail.
        const { plain, sealed, overhead, ...rest } = r;
        process.stdout.write(JSON.stringify({ plain, sealed, overhead, ...rest }) + '\n');
      } else process.stdout.write(render(r, [f.json, f.csv, f.svg]));
      process.exitCode = r.plain.n > 0 && r.sealed.n > 0 ? 0 : 1;
    });
}

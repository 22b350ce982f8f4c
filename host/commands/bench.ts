// `sealmq bench …`: reproducible measurements, a table for people (or --json), JSON + CSV under --out.
// `bench verifier` lives here (host/bench/verifier.ts); `bench crypto`, `bench latency` and `bench dashboard`
// join the group from their own files.
import { Command } from 'commander';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { inputError, usageError } from '../errors.js';
import { benchCsv, runVerifierBench, VerifierBenchReport } from '../bench/verifier.js';
import { BenchBroker, runBrokerBench } from '../bench/verifier-broker.js';
import { haveMosquitto, MOSQUITTO_BIN } from '../pipeline/mosquitto.js';
import { writeVerifierSvg } from '../bench/output.js';
import { grouped, intOption } from './int-option.js';
import { table } from './passphrase.js';
import { progress } from './progress.js';
import { registerBenchLatency } from './bench-latency.js';
import { registerBenchDashboard } from './bench-dashboard.js';

/** Writes <dir>/<name>.json and <dir>/<name>.csv; returns their paths. */
function writeBenchFiles(dir: string, name: string, json: unknown, csv: string): string[] {
  const abs = resolve(dir);
  try {
    mkdirSync(abs, { recursive: true });
    const files = [join(abs, name + '.json'), join(abs, name + '.csv')];
    writeFileSync(files[0], JSON.stringify(json, null, 2) + '\n');
    writeFileSync(files[1], csv);
    return files;
  } catch (e) {
    throw inputError(`--out: cannot write to ${abs}: ${(e as Error).message}`);
  }
}

function renderVerifier(r: VerifierBenchReport, files: string[]): string {
  const us = (x: number) => x.toFixed(2);
  const out: string[] = [];
  out.push(`verifier throughput, one core, in-process: ${grouped(r.frames)} frames × ${r.runs} runs, ${r.devices} devices, ${r.frameBytes}-byte frames`);
  out.push(`platform: node ${r.platform.node}, ${r.platform.cpu}, ${r.platform.cores} cores, load ${r.platform.loadavgStart.join(' ')} → ${r.platform.loadavgEnd.join(' ')}`);
  out.push('');
  out.push(table(['PASS', 'FRAMES/S (WALL)', 'µS/FRAME', 'FRAMES/S (CPU)', 'VERIFIER ÷ THIS'], [
    ['verifier (Verifier.handle)', grouped(r.framesPerSecond), us(r.microsecondsPerFrame.verifier), grouped(r.cpu.framesPerSecond), '1'],
    ['ceiling (HMAC + CBC decrypt, one-shot)', grouped(r.ceilingFramesPerSecond), us(r.microsecondsPerFrame.ceiling), grouped(r.cpu.ceilingFramesPerSecond), `${r.ratio.toFixed(3)} (per run ${r.ratioPerRun.toFixed(3)})`],
    ['ceiling, AES schedules kept', grouped(r.keyedCeilingFramesPerSecond), us(r.microsecondsPerFrame.keyedCeiling), grouped(r.cpu.keyedCeilingFramesPerSecond), r.keyedRatio.toFixed(3)],
  ]));
  out.push(`budget (DESIGN.md §8): ≥ ${grouped(r.budgetFramesPerSecond)} frames/s — ${r.meetsBudget ? 'met' : 'NOT met'} on this run (median; fastest run ${grouped(r.best.framesPerSecond)})`);
  out.push(`every frame opened in every verifier pass: ${r.allOpened ? 'yes' : 'NO'}`);
  const shown = [r.broker, r.mosquitto && !('skipped' in r.mosquitto) ? r.mosquitto : undefined].filter((x): x is NonNullable<typeof r.broker> => !!x);
  if (shown.length) {
    const mb = (x: number) => (x / 1048576).toFixed(1) + ' MB';
    const b0 = shown[0];
    out.push('');
    const writes = b0.packetsPerWrite === 1 ? 'one packet a write' : `${b0.packetsPerWrite} packets a write`;
    const shots = b0.shots.length;
    out.push(`through the broker: ${b0.publishers} synthetic publishers × ${grouped(b0.framesPerPublisher)} frames × ${shots} shot${shots === 1 ? '' : 's'} (a process of their own, ${writes}), broker on loopback, the registry verifier (as sealmq verify runs it) in its own process`);
    out.push(table(['BROKER', 'FRAMES', 'ACCEPTED', 'REJECTED', 'SECONDS', 'FRAMES/S END TO END', 'SLOWEST–FASTEST SHOT', '÷ IN-PROCESS', 'FRAMES/S AT THE VERIFIER', 'COMMITS'], shown.map((b) => [
      b.broker, grouped(b.frames), grouped(b.accepted), b.rejected ? `${grouped(b.rejected)} ${JSON.stringify(b.byReason)}` : '0', b.seconds.toFixed(2),
      grouped(b.framesPerSecond), `${grouped(b.framesPerSecondRange.min)}–${grouped(b.framesPerSecondRange.max)}`, b.ratioToInProcess.toFixed(3), grouped(b.verifierFramesPerSecond), grouped(b.commits)])));
    if (shots > 1) out.push(`frames/s through the broker: the median of ${shots} shots; each shot's figures in the JSON (shots)`);
    out.push(table(['CPU µs PER FRAME', 'BROKER', 'VERIFIER', 'PUBLISHERS'], shown.map((b) => [
      b.broker, b.cpuUsPerFrame.broker === null ? '–' : b.cpuUsPerFrame.broker.toFixed(1), b.cpuUsPerFrame.verifier.toFixed(1), b.cpuUsPerFrame.publishers.toFixed(1)])));
    out.push(table(['VERIFIER PROCESS', ...shown.flatMap((b) => [`${b.broker}: BEFORE`, 'PEAK', 'AFTER'])], [
      ['heapUsed', ...shown.flatMap((b) => [mb(b.memory.before.heapUsed), mb(b.memory.peak.heapUsed), mb(b.memory.after.heapUsed)])],
      ['RSS', ...shown.flatMap((b) => [mb(b.memory.before.rss), mb(b.memory.peak.rss), mb(b.memory.after.rss)])],
    ]));
  }
  if (r.mosquitto && 'skipped' in r.mosquitto) out.push(`Mosquitto: not run (${r.mosquitto.skipped})`);
  out.push(`medians of ${r.runs} runs after a warm-up; per-run figures in ${files.join(' and ')}`);
  return out.join('\n') + '\n';
}

function registerVerifier(bench: Command): void {
  bench.command('verifier')
    .description('frames opened per second by the Verifier on one core, in-process, next to a node:crypto ceiling (HMAC + AES-CBC decrypt) measured in the same run')
    .option('--frames <n>', 'frames per run', intOption('frames', 1, 2_000_000), 50_000)
    .option('--devices <n>', 'devices the frames are spread over', intOption('devices', 1, 100_000), 100)
    .option('--runs <n>', 'measured repetitions (the figures are their medians)', intOption('runs', 1, 1000), 9)
    .option('--through-broker', 'then the same verifier in service: synthetic publishers → embedded broker → the registry verifier in its own process (frames/s end to end, its memory)')
    .option('--publishers <n>', 'with --through-broker: synthetic publishing devices (default: --devices)', intOption('publishers', 1, 5000))
    .option('--publisher-frames <n>', 'with --through-broker: frames each publisher sends a shot', intOption('publisher-frames', 1, 100_000), 50)
    .option('--shots <n>', 'with --through-broker: shots, back to back (the figures are their medians, with the slowest and fastest)', intOption('shots', 1, 100), 5)
    .option('--packets-per-write <n>', 'with --through-broker: PUBLISH packets each publisher writes to its socket at once (1: one TCP segment a reading, as a board sends; more: a device or gateway flushing a backlog, which costs the load generator and the broker fewer syscalls)', intOption('packets-per-write', 1, 1000), 1)
    .option('--brokers <list>', 'with --through-broker: embedded, mosquitto, or both (Mosquitto: the OS package with the config --emit-mosquitto writes; skipped with the reason when it is not installed)', 'embedded,mosquitto')
    .option('--out <dir>', 'directory for verifier.json, verifier.csv and verifier.svg', 'bench-out')
    .option('--json', 'one JSON object on stdout instead of a table')
    .addHelpText('after', '\nFigures are medians of wall-clock frames/s on one thread. The CPU column is process CPU time (the GC\nthreads included): less exposed to other load on a shared machine, but not a one-core figure.\nMethod and figures: docs/VERIFIER-PERF.md.')
    .action(async (o: { frames: number; devices: number; runs: number; out: string; json?: boolean; throughBroker?: boolean; publishers?: number; publisherFrames: number; shots: number; packetsPerWrite: number; brokers: string }) => {
      const brokers = o.brokers.split(',').map((b) => b.trim());
      if (!brokers.length || brokers.some((b) => b !== 'embedded' && b !== 'mosquitto')) throw usageError(`--brokers: ${JSON.stringify(o.brokers)}: give embedded, mosquitto or embedded,mosquitto`);
      const bar = progress(!o.json, 'bench verifier');
      let r: VerifierBenchReport;
      try {
        r = runVerifierBench({ frames: o.frames, devices: o.devices, runs: o.runs, onProgress: (label, done, total) => bar.update(label, done, total) });
        if (o.throughBroker) {
          const run = async (broker: BenchBroker) => {
            const b = await runBrokerBench({ broker, publishers: o.publishers ?? o.devices, framesPerPublisher: o.publisherFrames, shots: o.shots, packetsPerWrite: o.packetsPerWrite, onProgress: (label, done, total) => bar.update(`${broker}: ${label}`, done, total) });
            return { ...b, ratioToInProcess: Math.round((b.framesPerSecond / r.framesPerSecond) * 1000) / 1000 };
          };
          if (brokers.includes('embedded')) r.broker = await run('embedded');
          if (brokers.includes('mosquitto')) r.mosquitto = haveMosquitto() ? await run('mosquitto') : { skipped: `mosquitto not found (${MOSQUITTO_BIN}): apt install mosquitto, or set SEALMQ_MOSQUITTO` };
        }
      } finally {
        bar.stop();
      }
      const files = writeBenchFiles(o.out, 'verifier', r, benchCsv(r));
      files.push(await writeVerifierSvg(r, resolve(o.out)));
      process.stdout.write(o.json ? JSON.stringify(r) + '\n' : renderVerifier(r, files));
    });
}

export function register(program: Command): void {
  // Every bench command joins one `bench` group, whichever registers first.
  const bench = program.commands.find((c) => c.name() === 'bench')
    ?? program.command('bench').description('reproducible measurements: on-device crypto cost, the firmware footprint, the verifier');
  registerVerifier(bench);
  registerBenchLatency(bench);
  registerBenchDashboard(bench);
}

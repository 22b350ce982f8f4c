// `sealmq attack …`: attacks on sealmq's pieces and pipelines, each reporting the statistics that judge it.
// One subcommand per attack; add yours with its own register function below.
import { Command, Option } from 'commander';
import { randomInt } from 'node:crypto';
import { EXIT } from '../errors.js';
import { COMPARERS, ComparerName, runTiming, TimingReport } from '../attack/timing.js';
import { MAX_SEED } from '../fuzz/prng.js';
import { grouped, intOption } from './int-option.js';
import { table } from './passphrase.js';
import { progress } from './progress.js';

const ns = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : '-');

function renderTiming(r: TimingReport): string {
  const out: string[] = [];
  out.push(`timing attack on the tag comparison: ${grouped(r.trials)} timed measurements per experiment, ${r.batch} calls each, seed ${r.seed}`);
  out.push(`platform: node ${r.platform.node}, ${r.platform.cpu}, ${r.platform.cores} cores, load ${r.platform.loadavg.join(' ')}`);
  out.push('');
  out.push(table(['COMPARER', 'NS/CALL', 'RIGHT−WRONG NS', `WELCH t`, `|t| > ${r.threshold}`, 'BYTE', 'RANK OF TRUE BYTE', 'z', 'RECOVERED'],
    r.comparers.flatMap((c) => c.recovery.map((rc, i) => [
      i === 0 ? c.name : '', i === 0 ? ns(c.nsPerCall) : '',
      i === 0 ? (c.leak.meanRightNs - c.leak.meanWrongNs >= 0 ? '+' : '') + (c.leak.meanRightNs - c.leak.meanWrongNs).toFixed(2) : '',
      i === 0 ? c.leak.t.toFixed(2) : '', i === 0 ? (c.leak.distinguishable ? 'distinguishable' : 'no') : '',
      String(rc.position), `${rc.rank}/256 (p ${rc.rankP.toFixed(3)})`, Number.isFinite(rc.z) ? rc.z.toFixed(2) : '-', rc.recovered ? 'yes' : 'no',
    ]))));
  out.push('Leak test: each trial is at random a right or a wrong first tag byte; Welch\'s t-test of the two classes,');
  out.push(`measurements above the pooled ${r.trim} quantile dropped; |t| > ${r.threshold} = distinguishable (TVLA convention).`);
  out.push('Recovery: rounds over all 256 candidates in shuffled order, score = interquartile mean time; the attacker guesses the');
  out.push('slowest. With no leak the true byte\'s rank is uniform (p = rank/256). z = (true − mean of others) / their sd.');
  out.push(`The "amplified" comparers do ${r.work} work iterations per byte looked at, so a one-byte difference is large`);
  out.push('enough to time on a noisy machine; the constant-time one with the same work is the control.');
  out.push('');
  const ct = r.comparers.filter((c) => c.constantTime);
  const naive = r.comparers.filter((c) => !c.constantTime);
  if (naive.length) out.push(`early-exit comparers: ${naive.map((c) => `${c.name} ${c.leak.distinguishable ? 'LEAKS' : 'not distinguishable here'}`).join(', ')}`);
  if (ct.length) out.push(`constant-time comparers: ${ct.map((c) => `${c.name} ${c.leak.distinguishable ? 'DISTINGUISHABLE' : 'not distinguishable'}`).join(', ')}`);
  out.push(r.verdict.constantTimeDistinguishable ? 'result: FAIL — a constant-time comparer was distinguishable' : 'result: PASS — no constant-time comparer was distinguishable');
  return out.join('\n') + '\n';
}

function registerTiming(attack: Command): void {
  attack.command('timing')
    .description('try to learn the first tag byte(s) by timing the tag comparison: a naive early-exit comparer against core constantTimeEqual')
    .option('--trials <n>', 'timed measurements per experiment and comparer', intOption('trials', 512, 1e9), 100_000)
    .option('--seed <n>', `seed for the secret tag and the measurement order (default: random, printed)`, intOption('seed', 0, MAX_SEED))
    .option('--batch <n>', 'comparer calls per timed measurement', intOption('batch', 1, 1_000_000), 16)
    .option('--work <n>', 'work iterations per byte in the amplified comparers', intOption('work', 0, 1_000_000), 50)
    .option('--bytes <n>', 'tag bytes to recover one after another', intOption('bytes', 1, 16), 1)
    .addOption(new Option('--comparer <name...>', 'comparers to measure (default: all)').choices([...COMPARERS]))
    .option('--json', 'one JSON object on stdout instead of a table')
    .addHelpText('after', '\nMethod and results: docs/TIMING.md.\nExit code: 0 unless a constant-time comparer was distinguishable (then 1).')
    .action((o: { trials: number; seed?: number; batch: number; work: number; bytes: number; comparer?: ComparerName[]; json?: boolean }) => {
      const seed = o.seed ?? randomInt(0, 2 ** 47);
      const bar = progress(!o.json, 'timing');
      let report: TimingReport;
      try {
        report = runTiming({
          trials: o.trials, seed, batch: o.batch, work: o.work, bytes: o.bytes, comparers: o.comparer,
          onProgress: (label, done, total) => bar.update(label, done, total),
        });
      } finally {
        bar.stop();
      }
      process.stdout.write(o.json ? JSON.stringify(report) + '\n' : renderTiming(report));
      process.exitCode = report.verdict.constantTimeDistinguishable ? EXIT.REJECTED : EXIT.OK;
    });
}

export function register(program: Command): void {
  const attack = program.command('attack').description('attack sealmq and its pieces, and report the statistics that judge each attack');
  registerTiming(attack);
}

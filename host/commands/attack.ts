// `sealmq attack …`: attacks on sealmq's pieces and pipelines, each reporting the statistics that judge it.
// `sealmq attack` itself runs the pipeline attack suite (host/attack/pipelines.ts, docs/SECURITY.md);
// subcommands run single experiments (timing). Add yours with its own register function below.
import { Command, Option } from 'commander';
import { randomInt } from 'node:crypto';
import { EXIT } from '../errors.js';
import { COMPARERS, ComparerName, runTiming, TimingReport } from '../attack/timing.js';
import { MAX_SEED } from '../fuzz/prng.js';
import { grouped, intOption, numberOption } from './int-option.js';
import { table } from './passphrase.js';
import { progress } from './progress.js';
import { ATTACKS, AttackName, AttackReport, DEFAULT_INTERVAL, runAttackSuite } from '../attack/pipelines.js';
import { BOARD_TARGETS, type BoardTarget } from '../emulator/process.js';
import { haveMosquitto, MOSQUITTO_BIN } from '../pipeline/mosquitto.js';
import { PLAIN_LABEL } from '../verifier/plain.js';
import { SealmqError, usageError } from '../errors.js';

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

/** What the sealed side did, most frequent first: "bad-tag 40, replay 10". */
function reasons(r: Record<string, number>): string {
  return Object.entries(r).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v}`).join(', ');
}

export function renderSuite(r: AttackReport): string {
  const out: string[] = [];
  const modes = [...new Set(r.results.map((x) => x.pipeline))];
  out.push(`sealmq attack: ${r.runs} runs per attack and pipeline, ${r.broker} broker, ${r.target} boards (a reading every ${r.interval} s), ${r.date}`);
  out.push(`platform: node ${r.platform.node}, ${r.platform.cpu}, ${r.platform.cores} cores; ${r.seconds} s`);
  if (modes.includes('plain')) out.push(`plain = the RESEARCH PLAIN pipeline (${PLAIN_LABEL}), for comparison only`);
  if (r.broker === 'mosquitto') {
    out.push('broker: a real Mosquitto; sealed: the files of `sealmq broker --emit-mosquitto` (device TOTP through sealmq\'s plugin, operator passwords, ACL)' +
      (modes.includes('plain') ? '; plain: anonymous, no ACL (research insecure)' : ''));
  }
  out.push('');
  const names = [...new Set(r.results.map((x) => x.attack))];
  const get = (a: string, m: string) => r.results.find((x) => x.attack === a && x.pipeline === m);
  const head = ['ATTACK', ...modes.flatMap((m) => [`${m.toUpperCase()} SUCCEEDED`, `${m.toUpperCase()} DETECTED`]), 'SEALED SIDE: HOW EACH RUN ENDED'];
  out.push(table(head, names.map((a) => [
    a,
    ...modes.flatMap((m) => {
      const x = get(a, m);
      return x ? [`${x.succeeded}/${x.runs}`, `${x.detected}/${x.runs}`] : ['-', '-'];
    }),
    reasons(get(a, 'sealed')?.reasons ?? get(a, 'plain')?.reasons ?? {}),
  ])).trimEnd());
  out.push('');
  out.push('Succeeded: the attacker gained what the attack is for (docs/SECURITY.md states each criterion).');
  out.push('Detected: the sealed side noticed and reported it (a verifier rejection with its reason, a broker refusal, a board refusal).');
  const bad = r.results.filter((x) => x.pipeline === 'sealed' && x.succeeded > 0);
  if (modes.includes('sealed')) out.push(bad.length ? `result: an attack succeeded on the sealed pipeline: ${bad.map((x) => `${x.attack} ${x.succeeded}/${x.runs}`).join(', ')}` : 'result: no attack succeeded on the sealed pipeline');
  return out.join('\n') + '\n';
}

export function register(program: Command): void {
  const attack = program.command('attack')
    // The suite's options (--json, …) belong to `attack` only before a subcommand's name: `attack timing --json` is timing's.
    .enablePositionalOptions()
    .description('run every attack against a research plain and/or a sealed pipeline (boards, broker, verifier) and count successes; subcommands run single experiments')
    .addOption(new Option('--pipeline <which>', `plain (the RESEARCH PLAIN pipeline, ${PLAIN_LABEL}), sealed, or both`).choices(['plain', 'sealed', 'both']).default('sealed'))
    .addOption(new Option('--broker <kind>', 'embedded (aedes inside sealmq) or mosquitto (the OS package, started on a free loopback port)').choices(['embedded', 'mosquitto']).default('embedded'))
    .addOption(new Option('--target <target>', 'what runs the boards: emulated (ours), espruino (Espruino\'s own Linux interpreter) or qemu (Espruino\'s STM32 firmware on qemu-system-arm; MQTT over its second UART through a gateway per board, and the relay between the gateways and the broker)').choices([...BOARD_TARGETS]).default('emulated'))
    .option('--interval <s>', `seconds between readings on the boards (default: ${[...new Set(Object.values(DEFAULT_INTERVAL))].length === 1 ? `${DEFAULT_INTERVAL.emulated} on every target, the firmware's fastest` : Object.entries(DEFAULT_INTERVAL).map(([t, v]) => `${t} ${v}`).join(', ')})`, numberOption('interval', 0.05, 60))
    .option('--runs <n>', 'repetitions of each attack on each pipeline', intOption('runs', 1, 100_000), 100)
    .addOption(new Option('--attack <name...>', 'attacks to run (default: all)').choices([...ATTACKS]))
    .option('--json', 'one JSON object on stdout instead of a table (and what the suite is doing on stderr)')
    .addHelpText('after', [
      '',
      'Each pipeline is set up once in a throw-away folder (3 boards of --target, broker, verifier) with an on-path',
      'relay between boards (or their gateways) and broker; the attacker also has its own MQTT client. The plain pipeline runs only',
      'when asked for (--pipeline plain|both) and is labelled everywhere.',
      'Attacks and their success criteria: docs/SECURITY.md ("The attack table").',
      'Exit code: 0 unless an attack succeeded on the sealed pipeline (then 1).',
    ].join('\n'))
    .action(async (o: { pipeline: 'plain' | 'sealed' | 'both'; broker: 'embedded' | 'mosquitto'; target: BoardTarget; interval?: number; runs: number; attack?: AttackName[]; json?: boolean }) => {
      if (o.broker === 'mosquitto' && !haveMosquitto()) {
        throw new SealmqError('input', `--broker mosquitto: ${MOSQUITTO_BIN} does not run here`, { hint: 'install the OS package (apt install mosquitto) or set SEALMQ_MOSQUITTO to its path' });
      }
      const bar = progress(!o.json, 'attack');
      let report: AttackReport;
      try {
        report = await runAttackSuite({
          pipelines: o.pipeline === 'both' ? ['plain', 'sealed'] : [o.pipeline], broker: o.broker, runs: o.runs, attacks: o.attack,
          target: o.target, interval: o.interval,
          onProgress: (label, done, total) => bar.update(label, done, total),
          // With --json (no progress bar), what the suite is doing goes to stderr: set-up, relay, rollback.
          ...(o.json ? { onPhase: (text: string) => process.stderr.write(`· ${text}\n`) } : {}),
        });
      } finally {
        bar.stop();
      }
      process.stdout.write(o.json ? JSON.stringify(report) + '\n' : renderSuite(report));
      process.exitCode = report.results.some((x) => x.pipeline === 'sealed' && x.succeeded > 0) ? EXIT.REJECTED : EXIT.OK;
    });
  registerTiming(attack);
}

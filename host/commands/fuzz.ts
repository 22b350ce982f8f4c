// `sealmq fuzz`: feed the Verifier mutated, truncated, moved and replayed frames and show what it did.
import { Command } from 'commander';
import { randomInt } from 'node:crypto';
import { EXIT } from '../errors.js';
import { FuzzReport, runFuzz } from '../fuzz/fuzz.js';
import { MAX_SEED } from '../fuzz/prng.js';
import { grouped, intOption } from './int-option.js';
import { table } from './passphrase.js';
import { progress } from './progress.js';

function render(r: FuzzReport): string {
  const out: string[] = [];
  out.push(`fuzz: ${grouped(r.frames)} mutants, seed ${r.seed}  (rerun: sealmq fuzz --frames ${r.frames} --seed ${r.seed})`);
  out.push(`devices: ${r.devices.map((d) => `${d.id} (${d.status}, epoch ${d.epoch})`).join(', ')}`);
  out.push(`originals: ${r.originals.fed} fed first, ${r.originals.accepted} accepted (not counted below)`);
  out.push('');
  out.push(table(['CHECK', 'COUNT', 'MUST BE'], [
    ['crashes (exceptions)', grouped(r.crashes), '0'],
    ['mutants accepted', grouped(r.acceptedMutants), '0'],
    ['mutants past the tag (not an original)', grouped(r.tagPasses), '0'],
    ['replay-state writes on reject', grouped(r.stateWritesOnReject), '0'],
  ]));
  const total = Object.values(r.rejectedByReason).reduce((a, b) => a + b, 0);
  const reasons = Object.entries(r.rejectedByReason).sort((a, b) => b[1] - a[1]);
  out.push(table(['REJECTED BY REASON', 'COUNT', 'SHARE'],
    reasons.map(([k, v]) => [k, grouped(v), (100 * v / Math.max(1, total)).toFixed(1) + '%'])));
  out.push(table(['MUTATION', 'FED', 'OUTCOMES'], Object.entries(r.byMutation).filter(([, m]) => m.fed > 0).map(([k, m]) => [
    k, grouped(m.fed), Object.entries(m.outcomes).sort((a, b) => b[1] - a[1]).map(([o, n]) => `${o} ${grouped(n)}`).join(', '),
  ])));
  for (const s of r.samples) out.push(`FAIL #${s.index} ${s.kind} on ${JSON.stringify(s.topic)} (${s.length} bytes): ${s.detail}\n  ${s.frameHex}${s.length > 256 ? '…' : ''}`);
  out.push(r.ok ? 'result: PASS — no crash, no mutant accepted' : 'result: FAIL');
  return out.join('\n') + '\n';
}

export function register(program: Command): void {
  program.command('fuzz')
    .description('feed the verifier N mutated frames (bit flips, truncation, every header field, moved, replayed, random, huge) and count crashes, acceptances and rejections by reason')
    .option('--frames <n>', 'mutants to feed', intOption('frames', 0, 1e10), 100_000)
    .option('--seed <n>', `PRNG seed 0..${MAX_SEED} (default: a random one, printed so the run can be repeated)`, intOption('seed', 0, MAX_SEED))
    .option('--json', 'one JSON object on stdout instead of tables')
    .addHelpText('after', '\nEverything (device roots, frames, mutations) comes from the seed: the same seed gives the same run.\n'
      + 'Exit code: 0 if nothing crashed and no mutant was accepted, 1 otherwise.')
    .action(async (o: { frames: number; seed?: number; json?: boolean }) => {
      const seed = o.seed ?? randomInt(0, 2 ** 47);
      const bar = progress(!o.json, 'fuzz');
      let report: FuzzReport;
      try {
        report = await runFuzz({ frames: o.frames, seed, onProgress: (done, total) => bar.update('mutants', done, total) });
      } finally {
        bar.stop();
      }
      process.stdout.write(o.json ? JSON.stringify(report) + '\n' : render(report));
      process.exitCode = report.ok ? EXIT.OK : EXIT.REJECTED;
    });
}

// `sealmq verify`: open every uplink frame from the broker, print accepted readings and rejections.
import { Command } from 'commander';
import { DEFAULT_PREFIX } from '../../core/ids.js';
import { EXIT } from '../errors.js';
import { runVerifier } from '../verifier/run.js';
import type { VerifyResult } from '../verifier/verifier.js';
import { openUnlockedRegistry } from './passphrase.js';
import { operatorCredentials } from './operator.js';

function line(r: VerifyResult): string {
  const time = new Date().toISOString().slice(11, 23);
  if (!r.ok) return `${time}  REJECT  ${(r.device ?? '?').padEnd(16)}  ${r.reason}${r.counter ? ` (counter ${r.counter})` : ''}\n`;
  const what = r.kind === 'reading' ? JSON.stringify(r.message.d) : JSON.stringify(r.message);
  const lat = r.latencyMs === null ? '-' : r.latencyMs.toFixed(1) + ' ms';
  return `${time}  ok      ${r.device.padEnd(16)}  #${String(r.counter).padEnd(8)} e${r.epoch}  ${lat.padStart(9)}  ${what}\n`;
}

export function register(program: Command): void {
  program.command('verify')
    .description('subscribe to every device uplink, open each frame (DESIGN.md §4 order), print readings and rejections')
    .requiredOption('--broker <url>', 'broker URL, e.g. mqtt://127.0.0.1:1883')
    .option('--user <name>', 'operator to log in as (default $SEALMQ_USER); a viewer is enough')
    .option('--password-env <var>', 'environment variable holding the operator password', 'SEALMQ_PASSWORD')
    .option('--prefix <prefix>', 'topic prefix', DEFAULT_PREFIX)
    .option('--count <n>', 'stop after n frames', (v) => Number.parseInt(v, 10))
    .option('--seconds <s>', 'stop after s seconds', Number)
    .option('--json', 'one JSON object per frame on stdout')
    .addHelpText('after', '\nExit code: 0 if every frame seen verified, 1 if any was rejected, 4/5 for broker or login problems.')
    .action(async (o) => {
      const creds = await operatorCredentials(o.user, o.passwordEnv);
      const registry = await openUnlockedRegistry();
      let done: () => void = () => {};
      const finished = new Promise<void>((r) => (done = r));
      let seen = 0;
      const v = await runVerifier({
        registry, brokerUrl: o.broker, username: creds.username, password: creds.password, prefix: o.prefix,
        onResult: (r) => {
          process.stdout.write(o.json ? JSON.stringify(r) + '\n' : line(r));
          if (o.count && ++seen >= o.count) done();
        },
      }).catch((e) => { registry.close(); throw e; });
      // Once logged in and subscribed (messages arrive on later I/O turns): a refused login prints no table.
      if (!o.json) process.stdout.write(`time          result  device            counter    epoch  latency  message\n`);
      if (o.seconds) setTimeout(done, o.seconds * 1000).unref();
      process.once('SIGINT', done);
      process.once('SIGTERM', done);
      await finished;
      await v.close();
      registry.close();
      const s = v.stats;
      process.stderr.write(`verified ${s.accepted}, rejected ${s.rejected}${s.rejected ? ' ' + JSON.stringify(s.byReason) : ''}\n`);
      process.exitCode = s.rejected ? EXIT.REJECTED : EXIT.OK;
    });
}

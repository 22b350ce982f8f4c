// `sealmq dashboard`: the operators' web console (docs/DASHBOARD.md) over a running broker: the verifier
// (the same code and order as `sealmq verify`) feeds the page live; commands go out as the --user operator
// (an admin, for commands), after the page's own operator session is checked for the action.
import { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { DEFAULT_PREFIX } from '../../core/ids.js';
import { LiveHub } from '../dashboard/live.js';
import { startDashboard } from '../dashboard/server.js';
import { usageError } from '../errors.js';
import { runVerifier } from '../verifier/run.js';
import { operatorCredentials } from './operator.js';
import { openUnlockedRegistry } from './passphrase.js';

export function register(program: Command): void {
  program.command('dashboard')
    .description('the operators\' web console: fleet, live verified readings and rejections, sealed commands, audit, reports (docs/DASHBOARD.md)')
    .requiredOption('--broker <url>', 'broker URL, e.g. mqtt://127.0.0.1:1883')
    .option('--user <name>', 'operator the dashboard logs in to the broker as (default $SEALMQ_USER); an admin to send commands')
    .option('--password-env <var>', 'environment variable holding that operator\'s password', 'SEALMQ_PASSWORD')
    .option('--listen <url>', 'where the page is served', 'http://127.0.0.1:8080')
    .option('--tls-cert <file>', 'PEM certificate: serve over HTTPS (cookies become Secure)')
    .option('--tls-key <file>', 'PEM private key of --tls-cert')
    .option('--reports <dir>', 'folder of `sealmq report` pages and bench outputs to list')
    .option('--prefix <prefix>', 'topic prefix', DEFAULT_PREFIX)
    .action(async (o) => {
      if (!!o.tlsCert !== !!o.tlsKey) throw usageError('--tls-cert and --tls-key go together');
      const tls = o.tlsCert ? { cert: readFileSync(o.tlsCert), key: readFileSync(o.tlsKey) } : undefined;
      const listen = tls ? String(o.listen).replace(/^http:/, 'https:') : o.listen;
      const creds = await operatorCredentials(o.user, o.passwordEnv);
      const registry = await openUnlockedRegistry();
      const live = new LiveHub();
      const v = await runVerifier({ registry, brokerUrl: o.broker, username: creds.username, password: creds.password, prefix: o.prefix, onResult: (r) => live.push(r) })
        .catch((e) => { registry.close(); throw e; });
      const d = await startDashboard({ registry, live, listen, tls, reportsDir: o.reports, commands: { brokerUrl: o.broker, ...creds, prefix: o.prefix } });
      process.stdout.write(`dashboard on ${d.url} (log in with an operator's password and TOTP code; Ctrl-C stops it)\n`);
      await new Promise<void>((r) => { process.once('SIGINT', r); process.once('SIGTERM', r); });
      await d.close();
      await v.close();
      live.close();
      registry.close();
    });
}

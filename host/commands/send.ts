// `sealmq send`: one sealed command down to a board, and its sealed reply.
import { Command } from 'commander';
import { DEFAULT_PREFIX } from '../../core/ids.js';
import { sendCommand } from '../board/send.js';
import { EXIT, inputError } from '../errors.js';
import { localActor } from '../registry/registry.js';
import { openUnlockedRegistry } from './passphrase.js';
import { operatorCredentials } from './operator.js';

export function register(program: Command): void {
  program.command('send')
    .description('seal a command down to a device (ping, status, interval, rotate) and print its sealed reply')
    .requiredOption('--device <id>', 'device id')
    .requiredOption('--command <c>', 'ping | status | interval | rotate')
    .option('--args <json>', 'command arguments as a JSON object, e.g. \'{"s":5}\'', '{}')
    .option('--broker <url>', 'broker URL', 'mqtt://127.0.0.1:1883')
    .option('--user <name>', 'admin operator (default $SEALMQ_USER)')
    .option('--password-env <var>', 'environment variable holding the operator password', 'SEALMQ_PASSWORD')
    .option('--prefix <prefix>', 'topic prefix', DEFAULT_PREFIX)
    .option('--timeout <s>', 'seconds to wait for the reply', Number, 10)
    .option('--json', 'print the result as one JSON object')
    .addHelpText('after', '\nExit code: 0 if the board replied ok, 1 if it replied with an error, 4 if no reply came.')
    .action(async (o) => {
      let args: unknown;
      try { args = JSON.parse(o.args); } catch { throw inputError(`--args: not JSON: ${o.args}`); }
      if (!args || typeof args !== 'object' || Array.isArray(args)) throw inputError('--args: must be a JSON object');
      const creds = await operatorCredentials(o.user, o.passwordEnv);
      const registry = await openUnlockedRegistry();
      try {
        const r = await sendCommand({
          registry, brokerUrl: o.broker, username: creds.username, password: creds.password, deviceId: o.device,
          command: o.command, args: args as Record<string, unknown>, prefix: o.prefix, timeoutMs: o.timeout * 1000, actor: localActor(),
        });
        if (o.json) process.stdout.write(JSON.stringify(r) + '\n');
        else process.stdout.write(`${r.device} replied to ${r.command} #${r.counter} in ${r.roundTripMs.toFixed(0)} ms (epoch ${r.replyEpoch}): ${JSON.stringify(r.reply)}\n`);
        process.exitCode = r.reply.ok === true ? EXIT.OK : EXIT.REJECTED;
      } finally {
        registry.close();
      }
    });
}

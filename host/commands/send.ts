// `sealmq send`: one sealed command down to a board, and its sealed reply.
import { Command } from 'commander';
import { DEFAULT_PREFIX, isDeviceId } from '../../core/ids.js';
import { sendCommand } from '../board/send.js';
import { EXIT, inputError } from '../errors.js';
import { requireSession } from '../operators/session.js';
import { openUnlockedRegistry } from './passphrase.js';
import { adminSendOptions, operatorCredentials } from './operator.js';

export function register(program: Command): void {
  adminSendOptions(program.command('send'))
    .description('seal a command down to a device (ping, status, interval, rotate) and print its sealed reply')
    .requiredOption('--device <id>', 'device id')
    .requiredOption('--command <c>', 'ping | status | interval | rotate')
    .option('--args <json>', 'command arguments as a JSON object, e.g. \'{"s":5}\'', '{}')
    .option('--json', 'print the result as one JSON object')
    .addHelpText('after', '\nExit code: 0 if the board replied ok, 1 if it replied with an error, 4 if no reply came.')
    .action(async (o) => {
      if (!isDeviceId(o.device)) throw inputError(`device id ${JSON.stringify(o.device)} is not valid`, 'device ids match [a-z0-9][a-z0-9-]*, at most 32 characters');
      let args: unknown;
      try { args = JSON.parse(o.args); } catch { throw inputError(`--args: not JSON: ${o.args}`); }
      if (!args || typeof args !== 'object' || Array.isArray(args)) throw inputError('--args: must be a JSON object');
      const session = requireSession('send');
      const creds = await operatorCredentials(o.user, o.passwordEnv, session.operator);
      const registry = await openUnlockedRegistry();
      try {
        const r = await sendCommand({
          registry, brokerUrl: o.broker, username: creds.username, password: creds.password, deviceId: o.device,
          command: o.command, args: args as Record<string, unknown>, prefix: o.prefix, timeoutMs: o.timeout * 1000, actor: session.actor,
        });
        if (o.json) process.stdout.write(JSON.stringify(r) + '\n');
        else process.stdout.write(`${r.device} replied to ${r.command} #${r.counter} in ${r.roundTripMs.toFixed(0)} ms (epoch ${r.replyEpoch}): ${JSON.stringify(r.reply)}\n`);
        process.exitCode = r.reply.ok === true ? EXIT.OK : EXIT.REJECTED;
      } finally {
        registry.close();
      }
    });
}

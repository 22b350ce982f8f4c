// `sealmq broker`: the embedded MQTT broker, deny by default (docs/BROKER.md). It needs the registry
// passphrase: device logins are checked against their OTP seeds, kept decrypted in memory only.
import { Command } from 'commander';
import { DEFAULT_PREFIX } from '../../core/ids.js';
import { BrokerEvent, DEFAULT_LISTEN, parseListen, startBroker } from '../broker/broker.js';
import { emitMosquitto } from '../broker/mosquitto.js';
import { localActor } from '../registry/registry.js';
import { openUnlockedRegistry } from './passphrase.js';

function describe(e: BrokerEvent): string {
  const who = e.principal ?? (e.user !== undefined ? `user ${JSON.stringify(e.user)}` : '');
  switch (e.type) {
    case 'login': return `login ${who} (client ${e.clientId}, ${e.remote})`;
    case 'login-refused': return `login refused: ${e.reason} (${who}, client ${JSON.stringify(e.clientId)}, ${e.remote})`;
    case 'publish-denied': return `publish denied: ${e.reason} (${who}, topic ${JSON.stringify(e.topic)}); connection closed`;
    case 'subscribe-denied': return `subscribe denied: ${e.reason} (${who}, filter ${JSON.stringify(e.topic)})`;
    case 'retain-stripped': return `retain flag removed (${who}, topic ${JSON.stringify(e.topic)})`;
    case 'disconnect': return `disconnect ${who}`;
    case 'audit-suppressed': return `${e.count} refusals not written to the audit log (rate limit)`;
    case 'error': return `error: ${e.reason}`;
    default: return e.type;
  }
}

export function register(program: Command): void {
  program.command('broker')
    .description('run the embedded MQTT broker: TOTP logins for devices, operator logins, topic ACL by role')
    .option('--listen <url>', 'where to listen (port 0: any free port)', DEFAULT_LISTEN)
    .option('--prefix <prefix>', 'topic prefix', DEFAULT_PREFIX)
    .option('--json', 'events as JSON lines on stdout')
    .option('--emit-mosquitto <dir>', 'instead of running: write the same policy for Mosquitto into DIR: mosquitto.conf, an ACL file, a hashed password file (operators) and sealmq\'s TOTP plugin with its devices file (builds the plugin: needs cc, mosquitto-dev, libssl-dev; listener: --listen, loopback only)')
    .option('--reveal', 'with --emit-mosquitto: print the operators\' static MQTT passwords as JSON on stdout (audited)')
    .action(async (o: { listen: string; prefix: string; json?: boolean; emitMosquitto?: string; reveal?: boolean }) => {
      if (o.emitMosquitto !== undefined) return emit(o.emitMosquitto, o);
      const registry = await openUnlockedRegistry();
      const log = (e: BrokerEvent) => {
        if (o.json) process.stdout.write(JSON.stringify(e) + '\n');
        else process.stderr.write(`${new Date(e.at).toISOString()} ${describe(e)}\n`);
      };
      let broker;
      try {
        broker = await startBroker({ registry, listen: o.listen, prefix: o.prefix, onEvent: (e) => e.type !== 'listening' && log(e) });
      } catch (e) {
        registry.close();
        throw e;
      }
      // The signal handlers go in before "listening" is printed: whoever reads that line may stop us at once.
      const stopped = new Promise<void>((resolve) => {
        const stop = () => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          broker!.close().finally(() => {
            registry.close();
            resolve();
          });
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
      if (o.json) process.stdout.write(JSON.stringify({ type: 'listening', url: broker.url }) + '\n');
      else process.stdout.write(`sealmq broker listening on ${broker.url} (prefix ${o.prefix}); Ctrl-C to stop\n`);
      await stopped;
    });
}

async function emit(dir: string, o: { listen: string; prefix: string; json?: boolean; reveal?: boolean }): Promise<void> {
  const { host, port } = parseListen(o.listen);
  const registry = await openUnlockedRegistry();
  try {
    const actor = localActor();
    const r = await emitMosquitto({ registry, dir, host, port, prefix: o.prefix, actor });
    if (o.reveal) {
      registry.audit({ actor, action: 'broker.mosquitto.reveal', detail: { principals: r.credentials.size } });
      process.stdout.write(JSON.stringify(Object.fromEntries(r.credentials)) + '\n');
    } else if (o.json) {
      process.stdout.write(JSON.stringify({ dir: r.dir, files: r.files, devices: r.devices, operators: r.operators }) + '\n');
    } else {
      process.stdout.write(`wrote ${r.files.conf}, ${r.files.passwords}, ${r.files.acl}, ${r.files.devices} and ${r.files.plugin} (${r.devices} devices, ${r.operators} operators)\n` +
        `run: mosquitto -c ${r.files.conf}\n`);
    }
  } finally {
    registry.close();
  }
}

// `sealmq provision`: fresh per-device secrets to one board over its console, proven, then recorded.
import { Command } from 'commander';
import { DEFAULT_PREFIX } from '../../core/ids.js';
import { checkProvisionInput, provisionBoard } from '../board/provision.js';
import { inputError } from '../errors.js';
import { localActor } from '../registry/registry.js';
import { openUnlockedRegistry } from './passphrase.js';
import { progress } from './progress.js';
import { checkPortExists } from './flash.js';

export function register(program: Command): void {
  program.command('provision')
    .description('give a flashed board its identity: per-device root secret and OTP seed (CSPRNG), broker, interval; verified on the board, then recorded')
    .requiredOption('--port <url>', 'console link: /dev/ttyUSB0, tcp://HOST:PORT or emulated:NAME')
    .requiredOption('--device <id>', 'device id, [a-z0-9][a-z0-9-]{0,31}')
    .option('--broker <url>', 'broker the board connects to', 'mqtt://127.0.0.1:1883')
    .option('--interval <seconds>', 'seconds between readings', Number, 10)
    .option('--prefix <prefix>', 'topic prefix', DEFAULT_PREFIX)
    .option('--k <n>', 'counter block size K (one Storage write per K frames)', (v) => Number.parseInt(v, 10))
    .option('--wifi-ssid <ssid>', 'Wi-Fi network for boards that need one (ESP32)')
    .option('--wifi-password-env <var>', 'environment variable holding the Wi-Fi password (never on the command line)')
    .option('--rekey', 'the device is already provisioned: give it fresh secrets under its next key epoch')
    .option('--baud <n>', 'serial baud rate', (v) => Number.parseInt(v, 10), 115200)
    .option('--json', 'print the result as one JSON object')
    .addHelpText('after', `
Secrets are made on this computer, sent once over the console, and recorded (encrypted with the registry
passphrase, $SEALMQ_PASSPHRASE or a prompt) only after the board proved it holds them. If anything fails,
nothing is recorded: fix the cause and run the same command again.`)
    .action(async (o) => {
      checkProvisionInput({ deviceId: o.device, broker: o.broker, interval: o.interval });
      checkPortExists(o.port);
      let wifi: { ssid: string; password: string } | undefined;
      if (o.wifiSsid !== undefined) {
        const pw = o.wifiPasswordEnv ? process.env[o.wifiPasswordEnv] : '';
        if (o.wifiPasswordEnv && pw === undefined) throw inputError(`--wifi-password-env: ${o.wifiPasswordEnv} is not set`);
        wifi = { ssid: o.wifiSsid, password: pw ?? '' };
      } else if (o.wifiPasswordEnv) throw inputError('--wifi-password-env needs --wifi-ssid');
      const registry = await openUnlockedRegistry();
      const bar = progress(!o.json, `provision ${o.device}`);
      try {
        const r = await provisionBoard({
          port: o.port, deviceId: o.device, broker: o.broker, interval: o.interval, prefix: o.prefix, k: o.k, wifi,
          registry, actor: localActor(), rekey: !!o.rekey, link: { baud: o.baud },
          onStep: (s, done, total) => bar.update(s, done, total),
        });
        bar.stop();
        if (o.json) process.stdout.write(JSON.stringify({ ok: true, ...r }) + '\n');
        else process.stdout.write(`provisioned ${r.deviceId} on ${o.port}: epoch ${r.epoch}, firmware ${r.firmware}, crypto ${r.crypto}, ${r.seconds.toFixed(1)} s\n`);
      } finally {
        bar.stop();
        registry.close();
      }
    });
}

// `sealmq gateway --uart URL --broker URL`: MQTT for a board without a network (host/gateway/gateway.ts does
// the work). One line per event for people (stdout), or JSON lines with --json; SIGINT/SIGTERM stop cleanly.
import { Command } from 'commander';
import { startGateway, type GatewayEvent, type Traffic } from '../gateway/gateway.js';
import { DEFAULT_MAX_PACKET } from '../gateway/framing.js';
import { usageError } from '../errors.js';
import { positiveWholeOption } from './int-option.js';

const traffic = (t: Traffic) => `${t.packets} packets, ${t.bytes} bytes`;

function describe(e: GatewayEvent): string {
  switch (e.type) {
    case 'uart-open': return `uart ${e.uart} open`;
    case 'uart-closed': return `uart ${e.uart} closed${e.error ? ` (${e.error})` : ''}; reopening in ${((e.retryInMs ?? 0) / 1000).toFixed(1)} s`;
    case 'uart-retry': return `uart ${e.uart}: ${e.error}; again in ${(e.retryInMs / 1000).toFixed(1)} s`;
    case 'session-open': return `session ${e.session} ${e.clientId ?? '?'}: connected to ${e.broker}`;
    case 'session-closed': return `session ${e.session} ${e.clientId ?? '?'}: closed (${e.reason}) after ${e.seconds.toFixed(1)} s; board→broker ${traffic(e.toBroker)}, broker→board ${traffic(e.toBoard)}`;
    case 'skipped': return `skipped ${e.bytes} byte${e.bytes === 1 ? '' : 's'} from the board outside a session (not a CONNECT)`;
    case 'stopped': return `stopped after ${e.stats.sessions} sessions; board→broker ${traffic(e.stats.toBroker)}, broker→board ${traffic(e.stats.toBoard)}`;
  }
}

export function register(program: Command): void {
  program.command('gateway')
    .description('relay the MQTT stream of a board without a network (on its UART) to a broker; sees only sealed frames and one-time logins')
    .requiredOption('--uart <url>', 'the board\'s UART: tcp://HOST:PORT (QEMU -serial tcp:…,server, ser2net, sealmq emulate --uart) or a serial device (/dev/ttyUSB1)')
    .requiredOption('--broker <url>', 'the broker: mqtt://HOST:PORT')
    .option('--baud <n>', 'serial device speed; must match the board profile\'s uart.baud', positiveWholeOption('baud'), 115200)
    .option('--max-packet <n>', 'largest MQTT packet relayed either way (Remaining Length, bytes); a bigger one drops the session', positiveWholeOption('max-packet'), DEFAULT_MAX_PACKET)
    .option('--json', 'events as JSON lines on stdout')
    .addHelpText('after', `
Sessions: a CONNECT from the board opens a broker connection; the board's 0x00 closes it; when the broker
closes, the board gets 0x00 and redials (docs/PROTOCOL.md, "MQTT over a UART"). Garbage and oversize
packets drop the session, never the gateway. A lost UART is reopened with back-off. The gateway holds no
key: it relays sealed frames and one-time TOTP logins (docs/SECURITY.md).

Exit codes: 0 stopped by SIGINT/SIGTERM; 2 bad command line; 4 the UART cannot be opened at start.

Examples:
  sealmq gateway --uart tcp://127.0.0.1:4001 --broker mqtt://127.0.0.1:1883
  sealmq gateway --uart /dev/ttyUSB1 --baud 115200 --broker mqtt://broker.lan:1883 --json
  sealmq emulate --name node-03 --board emulated-uart --uart tcp://127.0.0.1:0   # prints "uart tcp://127.0.0.1:NNNN"
  sealmq gateway --uart tcp://127.0.0.1:NNNN --broker mqtt://127.0.0.1:1883`)
    .action(async (o: { uart: string; broker: string; baud: number; maxPacket: number; json?: boolean }) => {
      const log = (e: GatewayEvent) => {
        if (o.json) process.stdout.write(JSON.stringify({ at: new Date().toISOString(), ...e }) + '\n');
        else process.stdout.write(`${new Date().toISOString()} ${describe(e)}\n`);
      };
      const gw = await startGateway({ uart: o.uart, broker: o.broker, baud: o.baud, maxPacket: o.maxPacket, onEvent: log });
      await new Promise<void>((resolve) => {
        const stop = () => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          gw.stop().finally(resolve);
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
    });
}

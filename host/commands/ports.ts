// `sealmq ports`: the serial ports of this computer, with USB ids, and which look like boards.
import { Command } from 'commander';
import { listPorts } from '../board/ports.js';
import { table } from './passphrase.js';

export function register(program: Command): void {
  program.command('ports')
    .description('list serial ports with their USB vendor/product ids and mark the ones that look like Espruino or ESP32 boards')
    .option('--json', 'one JSON array instead of a table')
    .action(async (o: { json?: boolean }) => {
      const ports = await listPorts();
      if (o.json) {
        process.stdout.write(JSON.stringify(ports, null, 2) + '\n');
        return;
      }
      if (ports.length === 0) {
        process.stdout.write('no serial ports found (is the board plugged in, with a data cable?)\n');
        return;
      }
      process.stdout.write(table(['PORT', 'USB ID', 'MANUFACTURER', 'LIKELY', 'CHIP'], ports.map((p) => [
        p.path, p.vendorId ? `${p.vendorId}:${p.productId ?? '????'}` : '-', p.manufacturer ?? '-', p.likely ?? '-', p.chip ?? '-',
      ])));
    });
}

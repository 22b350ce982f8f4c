// `sealmq build [--board NAME] [--out DIR]`: bundle the firmware and its self-test for a board, refuse
// anything Espruino lacks, print the sizes against their budgets (host/build/bundle.ts does the work).
import { Command } from 'commander';
import { relative } from 'node:path';
import { buildFirmware, DEFAULT_BOARD, PLAIN_FIRMWARE } from '../build/bundle.js';
import { listBoards } from '../build/boards.js';

const kb = (n: number) => `${(n / 1024).toFixed(1)} KB`;

export function register(program: Command): void {
  program
    .command('build')
    .description('bundle firmware/main.ts into ONE Espruino script (dist/firmware.js, ≤ 16 KB) plus dist/selftest.js; refuses constructs Espruino lacks')
    .option('--board <name>', `board profile from boards/ (${listBoards().join(', ')}) or a path to one`, DEFAULT_BOARD)
    .option('--out <dir>', 'output directory', 'dist')
    .option('--entry <file>', 'firmware entry point (for experiments; skips the self-test)')
    .option('--no-selftest', 'do not build dist/selftest.js')
    .option('--research-plain', `also build ${PLAIN_FIRMWARE}: the research plain firmware (NO sealing, anonymous MQTT; NOT SECURE, for comparisons only, docs/PROTOCOL.md)`)
    .option('--all-boards', 'instead: build every board profile in boards/ (each bundle carries only its board\'s network code), check each against the budget and print each size; writes nothing')
    .action(async (o) => {
      if (o.allBoards) {
        // Each board's bundle differs (__NETWORK__ drops the other network kinds' code): every one must fit.
        for (const name of listBoards()) {
          const r = await buildFirmware({ board: name, entry: o.entry, selftest: false, write: false });
          const p = o.researchPlain ? (await buildFirmware({ board: name, entry: o.entry, write: false, plain: true })).firmware : undefined;
          const pct = (n: number) => ((100 * n) / r.firmware.budget).toFixed(1);
          process.stdout.write(`${name.padEnd(16)} network ${r.board.network.padEnd(6)}  firmware.js ${String(r.firmware.bytes).padStart(5)} bytes (${pct(r.firmware.bytes)}% of ${kb(r.firmware.budget)})` +
            (p ? `  firmware-plain.js ${p.bytes} bytes (${pct(p.bytes)}%)` : '') + '\n');
        }
        return;
      }
      const r = await buildFirmware({ board: o.board, outDir: o.out, entry: o.entry, selftest: o.entry ? false : o.selftest });
      const show = (a: { file: string; bytes: number; budget: number }) =>
        `${relative(process.cwd(), a.file) || a.file}  ${a.bytes} bytes (${kb(a.bytes)} of ${kb(a.budget)} budget, ${((100 * a.bytes) / a.budget).toFixed(1)}%)`;
      process.stdout.write(`board ${r.board.name} (${r.board.board}, network ${r.board.network}, native crypto ${r.board.crypto.native ? 'expected' : 'not expected'})\n`);
      process.stdout.write(show(r.firmware) + '\n');
      if (r.selftest) process.stdout.write(show(r.selftest) + '\n');
      if (o.researchPlain) {
        const p = await buildFirmware({ board: o.board, outDir: o.out, entry: o.entry, plain: true });
        process.stdout.write(show(p.firmware) + '  RESEARCH PLAIN / NOT SECURE: no sealing, anonymous MQTT\n');
      }
    });
}

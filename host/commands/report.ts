// `sealmq report DIR [--out FILE]`: the JSON, CSV and SVG the benches wrote into DIR, gathered into ONE
// self-contained HTML page (SVG inlined, tables; no script, no external resource) to open or attach.
import { Command } from 'commander';
import { relative } from 'node:path';
import { writeReport } from '../bench/report.js';

export function register(program: Command): void {
  program
    .command('report')
    .description('gather the benches\' JSON/CSV/SVG in DIR into one self-contained HTML page')
    .argument('<dir>', 'folder the benches wrote (--out)')
    .option('--out <file>', 'the HTML file (default DIR/report.html)')
    .action(async (dir: string, o) => {
      const r = writeReport(dir, o.out);
      process.stdout.write(`${relative(process.cwd(), r.file) || r.file}: ${r.benches} bench report(s), ${r.plots} plot(s), ${r.tables} table(s)\n`);
    });
}

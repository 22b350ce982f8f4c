// `sealmq demo` (and `npm start`): the whole pipeline on emulated boards, on this machine, in one command.
import { Command, Option } from 'commander';
import { BOARD_TARGETS } from '../emulator/process.js';
import { EXIT, usageError } from '../errors.js';
import { intOption, numberOption } from './int-option.js';
import { runDemo, DemoEvent } from '../demo/demo.js';
import type { PipelineDashboard } from '../dashboard/demo.js';
import { PLAIN_LABEL, requireResearchInsecure } from '../verifier/plain.js';

function show(e: DemoEvent): string {
  switch (e.type) {
    case 'phase': return `· ${e.text}\n`;
    case 'board': return `  ${e.name}: ${e.text}\n`;
    case 'command': return `  command: ${e.text}\n`;
    case 'frame': {
      const r = e.result;
      if (!r.ok) return `  REJECTED ${r.device ?? '?'}: ${r.reason}\n`;
      if ('plain' in r) return `  PLAIN (not verified: ${PLAIN_LABEL}) ${r.device} ${r.latencyMs === null ? '' : r.latencyMs.toFixed(1) + ' ms '}${JSON.stringify(r.message.d ?? r.message)}\n`;
      const body = r.kind === 'reading' ? JSON.stringify(r.message.d) : JSON.stringify(r.message);
      return `  verified ${r.device} #${r.counter} ${r.latencyMs === null ? '' : r.latencyMs.toFixed(1) + ' ms '}${body}\n`;
    }
  }
}

/** --dashboard: where, what to print once it is up, and until when (Ctrl-C). */
function dashboardOption(listen: string | true, reportsDir: string | undefined, out: (s: string) => void) {
  const until = new Promise<void>((r) => { process.once('SIGINT', r); process.once('SIGTERM', r); });
  return {
    listen: listen === true ? 'http://127.0.0.1:8080' : listen, reportsDir, until,
    onReady: (d: PipelineDashboard) => out(`\n  dashboard: ${d.dashboard.url}\n` +
      `  one-time admin enrolment for this throw-away registry: open\n    ${d.enrol.link}\n` +
      `  scan the QR code it shows once, confirm a first code, then log in as ${d.enrol.name} with password ${d.enrol.password}\n` +
      `  (the demo keeps running until Ctrl-C)\n\n`),
  };
}

export function register(program: Command): void {
  program.command('demo')
    .description('run the whole pipeline here: embedded broker, N emulated boards flashed and provisioned through their consoles, the verifier, a command round trip')
    .option('--boards <n>', 'number of emulated boards', intOption('boards', 1, 32), 3)
    .option('--seconds <s>', 'how long the boards report', numberOption('seconds', 0, 3600, true), 20)
    .option('--interval <s>', 'seconds between readings on each board', numberOption('interval', 0, 3600, true), 1)
    .option('--board <name>', 'board profile of the emulated boards (emulated-uart: no network, MQTT over a UART through a sealmq gateway per board)', 'emulated')
    .addOption(new Option('--target <target>', 'what runs the boards: emulated (ours), espruino (Espruino\'s own Linux interpreter, built by `npm run espruino -- linux`) or qemu (Espruino\'s STM32 firmware on qemu-system-arm, `npm run espruino -- qemu`; MQTT over its second UART through a gateway per board)').choices([...BOARD_TARGETS]).default('emulated'))
    .option('--keep', 'keep the throw-away SEALMQ_HOME (registry, flash files) and print where it is')
    .option('--pipeline <mode>', `sealed, or plain: the RESEARCH PLAIN pipeline (${PLAIN_LABEL}: no sealing, anonymous broker; needs --research-insecure)`, 'sealed')
    .option('--research-insecure', 'allow the research plain pipeline (for comparisons on a test bench only)')
    .option('--json', 'progress on stderr; the last stdout line is one JSON summary')
    .option('--dashboard [url]', 'serve the dashboard (default http://127.0.0.1:8080), print its URL and a one-time admin enrolment; runs until Ctrl-C')
    .option('--reports <dir>', 'with --dashboard: a folder of `sealmq report` pages to list')
    .addHelpText('after', '\nExit code: 0 if every frame seen verified, none was rejected and the command round trip succeeded; 1 otherwise.')
    .action(async (o) => {
      const out = (s: string) => (o.json ? process.stderr : process.stdout).write(s);
      if (o.pipeline !== 'sealed' && o.pipeline !== 'plain') throw usageError(`--pipeline: sealed or plain, got ${JSON.stringify(o.pipeline)}`);
      const plain = o.pipeline === 'plain';
      if (plain) requireResearchInsecure(!!o.researchInsecure, 'sealmq demo --pipeline plain');
      if (plain && o.dashboard) throw usageError('--dashboard shows the sealed pipeline only');
      if (o.target !== 'emulated' && o.board !== 'emulated') throw usageError(`--board: a profile of the emulated boards; --target ${o.target} runs its own firmware`);
      if (plain) out(`*** ${PLAIN_LABEL}: readings and commands in clear, anonymous broker, nothing is verified ***\n`);
      const s = await runDemo({
        boards: Math.floor(o.boards), seconds: o.seconds, interval: o.interval, board: o.board, target: o.target, keep: !!o.keep,
        plain, researchInsecure: !!o.researchInsecure,
        onEvent: (e) => out(show(e)),
        ...(o.dashboard ? { dashboard: dashboardOption(o.dashboard, o.reports, out) } : {}),
      });
      const good = plain
        ? s.rejected === 0 && s.verified > 0 && s.verified === s.sentInClear && s.commandRoundTrip
        : s.rejected === 0 && s.verified > 0 && s.verified === s.sealed && s.commandRoundTrip;
      if (plain && !o.json) {
        process.stdout.write(`\n${good ? 'OK' : 'NOT OK'} (${PLAIN_LABEL}): ${s.boards} boards sent ${s.sentInClear} readings in clear; ${s.verified} read, ${s.rejected} rejected; ` +
          `command round trip ${s.commandRoundTrip ? 'ok' : 'FAILED'}; latency p50 ${s.latencyMs.p50 ?? '-'} ms, p95 ${s.latencyMs.p95 ?? '-'} ms\n`);
        process.exitCode = good ? EXIT.OK : EXIT.REJECTED;
        return;
      }
      if (o.json) process.stdout.write(JSON.stringify(s) + '\n');
      else {
        process.stdout.write(`\n${good ? 'OK' : 'NOT OK'}: ${s.boards} boards sealed ${s.sealed} frames; ${s.verified} verified, ${s.rejected} rejected; ` +
          `command round trip ${s.commandRoundTrip ? 'ok' : 'FAILED'}; latency p50 ${s.latencyMs.p50 ?? '-'} ms, p95 ${s.latencyMs.p95 ?? '-'} ms\n` +
          (s.gateways ? `${s.gateways.count} gateways relayed ${s.gateways.packetsToBroker} MQTT packets up (${s.gateways.bytesToBroker} bytes) and ${s.gateways.packetsToBoards} down\n` : '') +
          (s.home ? `kept: ${s.home}\n` : ''));
      }
      process.exitCode = good ? EXIT.OK : EXIT.REJECTED;
    });
}

// sealmq gateway on a serial device path: the emulated uart board's UART turned into a REAL pseudo-terminal
// by socat (as a USB-serial adapter wired to a board's second UART would appear), opened by the gateway
// through the serialport package; the pipeline's broker and verifier on the other side.
import test from 'ava';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startGateway } from '../host/gateway/gateway.js';
import { startPipeline } from '../host/pipeline/pipeline.js';
import { hasCommand } from './cli-helpers.js';

const hasSocat = hasCommand('socat');

(hasSocat ? test : test.skip)('the gateway relays a board\'s UART from a serial device path (a real PTY via socat)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sealmq-gw-pty-'));
  const socats: ChildProcess[] = [];
  const ptys: string[] = [];
  let verified = 0;
  let rejected = 0;
  const pipe = await startPipeline({
    mode: 'sealed', boards: 1, board: 'emulated-uart', interval: 0.5, names: 'ptyuart',
    gateway: async (uart, brokerUrl, onText) => {
      const path = join(dir, `ttyUART${ptys.length}`);
      const port = /:(\d+)$/.exec(uart)![1];
      const s = spawn('socat', [`PTY,link=${path},raw,echo=0`, `TCP:127.0.0.1:${port}`], { stdio: 'ignore' });
      socats.push(s);
      for (let i = 0; i < 100 && !existsSync(path); i++) await new Promise((r) => setTimeout(r, 50));
      ptys.push(path);
      const g = await startGateway({ uart: path, baud: 115200, broker: brokerUrl, onEvent: (e) => e.type === 'session-open' && onText(`gateway: session ${e.session} open`) });
      return { kind: 'custom', stats: g.stats, stop: g.stop };
    },
    onEvent: (e) => {
      if (e.type === 'frame') (e.result.ok ? verified++ : rejected++);
    },
  });
  t.teardown(async () => {
    await pipe.stop();
    for (const s of socats) s.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  });
  t.true(ptys[0].startsWith(dir));
  for (let i = 0; i < 600 && verified < 5; i++) await new Promise((r) => setTimeout(r, 100));
  t.true(verified >= 5, `${verified} verified`);
  const r = await pipe.command('ptyuart-01', 'ping', undefined, 15_000);
  t.true(r.reply.ok === true);
  t.is(rejected, 0);
  const st = pipe.boards[0].gateway!.stats!();
  t.true(st.connected >= 1 && st.toBroker.packets >= 7, JSON.stringify(st));
});

// `sealmq gateway` in a process of its own (as an operator runs it next to a board), for pipelines and tests
// that want to kill it like a real one: JSON event lines are parsed back into GatewayEvents.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { deviceError } from '../errors.js';
import type { GatewayEvent } from './gateway.js';

const BIN = fileURLToPath(new URL('../../../bin/sealmq.js', import.meta.url));

export interface GatewayProcessOptions {
  uart: string;
  broker: string;
  baud?: number;
  onEvent?: (e: GatewayEvent) => void;
  /** Lines it prints on stderr. */
  onStderr?: (line: string) => void;
  startTimeoutMs?: number;
}

export interface GatewayProcess {
  proc: ChildProcess;
  /** SIGTERM and wait for the exit (a clean stop: the board is told its session ended). */
  stop(): Promise<void>;
  /** SIGKILL: the gateway dies without a word. */
  kill(): Promise<void>;
}

/** Starts `sealmq gateway --json` and resolves once it reports its UART open (rejects if it exits first). */
export function spawnGateway(o: GatewayProcessOptions): Promise<GatewayProcess> {
  const args = [BIN, 'gateway', '--uart', o.uart, '--broker', o.broker, '--json'];
  if (o.baud) args.push('--baud', String(o.baud));
  const proc = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  const end = (sig: NodeJS.Signals) => async () => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill(sig);
    await exited;
  };
  const lines = (stream: NodeJS.ReadableStream, f: (l: string) => void) => {
    let rest = '';
    stream.setEncoding('utf8');
    stream.on('data', (d: string) => {
      rest += d;
      const ls = rest.split('\n');
      rest = ls.pop()!;
      for (const l of ls) if (l) f(l);
    });
  };
  let err = '';
  lines(proc.stderr!, (l) => {
    err += l + '\n';
    o.onStderr?.(l);
  });
  return new Promise((resolve, reject) => {
    let up = false;
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(deviceError(`sealmq gateway for ${o.uart} did not open its UART within ${(o.startTimeoutMs ?? 15000) / 1000} s`));
    }, o.startTimeoutMs ?? 15000);
    proc.once('exit', (code) => {
      clearTimeout(timer);
      if (!up) reject(deviceError(`sealmq gateway for ${o.uart} exited at start (code ${code}): ${err.trim()}`));
    });
    lines(proc.stdout!, (l) => {
      let e: GatewayEvent;
      try {
        e = JSON.parse(l) as GatewayEvent;
      } catch {
        return;
      }
      o.onEvent?.(e);
      if (!up && e.type === 'uart-open') {
        up = true;
        clearTimeout(timer);
        resolve({ proc, stop: end('SIGTERM'), kill: end('SIGKILL') });
      }
    });
  });
}

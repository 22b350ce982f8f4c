// An emulated board in its own process (`sealmq emulate`), as the demo, benchmarks and tests use it:
// a separate event loop like a separate chip, reached only through its console URL.
import { spawn, ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { deviceError } from '../errors.js';

const BIN = fileURLToPath(new URL('../../../bin/sealmq.js', import.meta.url));

/**
 * What runs a board behind `sealmq emulate`: our emulated board, Espruino's own Linux interpreter, or
 * Espruino's STM32 firmware on QEMU.
 */
export type BoardTarget = 'emulated' | 'espruino' | 'qemu';
export const BOARD_TARGETS: readonly BoardTarget[] = ['emulated', 'espruino', 'qemu'];
/** The firmware's board profile for a target's boards (espruino: the Linux build; qemu: boards/qemu-stm32f4). */
export const targetBoard = (t: BoardTarget, board = 'emulated') => (t === 'espruino' ? 'linux' : t === 'qemu' ? 'qemu-stm32f4' : board);

export interface EmulatorProcessOptions {
  name: string;
  flashFile: string;
  /** Default 'emulated'. The espruino and qemu targets take no board, baud, crypto or version options. */
  target?: BoardTarget;
  /** qemu: the board's clock counts instructions. */
  icount?: boolean;
  /**
   * The board's UART for MQTT as a TCP server, e.g. tcp://127.0.0.1:0 (the URL it got is EmulatorProcess.uart):
   * qemu's Serial2, or the profile's UART of a "uart" network emulated board.
   */
  uart?: string;
  board?: string;
  pty?: string;
  baud?: number;
  nativeCrypto?: boolean;
  /** The Espruino version it reports (before 2v25: no packet protocol). */
  firmwareVersion?: string;
  /** Lines the emulator prints on stderr (diagnostics). */
  onStderr?: (line: string) => void;
  startTimeoutMs?: number;
}

export interface EmulatorProcess {
  name: string;
  /** tcp://127.0.0.1:PORT */
  console: string;
  pty?: string;
  /** tcp://127.0.0.1:PORT: the board's UART for MQTT (with the uart option), for `sealmq gateway --uart`. */
  uart?: string;
  proc: ChildProcess;
  /** SIGTERM and wait for the exit. */
  stop(): Promise<void>;
  /** SIGKILL: a power cut. */
  cut(): Promise<void>;
}

export function spawnEmulator(o: EmulatorProcessOptions): Promise<EmulatorProcess> {
  const args = [BIN, 'emulate', '--name', o.name, '--console', 'tcp://127.0.0.1:0', '--flash', o.flashFile];
  if (o.target && o.target !== 'emulated') args.push('--target', o.target);
  else if (o.board) args.push('--board', o.board);
  if (o.pty) args.push('--pty', o.pty);
  if (o.baud) args.push('--baud', String(o.baud));
  if (o.nativeCrypto === false) args.push('--no-native-crypto');
  if (o.firmwareVersion) args.push('--firmware-version', o.firmwareVersion);
  if (o.icount) args.push('--icount');
  if (o.uart) args.push('--uart', o.uart);
  const proc = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  const end = (sig: NodeJS.Signals) => async () => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill(sig);
    await exited;
  };
  let err = '';
  let said = '';
  proc.stderr!.setEncoding('utf8').on('data', (d: string) => {
    if (said.length < 4096) said += d;
    err += d;
    const lines = err.split('\n');
    err = lines.pop()!;
    for (const l of lines) o.onStderr?.(l);
  });
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(deviceError(`emulated board ${o.name} did not start within ${(o.startTimeoutMs ?? 30000) / 1000} s`));
    }, o.startTimeoutMs ?? 30000);
    const early = (code: number | null) => {
      clearTimeout(timer);
      reject(deviceError(`emulated board ${o.name} exited at start (code ${code}): ${said.trim()}`));
    };
    // 'close': after its stderr is read to the end, so the reason it gave is in the message.
    proc.once('close', early);
    proc.stdout!.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      const m = /^console (tcp:\/\/\S+)\n/m.exec(out);
      const needPty = !!o.pty;
      const p = /^pty (\S+)\n/m.exec(out);
      const u = /^uart (tcp:\/\/\S+)\n/m.exec(out);
      if (m && (!needPty || p) && (!o.uart || u)) {
        clearTimeout(timer);
        proc.off('close', early);
        resolve({ name: o.name, console: m[1], pty: p?.[1], uart: u?.[1], proc, stop: end('SIGTERM'), cut: end('SIGKILL') });
      }
    });
  });
}

/**
 * Starts several boards at once. If one fails to start, the others are stopped before the error is passed
 * on: a board left running would hold its caller's event loop open for ever (a test worker that never ends).
 */
export async function spawnEmulators(list: EmulatorProcessOptions[]): Promise<EmulatorProcess[]> {
  const settled = await Promise.allSettled(list.map((o) => spawnEmulator(o)));
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (!failed) return settled.map((s) => (s as PromiseFulfilledResult<EmulatorProcess>).value);
  await Promise.all(settled.map((s) => (s.status === 'fulfilled' ? s.value.stop() : undefined)));
  throw failed.reason;
}

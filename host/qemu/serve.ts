// `sealmq emulate --target qemu`: Espruino's own firmware on QEMU's netduinoplus2 behind the same console
// cable as the other boards. Its Storage image is the --flash file (64 KB, saved every second when it
// changed and on a clean stop; host/qemu/process.ts).
import { resolve } from 'node:path';
import { inputError } from '../errors.js';
import { qemuTools } from './bin.js';
import { startQemuBoard } from './process.js';

export interface ServeQemuOptions {
  name: string;
  host: string;
  port: number;
  pty?: string;
  /** Storage image; default <name>.qemu.flash in the working directory. */
  flash?: string;
  icount?: boolean;
  /** Serial2 (USART2) as a TCP server. */
  uart?: { host: string; port: number };
}

/** Runs until SIGTERM/SIGINT (clean stop, Storage saved) or until QEMU exits (the command then exits 1). */
export async function serveQemu(o: ServeQemuOptions): Promise<void> {
  const { tools, why } = qemuTools();
  if (!tools) throw inputError(`--target qemu: ${why.replace(/:.*$/, '')}`, why.replace(/^[^:]*: /, ''));
  const flash = resolve(o.flash ?? `${o.name}.qemu.flash`);
  const board = await startQemuBoard(
    { qemu: tools.qemu, firmware: tools.firmware, flash, name: o.name, icount: o.icount, uart: o.uart },
    { ptyPath: o.pty, port: o.port, host: o.host },
  ).catch((e: Error & { hint?: string }) => {
    throw inputError(`cannot start the QEMU board: ${e.message}`, e.hint);
  });
  process.stdout.write(
    `console ${board.console}\n` + (o.pty ? `pty ${o.pty}\n` : '') + (board.uart ? `uart ${board.uart}\n` : '') +
    `qemu ${tools.qemu}\nfirmware ${tools.firmware}\nflash ${flash}\n` + (o.icount ? 'icount shift=0\n' : ''),
  );
  let stopping = false;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    await board.stop();
    process.exit(code);
  };
  board.process.on('stderr', (b: Buffer) => process.stderr.write(b));
  board.process.once('exit', (code: number | null, sig: string | null) => {
    if (stopping) return;
    process.stderr.write(`qemu: QEMU exited (${sig ?? `code ${code}`}); the board is gone\n`);
    void stop(1);
  });
  process.on('SIGTERM', () => void stop(0));
  process.on('SIGINT', () => void stop(0));
  await new Promise(() => undefined);
}

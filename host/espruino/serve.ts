// `sealmq emulate --target espruino`: Espruino's own Linux interpreter as a board behind the same console
// cable as the emulated one (TCP, and a PTY via socat). Its Storage is Espruino's espruino.flash, which it
// opens in its working folder: it runs in a private folder of its own where espruino.flash is a link to the
// user's --flash file, so the image survives restarts and nothing else of the user's is touched.
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { inputError } from '../errors.js';
import { espruinoBin, ESPRUINO_HOWTO } from './bin.js';
import { startEspruinoBoard } from './process.js';

export interface ServeEspruinoOptions {
  name: string;
  host: string;
  port: number;
  pty?: string;
  /** Espruino's flash image; default <name>.espruino.flash in the working directory. */
  flash?: string;
}

/** Runs until SIGTERM/SIGINT (clean stop) or until Espruino exits (the command then exits 1). */
export async function serveEspruino(o: ServeEspruinoOptions): Promise<void> {
  const bin = espruinoBin();
  if (!bin) throw inputError('--target espruino: no Espruino Linux build found', ESPRUINO_HOWTO);
  const flash = resolve(o.flash ?? `${o.name}.espruino.flash`);
  const dir = mkdtempSync(join(tmpdir(), 'sealmq-espruino-'));
  symlinkSync(flash, join(dir, 'espruino.flash'));
  const cleanup = () => rmSync(dir, { recursive: true, force: true });
  let board;
  try {
    board = await startEspruinoBoard(bin, dir, o.pty, { port: o.port, host: o.host });
  } catch (e) {
    cleanup();
    throw inputError(`cannot open the console on tcp://${o.host}:${o.port}: ${(e as Error).message}`);
  }
  process.stdout.write(`console ${board.console}\n` + (o.pty ? `pty ${o.pty}\n` : '') + `espruino ${bin}\nflash ${flash}\n`);
  let stopping = false;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    await board.stop();
    cleanup();
    process.exit(code);
  };
  board.process.on('stderr', (b: Buffer) => process.stderr.write(b));
  board.process.once('exit', (code: number | null, sig: string | null) => {
    if (stopping) return;
    process.stderr.write(`espruino: the interpreter exited (${sig ?? `code ${code}`}); the board is gone\n`);
    void stop(1);
  });
  process.on('SIGTERM', () => void stop(0));
  process.on('SIGINT', () => void stop(0));
  await new Promise(() => undefined);
}

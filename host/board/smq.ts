// Calls into the firmware's console API (global SEALMQ, docs/FIRMWARE.md): each call prints ONE line
// "SMQ " + JSON among whatever else the board logs; this finds and parses it.
import { deviceError } from '../errors.js';
import type { Repl } from '../link/repl.js';

export async function smqCall<T = Record<string, unknown>>(repl: Repl, code: string, timeoutMs?: number): Promise<T> {
  const lines = await repl.run(code, { timeoutMs });
  const line = lines.reverse().find((l) => l.startsWith('SMQ '));
  if (!line) {
    const said = lines.reverse().join(' | ').slice(0, 200);
    throw deviceError(`the board on ${repl.link.url} gave no answer to ${code.split('(')[0]} (it said ${JSON.stringify(said)})`,
      'is the sealmq firmware on it? run `sealmq flash --port ' + repl.link.url + '`');
  }
  try {
    return JSON.parse(line.slice(4)) as T;
  } catch {
    throw deviceError(`the board on ${repl.link.url} answered garbage: ${JSON.stringify(line.slice(0, 120))}`);
  }
}

/** The firmware version the board runs, or null when no sealmq firmware answers. */
export async function firmwareVersion(repl: Repl): Promise<string | null> {
  const lines = await repl.run('print(typeof SEALMQ==="object"&&SEALMQ?"SMQV "+SEALMQ.version:"SMQV none")');
  const l = lines.find((x) => x.startsWith('SMQV '));
  if (!l) throw deviceError(`the board on ${repl.link.url} answered garbage to a version query`);
  const v = l.slice(5);
  return v === 'none' ? null : v;
}

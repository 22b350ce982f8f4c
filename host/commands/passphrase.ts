// Where the CLI gets the registry passphrase and operator passwords: an environment variable, or a
// terminal prompt that does not echo. Never argv (every user on the machine can read it with ps).
import { SealmqError } from '../errors.js';
import { openRegistry, Registry } from '../registry/registry.js';

export const PASSPHRASE_ENV = 'SEALMQ_PASSPHRASE';

/** Reads one line from the terminal without echoing it. Rejects when stdin is not a terminal. */
export function promptHidden(prompt: string): Promise<string> {
  const stdin = process.stdin;
  if (!stdin.isTTY) return Promise.reject(new SealmqError('usage', 'no terminal to ask on'));
  return new Promise((resolve, reject) => {
    let value = '';
    const wasRaw = stdin.isRaw;
    process.stderr.write(prompt);
    stdin.setRawMode(true);
    stdin.resume();
    stdin.setEncoding('utf8');
    const finish = (err: Error | null) => {
      stdin.setRawMode(wasRaw);
      stdin.pause();
      stdin.removeListener('data', onData);
      process.stderr.write('\n');
      if (err) reject(err);
      else resolve(value);
    };
    const onData = (chunk: string) => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n') return finish(null);
        if (ch === '\u0003') return finish(new SealmqError('usage', 'cancelled'));
        if (ch === '\u0004') {
          if (value === '') return finish(new SealmqError('usage', 'cancelled'));
          return finish(null);
        }
        if (ch === '\u007f' || ch === '\b') value = Array.from(value).slice(0, -1).join('');
        else if (ch >= ' ') value += ch;
      }
    };
    stdin.on('data', onData);
  });
}

/** SEALMQ_PASSPHRASE, or a no-echo prompt on a terminal; neither is an 'auth' error saying what to do. */
export async function readPassphrase(): Promise<string> {
  const env = process.env[PASSPHRASE_ENV];
  if (env !== undefined && env !== '') return env;
  if (process.stdin.isTTY) return promptHidden('registry passphrase: ');
  throw new SealmqError('auth', 'the registry passphrase is needed and there is no terminal to ask on', {
    hint: `set ${PASSPHRASE_ENV} in the environment (not on the command line)`,
  });
}

/** The registry, unlocked with the passphrase. */
export async function openUnlockedRegistry(): Promise<Registry> {
  const reg = openRegistry();
  try {
    await reg.unlock(await readPassphrase());
  } catch (e) {
    reg.close();
    throw e;
  }
  return reg;
}

/** Runs fn with the registry open, closing it afterwards whatever happens. */
export async function withRegistry<T>(unlock: boolean, fn: (reg: Registry) => T | Promise<T>): Promise<T> {
  const reg = unlock ? await openUnlockedRegistry() : openRegistry();
  try {
    return await fn(reg);
  } finally {
    reg.close();
  }
}

/** ISO time to the second, or '-' for never. */
export function isoTime(ms: number | null | undefined): string {
  return ms == null ? '-' : new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** A plain text table: a header row, then rows; columns padded to the widest cell. */
export function table(head: string[], rows: string[][]): string {
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(w[i]))).join('  ');
  return [line(head), ...rows.map(line)].join('\n') + '\n';
}

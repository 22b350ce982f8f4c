// A bench child process over IPC (verifier-child.ts, publisher-child.ts): forked with its own event loop,
// everything secret sent over the IPC channel (never argv or env), its messages awaited by type.
import { ChildProcess, fork } from 'node:child_process';

export interface IpcChild<M extends { type: string }> {
  proc: ChildProcess;
  send(m: unknown): void;
  /** The next message of this type; an 'error' message, an exit or the timeout throws. */
  next<T extends M['type']>(type: T, ms: number): Promise<Extract<M, { type: T }>>;
  exited: Promise<void>;
  kill(): void;
}

export function forkChild<M extends { type: string; message?: string }>(file: string, what: string, execArgv: string[] = []): IpcChild<M> {
  const proc = fork(file, [], { execArgv, stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  const inbox: M[] = [];
  const waiters: (() => void)[] = [];
  const wake = () => waiters.splice(0).forEach((w) => w());
  proc.on('message', (m: M) => {
    inbox.push(m);
    wake();
  });
  const exited = new Promise<void>((resolve) => proc.once('exit', () => {
    resolve();
    wake();
  }));
  const next = async <T extends M['type']>(type: T, ms: number): Promise<Extract<M, { type: T }>> => {
    const end = Date.now() + ms;
    for (;;) {
      const i = inbox.findIndex((m) => m.type === type || m.type === 'error');
      if (i >= 0) {
        const m = inbox.splice(i, 1)[0];
        if (m.type === 'error') throw new Error(`bench: the ${what} process failed: ${m.message}`);
        return m as Extract<M, { type: T }>;
      }
      if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`bench: the ${what} process exited (${proc.exitCode ?? proc.signalCode}) before '${type}'`);
      if (Date.now() > end) throw new Error(`bench: no '${type}' from the ${what} process within ${ms} ms`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(250, Math.max(1, end - Date.now())));
        waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  };
  return {
    proc, next, exited,
    send: (m) => proc.send(m as never),
    kill: () => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill();
    },
  };
}

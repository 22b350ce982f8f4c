// A helper process (socat for a PTY, Espruino's interpreter) must not outlive the tool that started it:
// run through util-linux's `setpriv --pdeathsig KILL` where there is one, so the kernel kills it when its
// parent dies, even by SIGKILL (a power cut of an emulated board, a killed test).
import { existsSync } from 'node:fs';

const SETPRIV = '/usr/bin/setpriv';

/** [command, args] that run `cmd args` killed with its parent (unchanged where setpriv is missing). */
export function diesWithParent(cmd: string, args: string[]): [string, string[]] {
  return existsSync(SETPRIV) ? [SETPRIV, ['--pdeathsig', 'KILL', '--', cmd, ...args]] : [cmd, args];
}

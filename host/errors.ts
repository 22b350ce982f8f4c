// Typed, labelled errors for the host: the CLI prints one line (message + what to do) and exits with
// the code of the error's kind, so scripts can tell a bad argument from a board that did not answer.

export const EXIT = {
  OK: 0,
  /** The command ran and its answer is "no": a frame rejected, a frame not verified, a test case failed. */
  REJECTED: 1,
  /** Bad command line. */
  USAGE: 2,
  /** Bad input: a malformed value, file, config or device id. */
  INPUT: 3,
  /** The board or port: not found, no answer, garbage, gone. */
  DEVICE: 4,
  /** Authentication or authorization: wrong passphrase, password, code or role. */
  AUTH: 5,
  /** A bug in sealmq. */
  INTERNAL: 70,
} as const;

export type ErrorKind = 'usage' | 'input' | 'device' | 'auth' | 'rejected' | 'internal';

const CODE_OF: Record<ErrorKind, number> = {
  usage: EXIT.USAGE, input: EXIT.INPUT, device: EXIT.DEVICE, auth: EXIT.AUTH, rejected: EXIT.REJECTED, internal: EXIT.INTERNAL,
};

export class SealmqError extends Error {
  readonly kind: ErrorKind;
  readonly hint?: string;
  constructor(kind: ErrorKind, message: string, opts: { hint?: string; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'SealmqError';
    this.kind = kind;
    this.hint = opts.hint;
  }
  get exitCode(): number {
    return CODE_OF[this.kind];
  }
}

export const usageError = (m: string, hint?: string) => new SealmqError('usage', m, { hint });
export const inputError = (m: string, hint?: string) => new SealmqError('input', m, { hint });
export const deviceError = (m: string, hint?: string, cause?: unknown) => new SealmqError('device', m, { hint, cause });

// Progress for long board operations: a bar on stderr when it is a terminal (cli-progress); nothing with
// --json or when stderr is not a terminal, so logs and scripts get only the result and the errors.
import cliProgress from 'cli-progress';

export interface Progress {
  update(label: string, done: number, total: number): void;
  stop(): void;
}

export function progress(enabled: boolean, title: string): Progress {
  // Not a terminal (a log file, CI, another program): stay quiet; the result line says what happened.
  if (!enabled || !process.stderr.isTTY) return { update() {}, stop() {} };
  const bar = new cliProgress.SingleBar({
    stream: process.stderr,
    format: `${title} [{bar}] {percentage}% {label} {value}/{total}`,
    hideCursor: true,
    clearOnComplete: false,
  }, cliProgress.Presets.shades_classic);
  let started = false;
  return {
    update(label, done, total) {
      if (!started) { bar.start(total, done, { label }); started = true; }
      bar.setTotal(total);
      bar.update(done, { label });
    },
    stop() { if (started) bar.stop(); },
  };
}

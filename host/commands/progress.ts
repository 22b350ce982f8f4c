// Progress for long board operations: a bar on a terminal (cli-progress), a line per phase otherwise,
// nothing with --json (stdout stays machine-readable; progress always goes to stderr).
import cliProgress from 'cli-progress';

export interface Progress {
  update(label: string, done: number, total: number): void;
  stop(): void;
}

export function progress(enabled: boolean, title: string): Progress {
  if (!enabled) return { update() {}, stop() {} };
  if (!process.stderr.isTTY) {
    let last = '';
    return {
      update(label, done, total) {
        if (label !== last) process.stderr.write(`${title}: ${label}\n`);
        last = label;
        if (done === total && label === 'done') last = '';
      },
      stop() {},
    };
  }
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

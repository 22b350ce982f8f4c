// A throw-away Mosquitto (the OS package) for research pipelines: anonymous, no ACL, loopback, a free port,
// TCP_NODELAY. This is NOT `sealmq broker --emit-mosquitto` (host/broker/mosquitto.ts, deny by default):
// it exists so the plain pipeline and the latency bench can run on a real Mosquitto, and it is refused
// unless research insecure mode was asked for. Mosquitto cannot check the boards' TOTP logins, so the
// sealed pipeline on it also runs with broker authentication off (its frames stay sealed end to end).
import { spawn, spawnSync, ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { connect as tcpConnect, createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { SealmqError } from '../errors.js';
import { requireResearchInsecure } from '../verifier/plain.js';

export const MOSQUITTO_BIN = process.env.SEALMQ_MOSQUITTO || (existsSync('/usr/sbin/mosquitto') ? '/usr/sbin/mosquitto' : 'mosquitto');

/** True when a mosquitto binary runs here. */
export function haveMosquitto(bin = MOSQUITTO_BIN): boolean {
  const r = spawnSync(bin, ['-h'], { stdio: 'ignore' });
  return !r.error && r.status !== null;
}

/** The research insecure mosquitto.conf: allow_anonymous on one loopback listener, no ACL, no persistence. */
export function insecureMosquittoConf(port: number): string {
  return [
    '# sealmq RESEARCH INSECURE Mosquitto (host/pipeline/mosquitto.ts): anonymous logins, NO ACL.',
    '# For comparisons on a test bench only; never for real data. See docs/PROTOCOL.md, "Research plain mode".',
    'per_listener_settings false',
    'allow_anonymous true',
    'persistence false',
    'retain_available false',
    'log_dest stderr',
    'log_type error',
    'log_type warning',
    `listener ${port} 127.0.0.1`,
    // Mosquitto leaves Nagle on unless told (a 40 ms stall per small packet otherwise).
    'set_tcp_nodelay true',
    '',
  ].join('\n');
}

/** A free loopback port (bound and released: another process could take it first, which start() reports). */
export function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const p = typeof a === 'object' && a ? a.port : 0;
      s.close(() => res(p));
    });
  });
}

export interface RunningMosquitto {
  url: string;
  port: number;
  insecure: true;
  proc: ChildProcess;
  close(): Promise<void>;
}

/** Starts mosquitto -c <dir>/mosquitto.conf on a free loopback port; resolves once it accepts connections. */
export async function startInsecureMosquitto(o: { dir: string; researchInsecure: boolean; onLog?: (line: string) => void }): Promise<RunningMosquitto> {
  requireResearchInsecure(o.researchInsecure, 'an anonymous Mosquitto without ACL');
  if (!haveMosquitto()) throw new SealmqError('input', `mosquitto not found (${MOSQUITTO_BIN})`, { hint: 'install the OS package (apt install mosquitto) or set SEALMQ_MOSQUITTO' });
  const dir = resolve(o.dir);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const port = await freePort();
  const conf = join(dir, 'mosquitto-insecure.conf');
  writeFileSync(conf, insecureMosquittoConf(port), { mode: 0o600 });
  const proc = spawn(MOSQUITTO_BIN, ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  proc.stderr!.setEncoding('utf8').on('data', (d: string) => {
    log += d;
    for (const l of d.split('\n')) if (l.trim()) o.onLog?.(l);
  });
  let exited = false;
  const exit = new Promise<void>((r) => proc.once('exit', () => {
    exited = true;
    r();
  }));
  const close = async () => {
    if (!exited) {
      proc.kill('SIGTERM');
      const t = setTimeout(() => { if (!exited) proc.kill('SIGKILL'); }, 3000);
      await exit;
      clearTimeout(t);
    }
  };
  for (let i = 0; i < 100; i++) {
    if (exited) throw new SealmqError('input', `mosquitto exited at start: ${log.trim().slice(0, 300)}`);
    const up = await new Promise<boolean>((res) => {
      const s = tcpConnect(port, '127.0.0.1', () => { s.destroy(); res(true); });
      s.on('error', () => res(false));
    });
    if (up) return { url: `mqtt://127.0.0.1:${port}`, port, insecure: true, proc, close };
    await new Promise((r) => setTimeout(r, 100));
  }
  await close();
  throw new SealmqError('input', `mosquitto did not listen on 127.0.0.1:${port}: ${log.trim().slice(0, 300)}`);
}

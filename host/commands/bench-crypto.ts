// `sealmq bench crypto --port URL`: runs the crypto bench bundle on a board (host/bench/crypto.ts) and
// writes JSON, CSV and an SVG plot (host/bench/output.ts). Joins the `bench` group if bench.ts made one.
import { Command } from 'commander';
import { relative } from 'node:path';
import { benchCrypto, DEFAULT_SIZES, instructionsFromMs, NACL_OPS, type CryptoBenchReport } from '../bench/crypto.js';
import { writeCryptoOutputs } from '../bench/output.js';
import { DEFAULT_BOARD } from '../build/bundle.js';
import { withRegistry } from './passphrase.js';
import { checkDeviceId } from '../registry/registry.js';
import { inputError } from '../errors.js';

const positive = (what: string, max: number) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > max) throw inputError(`${what} must be a whole number 1..${max}, got ${JSON.stringify(v)}`);
  return n;
};

const sizeList = (v: string) => {
  const xs = v.split(',').map((s) => Number(s.trim()));
  if (!xs.length || xs.some((n) => !Number.isInteger(n) || n < 1 || n > 4096)) throw inputError(`--sizes: comma-separated byte counts 1..4096, got ${JSON.stringify(v)}`);
  return xs;
};

const naclOpList = (v: string) => {
  const xs = v.split(',').map((s) => s.trim()).filter(Boolean);
  const bad = xs.filter((x) => !(NACL_OPS as readonly string[]).includes(x));
  if (!xs.length || bad.length) throw inputError(`--nacl-ops: ${bad.length ? `no tweetnacl op ${bad.map((b) => JSON.stringify(b)).join(', ')}` : 'name at least one op'}; the ops: ${NACL_OPS.join(', ')}`);
  return xs;
};

function summary(r: CryptoBenchReport): string {
  const lines = [`target: ${r.target}  (port ${r.port}; host ${r.host})`, `method: ${r.method}`, ''];
  const icount = r.icountShift != null;
  // Under -icount the instruction count is the figure that repeats; ms of board time are the same thing scaled.
  lines.push('op                   impl       size   median ms     min ms     max ms   vars' + (icount ? '  instructions (median, spread)' : ''));
  for (const x of r.results) {
    const head = `${x.op.padEnd(20)} ${x.impl.padEnd(9)} ${String(x.size ?? '-').padStart(5)}`;
    const instr = x.instr ? `  ${String(x.instr.median).padStart(12)}  ±${(((x.instr.max - x.instr.min) / 2 / Math.max(1, x.instr.median)) * 100).toFixed(2)}%` : '';
    lines.push(x.error ? `${head}   — ${x.error}` : `${head} ${x.medianMs!.toFixed(4).padStart(11)} ${x.minMs!.toFixed(4).padStart(10)} ${x.maxMs!.toFixed(4).padStart(10)} ${String(x.vars).padStart(6)}${instr}`);
  }
  const f = r.footprint;
  lines.push('', `firmware: ${f.bundleBytes} bytes (${((100 * f.bundleBytes) / f.bundleBudget).toFixed(1)}% of ${f.bundleBudget}), idle ${f.idleVars ?? '-'} vars, ${f.varsPerSeal ?? '-'} vars per seal, ` +
    `growth ${f.growthVars ?? '-'} vars over ${f.seals} seals, ${f.sealMs !== null ? f.sealMs.toFixed(3) : '-'} ms per seal${f.sealMs !== null && r.icountShift != null ? ` (${instructionsFromMs(f.sealMs, r.icountShift)} instructions)` : ''}${f.note ? ` (${f.note})` : ''}`);
  if (f.peakVarsPerSeal !== undefined) lines.push(`transient peak of one seal: ${f.peakVarsPerSeal ?? '-'} variables (DESIGN.md §8 budget: 300)${f.peakNote ? ` — ${f.peakNote}` : ''}`);
  return lines.join('\n') + '\n';
}

export function registerBenchCrypto(program: Command): void {
  const bench = program.commands.find((c) => c.name() === 'bench') ?? program.command('bench').description('reproducible measurements: on-device crypto cost, the firmware footprint, the verifier');
  bench
    .command('crypto')
    .description('run the crypto bench bundle on a board (board clock): AES-128-CBC, SHA-256, HMAC, HKDF, seal, open native vs pure JS, TOTP, tweetnacl; plus the firmware footprint')
    .requiredOption('--port <url>', 'the board console: serial path, tcp://HOST:PORT (emulated board, Espruino Linux via its PTY/console) or emulated:NAME')
    .option('--sizes <list>', 'payload sizes in bytes', sizeList, DEFAULT_SIZES)
    .option('--reps <n>', 'timed batches per op (median, min, max over them)', positive('--reps', 1000), 15)
    .option('--seals <n>', 'seals for the firmware growth check', positive('--seals', 1_000_000), 10_000)
    .option('--board <name>', 'board profile the bundles are built for', DEFAULT_BOARD)
    .option('--device <id>', 'a provisioned board: unlock its console with its password from the registry (docs/FIELD.md)')
    .option('--icount [shift]', 'the board runs under QEMU -icount shift=N (sealmq emulate --target qemu --icount): also report every op in guest instructions', (v: string) => {
      if (!/^\d+$/.test(v) || Number(v) > 10) throw inputError(`--icount: the shift QEMU runs with, 0..10, got ${JSON.stringify(v)}`);
      return Number(v);
    })
    .option('--no-nacl', 'leave out the tweetnacl ops (seconds each on Espruino\'s Linux build, minutes on an emulated MCU)')
    .option('--nacl-ops <list>', `only these tweetnacl ops, comma-separated (what one needs runs too: x25519-shared runs x25519 first; ed25519-verify, the key pair and a signature): ${NACL_OPS.join(', ')}`, naclOpList)
    .option('--json', 'print the report as JSON on stdout')
    .option('--out <dir>', 'where to write the JSON, CSV and SVG', 'bench-out')
    .action(async (o) => {
      const consolePasswords = o.device === undefined ? undefined : await withRegistry(true, (reg) => reg.consolePasswords(checkDeviceId(o.device)));
      const r = await benchCrypto({
        consolePasswords, device: o.device,
        port: o.port, sizes: o.sizes, reps: o.reps, seals: o.seals, board: o.board,
        icountShift: o.icount === true ? 0 : o.icount, nacl: o.nacl, naclOps: o.naclOps,
        onProgress: o.json ? undefined : (l) => process.stderr.write(l + '\n'),
      });
      const files = await writeCryptoOutputs(r, o.out);
      if (o.json) process.stdout.write(JSON.stringify(r) + '\n');
      else {
        process.stdout.write(summary(r));
        process.stdout.write(`wrote ${Object.values(files).map((f) => relative(process.cwd(), f) || f).join(', ')}\n`);
      }
    });
}
